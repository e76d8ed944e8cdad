/* A tailnet node, agent or client (docs/TAILNET.md "Node side"): the
 * coordinator client (tailnet/control.h), the shared UDP socket with
 * WireGuard, disco and STUN, the DERP regions, per-peer path selection
 * (disco/path.h), and one lwIP stack holding the node's overlay addresses.
 * This is the library entry point that `vole agent`, `vole forward` and the
 * later `vole ping` / `vole speedtest` build on. */
#ifndef VOLE_TAILNET_NODE_H
#define VOLE_TAILNET_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coord/node.h"
#include "lwip/ip_addr.h"
#include "wg/endpoint.h"

struct ev_loop;
struct vole_stack;
struct vole_tailnet;

struct vole_tailnet_config {
    const char *url;             /* the server's base URL (VOLE_URL) */
    const char *token;           /* VOLE_TOKEN */
    const char *name;            /* an agent's name; NULL for a client */
    const char *ca_file;         /* NULL: system CAs */
    bool insecure;               /* skip TLS verification (tests) */
    uint16_t udp_port;           /* 0: a random port */
    bool verbose;                /* also log peer updates, DERP and STUN events */
    bool disable_direct;         /* --disable-direct-connections: no endpoints gathered or
                                  * sent, peers' endpoints ignored, no STUN (DERP only) */
    const uint8_t *private_key;  /* 32 bytes, or NULL: a random key for this process (tests pin one) */
    void (*log)(void *ctx, const char *msg);   /* every line of docs/TAILNET.md "What the CLI prints" */
    void *log_ctx;
};

enum vole_tailnet_path_kind { VOLE_PATH_NONE, VOLE_PATH_DERP, VOLE_PATH_DIRECT };

struct vole_tailnet_path {
    enum vole_tailnet_path_kind kind;
    struct wg_endpoint direct;   /* DIRECT: the trusted UDP address */
    uint64_t latency_ns;         /* DIRECT: of the last pong */
    int32_t derp_region;         /* DERP: the region packets go through */
    uint16_t inner_mtu;          /* DIRECT: the tunnel MTU toward the peer as path MTU
                                  * discovery found it (0: not known yet); issue #7 */
};

struct vole_tailnet_ops {
    void *ctx;
    /* The server gave this node its addresses and the stack exists (again
     * after a reconnect only if they changed). Optional. */
    void (*on_ready)(void *ctx, const struct coord_node *self);
    /* A peer's node arrived or changed (name: the agent's name, or
     * "client-ID"). Optional. */
    void (*on_peer)(void *ctx, const char *name, const struct coord_node *node);
    /* The path to a peer changed. Optional. */
    void (*on_path)(void *ctx, const char *name, const struct vole_tailnet_path *path);
    /* Something this node cannot get past: a rejected token, a refused
     * tunnel ("agent \"dev\": not found or not allowed"), a name that does not
     * match the token. The node keeps running; the CLI exits. */
    void (*on_fatal)(void *ctx, const char *why);
    /* The server gave new addresses, so the stack is about to be freed and
     * made again (on_ready follows): free the forwarders built on s now.
     * Optional; without it, nothing may hold on to the stack. */
    void (*on_stack_gone)(void *ctx, struct vole_stack *s);
};

/* NULL with err (bad URL, empty token, bad agent name, UDP socket).
 * Dialling starts at once. */
struct vole_tailnet *vole_tailnet_new(struct ev_loop *loop, const struct vole_tailnet_config *cfg,
                                      const struct vole_tailnet_ops *ops, char *err, size_t errlen);
/* Free the forwarders built on the stack first. Not from inside an op. */
void vole_tailnet_free(struct vole_tailnet *t);

/* A client asks for a tunnel to an agent (kept across reconnects). 0 or -1 (bad name). */
int vole_tailnet_add_tunnel(struct vole_tailnet *t, const char *agent);

/* The lwIP stack, once on_ready has run (NULL before). */
struct vole_stack *vole_tailnet_stack(struct vole_tailnet *t);
/* A peer's overlay address (IPv4 if it has one), once its node is known. 0 or -1. */
int vole_tailnet_peer_addr(const struct vole_tailnet *t, const char *name, ip_addr_t *out);
/* The current path to a peer (kind NONE if unknown). */
void vole_tailnet_peer_path(const struct vole_tailnet *t, const char *name, struct vole_tailnet_path *out);
/* This node's own info as last sent (id 0 before the server's "self"). */
const struct coord_node *vole_tailnet_self(const struct vole_tailnet *t);
/* Why the last coordinator connection failed or ended ("" if none has):
 * for an error that names the cause when the server cannot be reached. */
const char *vole_tailnet_control_error(const struct vole_tailnet *t);

/* A `vole forward --tcp` spec, "[BIND:]LPORT:RPORT": LPORT on this machine
 * (0: any free port) carried to the agent's overlay port RPORT. BIND as in
 * stack/forward.h: absent is loopback, "" or "*" all interfaces, IPv6 in
 * brackets. */
struct vole_tailnet_tcp_spec {
    bool has_bind;
    char bind[256];
    uint16_t lport;   /* 0..65535 */
    uint16_t rport;   /* 1..65535 */
};

/* 0, or -1 with err saying what is wrong (e.g. `remote port "0": not 1..65535`). */
int vole_tailnet_tcp_spec_parse(const char *text, struct vole_tailnet_tcp_spec *out, char *err, size_t errlen);

#endif
