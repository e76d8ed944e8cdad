/* vole_stack_lower_mss (stack/tcp_mss.c): two vole stacks wired back to back
 * carry a TCP connection; after the MSS toward the peer is lowered, every
 * data segment on the wire respects it, including data queued before, and
 * the byte stream arrives intact. Issue #8: a TSO stack (vole_stack_set_tso)
 * talking to a plain one: its large segments reach the wire cut to its
 * max_packet with right checksums (checked here, both sides), and its MSS
 * is never lowered. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "lwip/priv/tcp_priv.h"
#include "lwip/tcp.h"

#include "stack/ipfrag.h"
#include "stack/stack.h"

#include "test/unit/bytes.h"

#define MTU 1420
#define PORT 8080
#define QUEUE_MAX 8192
#define STREAM_MAX ((size_t)512 * 1024)

/* ---- two stacks, back to back -------------------------------------------- */

struct wire;

struct side {
    struct wire *w;
    struct vole_stack *s;
    int idx;
};

struct wire {
    struct side side[2];
    /* packets in flight; to[i] is the index of the receiving side */
    uint8_t *pkt[QUEUE_MAX];
    size_t len[QUEUE_MAX];
    int to[QUEUE_MAX];
    size_t n;
    size_t max_payload[2];   /* largest TCP payload each side sent */
    size_t segments[2];
    size_t max_tcp[2];       /* largest TCP packet each side sent */
    size_t bad_csum;         /* TCP packets on the wire with a wrong checksum */
    size_t bad_ip_csum;      /* IPv4 headers with a wrong checksum */
    size_t dup_ids;          /* IPv4 data packets of side 0 whose ID an earlier one had */
    uint8_t id_seen[65536 / 8];
    bool raise_syn_to0;      /* raise the MSS of SYNs toward side 0, as tailnet/conn does */
    /* the server's accepted connection and what it received */
    struct tcp_pcb *accepted;
    uint8_t *got;
    size_t got_len;
};

static uint8_t pattern(size_t i) { return (uint8_t)(i * 13 + (i >> 9)); }

static size_t tcp_payload(const uint8_t *p, size_t len)
{
    size_t hl = (p[0] >> 4) == 4 ? (size_t)(p[0] & 15) * 4 : 40;
    uint8_t proto = (p[0] >> 4) == 4 ? p[9] : p[6];

    if (proto != 6 || len < hl + 20)
        return 0;
    return len - hl - (size_t)(p[hl + 12] >> 4) * 4;
}

/* TCP packets' size and checksum, independently of lwIP and stack/tso.c. */
static void check_tcp(struct wire *w, int idx, const uint8_t *p, size_t len)
{
    bool v4 = p[0] >> 4 == 4;
    size_t hl = v4 ? 20 : 40;
    uint32_t acc;

    if (len < hl + 20 || p[v4 ? 9 : 6] != 6)
        return;
    if (len > w->max_tcp[idx])
        w->max_tcp[idx] = len;
    if (v4 && fold(sum_bytes(p, 20, 0)) != 0)
        w->bad_ip_csum++;
    if (v4 && idx == 0 && tcp_payload(p, len) > 0) {
        uint16_t id = (uint16_t)(p[4] << 8 | p[5]);
        if (w->id_seen[id / 8] & (1u << (id % 8)))
            w->dup_ids++;
        w->id_seen[id / 8] |= (uint8_t)(1u << (id % 8));
    }
    acc = v4 ? sum_bytes(p + 12, 8, 0) : sum_bytes(p + 8, 32, 0);
    acc += 6 + (uint32_t)(len - hl);
    if (fold(sum_bytes(p + hl, len - hl, acc)) != 0)
        w->bad_csum++;
}

static int side_output(void *ctx, struct pbuf *p)
{
    struct side *sd = ctx;
    struct wire *w = sd->w;
    size_t pl;

    assert_true(w->n < QUEUE_MAX);
    w->pkt[w->n] = malloc(p->tot_len);
    assert_non_null(w->pkt[w->n]);
    assert_int_equal(pbuf_copy_partial(p, w->pkt[w->n], p->tot_len, 0), p->tot_len);
    w->len[w->n] = p->tot_len;
    w->to[w->n] = 1 - sd->idx;
    if (w->raise_syn_to0 && sd->idx == 1)
        vole_tcp_set_mss(w->pkt[w->n], p->tot_len, TCP_MSS, NULL);
    check_tcp(w, sd->idx, w->pkt[w->n], p->tot_len);
    pl = tcp_payload(w->pkt[w->n], p->tot_len);
    if (pl > w->max_payload[sd->idx])
        w->max_payload[sd->idx] = pl;
    if (pl)
        w->segments[sd->idx]++;
    w->n++;
    return ERR_OK;
}

