/* The DERP server on the libev loop (derp/server.h): a listening socket, one
 * request per connection read with derp/http.c, then either an answer and a
 * close, or the upgrade that hands the stream (raw, or inside WebSocket) to
 * the sans-IO relay.
 *
 * The relay asks for writes from inside its own calls (a packet from A makes
 * B writable), so want_write only queues the connection; an ev_prepare pulls
 * relay output into the streams once per loop iteration, after every read of
 * that iteration, which batches frames into few writes. The same prepare
 * re-arms the one relay timer when input may have moved its deadline. */
#include "derp/server.h"
#include "io/logf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <ev.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "derp/http.h"
#include "derp/websocket.h"
#include "io/stream.h"

#define OUT_HIGH_WATER (256u << 10)   /* stop pulling relay output while a stream buffers this much */
#define REQUEST_TIMEOUT 10.0          /* seconds to deliver the request head (TLS handshake included) */
#define DEFAULT_WRITE_TIMEOUT 2.0     /* as derper's -tcp-write-timeout */
#define ACCEPT_BATCH 64               /* accepts per readiness event, so reads are not starved */
#define ACCEPT_PAUSE 0.1              /* out of descriptors: retry after connections had time to close */
#define LISTEN_BACKLOG 4096
#define SCRATCH_LEN (64u << 10)       /* relay output and HTTP responses on their way out */

enum conn_phase {
    PHASE_HTTP,    /* reading the request head */
    PHASE_DERP,    /* upgraded: bytes go to and from the relay */
    PHASE_DONE,    /* answered or dropped; waiting for the stream's on_close */
};

struct conn {
    struct vole_derp_server *srv;
    struct vole_stream *stream;
    struct vole_ws *ws;                /* the WebSocket filter, NULL for raw DERP */
    struct vole_ws_ops ws_ops;
    struct derp_relay_conn *rc;        /* NULL before the upgrade and once the relay let go */
    struct derp_http_parser *http;     /* only while reading the request head */
    ev_timer request_timer;
    enum conn_phase phase;
    bool queued;                       /* on srv->writers */
    struct conn *prev, *next;          /* srv->conns */
    struct conn *wprev, *wnext;        /* srv->writers */
};

