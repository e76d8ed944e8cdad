/* derp/websocket over a plain io/stream on loopback, after a hand-made HTTP
 * upgrade. Either side may be "raw" instead: no filter, its bytes are checked
 * and its frames are built by hand, to see the wire itself (masking, pong,
 * close frames). Every run is bounded by a timer. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test/unit/sockets.h"

#include "test/unit/evloop.h"

#include <arpa/inet.h>
#include <ev.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mbedtls/base64.h>

#include "derp/websocket.h"
#include "io/stream.h"

#define BULK_LEN (200u << 10)
#define BUF_CAP (BULK_LEN + 4096)

/* ---- loop, listener ------------------------------------------------------ */


struct listener {
    int fd;
    uint16_t port;
    ev_io w;
    struct vole_stream_ops ops;
};

static void on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)revents;
    struct listener *l = w->data;
    int fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0)
        return;
    assert_non_null(vole_stream_accept(loop, fd, NULL, &l->ops));
    ev_io_stop(loop, w);
}

static void listener_open(struct listener *l, struct ev_loop *loop, struct vole_stream_ops ops)
{
    l->ops = ops;
    l->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    assert_true(l->fd >= 0);
    l->port = listen_loopback(l->fd, 4);
    ev_io_init(&l->w, on_accept, l->fd, EV_READ);
    l->w.data = l;
    ev_io_start(loop, &l->w);
}

/* ---- frames by hand --------------------------------------------------------- */

static const uint8_t MASK[4] = {0x37, 0xfa, 0x21, 0x3d};

/* One frame with a payload under 126 bytes. */
static size_t frame(uint8_t *out, bool fin, uint8_t opcode, bool masked, const void *payload, size_t len)
{
    const uint8_t *p = payload;
    size_t n = 0;
    assert_true(len < 126);
    out[n++] = (uint8_t)((fin ? 0x80 : 0) | opcode);
    out[n++] = (uint8_t)((masked ? 0x80 : 0) | len);
    if (masked) {
        memcpy(out + n, MASK, 4);
        n += 4;
    }
    for (size_t i = 0; i < len; i++)
        out[n + i] = masked ? (uint8_t)(p[i] ^ MASK[i % 4]) : p[i];
    return n + len;
}

static size_t close_frame(uint8_t *out, bool masked, uint16_t code, const char *reason)
{
    uint8_t body[125] = {(uint8_t)(code >> 8), (uint8_t)code};
    size_t r = strlen(reason);
    for (size_t i = 0; i < r; i++)
        body[2 + i] = (uint8_t)reason[i];
    return frame(out, true, 0x8, masked, body, 2 + r);
}

/* ---- the two sides ------------------------------------------------------------ */

struct world;

struct side {
    struct world *world;
    struct vole_stream *s;
    struct vole_ws *w;
    bool is_server, raw;
    char head[2048];
    size_t head_len;
    bool upgraded;
    char key[VOLE_WS_KEY_LEN + 1];
    uint8_t *bytes;       /* raw: what followed the head; filter: on_data payload */
    size_t len;
    int closes;
    bool in_data;
    char why[160];
};

struct world {
    struct ev_loop *loop;
    struct side c, srv;
    bool echo;            /* the server writes back what it gets */
    bool greet;           /* the server sends "hello" right behind its 101 */
    bool close_in_data;   /* the server closes on its first payload */
    int data_calls;
    bool (*done)(struct world *x);
};

static void check_done(struct world *x)
{
    if (x->done && x->done(x))
        ev_break(x->loop, EVBREAK_ALL);
}

static void keep(struct side *d, const uint8_t *buf, size_t len)
{
    assert_true(d->len + len <= BUF_CAP);
    memcpy(d->bytes + d->len, buf, len);
    d->len += len;
}

