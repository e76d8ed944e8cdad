/* A TCP transfer between the two nodes of conn_fixture.h, over lwIP's raw
 * API: a's client writes a pattern, b's server checks every byte. For
 * test_conn_pmtu.c and test_conn_gro.c. Define XFER (the bytes a transfer
 * sends unless the test sets x->total after xfer_start) before including;
 * include after conn_fixture.h. */
#ifndef VOLE_TEST_CONN_XFER_H
#define VOLE_TEST_CONN_XFER_H

#include "lwip/tcp.h"

#ifndef XFER
#error "define XFER before including conn_xfer.h"
#endif

#define XFER_CHUNK 16384

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

static uint8_t pattern(size_t i) { return (uint8_t)(i % 251); }

struct xfer {
    struct tcp_pcb *listener, *server, *client;
    size_t sent, received;
    size_t cap;                 /* the client writes no further for now (0: all of total) */
    size_t total;               /* XFER unless a test says otherwise */
    bool intact, connected, failed;
};

/* Large writes marked "more" except the last, as a bulk sender's are: PSH
 * only at the end, so GRO's runs are ended by the batch, not the writer. */
static void fill(struct xfer *x)
{
    uint8_t buf[XFER_CHUNK];
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
        if (tcp_write(x->client, buf, (u16_t)n,
                      TCP_WRITE_FLAG_COPY | (x->sent + n < x->total ? TCP_WRITE_FLAG_MORE : 0)) != ERR_OK)
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
    if (!x->connected)
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

/* b listens on port, a connects from port + 1000 (an explicit local port:
 * these tests are not about lwIP's ephemeral ports, whose first-connection
 * overflow stack/runtime.c steps over). */
static void xfer_start(struct fixture *f, struct xfer *x, int family, u16_t port)
{
    ip_addr_t dst = addr_of(&f->b, family), src = addr_of(&f->a, family);
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
    tcp_arg(x->listener, NULL);
    tcp_close(x->listener);
}

static bool xfer_done(void *arg)
{
    struct xfer *x = arg;
    return x->received >= x->total || x->failed;
}

#endif
