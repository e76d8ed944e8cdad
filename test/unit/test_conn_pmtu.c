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

/* Homed, and with endpoints of their own to tell each other. */
static bool both_ready(void *arg)
{
    struct fixture *f = arg;
    struct coord_node a, b;
    vole_conn_self(f->a.conn, &a);
    vole_conn_self(f->b.conn, &b);
    return cf_both_homed(f) && a.n_endpoints > 0 && b.n_endpoints > 0;
}

static void introduce(struct fixture *f)
{
    assert_true(run_until(f->loop, both_ready, f, LIMIT));
    cf_introduce(f, true);
}

static ip_addr_t addr_of(const struct node *n, int family)
{
    ip_addr_t a;
    if (family == 4) {
        IP_ADDR4(&a, n->v4[0], n->v4[1], n->v4[2], n->v4[3]);
    } else {
        memset(&a, 0, sizeof a);
        IP_SET_TYPE_VAL(a, IPADDR_TYPE_V6);
        memcpy(ip_2_ip6(&a)->addr, n->v6, 16);
    }
    return a;
}

static uint8_t pattern(size_t i) { return (uint8_t)(i % 251); }

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

/* ---- TCP: a sends XFER bytes to b ---- */

struct xfer {
    struct tcp_pcb *listener, *server, *client;
    size_t sent, received;
    size_t cap;                 /* the client writes no further for now (0: all of total) */
    size_t total;               /* XFER unless a test says otherwise */
    bool intact, connected, failed;
};

static void fill(struct xfer *x)
{
    uint8_t buf[4096];
    size_t end = x->cap ? x->cap : x->total;
    while (x->client && x->sent < end) {
        size_t room = tcp_sndbuf(x->client), n = end - x->sent;
        if (n > sizeof buf)
            n = sizeof buf;
        if (n > room)
            n = room;
        if (n == 0)
            break;
        for (size_t i = 0; i < n; i++)
            buf[i] = pattern(x->sent + i);
        if (tcp_write(x->client, buf, (u16_t)n, TCP_WRITE_FLAG_COPY) != ERR_OK)
            break;
        x->sent += n;
    }
    if (x->client)
        tcp_output(x->client);
}

static err_t on_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
    (void)pcb;
    (void)len;
    fill(arg);
    return ERR_OK;
}

static void on_client_err(void *arg, err_t err)
{
    struct xfer *x = arg;
    (void)err;
    x->client = NULL;
    x->failed = true;
}

static err_t on_connected(void *arg, struct tcp_pcb *pcb, err_t err)
{
    struct xfer *x = arg;
    (void)pcb;
    x->connected = err == ERR_OK;
    fill(x);
    return ERR_OK;
}

static err_t on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    struct xfer *x = arg;
    (void)err;
    if (!p)
        return ERR_OK;
    for (struct pbuf *q = p; q; q = q->next)
        for (size_t i = 0; i < q->len; i++, x->received++)
            if (((const uint8_t *)q->payload)[i] != pattern(x->received))
                x->intact = false;
    tcp_recved(pcb, p->tot_len);
    pbuf_free(p);
    return ERR_OK;
}

static err_t on_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
    struct xfer *x = arg;
    (void)err;
    x->server = pcb;
    tcp_arg(pcb, x);
    tcp_recv(pcb, on_recv);
    return ERR_OK;
}

static void xfer_start(struct fixture *f, struct xfer *x, int family, u16_t port)
{
    ip_addr_t dst = addr_of(&f->b, family);
    u8_t type = family == 4 ? IPADDR_TYPE_V4 : IPADDR_TYPE_V6;
    struct tcp_pcb *l = tcp_new_ip_type(type);

    memset(x, 0, sizeof *x);
    x->intact = true;
    x->total = XFER;
    assert_non_null(l);
    tcp_bind_netif(l, vole_stack_netif(f->b.stack));
    assert_int_equal(tcp_bind(l, IP_ANY_TYPE, port), ERR_OK);
    x->listener = tcp_listen(l);
    assert_non_null(x->listener);
    tcp_arg(x->listener, x);
    tcp_accept(x->listener, on_accept);
    x->client = tcp_new_ip_type(type);
    assert_non_null(x->client);
    tcp_bind_netif(x->client, vole_stack_netif(f->a.stack));
    /* An explicit local port: the test is about MTU, not lwIP's ephemeral
     * ports (whose first-connection overflow stack/runtime.c steps over). */
    {
        ip_addr_t src = addr_of(&f->a, family);
        assert_int_equal(tcp_bind(x->client, &src, (u16_t)(port + 1000)), ERR_OK);
    }
    tcp_arg(x->client, x);
    tcp_sent(x->client, on_sent);
    tcp_err(x->client, on_client_err);
    assert_int_equal(tcp_connect(x->client, &dst, port, on_connected), ERR_OK);
}

static void xfer_stop(struct xfer *x)
{
    struct tcp_pcb *pcbs[3] = { x->client, x->server, x->listener };
    for (int i = 0; i < 3; i++)
        if (pcbs[i]) {
            tcp_arg(pcbs[i], NULL);
            if (i < 2) {
                tcp_recv(pcbs[i], NULL);
                tcp_sent(pcbs[i], NULL);
                tcp_err(pcbs[i], NULL);
                tcp_abort(pcbs[i]);
            } else {
                tcp_close(pcbs[i]);
            }
        }
}

static bool xfer_done(void *arg)
{
    struct xfer *x = arg;
    return x->received >= x->total || x->failed;
}

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
