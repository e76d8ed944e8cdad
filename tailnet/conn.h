/* The tailnet's data plane (what magicsock is to Tailscale): one UDP socket
 * shared by WireGuard, disco and STUN; one WireGuard device whose peers have
 * fixed placeholder endpoints (wg_peer_set_endpoint_fixed), so that this
 * module decides per packet where it goes (disco/path.h: the trusted UDP
 * address, or DERP plus the best untrusted one); DERP clients per region
 * (home region by STUN latency, reverse routes to the region a peer was
 * heard on, idle non-home regions closed after 60 s); disco ping / pong /
 * CallMeMaybe; STUN endpoint discovery (every 20-26 s while active, at once
 * on a change). It knows nothing about the coordinator: tailnet/node.c
 * feeds it the DERP map and peers, and sends what vole_conn_self says. */
#ifndef VOLE_TAILNET_CONN_H
#define VOLE_TAILNET_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coord/node.h"
#include "lwip/pbuf.h"
#include "tailnet/diag.h"
#include "tailnet/node.h"

struct ev_loop;
struct derp_map;
struct vole_stack;
struct vole_conn;

/* The tunnel MTU (inner packets), as Tailscale's and Coder's tailnet: a
 * WireGuard packet of 1280 + 32 + 16 bytes plus IPv6/UDP headers fits any
 * path that carries the 1310-byte padded disco ping. */
#define VOLE_TAILNET_MTU 1280
/* DERP's magic address family: packets over region R are "from 127.3.3.40:R". */
#define VOLE_DERP_MAGIC_IP4 {127, 3, 3, 40}

struct vole_conn_config {
    uint8_t private_key[32];     /* the WireGuard node key */
    uint16_t udp_port;           /* 0: random */
    const char *server_url;      /* the embedded region (EmbeddedRelay) is dialled here, path /derp */
    const char *ca_file;
    bool insecure;
    bool verbose;
    bool block_endpoints;        /* --disable-direct-connections: as the server's block, for good */
    void (*log)(void *ctx, const char *msg);
    void *log_ctx;
};

struct vole_conn_ops {
    void *ctx;
    /* What vole_conn_self returns changed (endpoints, home region): the
     * owner re-sends update_self. */
    void (*on_self_changed)(void *ctx);
    /* The path to the peer with this WireGuard key changed. */
    void (*on_path)(void *ctx, const uint8_t peer_key[32], const struct vole_tailnet_path *path);
};

struct vole_conn *vole_conn_new(struct ev_loop *loop, const struct vole_conn_config *cfg,
                                const struct vole_conn_ops *ops, char *err, size_t errlen);
void vole_conn_free(struct vole_conn *c);

/* The DERP map from the coordinator (copied). Starts STUN probing and DERP
 * dialling; 0 or -1 with err (a map without any DERP region). */
int vole_conn_set_derp_map(struct vole_conn *c, const struct derp_map *m, char *err, size_t errlen);
/* The server's block-direct: no endpoints in vole_conn_self, no CallMeMaybe, DERP only.
 * Either it or the config's block_endpoints blocks: no STUN, peers'
 * endpoints and CallMeMaybes ignored, disco over UDP dropped (counted). */
void vole_conn_set_block_endpoints(struct vole_conn *c, bool block);
bool vole_conn_endpoints_blocked(const struct vole_conn *c);

/* This node's key, disco key, preferred_derp (0 until known) and endpoints.
 * id, addresses and name are the owner's to fill. */
void vole_conn_self(const struct vole_conn *c, struct coord_node *out);

/* A peer's node (new or changed): adds or updates the WireGuard peer (its
 * addresses as AllowedIPs), its disco key, endpoints and home region. name
 * is for logs and on_path. 0, or -1 (e.g. the key is our own). */
int vole_conn_upsert_peer(struct vole_conn *c, const struct coord_node *n, const char *name);
/* The peer left (DISCONNECTED / LOST): its paths are forgotten; a later
 * upsert brings it back. */
void vole_conn_remove_peer(struct vole_conn *c, const uint8_t key[32]);
void vole_conn_peer_path(const struct vole_conn *c, const uint8_t key[32], struct vole_tailnet_path *out);

/* Where decrypted inner packets go (NULL: dropped and counted). */
void vole_conn_attach_stack(struct vole_conn *c, struct vole_stack *s);
/* An inner IP packet from the stack toward a peer (by its destination
 * address); returns an lwIP err_t (ERR_OK, or ERR_RTE with no such peer). */
int vole_conn_output(struct vole_conn *c, struct pbuf *p);

