/* Issue #7 end to end in one process on loopback: two vole_conn instances
 * with lwIP stacks (IPv4 and IPv6 overlay addresses), the DERP server and a
 * STUN server, as in test_conn.c. Loopback carries 1500-byte packets, so the
 * direct path settles at the tunnel's 1280; a 60 000-byte UDP datagram
 * (fragmented by lwIP) arrives whole over both families; then a "link" that
 * drops every datagram over 700 bytes (vole_conn_test_limit_udp) appears
 * under a running 1 MiB TCP transfer: the black hole is found, the MTU
 * drops, and the transfer completes intact; a new connection's SYN MSS is
 * clamped. Issue #8: the stacks do TSO, so lwIP's segments stay large and
 * every TCP packet handed to WireGuard is cut to the peer's inner MTU of
 * the moment (a tap checks each one), retransmissions included: TCP never
 * goes out as IP fragments. Every wait is bounded. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/key.h"
#include "derp/derpmap.h"
#include "derp/server.h"
#include "io/udp.h"
#include "lwip/tcp.h"
#include "lwip/udp.h"
#include "node/tunnel.h"
#include "stack/stack.h"
#include "stun/server.h"
#include "tailnet/conn.h"

#include "test/unit/evloop.h"
#include "test/unit/conn_fixture.h"

#define LIMIT CF_LIMIT
#define XFER ((size_t)1024 * 1024)
#define BIG_UDP 60000

#include "test/unit/conn_xfer.h"

static int setup(void **state)
{
    static struct fixture f;
    cf_setup(&f, true);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    vole_stack_set_tap(f->a.stack, NULL, NULL);   /* a test's watch is on its stack */
    cf_teardown(f);
    return 0;
}

/* ---- what a's stack hands to WireGuard ---- */

struct out_watch {
    const struct node *from, *to;
    size_t tcp, too_big, largest;
};

static bool is_tcp(const struct pbuf *p)
{
    uint8_t h[10];
    if (pbuf_copy_partial(p, h, sizeof h, 0) != sizeof h)
        return false;
    return h[0] >> 4 == 4 ? h[9] == 6 : h[0] >> 4 == 6 && h[6] == 6;
}

/* Every TCP packet out of the stack fits the peer's inner MTU right now. */
static void on_tap(void *ctx, const struct pbuf *p, bool out)
{
    struct out_watch *w = ctx;
    struct vole_conn_peer_diag d;

    if (!out || !is_tcp(p))
        return;
    w->tcp++;
    if (p->tot_len > w->largest)
        w->largest = p->tot_len;
    if (vole_conn_peer_diag(w->from->conn, w->to->key, &d) != 0 || p->tot_len > d.inner_mtu)
        w->too_big++;
}

static void watch(struct out_watch *w, struct node *from, const struct node *to)
{
    *w = (struct out_watch){ .from = from, .to = to };
    vole_stack_set_tap(from->stack, on_tap, w);
}

/* ---- UDP ---- */

struct udp_sink {
    size_t datagrams, bytes;
    bool intact;
};

static void on_udp(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *addr, u16_t port)
{
    struct udp_sink *s = arg;
    (void)pcb;
    (void)addr;
    (void)port;
    s->datagrams++;
    s->bytes += p->tot_len;
    for (size_t i = 0; i < p->tot_len; i++)
        if (pbuf_get_at(p, (u16_t)i) != pattern(i))
            s->intact = false;
    pbuf_free(p);
}

static bool got_datagram(void *arg) { return ((struct udp_sink *)arg)->datagrams > 0; }

static void send_big_udp(struct fixture *f, int family)
{
    struct udp_sink sink = { .intact = true };
    ip_addr_t dst = addr_of(&f->b, family);
    u8_t type = family == 4 ? IPADDR_TYPE_V4 : IPADDR_TYPE_V6;
    struct udp_pcb *rx = udp_new_ip_type(type), *tx = udp_new_ip_type(type);
    struct pbuf *p = pbuf_alloc(PBUF_TRANSPORT, BIG_UDP, PBUF_RAM);

    assert_non_null(rx);
    assert_non_null(tx);
    assert_non_null(p);
    udp_bind_netif(rx, vole_stack_netif(f->b.stack));
    assert_int_equal(udp_bind(rx, IP_ANY_TYPE, 7000), ERR_OK);
    udp_recv(rx, on_udp, &sink);
    udp_bind_netif(tx, vole_stack_netif(f->a.stack));
    for (size_t i = 0; i < BIG_UDP; i++)
        ((uint8_t *)p->payload)[i] = pattern(i);
    assert_int_equal(udp_sendto(tx, p, &dst, 7000), ERR_OK);
    pbuf_free(p);
    assert_true(run_until(f->loop, got_datagram, &sink, LIMIT));
    assert_int_equal(sink.datagrams, 1);
    assert_int_equal(sink.bytes, BIG_UDP);
    assert_true(sink.intact);
    udp_remove(rx);
    udp_remove(tx);
}

/* ---- TCP: a sends XFER bytes to b (conn_xfer.h) ---- */

