/* The node object, shared by tailnet/node*.c only. */
#ifndef VOLE_TAILNET_NODE_INT_H
#define VOLE_TAILNET_NODE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coord/msg.h"
#include "coord/node.h"
#include "tailnet/node.h"

struct vole_control;
struct vole_conn;
struct tn_report_server;
struct tn_fetch;

/* More peers than this (an agent with that many clients) are dropped with a
 * log line: the WireGuard device and the path table grow with each. */
#define TN_MAX_PEERS 1024
/* Agents a client may ask tunnels to. */
#define TN_MAX_TUNNELS 64
/* "client-" and an int64 fit; agent names are at most 63. */
#define TN_PEER_NAME_MAX 64

struct tn_peer {
    int64_t id;                          /* the coordinator's id */
    char name[TN_PEER_NAME_MAX];         /* agent name, or "client-ID" */
    struct coord_node node;              /* as last upserted */
    struct vole_tailnet_path path;       /* as conn last reported */
};

struct vole_tailnet {
    struct ev_loop *loop;
    struct vole_tailnet_config cfg;      /* strings point into the copies below */
    char *url, *token, *name, *ca_file;
    struct vole_tailnet_ops ops;
    uint8_t private_key[32];
    struct vole_control *control;
    struct vole_conn *conn;
    struct vole_stack *stack;
    struct coord_node self;              /* as last sent; id and addresses from "self" */
    bool have_self;                      /* a "self" arrived */
    bool was_connected;                  /* for logging only the first failure of a run */
    char tunnels[TN_MAX_TUNNELS][COORD_NODE_NAME_MAX + 1];
    size_t n_tunnels;
    struct tn_peer *peers;               /* in arrival order: the newest last */
    size_t n_peers, cap_peers;
    uint64_t peers_dropped;              /* over TN_MAX_PEERS */
    bool sent_node;                      /* our current node went out on the live session */
    bool server_blocks;                  /* "self" said block_endpoints */
    struct tn_report_server *report;     /* agents: overlay port 4 (tailnet/report_server.c) */
    struct tn_fetch *fetches;            /* pending vole_tailnet_fetch_report, a list */
};

void tn_logf(const struct vole_tailnet *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tn_vlogf(const struct vole_tailnet *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tn_fatal(struct vole_tailnet *t, const char *why);

/* node_control.c: the coordinator's callbacks and what the node sends. */
void tn_on_control_state(void *ctx, bool connected, bool permanent, const char *why);
void tn_on_control_msg(void *ctx, const struct coord_msg *m);
void tn_send_update_self(struct vole_tailnet *t);
void tn_send_add_tunnel(struct vole_tailnet *t, const char *agent);

/* node_self.c: "self" from the server: addresses, the stack, the registered line. */
void tn_on_self(struct vole_tailnet *t, const struct coord_msg *m);
void tn_stack_free(struct vole_tailnet *t);

/* node_peers.c: the peer table, peer_updates and conn's path reports. */
void tn_on_peer_updates(struct vole_tailnet *t, const struct coord_msg *m);
void tn_on_conn_path(void *ctx, const uint8_t peer_key[32], const struct vole_tailnet_path *path);
const struct tn_peer *tn_peer_by_name(const struct vole_tailnet *t, const char *name);
void tn_peers_free(struct vole_tailnet *t);
/* The peer whose overlay address is ip (4 or 16 bytes by family), or NULL. */
const struct tn_peer *tn_peer_by_addr(const struct vole_tailnet *t, int family, const uint8_t *ip);

/* report_server.c: agents answer GET /api/v0/netcheck on overlay port 4.
 * Started with the stack, stopped before it goes. */
void tn_report_server_start(struct vole_tailnet *t);
void tn_report_server_stop(struct vole_tailnet *t);

/* report_client.c: every pending fetch ends (status 0, why) before the stack goes. */
void tn_fetches_end(struct vole_tailnet *t, const char *why);

#endif