static void add_stack(struct wire *w, int idx, const char *v4, const char *v6)
{
    struct vole_stack_addr a[2] = { { .family = 4, .prefix = 32 }, { .family = 6, .prefix = 128 } };
    struct vole_stack_ops ops = { .ctx = &w->side[idx], .output = side_output };
    char err[256] = "";

    inet_pton(AF_INET, v4, a[0].addr);
    inet_pton(AF_INET6, v6, a[1].addr);
    w->side[idx].w = w;
    w->side[idx].idx = idx;
    w->side[idx].s = vole_stack_new(ev_default_loop(0), MTU, a, 2, &ops, err, sizeof err);
    if (!w->side[idx].s)
        fail_msg("vole_stack_new: %s", err);
}

/* Delivers the packets in flight; what they cause waits for the next call. */
static bool deliver(struct wire *w)
{
    size_t n = w->n;
    uint8_t *pkt[QUEUE_MAX];
    size_t len[QUEUE_MAX];
    int to[QUEUE_MAX];

    if (!n)
        return false;
    memcpy(pkt, w->pkt, n * sizeof *pkt);
    memcpy(len, w->len, n * sizeof *len);
    memcpy(to, w->to, n * sizeof *to);
    w->n = 0;
    for (size_t i = 0; i < n; i++) {
        struct pbuf *p = vole_stack_rx_alloc(len[i]);
        assert_non_null(p);
        memcpy(p->payload, pkt[i], len[i]);
        free(pkt[i]);
        vole_stack_input(w->side[to[i]].s, p);
    }
    return true;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Moves packets and runs lwIP's timers until done(w), for at most secs. */
static void run_until(struct wire *w, bool (*done)(struct wire *), double secs)
{
    double deadline = now_s() + secs;

    for (long round = 0; round < 1000000 && now_s() < deadline; round++) {
        bool moved = deliver(w);
        ev_run(ev_default_loop(0), EVRUN_NOWAIT);
        if (done(w))
            return;
        if (!moved)
            usleep(200);
    }
    fail_msg("timed out");
}

/* ---- the connection ------------------------------------------------------ */

static err_t on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    struct wire *w = arg;
    (void)err;

    if (!p)
        return ERR_OK;
    assert_true(w->got_len + p->tot_len <= STREAM_MAX);
    pbuf_copy_partial(p, w->got + w->got_len, p->tot_len, 0);
    w->got_len += p->tot_len;
    tcp_recved(pcb, p->tot_len);
    pbuf_free(p);
    return ERR_OK;
}

static err_t on_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
    struct wire *w = arg;

    assert_int_equal(err, ERR_OK);
    w->accepted = pcb;
    tcp_arg(pcb, w);
    tcp_recv(pcb, on_recv);
    return ERR_OK;
}

static err_t on_connected(void *arg, struct tcp_pcb *pcb, err_t err)
{
    (void)arg; (void)pcb;
    assert_int_equal(err, ERR_OK);
    return ERR_OK;
}

static bool established(struct wire *w)
{
    return w->accepted && w->accepted->state == ESTABLISHED;
}

static bool drained(struct wire *w)
{
    return w->n == 0;
}

static size_t want_len;
static bool all_received(struct wire *w)
{
    return w->got_len >= want_len;
}

/* Side 1 listens; side 0 connects to it; returns side 0's pcb. */
static struct tcp_pcb *connect_pair(struct wire *w, const char *dst, struct tcp_pcb **listener)
{
    ip_addr_t addr;
    struct tcp_pcb *l, *c;
    u8_t type;

    assert_true(ipaddr_aton(dst, &addr));
    type = IP_IS_V6(&addr) ? IPADDR_TYPE_V6 : IPADDR_TYPE_V4;
    l = tcp_new_ip_type(type);
    assert_non_null(l);
    tcp_bind_netif(l, vole_stack_netif(w->side[1].s));
    assert_int_equal(tcp_bind(l, &addr, PORT), ERR_OK);
    l = tcp_listen(l);
    assert_non_null(l);
    tcp_arg(l, w);
    tcp_accept(l, on_accept);
    *listener = l;

