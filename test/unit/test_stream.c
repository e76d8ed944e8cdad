/* io/stream over loopback: a listener, the accepted stream and a dialled one
 * in one libev loop; every run is bounded by a timer so a stall fails the
 * test instead of hanging it. The TLS tests make a self-signed certificate
 * for "localhost" in a temporary directory, so no key material is committed. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test/unit/certs.h"
#include "test/unit/sockets.h"

#include "test/unit/evloop.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mbedtls/sha256.h>

#include "io/stream.h"

#define RUN_LIMIT_S 30.0
#define ECHO_TOTAL (10u << 20)
#define ECHO_CHUNK 65521u               /* odd, so writes and records never line up */
#define ECHO_HIGH_WATER (1u << 20)      /* the client's backpressure threshold */
#define ECHO_SERVER_HIGH (128u << 10)   /* the server's */

/* ---- loop, listener ---------------------------------------------------- */


struct listener {
    struct ev_loop *loop;
    int fd;
    uint16_t port;
    ev_io w;
    struct vole_tls_server *tls;
    const struct vole_stream_ops *ops;
    struct vole_stream *accepted;
};

static void on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)revents;
    struct listener *l = w->data;
    int fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0)
        return;
    l->accepted = vole_stream_accept(loop, fd, l->tls, l->ops);
    assert_non_null(l->accepted);
    ev_io_stop(loop, w);   /* one connection per test */
}

/* rcvbuf > 0 shrinks the accepted socket's receive buffer (inherited). */
static void listener_open(struct listener *l, struct ev_loop *loop, struct vole_tls_server *tls,
                          const struct vole_stream_ops *ops, int rcvbuf)
{
    memset(l, 0, sizeof *l);
    l->loop = loop;
    l->tls = tls;
    l->ops = ops;
    l->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    assert_true(l->fd >= 0);
    if (rcvbuf > 0)
        assert_int_equal(setsockopt(l->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf), 0);
    l->port = listen_loopback(l->fd, 8);
    ev_io_init(&l->w, on_accept, l->fd, EV_READ);
    l->w.data = l;
    ev_io_start(loop, &l->w);
}

static void listener_close(struct listener *l)
{
    ev_io_stop(l->loop, &l->w);
    close(l->fd);
}

static struct sockaddr_in loopback(uint16_t port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    return a;
}

static struct vole_stream *dial(struct ev_loop *loop, uint16_t port, const struct vole_tls_client_config *tls,
                                const struct vole_stream_ops *ops)
{
    struct sockaddr_in a = loopback(port);
    char err[160] = "";
    struct vole_stream *s = vole_stream_connect(loop, (struct sockaddr *)&a, sizeof a, tls, ops, err, sizeof err);
    if (!s)
        print_message("connect: %s\n", err);
    assert_non_null(s);
    return s;
}

/* ---- server credentials --------------------------------------------------- */

static struct vole_tls_server *server_creds(const struct test_cert *c)
{
    char err[160] = "";
    struct vole_tls_server *t = vole_tls_server_new(c->cert, c->key, err, sizeof err);
    if (!t)
        print_message("tls server: %s\n", err);
    assert_non_null(t);
    return t;
}

/* ---- one end of a test connection ---------------------------------------- */

struct end {
    struct ev_loop *loop;
    struct vole_stream *s;
    int opens, closes, reads;
    bool in_read;
    char why[160];
    char alpn[32];
    char ip[64];
    int *closed_total;     /* shared: break the loop when it reaches want */
    int want;
};

static void end_open(void *ctx, struct vole_stream *s)
{
    struct end *e = ctx;
    e->s = s;
    e->opens++;
    snprintf(e->alpn, sizeof e->alpn, "%s", vole_stream_alpn(s));
    snprintf(e->ip, sizeof e->ip, "%s", vole_stream_peer_ip(s));
}

static void end_close(void *ctx, struct vole_stream *s, const char *why)
{
    struct end *e = ctx;
    assert_false(e->in_read);   /* never from inside on_read (or any API call made there) */
    e->closes++;
    e->s = NULL;
    snprintf(e->why, sizeof e->why, "%s", why);
    if (++*e->closed_total >= e->want)
        ev_break(e->loop, EVBREAK_ALL);
}

static void end_init(struct end *e, struct ev_loop *loop, int *closed_total, int want)
{
    memset(e, 0, sizeof *e);
    e->loop = loop;
    e->closed_total = closed_total;
    e->want = want;
}