static bool received_cap(void *arg) { return ((struct xfer *)arg)->received >= ((struct xfer *)arg)->cap || ((struct xfer *)arg)->failed; }

/* ---- conditions ---- */

static bool both_direct_1280(void *arg)
{
    struct fixture *f = arg;
    return f->a.path.kind == VOLE_PATH_DIRECT && f->b.path.kind == VOLE_PATH_DIRECT &&
           f->a.path.inner_mtu == VOLE_TAILNET_MTU && f->b.path.inner_mtu == VOLE_TAILNET_MTU;
}

struct mtu_wait {
    struct fixture *f;
    uint16_t mtu;
};

static bool settled_at(const struct node *n, const struct node *peer, uint16_t mtu)
{
    struct vole_conn_peer_diag d;
    return vole_conn_peer_diag(n->conn, peer->key, &d) == 0 && d.path_mtu_settled && d.inner_mtu == mtu &&
           n->path.kind == VOLE_PATH_DIRECT;
}

static bool a_settled_at(void *arg)
{
    struct mtu_wait *w = arg;
    return settled_at(&w->f->a, &w->f->b, w->mtu);
}

static bool both_settled_at(void *arg)
{
    struct mtu_wait *w = arg;
    return settled_at(&w->f->a, &w->f->b, w->mtu) && settled_at(&w->f->b, &w->f->a, w->mtu);
}

/* ---- tests ---- */

static void test_settles_at_1280(void **state)
{
    struct fixture *f = *state;
    struct vole_conn_peer_diag d;
    struct xfer x;

    introduce(f);
    /* Traffic starts the session: DERP first, then the direct path. */
    xfer_start(f, &x, 4, 5000);
    assert_true(run_until(f->loop, both_direct_1280, f, LIMIT));
    assert_int_equal(vole_conn_peer_diag(f->a.conn, f->b.key, &d), 0);
    assert_int_equal(d.inner_mtu, VOLE_TAILNET_MTU);
    assert_true(d.path_mtu_wire == 0 || d.path_mtu_wire >= 1340);   /* 1500 once the ladder is back */
    struct mtu_wait w = { f, VOLE_TAILNET_MTU };
    assert_true(run_until(f->loop, a_settled_at, &w, LIMIT));
    assert_int_equal(vole_conn_peer_diag(f->a.conn, f->b.key, &d), 0);
    assert_int_equal(d.path_mtu_wire, 1500);   /* loopback carries it all; the tunnel stays at 1280 */
    assert_true(vole_conn_stats(f->a.conn)->pmtu_probes >= 6);
    assert_true(vole_conn_stats(f->b.conn)->disco_tx_pong >= 6);
    assert_true(run_until(f->loop, xfer_done, &x, LIMIT));
    assert_int_equal(x.received, XFER);
    assert_true(x.intact);
    xfer_stop(&x);
    /* Nothing needed splitting: the path carries the tunnel's MTU. */
    assert_int_equal(vole_conn_stats(f->a.conn)->tx_fragmented, 0);
}

static void test_big_udp_datagram(void **state)
{
    struct fixture *f = *state;
    introduce(f);
    send_big_udp(f, 4);
    assert_true(run_until(f->loop, both_direct_1280, f, LIMIT));
    send_big_udp(f, 4);
    send_big_udp(f, 6);
}