uint16_t vole_conn_udp_port(const struct vole_conn *c);

/* ---- diagnostics (tailnet/diag.h) ---- */

/* A disco CLI ping to the peer with this key (vole_tailnet_ping's rules);
 * fn always comes from a libev timer. id > 0, or -1 with err. Pending pings
 * are dropped without a call by vole_conn_free. */
int vole_conn_ping(struct vole_conn *c, const uint8_t key[32], vole_tailnet_pong_fn fn, void *ctx, char *err,
                   size_t errlen);
void vole_conn_ping_cancel(struct vole_conn *c, int id);

struct vole_conn_peer_diag {
    bool have_handshake;
    uint64_t handshake_unix_ns;              /* the last completed handshake, wall clock */
    struct vole_ping_disco_counts disco;     /* UDP only, since the node arrived (path MTU probes not counted) */
    uint16_t path_mtu_wire;                  /* issue #7: the direct path's confirmed wire size, 0: none */
    uint16_t inner_mtu;                      /* the tunnel MTU toward the peer now */
    bool path_mtu_settled;
};
/* 0, or -1 (no active peer with this key). */
int vole_conn_peer_diag(const struct vole_conn *c, const uint8_t key[32], struct vole_conn_peer_diag *out);
/* The home region while its DERP connection is up, else 0. */
int32_t vole_conn_home_connected(const struct vole_conn *c);
/* The last STUN round as NetInfo; false before the first. */
bool vole_conn_netinfo(const struct vole_conn *c, struct vole_tailnet_netinfo *out);
/* NULL before the coordinator's map came. */
const struct derp_map *vole_conn_derp_map(const struct vole_conn *c);

/* (Additions.) Counters: every dropped input lands in exactly one drop
 * counter; the rest say which way traffic went. */
struct vole_conn_stats {
    uint64_t udp_wg_rx, derp_wg_rx;          /* WireGuard datagrams in, by path */
    uint64_t udp_wg_tx, derp_wg_tx;          /* WireGuard datagrams to peers, by path (both when both) */
    uint64_t disco_rx_ping, disco_rx_pong, disco_rx_cmm;
    uint64_t disco_tx_ping, disco_tx_pong, disco_tx_cmm;
    uint64_t drop_disco_unknown_sender;      /* sender disco key of no peer */
    uint64_t drop_disco_bad_box;             /* the box does not open, or a malformed message */
    uint64_t drop_disco_misdirected;         /* CallMeMaybe over UDP, DERP source is another peer, wrong node key */
    uint64_t drop_disco_blocked;             /* disco over UDP, or a CallMeMaybe, while endpoints are blocked */
    uint64_t drop_derp_unknown_sender;       /* a DERP packet from a key that is no (active) peer */
    uint64_t held_initiations;               /* ...of which WireGuard initiations kept for 2 s */
    uint64_t replayed_initiations;           /* kept ones handed to WireGuard once their key became a peer */
    uint64_t drop_derp_tx;                   /* no region for the peer, or the DERP client refused */
    uint64_t drop_stun_unclaimed;            /* STUN that is no answer to our requests */
    uint64_t drop_rx_no_stack;               /* decrypted with no stack attached */
    uint64_t drop_tx_peer_gone;              /* WireGuard output to a removed peer */
    uint64_t stun_rounds;                    /* finished STUN rounds */
    /* Issue #7: path MTU discovery and fitting inner packets to it. */
    uint64_t pmtu_probes, pmtu_pongs;        /* probes sent over UDP, their pongs */
    uint64_t pmtu_black_holes;               /* confirmed sizes that stopped passing */
    uint64_t pmtu_unusable;                  /* direct paths given up: not even 576 inner bytes */
    uint64_t tx_fragmented, tx_fragments;    /* inner packets split for a peer's MTU, fragments sent */
    uint64_t drop_tx_unfragmentable;         /* too long and vole_ip_fragment refused it */
    uint64_t mss_clamped;                    /* SYNs whose MSS option was lowered, both ways */
    uint64_t drop_test_link;                 /* vole_conn_test_limit_udp dropped it */
};
const struct vole_conn_stats *vole_conn_stats(const struct vole_conn *c);
/* Tests only: emulate a link that silently drops every UDP datagram this
 * conn sends whose payload is over max_payload bytes (0: no limit), as a
 * small-MTU path with don't-fragment and no ICMP would (drop_test_link). */
void vole_conn_test_limit_udp(struct vole_conn *c, size_t max_payload);
/* The data plane's WireGuard device (for logs and tests). */
struct wg_device *vole_conn_device(struct vole_conn *c);

#endif