/* ---- echo of 10 MiB -------------------------------------------------------- */

struct echo {
    struct end client, server;
    int closed;
    size_t sent, received;
    int pauses;
    ev_timer resume;      /* the client's own pauses, so the server's output backs up */
    struct vole_stream *cs;
    mbedtls_sha256_context tx, rx;
    uint8_t chunk[ECHO_CHUNK];
};

static void fill(uint8_t *p, size_t n, size_t off)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(((off + i) * 2654435761u) >> 13);
}

/* Writes until the client's buffer holds a megabyte: on_drained resumes. */
static void echo_produce(struct echo *x, struct vole_stream *s)
{
    while (x->sent < ECHO_TOTAL && vole_stream_pending(s) < ECHO_HIGH_WATER) {
        size_t n = ECHO_TOTAL - x->sent < ECHO_CHUNK ? ECHO_TOTAL - x->sent : ECHO_CHUNK;
        fill(x->chunk, n, x->sent);
        mbedtls_sha256_update_ret(&x->tx, x->chunk, n);
        assert_int_equal(vole_stream_write(s, x->chunk, n), 0);
        x->sent += n;
    }
}

static void echo_client_open(void *ctx, struct vole_stream *s)
{
    struct echo *x = ctx;
    end_open(&x->client, s);
    vole_stream_set_write_timeout(s, 5.0);
    echo_produce(x, s);
}

static void echo_client_drained(void *ctx, struct vole_stream *s)
{
    echo_produce(ctx, s);
}

static void echo_resume(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    struct echo *x = w->data;
    vole_stream_pause_read(x->cs, false);
}

/* A reader that stops for 20 ms after each MiB. */
static void echo_client_read(void *ctx, struct vole_stream *s, const uint8_t *buf, size_t len)
{
    struct echo *x = ctx;
    mbedtls_sha256_update_ret(&x->rx, buf, len);
    if ((x->received >> 20) != ((x->received + len) >> 20) && x->received + len < ECHO_TOTAL) {
        x->cs = s;
        vole_stream_pause_read(s, true);
        ev_timer_set(&x->resume, 0.02, 0.);
        ev_timer_start(x->client.loop, &x->resume);
    }
    x->received += len;
    assert_true(x->received <= ECHO_TOTAL);
    if (x->received == ECHO_TOTAL) {
        x->client.in_read = true;
        vole_stream_close(s, true);
        x->client.in_read = false;
    }
}

static void echo_client_close(void *ctx, struct vole_stream *s, const char *why)
{
    end_close(&((struct echo *)ctx)->client, s, why);
}

static void echo_server_open(void *ctx, struct vole_stream *s)
{
    struct echo *x = ctx;
    end_open(&x->server, s);
    vole_stream_set_write_timeout(s, 5.0);
}

/* Backpressure as a relay does it: stop reading while our own output is
 * backed up, resume when it has drained. */
static void echo_server_read(void *ctx, struct vole_stream *s, const uint8_t *buf, size_t len)
{
    struct echo *x = ctx;
    x->server.in_read = true;
    assert_int_equal(vole_stream_write(s, buf, len), 0);
    if (vole_stream_pending(s) > ECHO_SERVER_HIGH) {
        vole_stream_pause_read(s, true);
        x->pauses++;
    }
    x->server.in_read = false;
}

static void echo_server_drained(void *ctx, struct vole_stream *s)
{
    (void)ctx;
    vole_stream_pause_read(s, false);
}

static void echo_server_close(void *ctx, struct vole_stream *s, const char *why)
{
    end_close(&((struct echo *)ctx)->server, s, why);
}

