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

#include "coord/msg.h"

struct ev_loop;
struct vole_control;

#define VOLE_CONTROL_PATH "/api/v2/coordinate"
#define VOLE_CONTROL_SUBPROTOCOL "vole-coordinate"
#define VOLE_CONTROL_DEAD_AFTER 90.0   /* seconds without any input: reconnect */

struct vole_control_config {
    const char *url;            /* the server's base URL, e.g. "http://198.18.0.1:8080" (a path is ignored) */
    const char *token;
    const char *ca_file;        /* NULL: system CAs */
    bool insecure;              /* skip TLS verification (tests) */
};

struct vole_control_ops {
    void *ctx;
    /* Connected (the owner now sends update_self, add_tunnel...), or the
     * connection ended: why says so; permanent is true for a 401 (no retry
     * follows) and false when a reconnect is scheduled. */
    void (*on_state)(void *ctx, bool connected, bool permanent, const char *why);
    /* One message from the server, valid during the call. */
    void (*on_msg)(void *ctx, const struct coord_msg *m);
};

/* NULL with err for a bad URL or an empty token; otherwise dialling starts. */
struct vole_control *vole_control_new(struct ev_loop *loop, const struct vole_control_config *cfg,
                                      const struct vole_control_ops *ops, char *err, size_t errlen);
/* Safe from inside the client's own callbacks. */
void vole_control_free(struct vole_control *c);
/* 0 queued, -1 not connected (the owner re-sends its state on the next connect). */
int vole_control_send(struct vole_control *c, const struct coord_msg *m);
bool vole_control_connected(const struct vole_control *c);

#endif
