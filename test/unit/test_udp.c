/* io/udp over loopback: two sockets in one libev loop, every run bounded by
 * a 5 s timer so a lost datagram fails the test instead of hanging it. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test/unit/evloop.h"

#include <arpa/inet.h>
#include <ev.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "io/udp.h"

#define RUN_LIMIT_S 5.0
#define TOTAL 200
#define ROUND 100   /* in flight at once: more than one batch, well under any rcvbuf */

/* ---- helpers ---------------------------------------------------------- */

static struct wg_endpoint ep4(uint16_t port)
{
    struct wg_endpoint ep = {.family = 4, .addr = {127, 0, 0, 1}, .port = port};
    return ep;
}

static struct wg_endpoint ep6(uint16_t port)
{
    struct wg_endpoint ep = {.family = 6, .port = port};
    ep.addr[15] = 1;
    return ep;
}

static bool run_loop(struct ev_loop *loop)
{
    return run_loop_for(loop, RUN_LIMIT_S);
}

static void no_recv(void *ctx, const struct wg_endpoint *src, uint8_t *buf, size_t len)
{
    (void)ctx;
    (void)src;
    (void)buf;
    fail_msg("unexpected datagram of %zu bytes", len);
}

static struct vole_udp *open_at(struct ev_loop *loop, const char *addr, uint16_t port, size_t max_dgram,
                                vole_udp_recv_fn fn, void *ctx)
{
    struct vole_udp_config cfg = {.port = port, .bind_addr = addr, .max_datagram = max_dgram};
    char err[128];
    struct vole_udp *u = vole_udp_open(loop, &cfg, fn, ctx, err, sizeof err);
    if (!u)
        print_message("open %s: %s\n", addr ? addr : "(any)", err);
    return u;
}

/* Records the last datagram; breaks the loop after `want` of them. */
struct sink {
    struct ev_loop *loop;
    size_t want, got;
    struct wg_endpoint src;
    uint8_t buf[8192];
    size_t len;
};

static void sink_recv(void *ctx, const struct wg_endpoint *src, uint8_t *buf, size_t len)
{
    struct sink *s = ctx;
    assert_true(len <= sizeof s->buf);
    s->src = *src;
    memcpy(s->buf, buf, len);
    s->len = len;
    if (++s->got == s->want)
        ev_break(s->loop, EVBREAK_ALL);
}

static void send_bytes(struct vole_udp *u, const struct wg_endpoint *dst, uint8_t fill, size_t len)
{
    uint8_t *p = vole_udp_tx_slot(u, len);
    assert_non_null(p);
    memset(p, fill, len);
    vole_udp_tx_commit(u, dst, len);
}

/* ---- a batch of 200 varied datagrams ------------------------------------ */

struct batch {
    struct ev_loop *loop;
    struct vole_udp *tx;
    struct wg_endpoint dst, want_src;
    size_t sent, received;
    uint64_t bytes;
    uint8_t seen[TOTAL];
};

/* 4..1503 bytes, plus exactly the 2048-byte receive slot now and then. */
static size_t dgram_size(uint32_t seq)
{
    return seq % 50 == 7 ? 2048 : 4 + (seq * 389u) % 1500;
}

static uint8_t dgram_byte(uint32_t seq, size_t j)
{
    return (uint8_t)(seq * 31u + j * 7u);
}

static void send_round(struct batch *b)
{
    for (size_t k = 0; k < ROUND && b->sent < TOTAL; k++) {
        uint32_t seq = (uint32_t)b->sent++;
        size_t len = dgram_size(seq);
        uint8_t *p = vole_udp_tx_slot(b->tx, len);
        assert_non_null(p);
        memcpy(p, &seq, 4);
        for (size_t j = 4; j < len; j++)
            p[j] = dgram_byte(seq, j);
        vole_udp_tx_commit(b->tx, &b->dst, len);
        b->bytes += len;
    }
}

static void batch_recv(void *ctx, const struct wg_endpoint *src, uint8_t *buf, size_t len)
{
    struct batch *b = ctx;
    uint32_t seq;
    assert_true(len >= 4);
    memcpy(&seq, buf, 4);
    assert_true(seq < TOTAL);
    assert_int_equal(b->seen[seq], 0);
    b->seen[seq] = 1;
    assert_int_equal(len, dgram_size(seq));
    for (size_t j = 4; j < len; j++)
        assert_int_equal(buf[j], dgram_byte(seq, j));
    assert_true(wg_endpoint_equal(src, &b->want_src));
    if (++b->received == TOTAL)
        ev_break(b->loop, EVBREAK_ALL);
    else if (b->received == b->sent)
        send_round(b);   /* flushed by the ev_prepare watcher */
}