struct vole_derp_server {
    struct ev_loop *loop;
    struct derp_keypair key;
    struct derp_relay *relay;
    struct vole_tls_server *tls;       /* NULL: plain HTTP */
    bool (*admit)(void *ctx, const uint8_t client_pub[DERP_KEY_LEN], const char *source);
    void *admit_ctx;
    void (*log)(void *ctx, const char *msg);
    void *log_ctx;
    bool (*api)(void *ctx, const struct derp_http_request *req, struct vole_stream *stream, const uint8_t *rest,
                size_t len);
    void *api_ctx;
    double write_timeout;
    int fd;
    uint16_t port;
    ev_io accept_w;
    ev_timer accept_pause;
    ev_timer relay_timer;
    ev_prepare prepare;
    bool tick_due;                     /* the relay's next deadline may have moved */
    struct conn *conns;
    struct conn *writers;              /* connections the relay has output for */
    uint8_t scratch[SCRATCH_LEN];
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void server_log(struct vole_derp_server *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void server_log(struct vole_derp_server *s, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vole_vlogf(s->log, s->log_ctx, fmt, ap);
    va_end(ap);
}

/* ---- the transport under DERP: the stream, or the WebSocket over it ---- */

static size_t out_pending(const struct conn *c)
{
    return c->ws ? vole_ws_pending(c->ws) : vole_stream_pending(c->stream);
}

static int out_write(struct conn *c, const void *buf, size_t len)
{
    return c->ws ? vole_ws_write(c->ws, buf, len) : vole_stream_write(c->stream, buf, len);
}

static void out_close(struct conn *c)
{
    c->phase = PHASE_DONE;
    if (c->ws)
        vole_ws_close(c->ws);
    else
        vole_stream_close(c->stream, false);
}

/* ---- relay output ---- */

static void unqueue(struct conn *c)
{
    struct vole_derp_server *s = c->srv;

    if (!c->queued)
        return;
    if (c->wprev)
        c->wprev->wnext = c->wnext;
    else
        s->writers = c->wnext;
    if (c->wnext)
        c->wnext->wprev = c->wprev;
    c->wprev = c->wnext = NULL;
    c->queued = false;
}

/* Moves relay output into the transport until it is all there or the
 * transport holds OUT_HIGH_WATER; the drained callback resumes. Bounding what
 * a stream buffers keeps a slow reader's backlog in the relay's queues, where
 * it is bounded and dropped oldest-first. */
static void pump(struct conn *c)
{
    struct vole_derp_server *s = c->srv;

    while (c->rc && derp_relay_has_output(c->rc) && out_pending(c) < OUT_HIGH_WATER) {
        size_t n = derp_relay_output(s->relay, c->rc, s->scratch, sizeof s->scratch);
        if (n == 0 || out_write(c, s->scratch, n) < 0)
            break;
    }
}

static void relay_want_write(void *ctx, void *io_conn)
{
    struct vole_derp_server *s = ctx;
    struct conn *c = io_conn;

    if (c->queued)
        return;
    c->queued = true;
    c->wprev = NULL;
    c->wnext = s->writers;
    if (s->writers)
        s->writers->wprev = c;
    s->writers = c;
}

static void relay_close(void *ctx, void *io_conn, const char *why)
{
    struct conn *c = io_conn;

    (void)ctx;
    (void)why;
    c->rc = NULL;     /* the relay forgot it: never hand it back */
    unqueue(c);
    out_close(c);
}

static bool relay_admit(void *ctx, const uint8_t client_pub[DERP_KEY_LEN], const char *source)
{
    struct vole_derp_server *s = ctx;
    return s->admit(s->admit_ctx, client_pub, source);
}

static void arm_relay_timer(struct vole_derp_server *s, uint64_t deadline)
{
    uint64_t now = now_ns();

    ev_timer_stop(s->loop, &s->relay_timer);
    if (deadline == UINT64_MAX)
        return;
    ev_timer_set(&s->relay_timer, deadline > now ? (double)(deadline - now) / 1e9 : 0., 0.);
    ev_timer_start(s->loop, &s->relay_timer);
}

static void on_relay_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct vole_derp_server *s = w->data;
    arm_relay_timer(s, derp_relay_tick(s->relay, now_ns()));
}

static void on_prepare(struct ev_loop *loop, ev_prepare *w, int revents)
{
    struct vole_derp_server *s = w->data;

    if (s->tick_due) {
        s->tick_due = false;
        arm_relay_timer(s, derp_relay_tick(s->relay, now_ns()));
    }
    while (s->writers) {
        struct conn *c = s->writers;
        unqueue(c);
        pump(c);
    }
}

/* ---- connections ---- */

static void conn_free(struct conn *c)
{
    struct vole_derp_server *s = c->srv;

    unqueue(c);
    ev_timer_stop(s->loop, &c->request_timer);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c->http);
    free(c);
}

/* The transport is gone (EOF, error, write timeout, or our own close). */
static void conn_closed(struct conn *c)
{
    struct vole_derp_server *s = c->srv;

    if (c->rc) {
        derp_relay_closed(s->relay, c->rc, now_ns());
        s->tick_due = true;
    }
    conn_free(c);
}

static void derp_input(struct conn *c, const uint8_t *buf, size_t len)
{
    struct vole_derp_server *s = c->srv;   /* c may be closed by the call */

    if (!c->rc || len == 0)
        return;
    derp_relay_input(s->relay, c->rc, buf, len, now_ns());
    s->tick_due = true;
}

