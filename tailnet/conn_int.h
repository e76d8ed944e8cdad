/* The data plane's private state, shared by tailnet/conn*.c (one concept per
 * file: conn.c lifecycle and timers, conn_peers.c the peer table and path
 * reports, conn_send.c the WireGuard sink, conn_recv.c the socket demux,
 * conn_disco.c disco, conn_derp.c DERP regions, conn_stun.c endpoints and
 * the home region). Not an API: nothing outside tailnet/conn*.c includes it. */
#ifndef VOLE_TAILNET_CONN_INT_H
#define VOLE_TAILNET_CONN_INT_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>

#include "derp/derpmap.h"
#include "lwip/pbuf.h"
#include "derp/frame.h"
#include "disco/disco.h"
#include "disco/path.h"
#include "disco/pmtu.h"
#include "stun/probe.h"
#include "tailnet/conn.h"
#include "tailnet/diag.h"
#include "wg/device.h"

/* Peer placeholders: family 6, ::ffff:127.3.3.41, port = the peer's slot
 * (1..65535). io/udp.c reports v4-mapped sources as family 4, so no real
 * datagram ever has this source; and no real destination is a v4-mapped
 * family-6 address either. (127.3.3.40 is DERP's magic address; .41 is ours.) */
#define CONN_PLACEHOLDER_V4 {127, 3, 3, 41}
#define CONN_MAX_PEERS 65535

#define CONN_NS ((uint64_t)1000000000)
#define CONN_DERP_IDLE_CHECK 15.0                  /* derpCleanStaleInterval, seconds */
#define CONN_DERP_INACTIVE (60 * CONN_NS)          /* derpInactiveCleanupTime */
#define CONN_STUN_MIN 20.0                         /* periodic re-STUN, seconds: 20..26 */
#define CONN_STUN_JITTER_MS 6000
#define CONN_STUN_ACTIVE (45 * CONN_NS)            /* sessionActiveTimeout */
#define CONN_HOME_STICKY_NS (10 * 1000000ull)      /* keep the old home within 10 ms of the best */

struct conn_peer {
    uint16_t slot;                 /* the placeholder's port; c->peers[slot - 1] */
    bool active;                   /* false after vole_conn_remove_peer */
    char name[64];
    uint8_t key[32];               /* WireGuard (= DERP) node key */
    uint8_t disco_pub[32];
    struct disco_shared shared;
    struct wg_peer *wg;
    struct wg_endpoint placeholder;
    int32_t home_region;           /* the peer's preferred_derp */
    int32_t heard_region;          /* reverse route: the region we last heard it on (0: none) */
    struct disco_path path;
    struct vole_tailnet_path reported;   /* what on_path last said */
    /* The coordinator's endpoints, kept so that lifting a block restores them. */
    struct wg_endpoint coord_eps[COORD_MAX_ENDPOINTS];
    size_t n_coord_eps;
    /* Disco over UDP only, since the node arrived (tailnet/diag.h). */
    struct vole_ping_disco_counts disco;
    /* Issue #7: path MTU discovery on the direct path (conn_pmtu.c). */
    struct disco_pmtu pmtu;
    struct wg_endpoint pmtu_addr;  /* the direct address pmtu runs for */
    uint16_t inner_mtu;            /* what the tunnel sends toward the peer now */
    uint16_t syn_mtu;              /* new connections' MSS: inner_mtu once settled, else 1280 */
    /* Issue #8: the smallest MSS option the peer's SYNs carried, by family
     * (0: none yet). lwIP is told a large one (TSO); pieces respect this. */
    uint16_t peer_mss4, peer_mss6;
};

/* One CLI ping (Tailscale's cliPing): its disco pings, each remembered with
 * where it went (family 0: via DERP region) and when, so that the first pong
 * to any of them completes it. The timer first times it out, then (0 s)
 * delivers the answer outside the socket's callback. */
#define CONN_CLIPING_TX (DISCO_PATH_MAX_CANDIDATES + 1)

struct conn_cliping_tx {
    uint8_t txid[DISCO_TXID_LEN];
    struct wg_endpoint to;
    int32_t region;
    uint64_t at;
};

struct conn_cliping {
    struct vole_conn *conn;
    int id;                        /* 0: free */
    bool answered;                 /* pong holds the answer; the timer delivers it */
    uint8_t key[32];
    struct conn_cliping_tx tx[CONN_CLIPING_TX];
    size_t n_tx;
    struct vole_tailnet_pong pong;
    vole_tailnet_pong_fn fn;
    void *ctx;
    ev_timer timer;
};