static void ws_data(void *ctx, struct vole_ws *w, const uint8_t *buf, size_t len)
{
    struct side *d = ctx;
    struct world *x = d->world;
    assert_ptr_equal(w, d->w);
    keep(d, buf, len);
    if (d->is_server) {
        x->data_calls++;
        d->in_data = true;
        if (x->close_in_data)
            vole_ws_close_with(w, 1001, "going away");
        else if (x->echo)
            assert_int_equal(vole_ws_write(w, buf, len), 0);
        d->in_data = false;
    }
    check_done(x);
}

static void ws_closed(void *ctx, struct vole_ws *w, const char *why)
{
    struct side *d = ctx;
    assert_false(d->in_data);
    d->closes++;
    d->w = NULL;
    d->s = NULL;   /* the filter owned it */
    snprintf(d->why, sizeof d->why, "%s", why);
    check_done(d->world);
}

/* The filter and the stream copy their ops: a temporary will do. */
static struct vole_ws *filter(struct side *d, struct vole_stream *s)
{
    const struct vole_ws_ops ops = {.ctx = d, .on_data = ws_data, .on_close = ws_closed};
    struct vole_ws *w = vole_ws_new(s, d->is_server, &ops);
    assert_non_null(w);
    return w;
}

/* Splits the HTTP head off; returns true once it is complete. */
static bool take_head(struct side *d, const uint8_t **buf, size_t *len)
{
    while (*len > 0 && !d->upgraded) {
        assert_true(d->head_len + 1 < sizeof d->head);
        d->head[d->head_len++] = (char)**buf;
        d->head[d->head_len] = '\0';
        (*buf)++;
        (*len)--;
        if (d->head_len >= 4 && memcmp(d->head + d->head_len - 4, "\r\n\r\n", 4) == 0)
            d->upgraded = true;
    }
    return d->upgraded;
}

static void header_value(const char *head, const char *name, char *out, size_t n)
{
    const char *p = strstr(head, name);
    assert_non_null(p);
    p += strlen(name);
    size_t len = strcspn(p, "\r");
    assert_true(len < n);
    memcpy(out, p, len);
    out[len] = '\0';
}

/* The server's 101; then the filter (unless raw) with what came after. */
static void server_upgrade(struct side *d, struct vole_stream *s, const uint8_t *rest, size_t len)
{
    char key[64], accept[VOLE_WS_ACCEPT_LEN + 1], resp[256];
    header_value(d->head, "Sec-WebSocket-Key: ", key, sizeof key);
    vole_ws_accept_key(accept, key);
    int n = snprintf(resp, sizeof resp,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Accept: %s\r\nSec-WebSocket-Protocol: derp\r\n\r\n",
                     accept);
    assert_int_equal(vole_stream_write(s, resp, (size_t)n), 0);
    if (d->raw) {
        keep(d, rest, len);
        return;
    }
    d->w = filter(d, s);
    if (d->world->greet)
        assert_int_equal(vole_ws_write(d->w, "hello", 5), 0);
    if (len)
        vole_ws_input(d->w, rest, len);
}

static void client_upgrade(struct side *d, struct vole_stream *s, const uint8_t *rest, size_t len)
{
    char want[VOLE_WS_ACCEPT_LEN + 1], got[64];
    assert_memory_equal(d->head, "HTTP/1.1 101 ", 13);
    vole_ws_accept_key(want, d->key);
    header_value(d->head, "Sec-WebSocket-Accept: ", got, sizeof got);
    assert_string_equal(got, want);
    if (d->raw) {
        keep(d, rest, len);
        return;
    }
    d->w = filter(d, s);
    if (len)
        vole_ws_input(d->w, rest, len);   /* the greeting came with the 101 */
}

static void st_read(void *ctx, struct vole_stream *s, const uint8_t *buf, size_t len)
{
    struct side *d = ctx;
    if (d->upgraded) {   /* raw after the head; filters replaced these callbacks */
        keep(d, buf, len);
        check_done(d->world);
        return;
    }
    if (!take_head(d, &buf, &len))
        return;
    if (d->is_server)
        server_upgrade(d, s, buf, len);
    else
        client_upgrade(d, s, buf, len);
    check_done(d->world);
}

