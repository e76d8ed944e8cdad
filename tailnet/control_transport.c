/* The coordinator client's transport: one io/stream (TCP, or TLS verified
 * against the CA file or the system CAs), the WebSocket upgrade on it
 * (GET /api/v2/coordinate, subprotocol vole-coordinate, the bearer token),
 * and after the 101 the derp/websocket filter, whose bytes go to
 * control_lines.c (docs/TAILNET.md "HTTP on the server's one port"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tailnet/control_int.h"

/* A write that makes no progress this long: the server is gone. */
#define WRITE_TIMEOUT 30.0

/* ---- closing ------------------------------------------------------------ */

void control_transport_drop(struct vole_control *c)
{
    vole_ws_abandon(c->ws, c->stream);
    c->ws = NULL;
    c->stream = NULL;
}

/* ---- WebSocket ------------------------------------------------------------ */

static void ws_on_data(void *ctx, struct vole_ws *ws, const uint8_t *buf, size_t len)
{
    struct vole_control *c = ctx;
    control_enter(c);
    c->last_rx = ev_now(c->loop);
    control_lines_input(c, buf, len);
    control_leave(c);
}

static void ws_on_close(void *ctx, struct vole_ws *ws, const char *why)
{
    struct vole_control *c = ctx;
    char msg[192];

    control_enter(c);
    c->ws = NULL;            /* it and its stream are freed after this returns */
    c->stream = NULL;
    snprintf(msg, sizeof msg, "coordinator connection closed: %s", why);
    control_fail(c, msg);
    control_leave(c);
}

static void start_websocket(struct vole_control *c, const uint8_t *rest, size_t len)
{
    c->ws_ops = (struct vole_ws_ops){.ctx = c, .on_data = ws_on_data, .on_close = ws_on_close};
    c->ws = vole_ws_new(c->stream, false, &c->ws_ops);
    if (!c->ws) {
        control_fail(c, "cannot start the WebSocket filter");
        return;
    }
    /* Connected first, so that the owner may send from on_state and
     * receives the messages that came with the 101 after it. */
    control_connected(c);
    if (len && c->ws && !c->freeing)
        vole_ws_input(c->ws, rest, len);
}

/* ---- the HTTP upgrade ------------------------------------------------------ */

static void send_request(struct vole_control *c)
{
    size_t cap = 512 + strlen(c->url.authority) + strlen(c->auth_header);
    char *req = malloc(cap);

    vole_ws_client_key(c->ws_key);
    size_t n = req ? derp_upgrade_ws_request(req, cap, &c->url, VOLE_CONTROL_PATH, VOLE_CONTROL_SUBPROTOCOL,
                                             c->ws_key, c->auth_header)
                   : 0;
    int rc = n ? vole_stream_write(c->stream, req, n) : -1;
    if (req)
        memset(req, 0, cap);   /* it holds the token */
    free(req);
    if (rc < 0) {
        control_fail(c, "cannot write the upgrade request");
        return;
    }
    derp_upgrade_response_init(&c->resp);
    c->state = CONTROL_UPGRADING;
}

/* The response's head is in c->resp; rest[0..len) is what followed it. */
static void upgraded(struct vole_control *c, const uint8_t *rest, size_t len)
{
    char why[192], accept[VOLE_WS_ACCEPT_LEN + 1];
    int status = c->resp.status;

    if (status == 401) {
        control_refused(c, "server refused the token (401)");
        return;
    }
    vole_ws_accept_key(accept, c->ws_key);
    const char *bad = derp_upgrade_check_ws(&c->resp, accept, VOLE_CONTROL_SUBPROTOCOL);
    if (bad) {
        snprintf(why, sizeof why, "HTTP %d to the coordinator upgrade: %s", status, bad);
        control_fail(c, why);
        return;
    }
    start_websocket(c, rest, len);
}

static void upgrade_input(struct vole_control *c, const uint8_t *buf, size_t len)
{
    size_t used = 0;

    switch (derp_upgrade_response_feed(&c->resp, buf, len, &used)) {
    case DERP_UPGRADE_MORE:
        return;
    case DERP_UPGRADE_BAD:
        control_fail(c, "malformed HTTP response to the coordinator upgrade");
        return;
    case DERP_UPGRADE_DONE:
        upgraded(c, buf + used, len - used);
        return;
    }
}

/* ---- the stream --------------------------------------------------------- */

static void on_open(void *ctx, struct vole_stream *s)
{
    struct vole_control *c = ctx;
    control_enter(c);
    send_request(c);
    control_leave(c);
}

static void on_read(void *ctx, struct vole_stream *s, const uint8_t *buf, size_t len)
{
    struct vole_control *c = ctx;
    control_enter(c);
    if (c->state == CONTROL_UPGRADING)
        upgrade_input(c, buf, len);
    control_leave(c);
}

static void on_close(void *ctx, struct vole_stream *s, const char *why)
{
    struct vole_control *c = ctx;
    char msg[sizeof c->url.authority + 96];

    control_enter(c);
    c->stream = NULL;        /* freed after this returns */
    if (c->state == CONTROL_CONNECTING) {
        snprintf(msg, sizeof msg, "connecting to %s: %s", c->url.authority, why);
        control_connect_failed(c, msg);
    } else {
        snprintf(msg, sizeof msg, "%s closed during the upgrade: %s", c->url.authority, why);
        control_fail(c, msg);
    }
    control_leave(c);
}

int control_transport_connect(struct vole_control *c, const struct derp_addr *a, char *err, size_t errlen)
{
    struct vole_tls_client_config tls = {
        .server_name = c->url.host, .ca_file = c->ca_file, .insecure = c->insecure, .alpn_http11 = true,
    };

    c->stream_ops = (struct vole_stream_ops){.ctx = c, .on_open = on_open, .on_read = on_read, .on_close = on_close};
    c->stream = vole_stream_connect(c->loop, (const struct sockaddr *)&a->ss, a->len, c->url.tls ? &tls : NULL,
                                    &c->stream_ops, err, errlen);
    if (c->stream)
        vole_stream_set_write_timeout(c->stream, WRITE_TIMEOUT);
    return c->stream ? 0 : -1;
}