/* Packets sent while a region is still connecting wait here (magicsock's
 * per-region write channel), so that the first handshake initiation to a
 * newly dialled region is not lost for WireGuard's 5 s retry. Allocated once
 * per dial, never per packet. */
#define CONN_DERP_QUEUE 32
#define CONN_DERP_QUEUE_MTU 1400   /* a full WireGuard packet (1312) or a padded disco ping (1310) */

struct conn_derp_pending {
    uint8_t key[32];
    uint16_t len;
    uint8_t data[CONN_DERP_QUEUE_MTU];
};

struct conn_region {
    struct vole_conn *conn;
    int32_t id;
    struct vole_derp_client *client;   /* NULL while closed */
    uint64_t last_write;
    bool connected;
    struct conn_derp_pending *queue;   /* CONN_DERP_QUEUE entries while client != NULL */
    size_t q_head, q_count;
};

/* conn_held.c: a handshake initiation from a key the coordinator has not
 * announced yet, kept briefly (see there). */
#define CONN_HELD_MAX 8
#define CONN_HELD_NS (2000ull * 1000000ull)

struct conn_held {
    uint8_t key[32];
    uint8_t pkt[148];
    int32_t region;
    uint64_t at;                   /* 0: free */
};

struct vole_conn {
    struct ev_loop *loop;
    struct vole_conn_config cfg;       /* strings below are our copies */
    char *server_url, *ca_file;
    struct vole_conn_ops ops;
    struct wg_device *dev;
    struct vole_udp *udp;
    struct vole_stack *stack;
    uint8_t pub[32];
    struct disco_keypair disco;
    uint8_t *flat;                     /* 64 KiB: over-long pbuf chains on output */
    uint8_t *scratch;                  /* 64 KiB: a DERP packet handed to WireGuard (which may write it) */
    uint8_t *slot;                     /* the UDP send slot WireGuard is filling */

    struct conn_peer **peers;          /* by slot - 1; never shrinks (WireGuard peers are kept) */
    size_t n_peers, cap_peers;

    struct derp_map map;
    bool has_map;
    struct conn_region **regions;      /* parallel to map.regions */
    int32_t home;
    bool block_endpoints;              /* block_local || block_server */
    bool block_local;                  /* --disable-direct-connections */
    bool block_server;                 /* the server's block-direct */

    struct coord_endpoint endpoints[COORD_MAX_ENDPOINTS];
    size_t n_endpoints;

    struct stun_prober prober;
    bool stun_running;
    size_t n_stun_targets;
    int32_t stun_region[STUN_PROBER_MAX_SERVERS];
    char stun_names[STUN_PROBER_MAX_SERVERS][STUN_SERVER_NAME_MAX];
    ev_timer stun_timer;
    uint64_t last_active;              /* a WireGuard packet went to a peer */
    bool have_netinfo;                 /* a STUN round finished */
    struct stun_report netinfo;        /* the last round's report */

    struct conn_cliping pings[VOLE_TAILNET_PINGS_MAX];
    int next_ping_id;

    ev_timer wg_timer, disco_timer, derp_idle;
    ev_prepare rearm;
    uint64_t wg_armed, disco_armed;

    uint32_t frag_id;                  /* IPv6 Fragment header identification */
    size_t test_max_udp;               /* vole_conn_test_limit_udp; 0: no limit */

    struct vole_conn_stats st;
    struct conn_held held[CONN_HELD_MAX];
};

