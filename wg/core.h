/* The state structs of the WireGuard core, shared by its files (device.c,
 * peer.c, noise.c, send.c, receive.c, timers.c). Embedders use wg/device.h. */
#ifndef VOLE_WG_CORE_H
#define VOLE_WG_CORE_H

#include "wg/allowedips.h"
#include "wg/cookie.h"
#include "wg/device.h"
#include "wg/index.h"
#include "wg/jitter.h"
#include "wg/keypair.h"
#include "wg/noise.h"
#include "wg/ratelimit.h"

struct wg_staged {
    uint8_t *data[WG_MAX_STAGED_PACKETS];
    size_t len[WG_MAX_STAGED_PACKETS];
    unsigned head, count;              /* a ring: oldest at head */
};

/* Per-peer timers as absolute monotonic deadlines, 0 = not armed (kernel timers.c). */
enum wg_timer {
    WG_TIMER_RETRANSMIT_HANDSHAKE,
    WG_TIMER_SEND_KEEPALIVE,
    WG_TIMER_NEW_HANDSHAKE,
    WG_TIMER_ZERO_KEY_MATERIAL,
    WG_TIMER_PERSISTENT_KEEPALIVE,
    WG_TIMER_COUNT,
};

struct wg_peer {
    struct wg_device *dev;
    struct wg_peer *next;
    uint8_t public_key[WG_KEY_LEN];
    uint8_t psk[WG_KEY_LEN];            /* zeros when none is configured */
    uint8_t static_static[WG_KEY_LEN];  /* precomputed DH(s_i, S_r) */
    bool low_order;                     /* static_static came out all zeros */
    struct wg_handshake hs;
    struct wg_keypairs keypairs;
    struct wg_cookie_maker cookie;
    struct wg_endpoint endpoint;
    bool endpoint_fixed;        /* no roaming (wg_peer_set_endpoint_fixed) */
    struct wg_staged staged;

    uint64_t timers[WG_TIMER_COUNT];
    unsigned handshake_attempts;
    bool need_another_keepalive;
    bool sent_lastminute_handshake;
    uint64_t last_sent_handshake;       /* monotonic ns; 0: never */
    uint16_t persistent_keepalive;      /* seconds */

    uint64_t rx_bytes, tx_bytes;
    uint64_t last_handshake_unix_ns;
    void *user;
};

struct wg_device {
    struct wg_static_identity id;
    struct wg_peer *peers;
    struct wg_allowedips allowedips;
    struct wg_index_table index;
    struct wg_cookie_checker cookie;
    struct wg_ratelimit ratelimit;
    struct wg_sink sink;
    struct wg_device_stats stats;
    int64_t wall_offset;                /* unix ns = monotonic ns + offset */
    uint16_t mtu;

    /* Under-load detection: a single thread has no handshake queue to measure,
     * so it counts handshake messages per second instead. */
    uint64_t load_window_start;
    unsigned load_window_count;
    uint64_t under_load_until;
    bool force_under_load;
    uint64_t next_deadline;             /* cached minimum of every peer timer */
    struct wg_jitter jitter;            /* the rekey timers' jitter (timers.c) */
};

/* Handshake messages per second above which mac2 (cookies) is demanded. The
 * kernel's threshold is a queue of 4096/8 = 512 waiting handshakes. */
#define WG_UNDER_LOAD_HANDSHAKES_PER_SEC 512

/* send.c */
void wg_send_handshake_initiation(struct wg_peer *peer, bool is_retry, uint64_t now);
void wg_send_handshake_response(struct wg_peer *peer, uint64_t now);
void wg_send_keepalive(struct wg_peer *peer, uint64_t now);
void wg_send_staged(struct wg_peer *peer, uint64_t now);
void wg_staged_purge(struct wg_staged *s);
void wg_send_datagram_done(struct wg_peer *peer, size_t len);
void wg_emit(struct wg_peer *peer, enum wg_event ev);

/* timers.c: the kernel's timer events, named as there. */
void wg_timers_data_sent(struct wg_peer *peer, uint64_t now);
void wg_timers_data_received(struct wg_peer *peer, uint64_t now);
void wg_timers_any_authenticated_packet_sent(struct wg_peer *peer);
void wg_timers_any_authenticated_packet_received(struct wg_peer *peer);
void wg_timers_any_authenticated_packet_traversal(struct wg_peer *peer, uint64_t now);
void wg_timers_handshake_initiated(struct wg_peer *peer, uint64_t now);
void wg_timers_handshake_complete(struct wg_peer *peer, uint64_t now);
void wg_timers_session_derived(struct wg_peer *peer, uint64_t now);
void wg_timers_stop(struct wg_peer *peer);
void wg_timers_run(struct wg_peer *peer, uint64_t now);

/* receive.c */
void wg_keep_key_fresh_send(struct wg_peer *peer, uint64_t now);

#endif