static void run_batch(const char *addr, struct wg_endpoint (*ep)(uint16_t))
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct batch b = {.loop = loop};
    struct vole_udp *rx = open_at(loop, addr, 0, 0, batch_recv, &b);
    b.tx = open_at(loop, addr, 0, 0, no_recv, NULL);
    if (!rx || !b.tx) {
        vole_udp_close(rx);
        vole_udp_close(b.tx);
        ev_loop_destroy(loop);
        skip();   /* no such loopback address here */
    }
    b.dst = ep(vole_udp_local_port(rx));
    b.want_src = ep(vole_udp_local_port(b.tx));
    send_round(&b);
    assert_true(run_loop(loop));

    const struct vole_udp_stats *ts = vole_udp_stats(b.tx), *rs = vole_udp_stats(rx);
    print_message("%s: %zu datagrams, %llu sendmmsg, %llu recvmmsg\n", addr, b.received,
                  (unsigned long long)ts->tx_syscalls, (unsigned long long)rs->rx_syscalls);
    assert_int_equal(b.received, TOTAL);
    assert_int_equal(ts->tx_datagrams, TOTAL);
    assert_int_equal(ts->tx_bytes, b.bytes);
    assert_int_equal(ts->tx_errors + ts->tx_dropped, 0);
    assert_int_equal(rs->rx_datagrams, TOTAL);
    assert_int_equal(rs->rx_bytes, b.bytes);
    assert_int_equal(rs->rx_dropped + rs->rx_errors, 0);
    assert_true(ts->tx_syscalls < TOTAL / 10);
    assert_true(rs->rx_syscalls < TOTAL / 2);
    vole_udp_close(rx);
    vole_udp_close(b.tx);
    ev_loop_destroy(loop);
}

static void test_batch_ipv4(void **state)
{
    (void)state;
    run_batch("127.0.0.1", ep4);
}

static void test_batch_ipv6(void **state)
{
    (void)state;
    run_batch("::1", ep6);
}

/* ---- families on a dual-stack socket ----------------------------------- */

static void expect_from(struct ev_loop *loop, struct sink *s, struct vole_udp *from,
                        const struct wg_endpoint *dst, const struct wg_endpoint *want_src)
{
    s->want = s->got + 1;
    send_bytes(from, dst, 0x5a, 33);
    assert_true(run_loop(loop));
    assert_int_equal(s->len, 33);
    assert_true(wg_endpoint_equal(&s->src, want_src));
}

static void test_dual_stack_families(void **state)
{
    (void)state;
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct sink s = {.loop = loop};
    struct vole_udp *any = open_at(loop, NULL, 0, 0, sink_recv, &s);
    struct vole_udp *v4 = open_at(loop, "127.0.0.1", 0, 0, no_recv, NULL);
    struct vole_udp *v6 = open_at(loop, "::1", 0, 0, no_recv, NULL);
    assert_non_null(any);
    assert_non_null(v4);
    uint16_t port = vole_udp_local_port(any);

    /* IPv4 peers reach a dual-stack socket as ::ffff:127.0.0.1 and must be
     * reported as family 4. */
    struct wg_endpoint d4 = ep4(port), s4 = ep4(vole_udp_local_port(v4));
    expect_from(loop, &s, v4, &d4, &s4);
    assert_int_equal(s.src.family, 4);
    if (v6) {
        struct wg_endpoint d6 = ep6(port), s6 = ep6(vole_udp_local_port(v6));
        expect_from(loop, &s, v6, &d6, &s6);
        assert_int_equal(s.src.family, 6);
    }
    /* And the dual-stack socket sends to a family-4 endpoint (v4-mapped). */
    struct sink back = {.loop = loop};
    struct vole_udp *v4b = open_at(loop, "127.0.0.1", 0, 0, sink_recv, &back);
    struct wg_endpoint db = ep4(vole_udp_local_port(v4b)), sb = ep4(port);
    expect_from(loop, &back, any, &db, &sb);

    vole_udp_close(any);
    vole_udp_close(v4);
    vole_udp_close(v4b);
    vole_udp_close(v6);
    ev_loop_destroy(loop);
}

/* ---- sizes beyond the receive slot -------------------------------------- */

