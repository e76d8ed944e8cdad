/* Issue #7, inner fragmentation end to end in one process: an agent and a
 * client node of the in-process tailnet exchange a 60 KiB UDP datagram
 * (raw lwIP UDP pcbs on each node's stack; the agent echoes it back) and a
 * 4000-byte ICMP echo, over the IPv4 and the IPv6 overlay addresses. Each is
 * dozens of fragments through WireGuard, reassembled by the receiving stack. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <ev.h>

#include "evloop.h"
#include "lwip/ip_addr.h"
#include "lwip/udp.h"
#include "stack/ping.h"
#include "stack/stack.h"
#include "tailnet/node.h"
#include "tailnet_fixture.h"

#define UDP_PORT 9000
#define BIG_LEN 61440u      /* 60 KiB */
#define PING_LEN 4000u
#define ATTEMPTS 10         /* sends, one per second until an answer */

struct watch {
    struct tn_node n;   /* first: the ctx of tn_log and tn_on_peer */
    int n_fatal;
};

static void w_ready(void *ctx, const struct coord_node *self)
{
    struct watch *w = ctx;
    assert_true(self->has_v4 && self->has_v6);
    w->n.ready = true;
}

static void w_fatal(void *ctx, const char *why)
{
    struct watch *w = ctx;
    (void)why;
    w->n_fatal++;
}

static struct ev_loop *ev(void)
{
    return ev_default_loop(0);
}

static struct vole_tailnet *node_new(struct watch *w, const struct tn_server *srv, const char *who,
                                     const char *name, const char *token)
{
    struct vole_tailnet_ops ops = { .ctx = w, .on_ready = w_ready, .on_peer = tn_on_peer, .on_fatal = w_fatal };
    return tn_node_new(&w->n, ev(), srv, who, name, token, false, &ops);
}

struct pair {
    struct watch *agent, *client;
};

static bool met(void *arg)
{
    struct pair *p = arg;
    return tn_met(&p->agent->n, &p->client->n);
}

/* ---- the 60 KiB datagram -------------------------------------------------- */

static uint8_t pattern(size_t i) { return (uint8_t)(i * 31 + (i >> 10)); }

/* One side's UDP endpoint: the agent's echoes every whole datagram back. */
struct udp_end {
    struct udp_pcb *pcb;
    bool echo;
    size_t whole, broken;   /* datagrams received intact / not */
};

static bool intact(const struct pbuf *p)
{
    if (p->tot_len != BIG_LEN)
        return false;
    for (u16_t i = 0; i < p->tot_len; i++)
        if (pbuf_get_at(p, i) != pattern(i))
            return false;
    return true;
}

static void on_udp(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *addr, u16_t port)
{
    struct udp_end *e = arg;

    if (intact(p)) {
        e->whole++;
        if (e->echo)
            assert_int_equal(udp_sendto(pcb, p, addr, port), ERR_OK);
    } else {
        e->broken++;
    }
    pbuf_free(p);
}

static void udp_end_open(struct udp_end *e, struct vole_stack *s, const ip_addr_t *type_of, bool echo)
{
    e->pcb = udp_new_ip_type(IP_IS_V6(type_of) ? IPADDR_TYPE_V6 : IPADDR_TYPE_V4);
    assert_non_null(e->pcb);
    /* Both stacks share the process's lwIP: the pcb speaks through its own. */
    udp_bind_netif(e->pcb, vole_stack_netif(s));
    assert_int_equal(udp_bind(e->pcb, IP_IS_V6(type_of) ? IP6_ADDR_ANY : IP4_ADDR_ANY,
                              echo ? UDP_PORT : 0), ERR_OK);
    e->echo = echo;
    udp_recv(e->pcb, on_udp, e);
}

/* Counts the fragments a stack sends into the tunnel (tap), to be sure the
 * datagrams really crossed in pieces. */
struct frag_count {
    size_t fragments;
    size_t largest;
};

static void count_out(void *ctx, const struct pbuf *p, bool out)
{
    struct frag_count *fc = ctx;
    uint8_t h[8];

    if (!out || pbuf_copy_partial(p, h, sizeof h, 0) != sizeof h)
        return;
    if ((h[0] >> 4) == 4 ? (h[6] & 0x3F) || h[7] : h[6] == 44)   /* MF or offset; Fragment header */
        fc->fragments++;
    if (p->tot_len > fc->largest)
        fc->largest = p->tot_len;
}

static bool got_echo(void *arg)
{
    return ((struct udp_end *)arg)->whole > 0;
}

static void send_big(struct udp_end *e, const ip_addr_t *dst)
{
    struct pbuf *p = pbuf_alloc(PBUF_TRANSPORT, BIG_LEN, PBUF_RAM);

    assert_non_null(p);
    for (u16_t i = 0; i < BIG_LEN; i++)
        ((uint8_t *)p->payload)[i] = pattern(i);
    assert_int_equal(udp_sendto(e->pcb, p, dst, UDP_PORT), ERR_OK);
    pbuf_free(p);
}

