/* Receive GRO (stack/gro.h) end to end: two vole_conn instances with lwIP
 * stacks in one process on loopback (test/unit/conn_fixture.h), a TCP
 * transfer of several MiB from a to b over IPv4 and IPv6 with GRO on (the
 * default): the content arrives intact and b's counters show that segments
 * really were merged; then the same with GRO off on both stacks, which must
 * merge nothing. The durations are printed for comparison, never asserted. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lwip/tcp.h"
#include "stack/gro.h"
#include "stack/stack.h"

#include "test/unit/evloop.h"
#include "test/unit/conn_fixture.h"

#define XFER ((size_t)6 * 1024 * 1024)
#define XFER_LIMIT 60.0
#define CHUNK 16384

static int setup(void **state)
{
    static struct fixture f;
    cf_setup(&f, true);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    cf_teardown(*state);
    return 0;
}

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
    assert_true(run_until(f->loop, both_ready, f, CF_LIMIT));
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

static uint8_t pattern(size_t i) { return (uint8_t)(i * 7 % 253); }

/* ---- a sends XFER bytes to b ---- */

struct xfer {
    struct tcp_pcb *listener, *server, *client;
    size_t sent, received;
    bool intact, failed;
};

/* Large writes marked "more" except the last, as a bulk sender's are: PSH
 * only at the end, so runs are ended by the batch, not by the writer. */
static void fill(struct xfer *x)
{
    uint8_t buf[CHUNK];

    while (x->client && x->sent < XFER) {
        size_t room = tcp_sndbuf(x->client), n = XFER - x->sent;
        if (n > sizeof buf)
            n = sizeof buf;
        if (n > room)
            n = room;
        if (n == 0)
            break;
        for (size_t i = 0; i < n; i++)
            buf[i] = pattern(x->sent + i);
        if (tcp_write(x->client, buf, (u16_t)n,
                      TCP_WRITE_FLAG_COPY | (x->sent + n < XFER ? TCP_WRITE_FLAG_MORE : 0)) != ERR_OK)
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
    if (err != ERR_OK)
        x->failed = true;
    else
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
    ip_addr_t dst = addr_of(&f->b, family), src = addr_of(&f->a, family);
    u8_t type = family == 4 ? IPADDR_TYPE_V4 : IPADDR_TYPE_V6;
    struct tcp_pcb *l = tcp_new_ip_type(type);

    memset(x, 0, sizeof *x);
    x->intact = true;
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
    assert_int_equal(tcp_bind(x->client, &src, (u16_t)(port + 1000)), ERR_OK);
    tcp_arg(x->client, x);
    tcp_sent(x->client, on_sent);
    tcp_err(x->client, on_client_err);
    assert_int_equal(tcp_connect(x->client, &dst, port, on_connected), ERR_OK);
}

static void xfer_stop(struct xfer *x)
{
    struct tcp_pcb *pcbs[2] = { x->client, x->server };
    for (int i = 0; i < 2; i++)
        if (pcbs[i]) {
            tcp_arg(pcbs[i], NULL);
            tcp_recv(pcbs[i], NULL);
            tcp_sent(pcbs[i], NULL);
            tcp_err(pcbs[i], NULL);
            tcp_abort(pcbs[i]);
        }
    tcp_close(x->listener);
}

static bool xfer_done(void *arg)
{
    struct xfer *x = arg;
    return x->received >= XFER || x->failed;
}

/* One transfer; returns b's GRO counters over it. */
static struct vole_gro_stats transfer(struct fixture *f, int family, u16_t port)
{
    struct vole_gro_stats before, after;
    struct xfer x;
    ev_tstamp t0;

    vole_stack_gro_stats(f->b.stack, &before);
    ev_now_update(f->loop);
    t0 = ev_now(f->loop);
    xfer_start(f, &x, family, port);
    assert_true(run_until(f->loop, xfer_done, &x, XFER_LIMIT));
    ev_now_update(f->loop);
    vole_stack_gro_stats(f->b.stack, &after);
    assert_false(x.failed);
    assert_int_equal(x.received, XFER);
    assert_true(x.intact);
    xfer_stop(&x);
    after.merged -= before.merged;
    after.delivered -= before.delivered;
    after.passed -= before.passed;
    fprintf(stderr, "  IPv%d %zu MiB in %.3f s; b merged %llu packets into %llu segments, passed %llu\n", family,
            XFER >> 20, ev_now(f->loop) - t0, (unsigned long long)after.merged,
            (unsigned long long)after.delivered, (unsigned long long)after.passed);
    return after;
}

static void test_gro_on(void **state)
{
    struct fixture *f = *state;

    introduce(f);
    for (int family = 4; family <= 6; family += 2) {
        struct vole_gro_stats st = transfer(f, family, (u16_t)(6000 + family));
        assert_true(st.merged > 0);
        assert_true(st.delivered > 0);
        assert_true(st.merged >= st.delivered);
    }
}

static void test_gro_off(void **state)
{
    struct fixture *f = *state;

    introduce(f);
    vole_stack_set_gro(f->a.stack, false);
    vole_stack_set_gro(f->b.stack, false);
    for (int family = 4; family <= 6; family += 2) {
        struct vole_gro_stats st = transfer(f, family, (u16_t)(6100 + family));
        assert_int_equal(st.merged, 0);
        assert_int_equal(st.delivered, 0);
        assert_int_equal(st.passed, 0);   /* with GRO off nothing enters it */
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_gro_on, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gro_off, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