/* conn.c */
void conn_logf(const struct vole_conn *c, bool verbose_only, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void conn_self_changed(struct vole_conn *c);

/* conn_peers.c */
struct conn_peer *conn_peer_by_key(const struct vole_conn *c, const uint8_t key[32]);
struct conn_peer *conn_peer_by_disco(const struct vole_conn *c, const uint8_t disco_pub[32]);
struct conn_peer *conn_peer_by_placeholder(const struct vole_conn *c, const struct wg_endpoint *ep);
int32_t conn_peer_derp_region(const struct conn_peer *p);
void conn_peer_update_path(struct vole_conn *c, struct conn_peer *p, uint64_t now);
void conn_peers_free(struct vole_conn *c);
void conn_peers_apply_block(struct vole_conn *c);

/* conn_send.c */
extern const struct wg_sink conn_wg_sink;

/* conn_recv.c */
void conn_on_datagram(void *ctx, const struct wg_endpoint *src, uint8_t *buf, size_t len);
/* conn_held.c: keep pkt if it is a WireGuard initiation (true), replay
 * what is kept for key once it is a peer. */
bool conn_held_keep(struct vole_conn *c, int32_t region, const uint8_t key[32], const uint8_t *pkt, size_t len);
void conn_held_replay(struct vole_conn *c, const uint8_t key[32]);
void conn_derp_input(struct vole_conn *c, struct conn_region *r, const uint8_t src[32], const uint8_t *pkt,
                     size_t len);

/* conn_disco.c */
void conn_disco_input(struct vole_conn *c, const uint8_t *buf, size_t len, const struct wg_endpoint *udp_src,
                      struct conn_peer *derp_peer, int32_t derp_region);
void conn_disco_act(struct vole_conn *c, struct conn_peer *p, const struct disco_path_out *out);
void conn_disco_tick(struct vole_conn *c, uint64_t now);
void conn_disco_ping_udp(struct vole_conn *c, struct conn_peer *p, const uint8_t txid[DISCO_TXID_LEN],
                         const struct wg_endpoint *to);
/* A path MTU probe: a ping whose UDP payload is exactly udp_payload bytes. */
void conn_disco_probe(struct vole_conn *c, struct conn_peer *p, const uint8_t txid[DISCO_TXID_LEN],
                      const struct wg_endpoint *to, size_t udp_payload);
int conn_disco_ping_derp(struct vole_conn *c, struct conn_peer *p, const uint8_t txid[DISCO_TXID_LEN],
                         int32_t region);

/* conn_pmtu.c: path MTU discovery per peer and the tunnel MTU it gives. */
/* The peer's path report just computed (cur): starts or stops discovery as
 * the direct address comes and goes, gives an unusable path up (cur then
 * says DERP), and fills cur->inner_mtu and p->inner_mtu. */
void conn_pmtu_follow(struct vole_conn *c, struct conn_peer *p, struct vole_tailnet_path *cur, uint64_t now);
void conn_pmtu_tick(struct vole_conn *c, struct conn_peer *p, uint64_t now);
uint64_t conn_pmtu_next_deadline(const struct conn_peer *p);
/* A pong over UDP: true if it answered one of our probes (consumed). */
bool conn_pmtu_on_pong(struct vole_conn *c, struct conn_peer *p, const uint8_t txid[DISCO_TXID_LEN], uint64_t now);
/* A datagram leaving the socket: false if the test hook's "link" drops it. */
bool conn_test_link_passes(struct vole_conn *c, size_t len);
/* A TCP SYN (IPv4 or IPv6, unfragmented) whose headers are all in b. */
bool conn_pkt_is_syn(const uint8_t *b, size_t len);
/* Our SYN: its MSS option lowered to fit the peer's syn_mtu (counted). */
void conn_clamp_syn(struct vole_conn *c, const struct conn_peer *p, uint8_t *pkt, size_t len);
/* The peer's SYN, before lwIP sees it: the MSS it advertises noted in p,
 * and raised to lwIP's segment size (TSO cuts to the noted one). */
void conn_raise_syn(struct conn_peer *p, uint8_t *pkt, size_t len);
/* stack/stack.h vole_stack_max_packet_fn for the attached stack (ctx: c):
 * the peer's inner MTU, and no more than its MSS allows. */
uint16_t conn_max_packet(void *ctx, const struct pbuf *pkt);

/* conn_cliping.c */
void conn_cliping_on_pong(struct vole_conn *c, const struct conn_peer *p, const uint8_t txid[DISCO_TXID_LEN],
                          uint64_t now);
void conn_cliping_free_all(struct vole_conn *c);
uint64_t conn_disco_next_deadline(const struct vole_conn *c, uint64_t now);

/* conn_derp.c */
int conn_derp_set_map(struct vole_conn *c, char *err, size_t errlen);
void conn_derp_close_all(struct vole_conn *c);
struct conn_region *conn_derp_region(struct vole_conn *c, int32_t id, bool dial);
int conn_derp_send(struct vole_conn *c, int32_t region, const uint8_t key[32], const uint8_t *pkt, size_t len);
void conn_derp_set_home(struct vole_conn *c, int32_t home);
void conn_derp_idle_check(struct vole_conn *c, uint64_t now);
bool conn_derp_region_has_relay(const struct derp_map_region *r);

/* conn_stun.c */
void conn_stun_start(struct vole_conn *c);
void conn_stun_stop(struct vole_conn *c);
bool conn_stun_input(struct vole_conn *c, const struct wg_endpoint *src, const uint8_t *buf, size_t len);

#endif