static void run_echo(struct echo *x, struct vole_tls_server *srv, const struct vole_tls_client_config *tls)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    const struct vole_stream_ops cops = {.ctx = x, .on_open = echo_client_open, .on_read = echo_client_read,
                                         .on_drained = echo_client_drained, .on_close = echo_client_close};
    const struct vole_stream_ops sops = {.ctx = x, .on_open = echo_server_open, .on_read = echo_server_read,
                                         .on_drained = echo_server_drained, .on_close = echo_server_close};
    struct listener l;
    end_init(&x->client, loop, &x->closed, 2);
    end_init(&x->server, loop, &x->closed, 2);
    mbedtls_sha256_init(&x->tx);
    mbedtls_sha256_init(&x->rx);
    mbedtls_sha256_starts_ret(&x->tx, 0);
    mbedtls_sha256_starts_ret(&x->rx, 0);
    ev_timer_init(&x->resume, echo_resume, 0., 0.);
    x->resume.data = x;
    listener_open(&l, loop, srv, &sops, 0);
    dial(loop, l.port, tls, &cops);
    ev_tstamp t0 = ev_time();
    assert_true(run_loop_for(loop, RUN_LIMIT_S));
    print_message("echo %s: %u MiB each way in %.2f s, server paused %d times\n", tls ? "tls" : "plain",
                  ECHO_TOTAL >> 20, ev_time() - t0, x->pauses);

    uint8_t h1[32], h2[32];
    mbedtls_sha256_finish_ret(&x->tx, h1);
    mbedtls_sha256_finish_ret(&x->rx, h2);
    assert_int_equal(x->sent, ECHO_TOTAL);
    assert_int_equal(x->received, ECHO_TOTAL);
    assert_memory_equal(h1, h2, 32);
    assert_int_equal(x->client.opens, 1);
    assert_int_equal(x->server.opens, 1);
    assert_int_equal(x->client.closes, 1);
    assert_int_equal(x->server.closes, 1);
    assert_string_equal(x->client.why, "closed");
    assert_string_equal(x->server.why, "eof");
    assert_string_equal(x->client.ip, "127.0.0.1");
    assert_string_equal(x->server.ip, "127.0.0.1");
    listener_close(&l);
    mbedtls_sha256_free(&x->tx);
    mbedtls_sha256_free(&x->rx);
    ev_loop_destroy(loop);
}

static void test_echo_plain(void **state)
{
    (void)state;
    struct echo *x = calloc(1, sizeof *x);
    run_echo(x, NULL, NULL);
    assert_string_equal(x->client.alpn, "");
    free(x);
}

static void test_echo_tls(void **state)
{
    (void)state;
    struct test_cert c;
    test_cert_make(&c, "localhost");
    struct vole_tls_server *srv = server_creds(&c);
    struct vole_tls_client_config tls = {.server_name = "localhost", .ca_file = c.cert, .alpn_http11 = true};
    struct echo *x = calloc(1, sizeof *x);
    run_echo(x, srv, &tls);
    assert_string_equal(x->client.alpn, "http/1.1");
    assert_string_equal(x->server.alpn, "http/1.1");
    free(x);
    vole_tls_server_free(srv);
    test_cert_remove(&c);
}

/* ---- TLS: verification and ALPN -------------------------------------------- */

struct pair {
    struct end client, server;
    int closed;
};

static void p_client_open(void *ctx, struct vole_stream *s)
{
    struct pair *p = ctx;
    end_open(&p->client, s);
    vole_stream_close(s, true);   /* opened: that is all these tests need */
}

static void p_client_close(void *ctx, struct vole_stream *s, const char *why)
{
    end_close(&((struct pair *)ctx)->client, s, why);
}

static void p_server_open(void *ctx, struct vole_stream *s)
{
    end_open(&((struct pair *)ctx)->server, s);
}

static void p_server_close(void *ctx, struct vole_stream *s, const char *why)
{
    end_close(&((struct pair *)ctx)->server, s, why);
}

static void p_read(void *ctx, struct vole_stream *s, const uint8_t *buf, size_t len)
{
    (void)ctx;
    (void)s;
    (void)buf;
    (void)len;
}

/* Dials the TLS server once; both ends run to on_close. */
static void tls_attempt(struct pair *p, const struct test_cert *c, const struct vole_tls_client_config *tls)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct vole_tls_server *srv = server_creds(c);
    const struct vole_stream_ops cops = {.ctx = p, .on_open = p_client_open, .on_read = p_read,
                                         .on_close = p_client_close};
    const struct vole_stream_ops sops = {.ctx = p, .on_open = p_server_open, .on_read = p_read,
                                         .on_close = p_server_close};
    struct listener l;
    memset(p, 0, sizeof *p);
    end_init(&p->client, loop, &p->closed, 2);
    end_init(&p->server, loop, &p->closed, 2);
    listener_open(&l, loop, srv, &sops, 0);
    dial(loop, l.port, tls, &cops);
    assert_true(run_loop_for(loop, 10.0));
    vole_tls_server_free(srv);
    assert_int_equal(p->client.closes, 1);
    assert_int_equal(p->server.closes, 1);
    listener_close(&l);
    ev_loop_destroy(loop);
}

