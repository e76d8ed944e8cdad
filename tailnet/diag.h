/* What a tailnet node tells `vole ping` (coder-behaviour.md §1.2, §1.6,
 * §1.8): the disco CLI ping (first pong wins, direct or via DERP), the peer
 * checklist facts (Coder's PeerDiagnostics), this node's NetInfo, and the
 * agent's report carried over the tunnel (overlay TCP port 4, HTTP
 * `GET /api/v0/netcheck`, diag/agent_report.h). Every agent node serves that
 * report; a client fetches it. */
#ifndef VOLE_TAILNET_DIAG_H
#define VOLE_TAILNET_DIAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coord/node.h"
#include "diag/ping_report.h"
#include "tailnet/node.h"
#include "wg/endpoint.h"

struct derp_map;

/* Coder's agent HTTP API port (workspacesdk: SSH 1, PTY 2, speedtest 3, API 4). */
#define VOLE_TAILNET_REPORT_PORT 4
/* A disco CLI ping gives up after this (magicsock's pingTimeoutDuration). */
#define VOLE_TAILNET_PING_TIMEOUT_NS 5000000000ull
/* Pending CLI pings per node; more are refused ("too many pings in flight"). */
#define VOLE_TAILNET_PINGS_MAX 16

/* ---- the disco CLI ping (Tailscale's cliPing) ---------------------------- */

struct vole_tailnet_pong {
    bool direct;                  /* true: endpoint; false: derp_region */
    struct wg_endpoint endpoint;  /* the UDP address that answered */
    int32_t derp_region;          /* the region the answered ping went through */
    uint64_t latency_ns;          /* that ping's send to its pong */
};

/* pong NULL: no pong within VOLE_TAILNET_PING_TIMEOUT_NS. Called once. */
typedef void (*vole_tailnet_pong_fn)(void *ctx, const struct vole_tailnet_pong *pong);

/* Sends disco pings to peer NAME: only to the best UDP address while it is
 * trusted, else via DERP (the peer's home region) and to every endpoint of
 * the peer; the first pong completes the ping. The pings also count for the
 * path logic (a pong can make a direct path, as any disco pong does).
 * Returns an id > 0, or -1 with err ("no such peer", "peer has no disco key
 * yet", "too many pings in flight"). fn is never called from inside this
 * call. */
int vole_tailnet_ping(struct vole_tailnet *t, const char *name, vole_tailnet_pong_fn fn, void *ctx,
                      char *err, size_t errlen);
/* fn will not be called for id. Unknown or finished ids are ignored. */
void vole_tailnet_ping_cancel(struct vole_tailnet *t, int id);

/* ---- checklist facts ------------------------------------------------------- */

struct vole_tailnet_peer_diag {
    int32_t preferred_derp;       /* this node's home region; 0: not connected to DERP */
    bool sent_node;               /* the coordinator has our node (sent on the live session) */
    bool received_node;           /* the peer's node came from the coordinator */
    int32_t peer_preferred_derp;  /* the peer node's home region (0 unknown) */
    char peer_endpoints[COORD_MAX_ENDPOINTS][COORD_ENDPOINT_STR];
    size_t n_peer_endpoints;      /* as the peer's node lists them */
    bool have_handshake;          /* a WireGuard handshake with the peer completed */
    uint64_t handshake_age_ns;    /* now - that handshake */
    /* Disco over UDP only (never DERP) toward this peer, since the peer's
     * node arrived: for the endpoint-firewall check. */
    struct vole_ping_disco_counts disco;
    /* Issue #7: the direct path's MTU as discovered (wire size: whole IP
     * packets; 0 with no direct path or before the first probe came back)
     * and the inner MTU the tunnel uses toward the peer (VOLE_TAILNET_MTU
     * over DERP). */
    uint16_t path_mtu_wire;
    uint16_t inner_mtu;
    bool path_mtu_settled;        /* the search has converged */
};

/* 0, or -1 (no such peer: received_node false, the rest as far as known). */
int vole_tailnet_peer_diag(const struct vole_tailnet *t, const char *name, struct vole_tailnet_peer_diag *out);

/* ---- this node's NetInfo ---------------------------------------------------- */

struct vole_tailnet_netinfo {
    struct vole_ping_netinfo ni;  /* global_v4/_v6 point at the arrays below */
    char global_v4[64], global_v6[64];
    int32_t preferred_derp;
};

/* false until the first STUN round finished (Coder's nil NetInfo); with
 * block-endpoints (local or server) no STUN runs, so it stays false. */
bool vole_tailnet_netinfo(const struct vole_tailnet *t, struct vole_tailnet_netinfo *out);

/* The DERP map from the coordinator (NULL before it came). */
const struct derp_map *vole_tailnet_derp_map(const struct vole_tailnet *t);
/* The server said block_endpoints (its --block-direct-connections). */
bool vole_tailnet_server_blocks_direct(const struct vole_tailnet *t);

/* ---- the agent's report over the tunnel -------------------------------------- */

/* status: the HTTP status (200 with the body, 404 ...), or 0 with err when
 * no answer came (connect refused, reset, timeout). Called once. */
typedef void (*vole_tailnet_report_fn)(void *ctx, int status, const char *body, size_t len, const char *err);

/* GET http://[peer]:4/api/v0/netcheck through the tunnel (lwIP TCP), body
 * at most VOLE_AGENT_REPORT_MAX. 0, or -1 with err (no stack, no such peer).
 * fn is never called from inside this call; pending fetches are ended with
 * status 0 by vole_tailnet_free (before it returns). */
int vole_tailnet_fetch_report(struct vole_tailnet *t, const char *name, uint32_t timeout_ms,
                              vole_tailnet_report_fn fn, void *ctx, char *err, size_t errlen);

#endif