static void st_open(void *ctx, struct vole_stream *s)
{
    struct side *d = ctx;
    d->s = s;
    if (d->is_server)
        return;
    char req[256];
    vole_ws_client_key(d->key);
    int n = snprintf(req, sizeof req,
                     "GET /derp HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                     "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: derp\r\nSec-WebSocket-Key: %s\r\n\r\n",
                     d->key);
    assert_int_equal(vole_stream_write(s, req, (size_t)n), 0);
}

static void st_close(void *ctx, struct vole_stream *s, const char *why)
{
    struct side *d = ctx;
    d->closes++;
    d->s = NULL;
    snprintf(d->why, sizeof d->why, "%s", why);
    check_done(d->world);
}

static struct vole_stream_ops st_ops_for(struct side *d)
{
    return (struct vole_stream_ops){.ctx = d, .on_open = st_open, .on_read = st_read, .on_close = st_close};
}

static bool both_closed(struct world *x)
{
    return x->c.closes && x->srv.closes;
}

static bool upgraded(struct world *x)
{
    return x->c.upgraded && x->srv.upgraded;
}

/* Connects and runs until both have upgraded (and the client's filter exists). */
static void world_start(struct world *x, struct listener *l, bool raw_client, bool raw_server)
{
    memset(x, 0, sizeof *x);
    x->loop = ev_loop_new(EVFLAG_AUTO);
    x->c = (struct side){.world = x, .raw = raw_client, .bytes = malloc(BUF_CAP)};
    x->srv = (struct side){.world = x, .is_server = true, .raw = raw_server, .bytes = malloc(BUF_CAP)};
    listener_open(l, x->loop, st_ops_for(&x->srv));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(l->port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    char err[128];
    const struct vole_stream_ops cops = st_ops_for(&x->c);
    assert_non_null(vole_stream_connect(x->loop, (struct sockaddr *)&a, sizeof a, NULL, &cops, err, sizeof err));
}

static void world_run(struct world *x, bool (*done)(struct world *))
{
    x->done = done;
    if (!done(x))
        assert_true(run_loop_for(x->loop, 10.0));
    assert_true(done(x));
}

/* Closes what is still open and lets on_close run, so nothing leaks. */
static void world_end(struct world *x, struct listener *l)
{
    if (x->c.w)
        vole_ws_close(x->c.w);
    else if (x->c.s && !x->c.closes)
        vole_stream_close(x->c.s, false);
    if (x->srv.w)
        vole_ws_close(x->srv.w);
    else if (x->srv.s && !x->srv.closes)
        vole_stream_close(x->srv.s, false);
    world_run(x, both_closed);
    ev_io_stop(x->loop, &l->w);
    close(l->fd);
    free(x->c.bytes);
    free(x->srv.bytes);
    ev_loop_destroy(x->loop);
}

/* ---- handshake helpers ---------------------------------------------------------- */

static void test_accept_key(void **state)
{
    (void)state;
    char out[VOLE_WS_ACCEPT_LEN + 1];
    vole_ws_accept_key(out, "dGhlIHNhbXBsZSBub25jZQ==");   /* RFC 6455 §1.3 */
    assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static void test_client_key(void **state)
{
    (void)state;
    char a[VOLE_WS_KEY_LEN + 1], b[VOLE_WS_KEY_LEN + 1];
    unsigned char raw[32];
    size_t n = 0;
    vole_ws_client_key(a);
    vole_ws_client_key(b);
    assert_int_equal(strlen(a), VOLE_WS_KEY_LEN);
    assert_int_equal(mbedtls_base64_decode(raw, sizeof raw, &n, (const unsigned char *)a, strlen(a)), 0);
    assert_int_equal(n, 16);
    assert_string_not_equal(a, b);
}

/* ---- a byte stream both ways --------------------------------------------------- */

static uint8_t bulk_byte(size_t i)
{
    return (uint8_t)((i * 2654435761u) >> 11);
}

static bool echoed_all(struct world *x)
{
    return x->c.len == 5 + BULK_LEN;
}

static void test_bulk_echo(void **state)
{
    (void)state;
    static const size_t sizes[] = {1, 3, 7, 13, 4093, 16385, 65537, 999, 2, 40000};
    struct world x;
    struct listener l;
    world_start(&x, &l, false, false);
    x.echo = true;
    x.greet = true;
    world_run(&x, upgraded);

    uint8_t *data = malloc(BULK_LEN);
    for (size_t i = 0; i < BULK_LEN; i++)
        data[i] = bulk_byte(i);
    for (size_t off = 0, k = 0; off < BULK_LEN; k++) {
        size_t n = sizes[k % 10] < BULK_LEN - off ? sizes[k % 10] : BULK_LEN - off;
        assert_int_equal(vole_ws_write(x.c.w, data + off, n), 0);
        off += n;
    }
    assert_true(vole_ws_pending(x.c.w) > BULK_LEN);   /* buffered with framing, not yet sent */
    world_run(&x, echoed_all);
    assert_memory_equal(x.c.bytes, "hello", 5);
    assert_int_equal(x.srv.len, BULK_LEN);
    assert_memory_equal(x.srv.bytes, data, BULK_LEN);
    assert_memory_equal(x.c.bytes + 5, data, BULK_LEN);
    print_message("%zu bytes in %d on_data calls at the server\n", x.srv.len, x.data_calls);

    /* the close handshake, started by the client */
    vole_ws_close_with(x.c.w, 1000, "bye");
    assert_int_equal(vole_ws_write(x.c.w, "late", 4), -1);
    world_run(&x, both_closed);
    assert_string_equal(x.srv.why, "websocket close 1000: bye");
    assert_string_equal(x.c.why, "closed");
    assert_int_equal(x.c.closes, 1);
    assert_int_equal(x.srv.closes, 1);
    free(data);
    world_end(&x, &l);
}

/* ---- the wire, seen by a raw client ------------------------------------------------ */

static bool raw_has_4(struct world *x)
{
    return x->c.len >= 4;
}

static bool fragments_done(struct world *x)
{
    return x->srv.len >= 4 && x->c.len >= 2;
}

static bool server_closed_and_raw_eof(struct world *x)
{
    return x->srv.closes && x->c.closes;
}

static void test_ping_and_close_wire(void **state)
{
    (void)state;
    struct world x;
    struct listener l;
    uint8_t f[160];
    world_start(&x, &l, true, false);
    world_run(&x, upgraded);

    /* a masked ping is answered by an unmasked pong with the same payload */
    size_t n = frame(f, true, 0x9, true, "abc", 3);
    assert_int_equal(vole_stream_write(x.c.s, f, n), 0);
    world_run(&x, raw_has_4);
    assert_int_equal(x.c.len, 5);
    assert_memory_equal(x.c.bytes, "\x8a\x03" "abc", 5);

    /* data split over a fragmented message with a ping in between */
    x.c.len = 0;
    n = frame(f, false, 0x2, true, "ab", 2);
    n += frame(f + n, true, 0x9, true, "", 0);
    n += frame(f + n, true, 0x0, true, "cd", 2);
    assert_int_equal(vole_stream_write(x.c.s, f, n), 0);
    world_run(&x, fragments_done);
    assert_int_equal(x.srv.len, 4);
    assert_memory_equal(x.srv.bytes, "abcd", 4);
    assert_memory_equal(x.c.bytes, "\x8a\x00", 2);

    /* close: the server echoes the code and closes the connection */
    x.c.len = 0;
    n = close_frame(f, true, 1000, "done");
    assert_int_equal(vole_stream_write(x.c.s, f, n), 0);
    world_run(&x, server_closed_and_raw_eof);
    assert_memory_equal(x.c.bytes, "\x88\x06\x03\xe8" "done", 8);
    assert_string_equal(x.srv.why, "websocket close 1000: done");
    assert_string_equal(x.c.why, "eof");
    world_end(&x, &l);
}

/* A frame the server must refuse: it answers with this close code and hangs up. */
static void refused(const uint8_t *f, size_t n, uint16_t code, const char *why_part)
{
    struct world x;
    struct listener l;
    world_start(&x, &l, true, false);
    world_run(&x, upgraded);
    assert_int_equal(vole_stream_write(x.c.s, f, n), 0);
    world_run(&x, server_closed_and_raw_eof);
    print_message("refused: %s\n", x.srv.why);
    assert_true(x.c.len >= 4);
    assert_int_equal(x.c.bytes[0], 0x88);
    assert_int_equal(x.c.bytes[1] & 0x80, 0);   /* servers never mask */
    assert_int_equal((x.c.bytes[2] << 8) | x.c.bytes[3], code);
    assert_non_null(strstr(x.srv.why, why_part));
    assert_int_equal(x.srv.len, 0);
    world_end(&x, &l);
}

static void test_text_refused(void **state)
{
    (void)state;
    uint8_t f[32];
    refused(f, frame(f, true, 0x1, true, "hi", 2), 1003, "text");
}

static void test_unmasked_refused(void **state)
{
    (void)state;
    uint8_t f[32];
    refused(f, frame(f, true, 0x2, false, "hi", 2), 1002, "protocol error");
}

/* Closing inside on_data: the frames behind it in the same read are dropped. */
static void test_close_in_data(void **state)
{
    (void)state;
    struct world x;
    struct listener l;
    uint8_t f[64];
    world_start(&x, &l, true, false);
    x.close_in_data = true;
    world_run(&x, upgraded);
    size_t n = frame(f, true, 0x2, true, "one", 3);
    n += frame(f + n, true, 0x2, true, "two", 3);
    n += frame(f + n, true, 0x2, true, "three", 5);
    assert_int_equal(vole_stream_write(x.c.s, f, n), 0);
    world_run(&x, server_closed_and_raw_eof);
    assert_int_equal(x.data_calls, 1);
    assert_int_equal(x.srv.len, 3);
    assert_int_equal(x.srv.closes, 1);
    assert_string_equal(x.srv.why, "closed");
    assert_memory_equal(x.c.bytes, "\x88\x0c\x03\xe9" "going away", 14);
    world_end(&x, &l);
}

/* ---- the wire, seen by a raw server ------------------------------------------------- */

static bool raw_srv_has_frame(struct world *x)
{
    return x->srv.len >= 2 + 4 + 6;
}

static bool client_got_3(struct world *x)
{
    return x->c.len >= 3;
}

static bool client_closed(struct world *x)
{
    return x->c.closes > 0;
}

static void test_client_masks(void **state)
{
    (void)state;
    struct world x;
    struct listener l;
    uint8_t f[32];
    world_start(&x, &l, false, true);
    world_run(&x, upgraded);
    assert_int_equal(vole_ws_write(x.c.w, "abcdef", 6), 0);
    world_run(&x, raw_srv_has_frame);
    const uint8_t *b = x.srv.bytes;
    assert_int_equal(b[0], 0x82);
    assert_int_equal(b[1], 0x80 | 6);
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(b[6 + i] ^ b[2 + i % 4], "abcdef"[i]);

    /* unmasked server data arrives; a masked server frame is refused */
    size_t n = frame(f, true, 0x2, false, "xyz", 3);
    assert_int_equal(vole_stream_write(x.srv.s, f, n), 0);
    world_run(&x, client_got_3);
    assert_memory_equal(x.c.bytes, "xyz", 3);
    n = frame(f, true, 0x2, true, "bad", 3);
    assert_int_equal(vole_stream_write(x.srv.s, f, n), 0);
    world_run(&x, client_closed);
    assert_non_null(strstr(x.c.why, "protocol error"));
    assert_int_equal(x.c.len, 3);
    world_end(&x, &l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accept_key),
        cmocka_unit_test(test_client_key),
        cmocka_unit_test(test_bulk_echo),
        cmocka_unit_test(test_ping_and_close_wire),
        cmocka_unit_test(test_text_refused),
        cmocka_unit_test(test_unmasked_refused),
        cmocka_unit_test(test_close_in_data),
        cmocka_unit_test(test_client_masks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