static void test_tls_verify(void **state)
{
    (void)state;
    struct test_cert c;
    struct pair p;
    test_cert_make(&c, "localhost");

    struct vole_tls_client_config wrong = {.server_name = "wrong.example", .ca_file = c.cert};
    tls_attempt(&p, &c, &wrong);
    print_message("wrong name: %s / server: %s\n", p.client.why, p.server.why);
    assert_int_equal(p.client.opens, 0);
    assert_int_equal(p.server.opens, 0);
    assert_non_null(strstr(p.client.why, "verify"));

    struct vole_tls_client_config system_cas = {.server_name = "localhost"};
    tls_attempt(&p, &c, &system_cas);
    print_message("system CAs: %s\n", p.client.why);
    assert_int_equal(p.client.opens, 0);
    assert_non_null(strstr(p.client.why, "verify"));

    struct vole_tls_client_config insecure = {.server_name = "wrong.example", .insecure = true};
    tls_attempt(&p, &c, &insecure);
    assert_int_equal(p.client.opens, 1);
    assert_int_equal(p.server.opens, 1);
    assert_string_equal(p.client.why, "closed");
    assert_string_equal(p.server.why, "eof");

    struct vole_tls_client_config right = {.server_name = "localhost", .ca_file = c.cert};
    tls_attempt(&p, &c, &right);
    assert_int_equal(p.client.opens, 1);
    test_cert_remove(&c);
}

static void test_tls_alpn(void **state)
{
    (void)state;
    struct test_cert c;
    struct pair p;
    test_cert_make(&c, "localhost");
    struct vole_tls_client_config with = {.server_name = "localhost", .ca_file = c.cert, .alpn_http11 = true};
    tls_attempt(&p, &c, &with);
    assert_string_equal(p.client.alpn, "http/1.1");
    assert_string_equal(p.server.alpn, "http/1.1");
    struct vole_tls_client_config without = {.server_name = "localhost", .ca_file = c.cert};
    tls_attempt(&p, &c, &without);
    assert_int_equal(p.client.opens, 1);
    assert_string_equal(p.client.alpn, "");
    assert_string_equal(p.server.alpn, "");
    test_cert_remove(&c);
}

