/* A DERP client on the libev loop: dials a URL (http:// or https://), or a
 * DERP map region's nodes in order, upgrades with "Upgrade: DERP" (or
 * WebSocket, forced or after a 4xx), runs the handshake, sends and receives
 * packets, answers pings, treats 120 s of silence as dead and reconnects with
 * backoff capped at 5 s. */
#ifndef VOLE_DERP_CLIENT_H
#define VOLE_DERP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "derp/frame.h"

struct ev_loop;
struct vole_derp_client;
struct derp_map_region;

struct vole_derp_client_config {
    const char *url;                     /* e.g. "https://derp.example:443/derp" or "http://127.0.0.1:3340" ("/derp" added if no path) */
    uint8_t private_key[DERP_KEY_LEN];   /* the node key (a WireGuard private key) */
    const char *ca_file;                 /* NULL: system CAs */
    bool insecure_for_tests;             /* skip TLS verification (DERP map InsecureForTests) */
    bool force_websocket;
    const char *extra_header;            /* e.g. "Coder-Session-Token: x" or NULL */
    /* Additions (after the original fields, so designated initialisers keep working): */
    const char *tls_server_name;         /* the certificate's name when the URL's host is an address
                                          * (derp_map_node_tls_name); NULL: the URL's host */
    double dead_after;                   /* seconds without a frame before reconnecting; 0: 120 (tests shorten it) */
};

struct vole_derp_client_ops {
    void *ctx;
    /* A RecvPacket: src's node key and the packet (valid during the call). */
    void (*on_packet)(void *ctx, const uint8_t src[DERP_KEY_LEN], const uint8_t *pkt, size_t len);
    /* PeerGone(key, reason). Optional. */
    void (*on_peer_gone)(void *ctx, const uint8_t key[DERP_KEY_LEN], uint8_t reason);
    /* Connected (ServerInfo received) or disconnected (why). Optional. */
    void (*on_state)(void *ctx, bool connected, const char *why);
    /* A Pong to vole_derp_client_ping: rtt in seconds, or -1 when the data is
     * not that of the last ping. Optional (an addition). */
    void (*on_pong)(void *ctx, const uint8_t data[DERP_PING_LEN], double rtt);
};

struct vole_derp_client *vole_derp_client_new(struct ev_loop *loop, const struct vole_derp_client_config *cfg,
                                              const struct vole_derp_client_ops *ops, char *err, size_t errlen);
/* (An addition.) A client of a DERP map region (derp/derpmap.h): each attempt
 * dials the region's DERP nodes (STUNOnly ones skipped) in order, moving on
 * to the next node at once when one fails (connect error or 1.5 s without
 * an answer while another node is left, TLS, a non-101 other than a 4xx,
 * the handshake), all within the attempt's 10 s; after the last node, the
 * backoff, then the first node again. A 4xx or ALPN h2 ends the attempt at
 * once (WebSocket on the next one). Per node the client copies the URL
 * (derp_map_node_url), the certificate's name (derp_map_node_tls_name) and
 * InsecureForTests; base supplies the rest, its url, tls_server_name and
 * insecure_for_tests are not used. The region need not outlive the call.
 * NULL with err when the region has no DERP node or a node's URL is bad. */
struct vole_derp_client *vole_derp_client_new_region(struct ev_loop *loop, const struct derp_map_region *region,
                                                     const struct vole_derp_client_config *base,
                                                     const struct vole_derp_client_ops *ops, char *err,
                                                     size_t errlen);
/* Closes the connection at once (the server sees the client leave). Safe
 * from inside the client's own callbacks: nothing of it runs afterwards. */
void vole_derp_client_free(struct vole_derp_client *c);
/* The write buffer that send fills before it drops: ~800 packets of 1300
 * bytes, many more than magicsock's per-region channel of 32. (An addition.) */
#define VOLE_DERP_CLIENT_MAX_PENDING (1u << 20)

/* 0 queued; -1 dropped (not connected, packet too big, or the write buffer is full). */
int vole_derp_client_send(struct vole_derp_client *c, const uint8_t dst[DERP_KEY_LEN], const uint8_t *pkt,
                          size_t len);
void vole_derp_client_note_preferred(struct vole_derp_client *c, bool preferred);
bool vole_derp_client_connected(const struct vole_derp_client *c);
/* The server's key once known (after ServerKey), else false. */
bool vole_derp_client_server_key(const struct vole_derp_client *c, uint8_t out[DERP_KEY_LEN]);
/* Ping the server; the pong's round trip is reported by on_pong. Optional.
 * (An addition:) 0 sent, -1 not connected or the write buffer is full. */
int vole_derp_client_ping(struct vole_derp_client *c, const uint8_t data[DERP_PING_LEN]);
/* (Additions:) bytes queued toward the server but not yet written, so that a
 * sender can pace itself before send starts dropping; and why the last
 * connection or attempt ended ("" once connected again). */
size_t vole_derp_client_pending(const struct vole_derp_client *c);
const char *vole_derp_client_last_error(const struct vole_derp_client *c);
struct vole_derp_client_stats { uint64_t connects, disconnects, packets_sent, packets_received, send_drops, pings_answered; };
const struct vole_derp_client_stats *vole_derp_client_stats(const struct vole_derp_client *c);

#endif