static void test_oversized_dropped(void **state)
{
    (void)state;
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct sink s = {.loop = loop, .want = 1};
    struct vole_udp *rx = open_at(loop, "127.0.0.1", 0, 2048, sink_recv, &s);
    struct vole_udp *tx = open_at(loop, "127.0.0.1", 0, 0, no_recv, NULL);
    assert_non_null(rx);
    assert_non_null(tx);
    struct wg_endpoint dst = ep4(vole_udp_local_port(rx));

    send_bytes(tx, &dst, 0xee, 2049);   /* one byte over: a separate big send slot */
    send_bytes(tx, &dst, 0x11, 10);
    assert_true(run_loop(loop));
    assert_int_equal(s.got, 1);
    assert_int_equal(s.len, 10);
    assert_int_equal(s.buf[0], 0x11);
    assert_int_equal(vole_udp_stats(rx)->rx_dropped, 1);
    assert_int_equal(vole_udp_stats(rx)->rx_datagrams, 1);
    assert_int_equal(vole_udp_stats(tx)->tx_datagrams, 2);
    assert_null(vole_udp_tx_slot(tx, 65536));
    vole_udp_close(rx);
    vole_udp_close(tx);
    ev_loop_destroy(loop);
}

static void test_big_slot_arrives_intact(void **state)
{
    (void)state;
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct sink s = {.loop = loop, .want = 1};
    struct vole_udp *rx = open_at(loop, "127.0.0.1", 0, 8192, sink_recv, &s);
    struct vole_udp *tx = open_at(loop, "127.0.0.1", 0, 0, no_recv, NULL);
    assert_non_null(rx);
    assert_non_null(tx);
    struct wg_endpoint dst = ep4(vole_udp_local_port(rx));

    uint8_t *p = vole_udp_tx_slot(tx, 8000);
    assert_non_null(p);
    for (size_t j = 0; j < 8000; j++)
        p[j] = (uint8_t)(j * 13);
    vole_udp_tx_commit(tx, &dst, 5000);   /* shorter than asked for */
    assert_true(run_loop(loop));
    assert_int_equal(s.len, 5000);
    for (size_t j = 0; j < 5000; j++)
        assert_int_equal(s.buf[j], (uint8_t)(j * 13));
    vole_udp_close(rx);
    vole_udp_close(tx);
    ev_loop_destroy(loop);
}

/* ---- errors ----------------------------------------------------------- */

static void test_send_errors_skip_one(void **state)
{
    (void)state;
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct sink s = {.loop = loop, .want = 3};
    struct vole_udp *rx = open_at(loop, "127.0.0.1", 0, 0, sink_recv, &s);
    struct vole_udp *tx = open_at(loop, "127.0.0.1", 0, 0, no_recv, NULL);
    assert_non_null(rx);
    assert_non_null(tx);
    struct wg_endpoint dst = ep4(vole_udp_local_port(rx));
    struct wg_endpoint port0 = ep4(0), v6 = ep6(9), none = {0};

    send_bytes(tx, &dst, 1, 10);
    send_bytes(tx, &port0, 2, 10);   /* the kernel says EINVAL mid-batch */
    send_bytes(tx, &v6, 3, 10);      /* an AF_INET socket cannot reach IPv6 */
    send_bytes(tx, &none, 4, 10);
    send_bytes(tx, &dst, 5, 10);
    vole_udp_tx_slot(tx, 10);        /* abandoned: never committed */
    send_bytes(tx, &dst, 6, 10);
    assert_true(run_loop(loop));
    assert_int_equal(s.buf[0], 6);
    const struct vole_udp_stats *st = vole_udp_stats(tx);
    assert_int_equal(st->tx_datagrams, 3);
    assert_int_equal(st->tx_errors, 3);
    vole_udp_close(rx);
    vole_udp_close(tx);
    ev_loop_destroy(loop);
}