    c = tcp_new_ip_type(type);
    assert_non_null(c);
    tcp_bind_netif(c, vole_stack_netif(w->side[0].s));
    assert_int_equal(tcp_connect(c, &addr, PORT, on_connected), ERR_OK);
    run_until(w, established, 5);
    return c;
}

static void send_pattern(struct tcp_pcb *c, size_t from, size_t n, bool output)
{
    static uint8_t buf[STREAM_MAX];

    for (size_t i = 0; i < n; i++)
        buf[i] = pattern(from + i);
    assert_int_equal(tcp_write(c, buf, (u16_t)n, TCP_WRITE_FLAG_COPY), ERR_OK);
    if (output)
        assert_int_equal(tcp_output(c), ERR_OK);
}

static void check_stream(const struct wire *w, size_t n)
{
    assert_int_equal(w->got_len, n);
    for (size_t i = 0; i < n; i++)
        if (w->got[i] != pattern(i))
            fail_msg("byte %zu: %u, want %u", i, w->got[i], pattern(i));
}

static int setup(void **state)
{
    struct wire *w = calloc(1, sizeof *w);

    assert_non_null(w);
    w->got = malloc(STREAM_MAX);
    assert_non_null(w->got);
    add_stack(w, 0, "10.7.0.1", "fd00::1");
    add_stack(w, 1, "10.7.0.2", "fd00::2");
    *state = w;
    return 0;
}

static int teardown(void **state)
{
    struct wire *w = *state;

    vole_stack_free(w->side[0].s);
    vole_stack_free(w->side[1].s);
    while (w->n)
        free(w->pkt[--w->n]);
    free(w->got);
    free(w);
    return 0;
}

/* The whole story for one family: established at the MTU's MSS; data queued
 * at that size; the MSS lowered; all of it crosses in smaller segments. */
static void lower_and_send(struct wire *w, const char *local, const char *remote, uint16_t want_mss)
{
    struct tcp_pcb *listener, *c = connect_pair(w, remote, &listener);
    ip_addr_t peer, self;
    size_t sent = 0;

    assert_true(ipaddr_aton(remote, &peer));
    assert_true(ipaddr_aton(local, &self));
    assert_int_equal(c->mss, want_mss);

    /* Big segments are sent at the negotiated size. */
    send_pattern(c, sent, 20000, true);
    sent += 20000;
    want_len = sent;
    run_until(w, all_received, 5);
    assert_int_equal(w->max_payload[0], want_mss);

    /* Queued, not yet sent: a full segment and a partial one with room left. */
    send_pattern(c, sent, 3000, false);
    sent += 3000;
    send_pattern(c, sent, 100, false);
    sent += 100;
    assert_non_null(c->unsent);

    /* Only this stack's connection to that peer, and never upwards. */
    assert_int_equal(vole_stack_lower_mss(w->side[0].s, &self, 500), 0);
    assert_int_equal(vole_stack_lower_mss(w->side[1].s, &peer, 500), 0);
    assert_int_equal(vole_stack_lower_mss(w->side[0].s, &peer, 1000), 1);
    assert_int_equal(c->mss, 1000);
    assert_int_equal(w->accepted->mss, want_mss);
    assert_int_equal(vole_stack_lower_mss(w->side[0].s, &peer, 1200), 0);
    assert_int_equal(c->mss, 1000);
    assert_int_equal(vole_stack_lower_mss(w->side[0].s, &peer, 1000), 0);
    for (struct tcp_seg *seg = c->unsent; seg; seg = seg->next)
        assert_true(seg->len <= 1000);

    /* Appending to the partial tail must respect the new size (lwIP asserts). */
    w->max_payload[0] = 0;
    w->segments[0] = 0;
    send_pattern(c, sent, 30000, true);
    sent += 30000;
    want_len = sent;
    run_until(w, all_received, 5);
    assert_int_equal(w->max_payload[0], 1000);
    assert_true(w->segments[0] >= 33100 / 1000);
    check_stream(w, sent);

    /* The other direction is the other stack's business. */
    assert_int_equal(vole_stack_lower_mss(w->side[1].s, &self, 700), 1);
    assert_int_equal(w->accepted->mss, 700);
    assert_int_equal(c->mss, 1000);

    tcp_abort(c);   /* the peer's pcb goes with the RST */
    w->accepted = NULL;
    tcp_close(listener);
    run_until(w, drained, 5);
}