/* After the upgrade: the relay owns the conversation. rest: bytes that came
 * after the request head (a fast-start client's ClientInfo). */
static void start_derp(struct conn *c, const uint8_t *rest, size_t len)
{
    struct vole_derp_server *s = c->srv;

    ev_timer_stop(s->loop, &c->request_timer);
    free(c->http);
    c->http = NULL;
    c->phase = PHASE_DERP;
    vole_stream_set_write_timeout(c->stream, s->write_timeout);
    c->rc = derp_relay_accept(s->relay, c, vole_stream_peer_ip(c->stream), now_ns());
    if (c->phase == PHASE_DONE)    /* closed by the relay from inside accept */
        c->rc = NULL;
    if (!c->rc) {
        if (c->phase != PHASE_DONE)
            out_close(c);
        return;
    }
    s->tick_due = true;
    derp_input(c, rest, len);
}

/* Answers with a complete response and closes once it is written. */
static void reply(struct conn *c, const char *resp, size_t len)
{
    c->phase = PHASE_DONE;
    ev_timer_stop(c->srv->loop, &c->request_timer);
    if (len)
        vole_stream_write(c->stream, resp, len);
    vole_stream_close(c->stream, true);
}

static void ws_on_data(void *ctx, struct vole_ws *ws, const uint8_t *buf, size_t len)
{
    struct conn *c = ctx;
    if (c->phase == PHASE_DERP)
        derp_input(c, buf, len);
}

static void ws_on_drained(void *ctx, struct vole_ws *ws)
{
    pump(ctx);
}

static void ws_on_close(void *ctx, struct vole_ws *ws, const char *why)
{
    conn_closed(ctx);
}

static void start_websocket(struct conn *c, const uint8_t *rest, size_t len)
{
    char accept[DERP_HTTP_WS_ACCEPT_LEN + 1];
    char *resp = (char *)c->srv->scratch;
    size_t n;

    vole_ws_accept_key(accept, c->http->req.value[DERP_HDR_WS_KEY]);
    n = derp_http_write_ws_101(resp, SCRATCH_LEN, accept);
    vole_stream_write(c->stream, resp, n);
    c->ws_ops = (struct vole_ws_ops){
        .ctx = c, .on_data = ws_on_data, .on_drained = ws_on_drained, .on_close = ws_on_close,
    };
    c->ws = vole_ws_new(c->stream, true, &c->ws_ops);
    if (!c->ws) {
        reply(c, NULL, 0);
        return;
    }
    start_derp(c, NULL, 0);
    if (len && c->phase == PHASE_DERP)
        vole_ws_input(c->ws, rest, len);
}

/* /api/...: the embedder's when it takes the stream, else 404. */
static void route_api(struct conn *c, const uint8_t *rest, size_t len)
{
    struct vole_derp_server *s = c->srv;
    char *resp = (char *)s->scratch;

    if (s->api && s->api(s->api_ctx, &c->http->req, c->stream, rest, len)) {
        conn_free(c);   /* the stream is the embedder's now */
        return;
    }
    reply(c, resp, derp_http_respond(resp, SCRATCH_LEN, DERP_ROUTE_NOT_FOUND, &c->http->req, NULL));
}

static void route(struct conn *c, const uint8_t *rest, size_t len)
{
    struct vole_derp_server *s = c->srv;
    char *resp = (char *)s->scratch;
    enum derp_http_route r = derp_http_route(&c->http->req);
    size_t n;

    switch (r) {
    case DERP_ROUTE_DERP:
        n = derp_http_write_derp_101(resp, SCRATCH_LEN, s->key.pub);
        vole_stream_write(c->stream, resp, n);
        start_derp(c, rest, len);
        return;
    case DERP_ROUTE_DERP_FAST:
        start_derp(c, rest, len);
        return;
    case DERP_ROUTE_WEBSOCKET:
        start_websocket(c, rest, len);
        return;
    case DERP_ROUTE_API:
        route_api(c, rest, len);
        return;
    default:
        n = derp_http_respond(resp, SCRATCH_LEN, r, &c->http->req, derp_relay_stats(s->relay));
        reply(c, resp, n);
        return;
    }
}