static void datagram_both_ways(struct pair *pr, const ip_addr_t *agent_addr)
{
    struct udp_end a = { 0 }, c = { 0 };
    struct frag_count sent = { 0 };
    struct vole_stack *cs = vole_tailnet_stack(pr->client->n.t);
    int tries = 0;
    char dst[64];

    vole_stack_set_tap(cs, count_out, &sent);
    udp_end_open(&a, vole_tailnet_stack(pr->agent->n.t), agent_addr, true);
    udp_end_open(&c, vole_tailnet_stack(pr->client->n.t), agent_addr, false);
    /* The first datagram may meet a tunnel still shaking hands: resend. */
    while (!c.whole && tries++ < ATTEMPTS) {
        send_big(&c, agent_addr);
        run_until(ev(), got_echo, &c, 1);
    }
    ipaddr_ntoa_r(agent_addr, dst, sizeof dst);
    if (!c.whole)
        fail_msg("no 60 KiB echo from %s in %d tries: agent got %zu whole, %zu broken", dst, ATTEMPTS,
                 a.whole, a.broken);
    assert_true(a.whole >= 1);
    assert_int_equal(a.broken + c.broken, 0);
    vole_stack_set_tap(cs, NULL, NULL);
    assert_true(sent.fragments >= BIG_LEN / vole_stack_netif(cs)->mtu);
    assert_true(sent.largest <= vole_stack_netif(cs)->mtu);
    udp_remove(a.pcb);
    udp_remove(c.pcb);
}

/* ---- the 4000-byte ping ---------------------------------------------------- */

struct pong {
    size_t replies;
    size_t payload_len;
};

static void on_reply(void *ctx, uint16_t seq, size_t payload_len, uint64_t rtt_ns)
{
    struct pong *pg = ctx;
    (void)seq; (void)rtt_ns;
    pg->replies++;
    pg->payload_len = payload_len;
}

static bool got_pong(void *arg)
{
    return ((struct pong *)arg)->replies > 0;
}

static void big_ping(struct pair *pr, const ip_addr_t *agent_addr)
{
    struct pong pong = { 0 };
    struct vole_pinger *pg = vole_pinger_new(vole_tailnet_stack(pr->client->n.t), agent_addr, on_reply, &pong);
    char dst[64];

    assert_non_null(pg);
    for (uint16_t seq = 1; !pong.replies && seq <= ATTEMPTS; seq++) {
        assert_int_equal(vole_pinger_send(pg, seq, PING_LEN), 0);
        run_until(ev(), got_pong, &pong, 1);
    }
    ipaddr_ntoa_r(agent_addr, dst, sizeof dst);
    if (!pong.replies)
        fail_msg("no reply to a %u-byte ping of %s", PING_LEN, dst);
    assert_int_equal(pong.payload_len, PING_LEN);
    vole_pinger_free(pg);
}

/* ---- the test ------------------------------------------------------------------ */

static void agent_addrs(const struct watch *agent, ip_addr_t *v4, ip_addr_t *v6)
{
    const struct coord_node *self = vole_tailnet_self(agent->n.t);

    IP_ADDR4(v4, self->v4[0], self->v4[1], self->v4[2], self->v4[3]);
    ip_addr_set_zero_ip6(v6);
    memcpy(ip_2_ip6(v6)->addr, self->v6, 16);
}

static void test_fragments_cross_the_tunnel(void **state)
{
    struct tn_server srv;
    struct watch *agent = calloc(1, sizeof *agent), *client = calloc(1, sizeof *client);
    struct pair pr = { agent, client };
    ip_addr_t v4, v6;
    (void)state;

    assert_non_null(agent);
    assert_non_null(client);
    tn_server_start(&srv, ev(), "/tmp/vole-frag-XXXXXX");
    node_new(agent, &srv, "agent", "dev", TN_AGENT_TOKEN);
    node_new(client, &srv, "client", NULL, TN_CLIENT_TOKEN);
    assert_int_equal(vole_tailnet_add_tunnel(client->n.t, "dev"), 0);
    if (!run_until(ev(), met, &pr, 15))
        fail_msg("nodes did not meet\nagent log:\n%sclient log:\n%s", agent->n.log, client->n.log);
    assert_int_equal(agent->n_fatal + client->n_fatal, 0);
    agent_addrs(agent, &v4, &v6);

    datagram_both_ways(&pr, &v4);
    datagram_both_ways(&pr, &v6);
    big_ping(&pr, &v4);
    big_ping(&pr, &v6);

    vole_tailnet_free(client->n.t);
    vole_tailnet_free(agent->n.t);
    tn_server_stop(&srv);
    free(agent);
    free(client);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fragments_cross_the_tunnel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