static void test_lower_mss_v4(void **state)
{
    struct wire *w = *state;

    lower_and_send(w, "10.7.0.1", "10.7.0.2", MTU - 40);
}

static void test_lower_mss_v6(void **state)
{
    struct wire *w = *state;

    lower_and_send(w, "fd00::1", "fd00::2", MTU - 60);
}

/* A tiny MSS is floored (segments of options only would follow), and
 * missing arguments change nothing. */
static void test_lower_mss_edges(void **state)
{
    struct wire *w = *state;
    struct tcp_pcb *listener, *c = connect_pair(w, "10.7.0.2", &listener);
    ip_addr_t peer;

    assert_true(ipaddr_aton("10.7.0.2", &peer));
    assert_int_equal(vole_stack_lower_mss(NULL, &peer, 500), 0);
    assert_int_equal(vole_stack_lower_mss(w->side[0].s, NULL, 500), 0);
    assert_int_equal(vole_stack_lower_mss(w->side[0].s, &peer, 0), 1);
    assert_int_equal(c->mss, 64);
    send_pattern(c, 0, 1000, true);
    want_len = 1000;
    run_until(w, all_received, 5);
    check_stream(w, 1000);
    tcp_abort(c);
    w->accepted = NULL;
    tcp_close(listener);
    run_until(w, drained, 5);
}

static uint16_t max_576(void *ctx, const struct pbuf *p)
{
    (void)ctx;
    (void)p;
    return 576;
}

/* Side 0 does TSO toward a plain side 1 that never heard of it. */
static void tso_to_plain(struct wire *w, const char *remote, uint16_t hdr)
{
    struct tcp_pcb *listener, *c;
    ip_addr_t peer;
    struct vole_stack_tso_stats ts;
    size_t sent = 0;

    vole_stack_set_tso(w->side[0].s, max_576, NULL);
    assert_int_equal(vole_stack_netif(w->side[0].s)->mtu, VOLE_STACK_TSO_MTU);
    /* lwIP sizes a connection's MSS by the netif its route to the remote
     * address takes, and with both stacks in one lwIP that is the peer's:
     * side 1 gets a large MTU too (still a plain stack: lwIP's checksums,
     * nothing cut). */
    vole_stack_set_mtu(w->side[1].s, VOLE_STACK_TSO_MTU);
    w->raise_syn_to0 = true;
    c = connect_pair(w, remote, &listener);
    assert_true(ipaddr_aton(remote, &peer));
    assert_int_equal(c->mss, TCP_MSS);                 /* lwIP's segments: large */
    while (sent < 300000) {
        send_pattern(c, sent, 50000, true);
        sent += 50000;
    }
    want_len = sent;
    run_until(w, all_received, 10);
    check_stream(w, sent);
    assert_true(w->max_payload[0] > 400);
    assert_int_equal(w->max_tcp[0], 576);              /* ...cut to max_packet on the wire */
    assert_true(w->segments[0] >= sent / (576 - hdr));
    assert_true(w->max_tcp[1] <= hdr + 12u);          /* the SYN-ACK and pure ACKs back */
    assert_int_equal(w->bad_csum, 0);
    assert_int_equal(w->bad_ip_csum, 0);
    assert_int_equal(w->dup_ids, 0);                   /* consecutive segments' pieces: fresh IDs */
    vole_stack_tso_stats(w->side[0].s, &ts);
    assert_true(ts.cut > 0 && ts.pieces >= ts.cut * (TCP_MSS / 576));
    assert_true(ts.tcp_out >= ts.cut);
    /* A TSO stack's MSS is never lowered: the cut follows max_packet. */
    assert_int_equal(vole_stack_lower_mss(w->side[0].s, &peer, 500), 0);
    assert_int_equal(c->mss, TCP_MSS);

    tcp_abort(c);
    w->accepted = NULL;
    tcp_close(listener);
    run_until(w, drained, 5);
    vole_stack_set_tso(w->side[0].s, NULL, NULL);
    assert_int_equal(vole_stack_netif(w->side[0].s)->mtu, MTU);
    vole_stack_set_mtu(w->side[1].s, MTU);
}

static void test_tso_to_plain_v4(void **state) { tso_to_plain(*state, "10.7.0.2", 40); }
static void test_tso_to_plain_v6(void **state) { tso_to_plain(*state, "fd00::2", 60); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lower_mss_v4, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lower_mss_v6, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lower_mss_edges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tso_to_plain_v4, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tso_to_plain_v6, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
