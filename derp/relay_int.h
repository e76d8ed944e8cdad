/* The relay's private state, shared by its files (relay.c: the API and frame
 * dispatch; relay_hello.c: the handshake; relay_clients.c: the clients table,
 * duplicate keys and PeerGone(Disconnected); relay_send.c: SendPacket and the
 * small client frames; relay_out.c: per-client queues and output). */
#ifndef VOLE_DERP_RELAY_INT_H
#define VOLE_DERP_RELAY_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "derp/frame.h"
#include "derp/relay.h"
#include "derp/relay_keytab.h"
#include "derp/relay_queue.h"
#include "derp/relay_timers.h"

#define DERP_RELAY_SEC 1000000000ull

/* One node key and every connection that authenticated as it (§1.6:
 * duplicate connections, policy lastWriterIsActive). */
struct derp_relay_peer {
    uint8_t key[DERP_KEY_LEN];
    struct derp_relay_conn *conns;    /* newest first, chained by next_dup */
    struct derp_relay_conn *active;   /* gets the packets; NULL: several, none active */
    uint32_t n_conns;
    /* struct derp_sent_to: whom this key's packets reached, so they hear
     * PeerGone(Disconnected) when it leaves (§1.6, noteSendFromSrc). Empty,
     * and unallocated, for a client that never sent. */
    struct derp_keytab sent_to;
};

struct derp_sent_to {
    uint8_t key[DERP_KEY_LEN];
    uint64_t conn_num;                /* the receiving connection, as Go's sentTo */
};

struct derp_peer_slot {
    uint8_t key[DERP_KEY_LEN];
    struct derp_relay_peer *peer;
};

enum derp_conn_state { DERP_CONN_HANDSHAKE, DERP_CONN_RUNNING };

/* One connection. Idle, it owns no heap memory but this struct: the reader's
 * buffer is released when it goes quiet and empty queues are three pointers. */
struct derp_relay_conn {
    struct derp_timer timer;          /* handshake deadline, then the next keepalive */
    void *io_conn;
    struct derp_relay_peer *peer;     /* NULL until the handshake is done */
    struct derp_relay_conn *next_dup;
    uint64_t conn_num;                /* from 1, never reused */
    struct derp_reader rd;
    /* Output: the frame being written (dequeued, so drop-oldest never tears
     * it) and three FIFOs, served disco, control, data. */
    struct derp_pkt *cur;
    uint32_t cur_off;
    uint32_t jitter_us;               /* keepalive period is 60 s + this, < 5 s */
    struct derp_pktq ctrl, disco, data;
    uint64_t gone_credit, gone_last;  /* PeerGone(NotHere) token bucket, ns of credit */
    uint8_t state;                    /* enum derp_conn_state */
    uint8_t greeting;                 /* ServerKey/ServerInfo frames not yet dequeued */
    bool pong_pending, keepalive_pending, preferred, spoke;
    char source[48];                  /* the peer's IP, for admission (INET6_ADDRSTRLEN fits) */
};

struct derp_relay {
    struct derp_keypair key;
    struct derp_relay_ops ops;
    struct derp_relay_stats stats;
    uint8_t hash_key[DERP_KEYTAB_HASH_KEY_LEN];
    struct derp_keytab peers;         /* struct derp_peer_slot */
    struct derp_timers timers;        /* every connection's timer */
    struct derp_pool pool;
    uint64_t next_conn_num;
};

/* relay.c */
/* Forgets c and frees it, then tells the I/O layer to close it. */
void drelay_close(struct derp_relay *r, struct derp_relay_conn *c, const char *why);
/* A malformed frame: counted (drop_bad_frame), then closed. Returns -1. */
int drelay_bad_frame(struct derp_relay *r, struct derp_relay_conn *c, const char *why);

/* relay_hello.c: the one frame a connection may send before it is registered.
 * 0, or -1 when c was closed. */
int drelay_hello(struct derp_relay *r, struct derp_relay_conn *c, const struct derp_frame *f, uint64_t now);

/* relay_clients.c */
struct derp_relay_peer *drelay_peer(const struct derp_relay *r, const uint8_t key[DERP_KEY_LEN]);
/* Adds c under key as the active connection. 0, or -1 when out of memory. */
int drelay_register(struct derp_relay *r, struct derp_relay_conn *c, const uint8_t key[DERP_KEY_LEN]);
/* Takes c out of its peer; the last connection of a key sends PeerGone(Disconnected). */
void drelay_unregister(struct derp_relay *r, struct derp_relay_conn *c);
/* c sent a packet: with duplicates, the latest sender is the active one. */
void drelay_note_activity(struct derp_relay_conn *c);
/* Records that dst (its connection conn_num) heard from src. */
void drelay_note_sent(struct derp_relay *r, struct derp_relay_peer *src, const uint8_t dst[DERP_KEY_LEN],
                      uint64_t conn_num);
void drelay_free_peers(struct derp_relay *r);

/* relay_send.c: frames of a registered connection. 0, or -1 when c was closed. */
int drelay_send_packet(struct derp_relay *r, struct derp_relay_conn *c, const struct derp_frame *f, uint64_t now);
int drelay_ping(struct derp_relay *r, struct derp_relay_conn *c, const struct derp_frame *f);
int drelay_note_preferred(struct derp_relay *r, struct derp_relay_conn *c, const struct derp_frame *f);

/* relay_out.c */
/* Queues a control frame (copied). 0, or -1 when out of memory or when a
 * PeerGone finds the control queue full (the caller counts). */
int drelay_queue_control(struct derp_relay *r, struct derp_relay_conn *c, const uint8_t *frame, size_t len);
/* Queues RecvPacket(src || pkt) for dst, dropping its oldest when full. */
void drelay_queue_packet(struct derp_relay *r, struct derp_relay_conn *dst, const uint8_t src[DERP_KEY_LEN],
                         const uint8_t *pkt, size_t len, bool disco);
void drelay_queue_peer_gone(struct derp_relay *r, struct derp_relay_conn *c, const uint8_t peer[DERP_KEY_LEN],
                            uint8_t reason);
void drelay_drop_output(struct derp_relay *r, struct derp_relay_conn *c);

#endif