static void http_input(struct conn *c, const uint8_t *buf, size_t len)
{
    char *resp = (char *)c->srv->scratch;
    size_t used;

    switch (derp_http_parse(c->http, buf, len, &used)) {
    case DERP_HTTP_MORE: return;
    case DERP_HTTP_DONE: route(c, buf + used, len - used); return;
    case DERP_HTTP_BAD: reply(c, resp, derp_http_write_error(resp, SCRATCH_LEN, 400)); return;
    case DERP_HTTP_TOO_LARGE: reply(c, resp, derp_http_write_error(resp, SCRATCH_LEN, 431)); return;
    }
}

static void on_read(void *ctx, struct vole_stream *st, const uint8_t *buf, size_t len)
{
    struct conn *c = ctx;

    if (c->phase == PHASE_HTTP)
        http_input(c, buf, len);
    else if (c->phase == PHASE_DERP)
        derp_input(c, buf, len);
}

static void on_drained(void *ctx, struct vole_stream *st)
{
    struct conn *c = ctx;
    if (c->phase == PHASE_DERP && !c->ws)
        pump(c);
}

static void on_close(void *ctx, struct vole_stream *st, const char *why)
{
    /* Plain HTTP and raw DERP only: a WebSocket filter takes the stream's
     * callbacks over and reports the end through ws_on_close. */
    conn_closed(ctx);
}

static void on_request_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct conn *c = w->data;
    c->phase = PHASE_DONE;
    vole_stream_close(c->stream, false);
}

static void conn_new(struct vole_derp_server *s, int fd)
{
    struct conn *c = calloc(1, sizeof *c);
    struct vole_stream_ops ops = { .ctx = c, .on_read = on_read, .on_drained = on_drained, .on_close = on_close };
    int one = 1;

    if (c)
        c->http = malloc(sizeof *c->http);
    if (!c || !c->http) {
        free(c);
        close(fd);
        server_log(s, "out of memory: connection refused");
        return;
    }
    /* Frames are batched per loop iteration already; Nagle would only delay them. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    derp_http_parser_init(c->http);
    c->srv = s;
    c->stream = vole_stream_accept(s->loop, fd, s->tls, &ops);
    if (!c->stream) {
        close(fd);
        free(c->http);
        free(c);
        server_log(s, "cannot set up an accepted connection");
        return;
    }
    /* Until the upgrade a client that reads nothing is cut off with the request timer. */
    vole_stream_set_write_timeout(c->stream, REQUEST_TIMEOUT);
    ev_timer_init(&c->request_timer, on_request_timeout, REQUEST_TIMEOUT, 0.);
    c->request_timer.data = c;
    ev_timer_start(s->loop, &c->request_timer);
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
}

/* ---- listening ---- */

static void on_accept_pause(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct vole_derp_server *s = w->data;
    ev_io_start(loop, &s->accept_w);
}

static void on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
    struct vole_derp_server *s = w->data;

    for (int i = 0; i < ACCEPT_BATCH; i++) {
        int fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            conn_new(s, fd);
            continue;
        }
        if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
            continue;
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            /* The socket stays readable: without a pause this would spin. */
            server_log(s, "accept: %s; pausing %.0f ms", strerror(errno), ACCEPT_PAUSE * 1e3);
            ev_io_stop(loop, &s->accept_w);
            ev_timer_set(&s->accept_pause, ACCEPT_PAUSE, 0.);
            ev_timer_start(loop, &s->accept_pause);
        }
        return;
    }
}

/* "ADDR:PORT", "[V6]:PORT"; an empty, "*" or "[::]" address means all
 * addresses (*any). NULL, or what is wrong. */
