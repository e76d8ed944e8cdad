/* The client's transport: one io/stream (TCP, or TLS verified against the CA
 * file or the system CAs), the HTTP upgrade on it, and after a WebSocket
 * upgrade the derp/websocket filter over it (tailscale-wire.md §1.5). What
 * comes out is the DERP byte stream, handed to client_frames.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "derp/client_int.h"
#include "derp/websocket.h"
#include "io/stream.h"

/* ---- writing ------------------------------------------------------------ */

int derp_client_transport_write(struct vole_derp_client *c, const void *buf, size_t len)
{
    if (c->ws)
        return vole_ws_write(c->ws, buf, len);
    return c->stream ? vole_stream_write(c->stream, buf, len) : -1;
}

size_t derp_client_transport_pending(const struct vole_derp_client *c)
{
    if (c->ws)
        return vole_ws_pending(c->ws);
    return c->stream ? vole_stream_pending(c->stream) : 0;
}

/* ---- closing ------------------------------------------------------------ */

void derp_client_transport_drop(struct vole_derp_client *c)
{
    vole_ws_abandon(c->ws, c->stream);
    c->ws = NULL;
    c->stream = NULL;
}

/* ---- WebSocket ------------------------------------------------------------ */

static void ws_on_data(void *ctx, struct vole_ws *ws, const uint8_t *buf, size_t len)
{
    struct vole_derp_client *c = ctx;
    derp_client_enter(c);
    if (c->state >= CLIENT_SERVER_KEY)
        derp_client_frames_input(c, buf, len);
    derp_client_leave(c);
}

static void ws_on_close(void *ctx, struct vole_ws *ws, const char *why)
{
    struct vole_derp_client *c = ctx;
    char msg[128];

    derp_client_enter(c);
    c->ws = NULL;            /* it and its stream are freed after this returns */
    c->stream = NULL;
    snprintf(msg, sizeof msg, "WebSocket closed: %s", why);
    derp_client_fail(c, msg);
    derp_client_leave(c);
}

static void start_websocket(struct vole_derp_client *c, const uint8_t *rest, size_t len)
{
    c->ws_ops = (struct vole_ws_ops){.ctx = c, .on_data = ws_on_data, .on_close = ws_on_close};
    c->ws = vole_ws_new(c->stream, false, &c->ws_ops);
    if (!c->ws) {
        derp_client_fail(c, "cannot start the WebSocket filter");
        return;
    }
    /* Bytes that came with the 101 are already WebSocket frames. */
    if (len)
        vole_ws_input(c->ws, rest, len);
}

/* ---- the HTTP upgrade ------------------------------------------------------ */

static void send_request(struct vole_derp_client *c)
{
    const struct derp_url *u = &derp_client_node(c)->url;
    size_t cap = 512 + strlen(u->path) + strlen(u->authority) + (c->extra_header ? strlen(c->extra_header) : 0);
    char *req = malloc(cap);

    if (c->attempt_ws)
        vole_ws_client_key(c->ws_key);
    size_t n = req ? derp_upgrade_request(req, cap, u, c->attempt_ws, c->ws_key, c->extra_header) : 0;
    int rc = n ? vole_stream_write(c->stream, req, n) : -1;
    free(req);
    if (rc < 0) {
        derp_client_fail(c, "cannot write the upgrade request");
        return;
    }
    derp_upgrade_response_init(&c->resp);
    c->state = CLIENT_UPGRADING;
}

/* The response's head is in c->resp; rest[0..len) is what followed it. */
static void upgraded(struct vole_derp_client *c, const uint8_t *rest, size_t len)
{
    char why[160], accept[32] = "";
    int status = c->resp.status;

    if (status >= 400 && status <= 499) {
        /* Coder's client: a 4xx to the upgrade means something in between
         * (a proxy) does not pass "Upgrade: DERP"; WebSocket from now on. */
        c->use_websocket = true;
        snprintf(why, sizeof why, "HTTP %d to the upgrade; WebSocket on the next attempt", status);
        derp_client_fail_attempt(c, why);
        return;
    }
    if (c->attempt_ws)
        vole_ws_accept_key(accept, c->ws_key);
    const char *bad = derp_upgrade_check(&c->resp, c->attempt_ws, accept);
    if (bad) {
        snprintf(why, sizeof why, "HTTP %d: %s", status, bad);
        derp_client_fail(c, why);
        return;
    }
    derp_client_frames_start(c);
    if (c->attempt_ws)
        start_websocket(c, rest, len);
    else if (len)
        derp_client_frames_input(c, rest, len);
}

static void upgrade_input(struct vole_derp_client *c, const uint8_t *buf, size_t len)
{
    size_t used = 0;

    switch (derp_upgrade_response_feed(&c->resp, buf, len, &used)) {
    case DERP_UPGRADE_MORE:
        return;
    case DERP_UPGRADE_BAD:
        derp_client_fail(c, "malformed HTTP response to the upgrade");
        return;
    case DERP_UPGRADE_DONE:
        upgraded(c, buf + used, len - used);
        return;
    }
}

/* ---- the stream --------------------------------------------------------- */

static void on_open(void *ctx, struct vole_stream *s)
{
    struct vole_derp_client *c = ctx;

    derp_client_enter(c);
    if (strcmp(vole_stream_alpn(s), "h2") == 0) {
        /* We offer only http/1.1; a server choosing h2 anyway cannot upgrade
         * (Coder's client switches to WebSocket on this too). */
        c->use_websocket = true;
        derp_client_fail_attempt(c, "the TLS server chose ALPN h2; WebSocket on the next attempt");
    } else {
        send_request(c);
    }
    derp_client_leave(c);
}

static void on_read(void *ctx, struct vole_stream *s, const uint8_t *buf, size_t len)
{
    struct vole_derp_client *c = ctx;

    derp_client_enter(c);
    if (c->state == CLIENT_UPGRADING)
        upgrade_input(c, buf, len);
    else if (c->state >= CLIENT_SERVER_KEY)
        derp_client_frames_input(c, buf, len);
    derp_client_leave(c);
}

static void on_close(void *ctx, struct vole_stream *s, const char *why)
{
    struct vole_derp_client *c = ctx;
    char msg[sizeof derp_client_node(c)->url.authority + 96];

    derp_client_enter(c);
    c->stream = NULL;        /* freed after this returns */
    if (c->state == CLIENT_CONNECTING) {
        snprintf(msg, sizeof msg, "connecting to %s: %s", derp_client_node(c)->url.authority, why);
        derp_client_connect_failed(c, msg);
    } else {
        snprintf(msg, sizeof msg, "connection closed: %s", why);
        derp_client_fail(c, msg);
    }
    derp_client_leave(c);
}

int derp_client_transport_connect(struct vole_derp_client *c, const struct derp_addr *a, char *err, size_t errlen)
{
    const struct derp_client_node *n = derp_client_node(c);
    struct vole_tls_client_config tls = {
        .server_name = n->tls_name, .ca_file = c->ca_file, .insecure = n->insecure, .alpn_http11 = true,
    };

    c->stream_ops = (struct vole_stream_ops){.ctx = c, .on_open = on_open, .on_read = on_read, .on_close = on_close};
    c->stream = vole_stream_connect(c->loop, (const struct sockaddr *)&a->ss, a->len, n->url.tls ? &tls : NULL,
                                    &c->stream_ops, err, errlen);
    return c->stream ? 0 : -1;
}
