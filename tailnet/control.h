/* The coordinator client (docs/TAILNET.md "HTTP" and "Coordinator
 * conversation"): dials the server's URL (http:// or https://), upgrades to
 * WebSocket on /api/v2/coordinate with the token, and exchanges coord_msg
 * lines. Reconnects with exponential backoff (1 s doubling, capped at 5 s,
 * jittered) after any loss; a 401 is permanent (the token is wrong) and is
 * reported once, without retrying. */
#ifndef VOLE_TAILNET_CONTROL_H
#define VOLE_TAILNET_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coord/msg.h"

struct ev_loop;
struct vole_control;

#define VOLE_CONTROL_PATH "/api/v2/coordinate"
#define VOLE_CONTROL_SUBPROTOCOL "vole-coordinate"
#define VOLE_CONTROL_DEAD_AFTER 90.0   /* seconds without any input: reconnect */
#define VOLE_CONTROL_CONNECT_TIMEOUT 10.0   /* name lookup, TCP, TLS and the upgrade */
#define VOLE_CONTROL_BACKOFF_FIRST 1.0
#define VOLE_CONTROL_BACKOFF_CAP 5.0
/* A connection that lasted this long, or brought a message, was a success:
 * the next reconnect starts over at VOLE_CONTROL_BACKOFF_FIRST. */
#define VOLE_CONTROL_STABLE_AFTER 10.0

struct vole_control_config {
    const char *url;            /* the server's base URL, e.g. "http://198.18.0.1:8080" (a path is ignored) */
    const char *token;
    const char *ca_file;        /* NULL: system CAs */
    bool insecure;              /* skip TLS verification (tests) */
};

struct vole_control_ops {
    void *ctx;
    /* Connected (the owner now sends update_self, add_tunnel...), or the
     * connection ended or an attempt failed: why says so; permanent is true
     * for a 401 (no retry follows) and false when a reconnect is scheduled. */
    void (*on_state)(void *ctx, bool connected, bool permanent, const char *why);
    /* One message from the server, valid during the call. */
    void (*on_msg)(void *ctx, const struct coord_msg *m);
};

/* NULL with err for a bad URL or an empty token; otherwise dialling starts. */
struct vole_control *vole_control_new(struct ev_loop *loop, const struct vole_control_config *cfg,
                                      const struct vole_control_ops *ops, char *err, size_t errlen);
/* Safe from inside the client's own callbacks. */
void vole_control_free(struct vole_control *c);
/* 0 queued, -1 not connected (the owner re-sends its state on the next
 * connect) or a message coord_msg_encode refuses (over its bounds). */
int vole_control_send(struct vole_control *c, const struct coord_msg *m);
bool vole_control_connected(const struct vole_control *c);

struct vole_control_stats {
    uint64_t attempts;         /* connection attempts started */
    uint64_t connects;         /* upgrades completed */
    uint64_t disconnects;      /* connections that ended */
    uint64_t msgs_in, msgs_out;
    /* Lines from the server that are not a message for a node (bad JSON,
     * unknown type, a node's own message types): skipped. */
    uint64_t bad_lines;
};

const struct vole_control_stats *vole_control_stats(const struct vole_control *c);
/* The last failure or skipped line, for logs ("" for none yet). */
const char *vole_control_last_error(const struct vole_control *c);
/* Replaces VOLE_CONTROL_DEAD_AFTER (tests); takes effect at the next check. */
void vole_control_set_dead_after(struct vole_control *c, double seconds);

/* The reconnect backoff (sans-IO, exposed for tests): the delay to wait now,
 * *base jittered by +-20% with rnd in [0, 1); *base then doubles up to
 * VOLE_CONTROL_BACKOFF_CAP. */
double vole_control_backoff(double *base, double rnd);

#endif