static const char *parse_listen(const char *spec, struct sockaddr_storage *ss, bool *any)
{
    char host[INET6_ADDRSTRLEN], *end;
    const char *port, *hend;
    bool v6 = spec[0] == '[';
    long n;

    if (v6) {
        hend = strchr(spec, ']');
        if (!hend || hend[1] != ':')
            return "want [IPv6]:PORT, e.g. [::1]:3340";
        port = hend + 2;
        spec++;
    } else {
        hend = strrchr(spec, ':');
        if (!hend)
            return "want ADDR:PORT, e.g. :3340 or 127.0.0.1:3340";
        if (memchr(spec, ':', (size_t)(hend - spec)))
            return "an IPv6 address needs brackets, e.g. [::1]:3340";
        port = hend + 1;
    }
    n = strtol(port, &end, 10);
    if (*port < '0' || *port > '9' || *end || n > 65535)
        return "port is not a number from 0 to 65535";
    if ((size_t)(hend - spec) >= sizeof host)
        return "address is not an IP literal";
    memcpy(host, spec, (size_t)(hend - spec));
    host[hend - spec] = '\0';
    memset(ss, 0, sizeof *ss);
    *any = (!v6 && (!host[0] || !strcmp(host, "*"))) || (v6 && !strcmp(host, "::"));
    if (v6 || *any) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)n);
        if (!*any && inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
            return "address is not an IPv6 literal";
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)n);
        if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
            return "address is not an IPv4 literal (IPv6 goes in brackets; no host names)";
    }
    return NULL;
}

/* All addresses without IPv6 in the kernel: IPv4's. */
static int fall_back_to_v4(struct sockaddr_storage *ss)
{
    uint16_t port = ((struct sockaddr_in6 *)ss)->sin6_port;
    struct sockaddr_in *a = (struct sockaddr_in *)ss;

    memset(ss, 0, sizeof *ss);
    a->sin_family = AF_INET;
    a->sin_port = port;
    return socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
}

static int open_listener(struct vole_derp_server *s, const char *spec, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    bool any;
    int one = 1, zero = 0;
    const char *why = parse_listen(spec, &ss, &any);

    if (why) {
        snprintf(err, errlen, "listen %s: %s", spec, why);
        return -1;
    }
    s->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->fd < 0 && any && errno == EAFNOSUPPORT)
        s->fd = fall_back_to_v4(&ss);
    if (s->fd < 0) {
        snprintf(err, errlen, "listen %s: socket: %s", spec, strerror(errno));
        return -1;
    }
    setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    /* Dual-stack whatever the system's bindv6only default says. */
    if (any && ss.ss_family == AF_INET6)
        setsockopt(s->fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    if (bind(s->fd, (struct sockaddr *)&ss, ss.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                                     : sizeof(struct sockaddr_in)) < 0 ||
        listen(s->fd, LISTEN_BACKLOG) < 0 || getsockname(s->fd, (struct sockaddr *)&ss, &len) < 0) {
        snprintf(err, errlen, "listen %s: %s", spec, strerror(errno));
        return -1;
    }
    s->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                             : ((struct sockaddr_in *)&ss)->sin_port);
    return 0;
}

/* ---- the server ---- */

static int load_key(struct vole_derp_server *s, const char *key_file, char *err, size_t errlen)
{
    bool created;

    if (!key_file) {
        derp_keypair_generate(&s->key);
        return 0;
    }
    if (vole_derp_keyfile_load(key_file, &s->key, &created, err, errlen) < 0)
        return -1;
    if (created)
        server_log(s, "created key file %s (mode 0600)", key_file);
    return 0;
}

static int check_config(const struct vole_derp_server_config *cfg, char *err, size_t errlen)
{
    if (!cfg->listen || !*cfg->listen) {
        snprintf(err, errlen, "no listen address");
        return -1;
    }
    if (!cfg->tls_cert != !cfg->tls_key) {
        snprintf(err, errlen, "TLS needs both a certificate and a key file");
        return -1;
    }
    if (cfg->write_timeout < 0) {
        snprintf(err, errlen, "negative write timeout");
        return -1;
    }
    return 0;
}