static void test_bind_conflict_message(void **state)
{
    (void)state;
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct vole_udp *a = open_at(loop, "127.0.0.1", 0, 0, no_recv, NULL);
    assert_non_null(a);
    uint16_t port = vole_udp_local_port(a);
    struct vole_udp_config cfg = {.port = port, .bind_addr = "127.0.0.1"};
    char err[128], want[128];

    assert_null(vole_udp_open(loop, &cfg, no_recv, NULL, err, sizeof err));
    snprintf(want, sizeof want, "bind 127.0.0.1:%u: Address already in use", port);
    assert_string_equal(err, want);

    struct vole_udp *any = open_at(loop, NULL, 0, 0, no_recv, NULL);
    assert_non_null(any);
    cfg.port = vole_udp_local_port(any);
    cfg.bind_addr = NULL;
    assert_null(vole_udp_open(loop, &cfg, no_recv, NULL, err, sizeof err));
    snprintf(want, sizeof want, "bind [::]:%u: Address already in use", cfg.port);
    assert_string_equal(err, want);

    cfg.bind_addr = "not-an-address";
    assert_null(vole_udp_open(loop, &cfg, no_recv, NULL, err, sizeof err));
    assert_non_null(strstr(err, "not-an-address"));
    vole_udp_close(a);
    vole_udp_close(any);
    ev_loop_destroy(loop);
}

/* ---- rebind ------------------------------------------------------------- */

static void test_rebind_moves_source_port(void **state)
{
    (void)state;
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct sink s = {.loop = loop};
    struct vole_udp *rx = open_at(loop, "127.0.0.1", 0, 0, sink_recv, &s);
    struct vole_udp *tx = open_at(loop, "127.0.0.1", 0, 0, no_recv, NULL);
    assert_non_null(rx);
    assert_non_null(tx);
    struct wg_endpoint dst = ep4(vole_udp_local_port(rx));
    uint16_t old = vole_udp_local_port(tx);
    char err[128];

    assert_int_equal(vole_udp_rebind(tx, 0, err, sizeof err), 0);
    assert_int_not_equal(vole_udp_local_port(tx), old);
    struct wg_endpoint src = ep4(vole_udp_local_port(tx));
    expect_from(loop, &s, tx, &dst, &src);

    /* Same port again: the receiver keeps its address across the rebind. */
    uint16_t rport = vole_udp_local_port(rx);
    assert_int_equal(vole_udp_rebind(rx, rport, err, sizeof err), 0);
    assert_int_equal(vole_udp_local_port(rx), rport);
    expect_from(loop, &s, tx, &dst, &src);

    /* A failed rebind leaves the working socket in place. */
    assert_int_equal(vole_udp_rebind(tx, rport, err, sizeof err), -1);
    assert_non_null(strstr(err, "Address already in use"));
    assert_int_equal(vole_udp_local_port(tx), src.port);
    expect_from(loop, &s, tx, &dst, &src);
    vole_udp_close(rx);
    vole_udp_close(tx);
    ev_loop_destroy(loop);
}

/* ---- conversions ------------------------------------------------------ */

static void test_endpoint_conversions(void **state)
{
    (void)state;
    struct sockaddr_storage ss;
    struct wg_endpoint ep = ep4(51820), back;

    assert_int_equal(vole_endpoint_to_sockaddr(&ss, &ep, true), sizeof(struct sockaddr_in6));
    const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&ss;
    assert_true(IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr));
    assert_int_equal(ntohs(s6->sin6_port), 51820);
    vole_sockaddr_to_endpoint(&back, (const struct sockaddr *)&ss);
    assert_int_equal(back.family, 4);
    assert_true(wg_endpoint_equal(&back, &ep));

    assert_int_equal(vole_endpoint_to_sockaddr(&ss, &ep, false), sizeof(struct sockaddr_in));
    vole_sockaddr_to_endpoint(&back, (const struct sockaddr *)&ss);
    assert_true(wg_endpoint_equal(&back, &ep));

    ep = ep6(443);
    assert_int_equal(vole_endpoint_to_sockaddr(&ss, &ep, false), 0);
    assert_int_equal(vole_endpoint_to_sockaddr(&ss, &ep, true), sizeof(struct sockaddr_in6));
    vole_sockaddr_to_endpoint(&back, (const struct sockaddr *)&ss);
    assert_int_equal(back.family, 6);
    assert_true(wg_endpoint_equal(&back, &ep));

    struct wg_endpoint none = {0};
    assert_int_equal(vole_endpoint_to_sockaddr(&ss, &none, true), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_endpoint_conversions),
        cmocka_unit_test(test_batch_ipv4),
        cmocka_unit_test(test_batch_ipv6),
        cmocka_unit_test(test_dual_stack_families),
        cmocka_unit_test(test_oversized_dropped),
        cmocka_unit_test(test_big_slot_arrives_intact),
        cmocka_unit_test(test_send_errors_skip_one),
        cmocka_unit_test(test_bind_conflict_message),
        cmocka_unit_test(test_rebind_moves_source_port),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