/* Failures a dial reports at once, with err, rather than through on_close. */
static void test_tls_config_errors(void **state)
{
    (void)state;
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct pair p;
    const struct vole_stream_ops ops = {.ctx = &p, .on_read = p_read, .on_close = p_client_close};
    struct sockaddr_in a = loopback(9);
    char err[160] = "";
    struct vole_tls_client_config noname = {.ca_file = NULL};
    assert_null(vole_stream_connect(loop, (struct sockaddr *)&a, sizeof a, &noname, &ops, err, sizeof err));
    assert_non_null(strstr(err, "name"));
    struct vole_tls_client_config badca = {.server_name = "localhost", .ca_file = "/nonexistent/ca.pem"};
    assert_null(vole_stream_connect(loop, (struct sockaddr *)&a, sizeof a, &badca, &ops, err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/ca.pem"));
    assert_null(vole_tls_server_new("/nonexistent/c.pem", "/nonexistent/k.pem", err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/c.pem"));
    ev_loop_destroy(loop);
}

/* ---- connect failure ------------------------------------------------------- */

static void test_connect_refused(void **state)
{
    (void)state;
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct pair p;
    memset(&p, 0, sizeof p);
    end_init(&p.client, loop, &p.closed, 1);
    /* a port nobody listens on: bind one, learn it, close it */
    struct listener l;
    listener_open(&l, loop, NULL, NULL, 0);
    listener_close(&l);
    const struct vole_stream_ops ops = {.ctx = &p, .on_open = p_client_open, .on_read = p_read,
                                        .on_close = p_client_close};
    dial(loop, l.port, NULL, &ops);
    assert_true(run_loop_for(loop, 5.0));
    assert_int_equal(p.client.opens, 0);
    assert_int_equal(p.client.closes, 1);
    assert_non_null(strstr(p.client.why, "connect"));
    ev_loop_destroy(loop);
}

/* ---- half-close: the peer's FIN does not lose our reply -------------------- */

#define REPLY_LEN (8u << 20)

struct half {
    struct end server;
    int closed;
    int raw;                 /* the peer: a bare non-blocking socket */
    ev_io raw_w;
    size_t got;
    bool raw_eof;
    uint8_t *reply;
    char req[16];
    size_t req_len;
};

/* The server answers once the request is complete. The reply is far more
 * than the socket buffers hold, so most of it goes out after the stream has
 * read the peer's FIN: the half-close must not cut it short. */
static void half_read(void *ctx, struct vole_stream *s, const uint8_t *buf, size_t len)
{
    struct half *h = ctx;
    assert_true(h->req_len + len <= sizeof h->req);
    memcpy(h->req + h->req_len, buf, len);
    h->req_len += len;
    if (h->req_len == 5)
        assert_int_equal(vole_stream_write(s, h->reply, REPLY_LEN), 0);
}

static void half_close(void *ctx, struct vole_stream *s, const char *why)
{
    end_close(&((struct half *)ctx)->server, s, why);
}

static void half_raw_read(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)revents;
    struct half *h = w->data;
    uint8_t buf[65536];
    ssize_t n = recv(h->raw, buf, sizeof buf, 0);
    if (n > 0) {
        for (ssize_t i = 0; i < n; i++)
            assert_int_equal(buf[i], h->reply[h->got + (size_t)i]);
        h->got += (size_t)n;
    } else if (n == 0) {
        h->raw_eof = true;
        ev_io_stop(loop, w);
        if (h->closed)
            ev_break(loop, EVBREAK_ALL);
    }
}

static void test_half_close(void **state)
{
    (void)state;
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct half *h = calloc(1, sizeof *h);
    h->reply = malloc(REPLY_LEN);
    fill(h->reply, REPLY_LEN, 7);
    end_init(&h->server, loop, &h->closed, 1);
    const struct vole_stream_ops sops = {.ctx = h, .on_read = half_read, .on_close = half_close};
    struct listener l;
    listener_open(&l, loop, NULL, &sops, 0);
    h->raw = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int small = 4096;   /* a small window: the reply cannot all be out before the FIN is read */
    assert_int_equal(setsockopt(h->raw, SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);
    struct sockaddr_in a = loopback(l.port);
    assert_int_equal(connect(h->raw, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(send(h->raw, "hello", 5, 0), 5);
    assert_int_equal(shutdown(h->raw, SHUT_WR), 0);
    ev_io_init(&h->raw_w, half_raw_read, h->raw, EV_READ);
    h->raw_w.data = h;
    ev_io_start(loop, &h->raw_w);
    /* the loop ends when the server closed and the peer read EOF, in either order */
    while ((!h->closed || !h->raw_eof) && run_loop_for(loop, 10.0)) {
    }
    assert_int_equal(h->closed, 1);
    assert_true(h->raw_eof);
    assert_string_equal(h->server.why, "eof");
    assert_memory_equal(h->req, "hello", 5);
    assert_int_equal(h->got, REPLY_LEN);
    ev_io_stop(loop, &h->raw_w);
    close(h->raw);
    listener_close(&l);
    free(h->reply);
    free(h);
    ev_loop_destroy(loop);
}

/* ---- write timeout --------------------------------------------------------- */

#define FLOOD_LEN (32u << 20)

struct flood {
    struct end client, server;
    int closed;
    uint8_t *data;
    ev_tstamp t_open, t_close;
};

static void flood_client_open(void *ctx, struct vole_stream *s)
{
    struct flood *f = ctx;
    end_open(&f->client, s);
    int small = 4096;
    assert_int_equal(setsockopt(vole_stream_fd(s), SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
    vole_stream_set_write_timeout(s, 0.5);
    assert_int_equal(vole_stream_write(s, f->data, FLOOD_LEN), 0);
    f->t_open = ev_now(f->client.loop);
}

static void flood_client_close(void *ctx, struct vole_stream *s, const char *why)
{
    struct flood *f = ctx;
    f->t_close = ev_now(f->client.loop);
    end_close(&f->client, s, why);
    if (f->server.s)
        vole_stream_close(f->server.s, false);
}

static void flood_server_open(void *ctx, struct vole_stream *s)
{
    struct flood *f = ctx;
    end_open(&f->server, s);
    vole_stream_pause_read(s, true);   /* a peer that stops reading */
}

static void flood_server_close(void *ctx, struct vole_stream *s, const char *why)
{
    end_close(&((struct flood *)ctx)->server, s, why);
}

static void test_write_timeout(void **state)
{
    (void)state;
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct flood *f = calloc(1, sizeof *f);
    f->data = calloc(1, FLOOD_LEN);
    end_init(&f->client, loop, &f->closed, 2);
    end_init(&f->server, loop, &f->closed, 2);
    const struct vole_stream_ops cops = {.ctx = f, .on_open = flood_client_open, .on_read = p_read,
                                         .on_close = flood_client_close};
    const struct vole_stream_ops sops = {.ctx = f, .on_open = flood_server_open, .on_read = p_read,
                                         .on_close = flood_server_close};
    struct listener l;
    listener_open(&l, loop, NULL, &sops, 4096);
    dial(loop, l.port, NULL, &cops);
    assert_true(run_loop_for(loop, 10.0));
    print_message("write timeout after %.2f s: %s\n", f->t_close - f->t_open, f->client.why);
    assert_string_equal(f->client.why, "write timeout");
    assert_true(f->t_close - f->t_open >= 0.45);
    assert_true(f->t_close - f->t_open < 5.0);
    assert_int_equal(f->server.closes, 1);
    listener_close(&l);
    free(f->data);
    free(f);
    ev_loop_destroy(loop);
}

/* ---- closing from inside on_read ------------------------------------------- */

struct inread {
    struct end client, server;
    int closed;
    bool graceful;
    uint8_t *data;
};

static void ir_client_open(void *ctx, struct vole_stream *s)
{
    struct inread *r = ctx;
    end_open(&r->client, s);
    assert_int_equal(vole_stream_write(s, r->data, 1u << 20), 0);
}

static void ir_client_close(void *ctx, struct vole_stream *s, const char *why)
{
    end_close(&((struct inread *)ctx)->client, s, why);
}

static void ir_server_read(void *ctx, struct vole_stream *s, const uint8_t *buf, size_t len)
{
    struct inread *r = ctx;
    r->server.reads++;
    assert_int_equal(r->server.reads, 1);   /* nothing is delivered after close */
    r->server.in_read = true;
    vole_stream_close(s, r->graceful);
    assert_int_equal(vole_stream_write(s, "x", 1), -1);
    vole_stream_close(s, false);   /* twice, and the harder kind: still one on_close */
    vole_stream_pause_read(s, false);
    r->server.in_read = false;
}

static void ir_server_close(void *ctx, struct vole_stream *s, const char *why)
{
    struct inread *r = ctx;
    end_close(&r->server, s, why);
    if (r->client.s)
        vole_stream_close(r->client.s, false);
}

static void close_in_read(bool graceful, struct vole_tls_server *srv, const struct vole_tls_client_config *tls)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct inread *r = calloc(1, sizeof *r);
    r->graceful = graceful;
    r->data = calloc(1, 1u << 20);
    end_init(&r->client, loop, &r->closed, 2);
    end_init(&r->server, loop, &r->closed, 2);
    const struct vole_stream_ops cops = {.ctx = r, .on_open = ir_client_open, .on_read = p_read,
                                         .on_close = ir_client_close};
    const struct vole_stream_ops sops = {.ctx = r, .on_read = ir_server_read, .on_close = ir_server_close};
    struct listener l;
    listener_open(&l, loop, srv, &sops, 0);
    dial(loop, l.port, tls, &cops);
    assert_true(run_loop_for(loop, 10.0));
    assert_int_equal(r->server.reads, 1);
    assert_int_equal(r->server.closes, 1);
    assert_int_equal(r->client.closes, 1);
    assert_string_equal(r->server.why, "closed");
    listener_close(&l);
    free(r->data);
    free(r);
    ev_loop_destroy(loop);
}

static void test_close_in_read(void **state)
{
    (void)state;
    close_in_read(false, NULL, NULL);
    close_in_read(true, NULL, NULL);
    struct test_cert c;
    test_cert_make(&c, "localhost");
    struct vole_tls_server *srv = server_creds(&c);
    struct vole_tls_client_config tls = {.server_name = "localhost", .ca_file = c.cert};
    close_in_read(false, srv, &tls);
    close_in_read(true, srv, &tls);
    vole_tls_server_free(srv);
    test_cert_remove(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_echo_plain),
        cmocka_unit_test(test_echo_tls),
        cmocka_unit_test(test_tls_verify),
        cmocka_unit_test(test_tls_alpn),
        cmocka_unit_test(test_tls_config_errors),
        cmocka_unit_test(test_connect_refused),
        cmocka_unit_test(test_half_close),
        cmocka_unit_test(test_write_timeout),
        cmocka_unit_test(test_close_in_read),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