static void start_watchers(struct vole_derp_server *s)
{
    ev_io_init(&s->accept_w, on_accept, s->fd, EV_READ);
    s->accept_w.data = s;
    ev_io_start(s->loop, &s->accept_w);
    ev_timer_init(&s->accept_pause, on_accept_pause, ACCEPT_PAUSE, 0.);
    s->accept_pause.data = s;
    ev_timer_init(&s->relay_timer, on_relay_timer, 0., 0.);
    s->relay_timer.data = s;
    ev_prepare_init(&s->prepare, on_prepare);
    s->prepare.data = s;
    ev_prepare_start(s->loop, &s->prepare);
    /* The prepare alone must not keep the loop running. */
    ev_unref(s->loop);
}

struct vole_derp_server *vole_derp_server_new(struct ev_loop *loop, const struct vole_derp_server_config *cfg,
                                              char *err, size_t errlen)
{
    struct vole_derp_server *s;
    struct derp_relay_ops ops;
    char why[256];

    if (check_config(cfg, err, errlen) < 0)
        return NULL;
    s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    *s = (struct vole_derp_server){
        .loop = loop, .admit = cfg->admit, .admit_ctx = cfg->admit_ctx, .log = cfg->log, .log_ctx = cfg->log_ctx,
        .api = cfg->api, .api_ctx = cfg->api_ctx,
        .write_timeout = cfg->write_timeout > 0 ? cfg->write_timeout : DEFAULT_WRITE_TIMEOUT, .fd = -1,
    };
    ops = (struct derp_relay_ops){
        .ctx = s, .want_write = relay_want_write, .close = relay_close, .admit = cfg->admit ? relay_admit : NULL,
    };
    if (load_key(s, cfg->key_file, err, errlen) < 0)
        goto fail;
    if (cfg->tls_cert && !(s->tls = vole_tls_server_new(cfg->tls_cert, cfg->tls_key, why, sizeof why))) {
        snprintf(err, errlen, "tls: %s", why);
        goto fail;
    }
    if (open_listener(s, cfg->listen, err, errlen) < 0)
        goto fail;
    s->relay = derp_relay_new(&s->key, &ops, now_ns());
    if (!s->relay) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    start_watchers(s);
    return s;
fail:
    if (s->fd >= 0)
        close(s->fd);
    if (s->tls)
        vole_tls_server_free(s->tls);
    free(s);
    return NULL;
}

void vole_derp_server_free(struct vole_derp_server *s)
{
    if (!s)
        return;
    ev_io_stop(s->loop, &s->accept_w);
    ev_timer_stop(s->loop, &s->accept_pause);
    ev_timer_stop(s->loop, &s->relay_timer);
    ev_ref(s->loop);
    ev_prepare_stop(s->loop, &s->prepare);
    close(s->fd);
    for (struct conn *c = s->conns, *next; c; c = next) {
        next = c->next;
        vole_ws_abandon(c->ws, c->stream);   /* the conn is gone before their close is reported */
        conn_free(c);
    }
    derp_relay_free(s->relay);
    if (s->tls)
        vole_tls_server_free(s->tls);
    sodium_memzero(&s->key, sizeof s->key);
    free(s);
}

uint16_t vole_derp_server_port(const struct vole_derp_server *s)
{
    return s->port;
}

void vole_derp_server_public_key(const struct vole_derp_server *s, uint8_t out[DERP_KEY_LEN])
{
    memcpy(out, s->key.pub, DERP_KEY_LEN);
}

const struct derp_relay_stats *vole_derp_server_stats(const struct vole_derp_server *s)
{
    return derp_relay_stats(s->relay);
}
