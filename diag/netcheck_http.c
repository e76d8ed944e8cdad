/* One bounded HTTP(S) GET (diag/netcheck_http.h). */
#include "diag/netcheck_http.h"

#include <ev.h>
#include <http_parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "derp/dial.h"
#include "derp/upgrade.h"
#include "derp/url.h"
#include "io/stream.h"
#include "node/tunnel.h"

struct vole_nc_http {
    struct ev_loop *loop;
    struct derp_url url;
    char header[2048];             /* "" for none */
    char server_name[DERP_URL_HOST_MAX];
    char ca_file[1024];            /* "" : system CAs */
    bool insecure;
    vole_nc_http_done_fn done;
    void *ctx;

    struct derp_dial dialer;
    struct vole_stream *stream;
    ev_timer step;                 /* name-lookup polls, then the deferred finish */
    ev_timer deadline;
    bool opened, got_first, complete, finished;
    uint64_t sent_at, first_at;
    http_parser parser;
    int status;
    char *body;
    size_t body_len, body_cap;
    bool too_big;
    char error[256];
};

static void noop_read(void *ctx, struct vole_stream *s, const uint8_t *buf, size_t len) {}
static void noop_close(void *ctx, struct vole_stream *s, const char *why) {}
static const struct vole_stream_ops DETACHED = { .on_read = noop_read, .on_close = noop_close };

static void drop_stream(struct vole_nc_http *h)
{
    if (!h->stream)
        return;
    vole_stream_set_ops(h->stream, &DETACHED);
    vole_stream_close(h->stream, false);
    h->stream = NULL;
}

static void on_fire(struct ev_loop *loop, ev_timer *w, int revents);

/* Ends the request: what is known is delivered from the loop, at once. */
static void finish(struct vole_nc_http *h, const char *error)
{
    if (h->finished)
        return;
    h->finished = true;
    /* A longer reason is cut to the report's bounded field. */
    if (error && snprintf(h->error, sizeof h->error, "%s", error) < 0)
        h->error[0] = '\0';
    drop_stream(h);
    derp_dial_stop(&h->dialer);
    ev_timer_stop(h->loop, &h->deadline);
    ev_timer_stop(h->loop, &h->step);
    ev_init(&h->step, on_fire);
    ev_timer_set(&h->step, 0., 0.);
    ev_timer_start(h->loop, &h->step);
}

static void on_fire(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct vole_nc_http *h = w->data;
    struct vole_nc_http_result r = {
        .error = h->error[0] ? h->error : NULL, .status = h->status, .body = h->body ? h->body : "",
        .body_len = h->body_len, .first_byte_ns = h->got_first ? h->first_at - h->sent_at : 0,
    };
    h->done(h->ctx, &r);   /* may free h */
}

/* ---- the response ---- */

static int on_headers(http_parser *p)
{
    ((struct vole_nc_http *)p->data)->status = (int)p->status_code;
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    struct vole_nc_http *h = p->data;
    if (h->body_len + len + 1 > VOLE_NC_HTTP_BODY_MAX) {
        h->too_big = true;
        return -1;
    }
    if (h->body_len + len + 1 > h->body_cap) {
        size_t cap = h->body_cap ? h->body_cap : 4096;
        while (cap < h->body_len + len + 1)
            cap *= 2;
        char *b = realloc(h->body, cap);
        if (!b)
            return -1;
        h->body = b;
        h->body_cap = cap;
    }
    memcpy(h->body + h->body_len, at, len);
    h->body_len += len;
    h->body[h->body_len] = '\0';
    return 0;
}

static int on_complete(http_parser *p)
{
    ((struct vole_nc_http *)p->data)->complete = true;
    return 0;
}

static const http_parser_settings SETTINGS = {
    .on_headers_complete = on_headers, .on_body = on_body, .on_message_complete = on_complete,
};

static void feed(struct vole_nc_http *h, const char *buf, size_t len)
{
    size_t used = http_parser_execute(&h->parser, &SETTINGS, buf, len);
    if (h->complete)
        finish(h, NULL);
    else if (used != len || HTTP_PARSER_ERRNO(&h->parser) != HPE_OK)
        finish(h, h->too_big ? "response too large" : "malformed HTTP response");
}

/* ---- the stream ---- */

static void on_open(void *ctx, struct vole_stream *s)
{
    struct vole_nc_http *h = ctx;
    char req[4096];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: vole-netcheck/1\r\n%s%sConnection: close\r\n\r\n",
                     h->url.path, h->url.authority, h->header, h->header[0] ? "\r\n" : "");
    h->opened = true;
    if (n < 0 || (size_t)n >= sizeof req) {
        finish(h, "request too long");
        return;
    }
    h->sent_at = vole_now_ns();
    vole_stream_write(s, req, (size_t)n);
}

static void on_read(void *ctx, struct vole_stream *s, const uint8_t *buf, size_t len)
{
    struct vole_nc_http *h = ctx;
    if (!h->got_first) {
        h->got_first = true;
        h->first_at = vole_now_ns();
    }
    feed(h, (const char *)buf, len);
}

