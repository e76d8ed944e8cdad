/* The DERP relay's server semantics, sans-IO (tailscale-wire.md §1.4, §1.6):
 * the handshake, the clients table keyed by node key, SendPacket -> RecvPacket,
 * per-client bounded queues (disco separate, drop oldest), PeerGone, keepalives,
 * ping/pong, NotePreferred, newest connection wins, the admission hook.
 *
 * The I/O layer owns sockets: it hands in the bytes it read and pulls out the
 * bytes to write when the socket is writable. No sockets, clocks or event loop
 * in here; every call takes `now` (monotonic ns). */
#ifndef VOLE_DERP_RELAY_H
#define VOLE_DERP_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "derp/handshake.h"

struct derp_relay;
struct derp_relay_conn;

#define DERP_RELAY_QUEUE_DEPTH 512          /* per client and queue, as Coder's fork */
/* Also per client and queue, in frame bytes: 32 full 64 KiB packets (upstream's
 * depth), or all 512 of WireGuard's ~1.3 KiB ones. Bounds a reader that stalls
 * while a peer floods it to 2 x 2 MiB instead of 2 x 32 MiB. */
#define DERP_RELAY_QUEUE_BYTES (2u << 20)
#define DERP_RELAY_HANDSHAKE_TIMEOUT (10ull * 1000000000ull)
#define DERP_RELAY_KEEPALIVE (60ull * 1000000000ull)   /* plus jitter in [0, 5 s) */

struct derp_relay_ops {
    void *ctx;
    /* The connection has bytes to write: start watching for writability, and
     * keep calling derp_relay_output until it returns 0. Called when a
     * connection's output goes from empty to not empty, from inside any relay
     * call (accept included, before it returns); it must not call back into
     * the relay. */
    void (*want_write)(void *ctx, void *io_conn);
    /* Close the connection (why: a short reason for logs). The relay has already
     * forgotten it; the I/O layer must not call into the relay for it again. */
    void (*close)(void *ctx, void *io_conn, const char *why);
    /* Admission: may this client key connect? NULL: everyone. source is the
     * peer's IP as text. */
    bool (*admit)(void *ctx, const uint8_t client_pub[DERP_KEY_LEN], const char *source);
};

/* Counters for /metrics; drops by reason.
 * clients_current counts registered connections (duplicates of a key too),
 * clients_total every registration; clients_home those whose last
 * NotePreferred said home. packets/bytes_relayed count RecvPacket frames
 * fully handed to the I/O layer (bytes: the packets, without header or key).
 * drop_queue_head: a full queue dropped its oldest; drop_queue_tail: the new
 * packet could not be queued (out of memory); drop_inactive_dup: the key has
 * several connections and none is active (Go's "dup_client").
 * peer_gone_dropped: a PeerGone found the client's control queue full.
 * mesh_frames_refused: ForwardPacket/WatchConns/ClosePeer from a non-mesh
 * client, which is closed. */
struct derp_relay_stats {
    uint64_t clients_current, clients_total, accepts_rejected;
    uint64_t packets_relayed, bytes_relayed, disco_packets_relayed;
    uint64_t drop_queue_head, drop_queue_tail, drop_unknown_dest, drop_inactive_dup;
    uint64_t drop_bad_frame, peer_gone_sent, peer_gone_ratelimited;
    uint64_t pings_answered, keepalives_sent, handshakes_failed, handshakes_timed_out;
    uint64_t clients_home, peer_gone_dropped, mesh_frames_refused;
};

struct derp_relay *derp_relay_new(const struct derp_keypair *server_key, const struct derp_relay_ops *ops,
                                  uint64_t now);
void derp_relay_free(struct derp_relay *r);   /* closes nothing: the I/O layer closes its connections */

/* A connection that completed the HTTP upgrade. The relay queues the ServerKey
 * frame at once (want_write follows). source: the peer's IP, for admission.
 * NULL when out of memory: close the connection. */
struct derp_relay_conn *derp_relay_accept(struct derp_relay *r, void *io_conn, const char *source, uint64_t now);
/* Bytes read from the connection. May call ops->close (bad frame, failed
 * handshake, oversized packet); then conn is gone. */
void derp_relay_input(struct derp_relay *r, struct derp_relay_conn *c, const uint8_t *buf, size_t len,
                      uint64_t now);
/* The next bytes to write, up to cap (whole frames or parts of one); 0 when
 * nothing is pending. Disco frames go before others. */
size_t derp_relay_output(struct derp_relay *r, struct derp_relay_conn *c, uint8_t *out, size_t cap);
bool derp_relay_has_output(const struct derp_relay_conn *c);
/* The I/O layer lost the connection (EOF, error, write timeout): frees c and
 * sends PeerGone(Disconnected) to those who heard from its key. */
void derp_relay_closed(struct derp_relay *r, struct derp_relay_conn *c, uint64_t now);
/* Keepalives, handshake timeouts; returns the next deadline (UINT64_MAX: none). */
uint64_t derp_relay_tick(struct derp_relay *r, uint64_t now);
const struct derp_relay_stats *derp_relay_stats(const struct derp_relay *r);
/* For diagnostics and tests: is this key connected (active connection)? */
bool derp_relay_has_client(const struct derp_relay *r, const uint8_t key[DERP_KEY_LEN]);

#endif