/* A small-MTU link appears under a running transfer, without any ICMP. */
static void test_black_hole_under_transfer(void **state)
{
    struct fixture *f = *state;
    const struct vole_conn_stats *sa = vole_conn_stats(f->a.conn), *sb = vole_conn_stats(f->b.conn);
    struct vole_conn_peer_diag d;
    struct vole_stack_tso_stats ts;
    struct out_watch w_out;
    struct xfer x;

    introduce(f);
    watch(&w_out, &f->a, &f->b);
    xfer_start(f, &x, 4, 5001);
    x.cap = XFER / 8;
    assert_true(run_until(f->loop, both_direct_1280, f, LIMIT));
    assert_true(run_until(f->loop, received_cap, &x, LIMIT));
    assert_false(x.failed);
    /* 700 bytes of UDP payload: a 728-byte IPv4 link, and the rest to send. */
    vole_conn_test_limit_udp(f->a.conn, 700);
    vole_conn_test_limit_udp(f->b.conn, 700);
    x.cap = 0;
    fill(&x);
    assert_true(run_until(f->loop, xfer_done, &x, 60.0));
    assert_false(x.failed);
    assert_int_equal(x.received, XFER);
    assert_true(x.intact);
    assert_true(sa->pmtu_black_holes >= 1);
    assert_true(sa->drop_test_link > 0);
    /* TCP went out as pieces of the MTU of the moment, never as fragments;
     * lwIP's segments stayed large throughout (TSO). */
    assert_int_equal(sa->tx_fragmented, 0);
    assert_true(w_out.tcp > 0);
    assert_int_equal(w_out.too_big, 0);
    vole_stack_tso_stats(f->a.stack, &ts);
    assert_true(ts.cut > 0 && ts.pieces > ts.cut);
    assert_non_null(x.client);
    assert_true(x.client->mss > VOLE_TAILNET_MTU);

    /* It settles at what the link carries: 700 bytes of UDP payload less
     * WireGuard's 32 (668), in whole 16s: 656 inner bytes, whichever family
     * the direct path took. */
    struct mtu_wait w = { f, 656 };
    assert_true(run_until(f->loop, a_settled_at, &w, 60.0));
    assert_int_equal(vole_conn_peer_diag(f->a.conn, f->b.key, &d), 0);
    unsigned hdr = f->a.path.direct.family == 6 ? 48 : 28;
    assert_true(d.path_mtu_wire <= 700 + hdr && d.path_mtu_wire > 700 + hdr - 8);
    assert_int_equal(f->a.path.kind, VOLE_PATH_DIRECT);
    assert_int_equal(f->a.path.inner_mtu, 656);
    xfer_stop(&x);

    /* A new connection once both ends settled: the SYN and the SYN-ACK are
     * clamped on their way out, so b sends a fitting MSS; a still sends
     * large segments, cut to 656. */
    assert_true(run_until(f->loop, both_settled_at, &w, 60.0));
    uint64_t clamped_a = sa->mss_clamped, clamped_b = sb->mss_clamped;
    w_out.largest = 0;
    xfer_start(f, &x, 4, 5002);
    assert_true(run_until(f->loop, xfer_done, &x, 30.0));
    assert_int_equal(x.received, XFER);
    assert_true(x.intact);
    assert_true(sa->mss_clamped > clamped_a);
    assert_true(sb->mss_clamped > clamped_b);
    assert_true(x.client->mss > VOLE_TAILNET_MTU);
    assert_int_equal(w_out.largest, 656);
    xfer_stop(&x);
    assert_int_equal(sa->tx_fragmented, 0);
    assert_int_equal(w_out.too_big, 0);
    assert_int_equal(sa->drop_tx_unfragmentable + sb->drop_tx_unfragmentable, 0);
    vole_stack_set_tap(f->a.stack, NULL, NULL);
}

/* Issue #8 on a clean direct path: a few MiB each way of family, lwIP's
 * segments large (TSO in effect), every TCP packet handed to WireGuard no
 * larger than the peer's inner MTU, no TCP fragments, content intact. */
static void test_tso_direct_transfer(void **state)
{
    struct fixture *f = *state;
    const struct vole_conn_stats *sa = vole_conn_stats(f->a.conn);
    struct vole_stack_tso_stats ts;
    struct out_watch w_out;
    struct mtu_wait w = { f, VOLE_TAILNET_MTU };
    struct xfer x;

    introduce(f);
    watch(&w_out, &f->a, &f->b);
    for (int family = 4; family <= 6; family += 2) {
        xfer_start(f, &x, family, (u16_t)(5010 + family));
        x.total = 4 * XFER;
        assert_true(run_until(f->loop, both_direct_1280, f, LIMIT));
        assert_true(run_until(f->loop, a_settled_at, &w, LIMIT));
        assert_true(run_until(f->loop, xfer_done, &x, 60.0));
        assert_false(x.failed);
        assert_int_equal(x.received, 4 * XFER);
        assert_true(x.intact);
        assert_non_null(x.client);
        assert_true(x.client->mss > 8 * VOLE_TAILNET_MTU);
        xfer_stop(&x);
    }
    assert_true(w_out.tcp > 2 * 4 * XFER / VOLE_TAILNET_MTU);
    assert_int_equal(w_out.too_big, 0);
    assert_int_equal(w_out.largest, VOLE_TAILNET_MTU);
    assert_int_equal(sa->tx_fragmented, 0);
    vole_stack_tso_stats(f->a.stack, &ts);
    assert_true(ts.cut > 0);
    assert_true(ts.pieces >= 8 * ts.cut);   /* ~13 pieces of each full segment */
}

/* Nothing over 500 bytes passes: not even the floor's path pings, so the
 * path never becomes direct and DERP carries everything. */
static void test_below_floor_stays_derp(void **state)
{
    struct fixture *f = *state;
    struct xfer x;

    vole_conn_test_limit_udp(f->a.conn, 500);
    vole_conn_test_limit_udp(f->b.conn, 500);
    introduce(f);
    xfer_start(f, &x, 4, 5003);
    assert_true(run_until(f->loop, xfer_done, &x, 30.0));
    assert_int_equal(x.received, XFER);
    assert_true(x.intact);
    run_for(f->loop, 1.0);
    assert_int_equal(f->a.path.kind, VOLE_PATH_DERP);
    assert_int_equal(f->b.path.kind, VOLE_PATH_DERP);
    xfer_stop(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_settles_at_1280, setup, teardown),
        cmocka_unit_test_setup_teardown(test_big_udp_datagram, setup, teardown),
        cmocka_unit_test_setup_teardown(test_black_hole_under_transfer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_below_floor_stays_derp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tso_direct_transfer, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