static int connect_addr(void *ctx, const struct derp_addr *a, char *err, size_t errlen);
static void dial_went(struct vole_nc_http *h, enum derp_dial_status st, const char *err);

static void on_close(void *ctx, struct vole_stream *s, const char *why)
{
    struct vole_nc_http *h = ctx;
    char err[256];

    h->stream = NULL;   /* freed after this returns */
    if (!h->opened) {
        dial_went(h, derp_dial_next(&h->dialer, why, connect_addr, h, err, sizeof err), err);
        return;
    }
    if (h->got_first)
        feed(h, NULL, 0);   /* EOF ends a body without a length */
    if (!h->finished) {
        snprintf(err, sizeof err, "connection closed: %s", why);
        finish(h, err);
    }
}

static const struct vole_stream_ops STREAM_OPS = {
    .on_open = on_open, .on_read = on_read, .on_close = on_close,
};

static int connect_addr(void *ctx, const struct derp_addr *a, char *err, size_t errlen)
{
    struct vole_nc_http *h = ctx;
    struct vole_stream_ops ops = STREAM_OPS;
    struct vole_tls_client_config tls = {
        .server_name = h->server_name, .ca_file = h->ca_file[0] ? h->ca_file : NULL, .insecure = h->insecure,
        .alpn_http11 = true,
    };

    ops.ctx = h;
    h->stream = vole_stream_connect(h->loop, (const struct sockaddr *)&a->ss, a->len, h->url.tls ? &tls : NULL,
                                    &ops, err, errlen);
    return h->stream ? 0 : -1;
}

static void on_poll(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct vole_nc_http *h = w->data;
    char err[256];
    dial_went(h, derp_dial_poll(&h->dialer, connect_addr, h, err, sizeof err), err);
}

static void dial_went(struct vole_nc_http *h, enum derp_dial_status st, const char *err)
{
    char msg[640];   /* the authority and the dialler's words, whole */

    switch (st) {
    case DERP_DIAL_RESOLVING:
        ev_init(&h->step, on_poll);
        ev_timer_set(&h->step, DERP_DIAL_POLL, 0.);
        ev_timer_start(h->loop, &h->step);
        return;
    case DERP_DIAL_CONNECTING:
        return;
    case DERP_DIAL_FAILED:
        snprintf(msg, sizeof msg, "connecting to %s: %s", h->url.authority, err);
        finish(h, msg);
        return;
    }
}

static void on_deadline(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct vole_nc_http *h = w->data;
    finish(h, h->opened ? "timed out waiting for the response" : "timed out connecting");
}

/* ---- the request ---- */

static int configure(struct vole_nc_http *h, const struct vole_nc_http_config *cfg, char *err, size_t errlen)
{
    if (derp_url_parse(cfg->url, &h->url, err, errlen) < 0)
        return -1;
    if (cfg->header && (!derp_upgrade_header_ok(cfg->header) || strlen(cfg->header) >= sizeof h->header)) {
        snprintf(err, errlen, "malformed header line");
        return -1;
    }
    if (cfg->ca_file && strlen(cfg->ca_file) >= sizeof h->ca_file) {
        snprintf(err, errlen, "CA file name too long");
        return -1;
    }
    snprintf(h->header, sizeof h->header, "%s", cfg->header ? cfg->header : "");
    snprintf(h->server_name, sizeof h->server_name, "%s", cfg->tls_server_name ? cfg->tls_server_name : h->url.host);
    snprintf(h->ca_file, sizeof h->ca_file, "%s", cfg->ca_file ? cfg->ca_file : "");
    h->insecure = cfg->insecure;
    return 0;
}

struct vole_nc_http *vole_nc_http_get(struct ev_loop *loop, const struct vole_nc_http_config *cfg,
                                      vole_nc_http_done_fn done, void *ctx, char *err, size_t errlen)
{
    struct vole_nc_http *h = calloc(1, sizeof *h);
    char why[256];

    if (!h) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (configure(h, cfg, err, errlen) < 0) {
        free(h);
        return NULL;
    }
    h->loop = loop;
    h->done = done;
    h->ctx = ctx;
    http_parser_init(&h->parser, HTTP_RESPONSE);
    h->parser.data = h;
    ev_init(&h->step, on_poll);
    h->step.data = h;
    ev_timer_init(&h->deadline, on_deadline, cfg->timeout > 0 ? cfg->timeout : 10., 0.);
    h->deadline.data = h;
    ev_timer_start(loop, &h->deadline);
    dial_went(h, derp_dial_start(&h->dialer, h->url.host, h->url.port, connect_addr, h, why, sizeof why), why);
    return h;
}

void vole_nc_http_free(struct vole_nc_http *h)
{
    if (!h)
        return;
    drop_stream(h);
    derp_dial_stop(&h->dialer);
    ev_timer_stop(h->loop, &h->step);
    ev_timer_stop(h->loop, &h->deadline);
    free(h->body);
    free(h);
}
