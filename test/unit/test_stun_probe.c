/* The STUN prober on simulated time: what it sends when, which answers it
 * takes, and the netcheck determinations (tailscale-wire.md §4.2). Answers
 * are built by the codec's own server side from the requests it emitted. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test/unit/endpoints.h"

#include <sodium.h>
#include <string.h>

#include "stun/probe.h"

#define MS 1000000ull
#define T0 (5000 * MS)   /* not 0: the prober must not assume a zero epoch */

struct sent {
    struct wg_endpoint dst;
    uint8_t buf[STUN_REQUEST_LEN];
    size_t len;
};

struct net {
    struct stun_prober p;
    struct sent sent[64];
    size_t n_sent;
};

static void capture(void *ctx, const struct wg_endpoint *dst, const uint8_t *buf, size_t len)
{
    struct net *n = ctx;
    assert_true(n->n_sent < sizeof n->sent / sizeof n->sent[0]);
    assert_int_equal(len, STUN_REQUEST_LEN);
    n->sent[n->n_sent].dst = *dst;
    memcpy(n->sent[n->n_sent].buf, buf, len);
    n->sent[n->n_sent].len = len;
    n->n_sent++;
}

static void poll_at(struct net *n, uint64_t now)
{
    stun_prober_poll(&n->p, now, capture, n);
}

static void start(struct net *n, const struct wg_endpoint *servers, size_t count)
{
    struct stun_probe_target t[8];
    memset(n, 0, sizeof *n);
    for (size_t i = 0; i < count; i++)
        t[i] = (struct stun_probe_target){ .name = "server", .ep = servers[i] };
    assert_int_equal(stun_prober_init(&n->p, t, count, T0), 0);
    poll_at(n, T0);
    assert_int_equal(n->n_sent, count);
}

/* The server's answer to request k, claiming it saw us as `mapped`. */
static size_t answer(const struct net *n, size_t k, const struct wg_endpoint *mapped, uint8_t out[STUN_MAX_RESPONSE])
{
    struct stun_request req;
    assert_true(k < n->n_sent);
    assert_int_equal(stun_parse_request(n->sent[k].buf, n->sent[k].len, &req), STUN_OK);
    size_t len = stun_build_success(out, STUN_MAX_RESPONSE, &req, mapped);
    assert_true(len > 0);
    return len;
}

/* Deliver the answer to request k at time now; returns what handle said. */
static bool deliver(struct net *n, size_t k, const struct wg_endpoint *mapped, uint64_t now)
{
    uint8_t out[STUN_MAX_RESPONSE];
    size_t len = answer(n, k, mapped, out);
    return stun_prober_handle(&n->p, &n->sent[k].dst, out, len, now);
}

static const struct stun_report *rep(const struct net *n)
{
    return stun_prober_report(&n->p);
}

/* ---- timing ---- */

static void test_retransmits_at_100_then_200_ms(void **state)
{
    struct wg_endpoint s = ep4(198, 18, 1, 1, 3478);
    struct net n;
    (void)state;

    start(&n, &s, 1);
    assert_int_equal(stun_prober_deadline(&n.p), T0 + 100 * MS);
    poll_at(&n, T0 + 100 * MS - 1);
    assert_int_equal(n.n_sent, 1);
    poll_at(&n, T0 + 100 * MS);
    assert_int_equal(n.n_sent, 2);
    assert_int_equal(stun_prober_deadline(&n.p), T0 + 300 * MS);
    poll_at(&n, T0 + 300 * MS - 1);
    assert_int_equal(n.n_sent, 2);
    poll_at(&n, T0 + 300 * MS);
    assert_int_equal(n.n_sent, 3);
    /* Three tries in all; then only the end of the phase is left. */
    assert_int_equal(stun_prober_deadline(&n.p), T0 + STUN_PROBER_PHASE_NS);
    poll_at(&n, T0 + 2999 * MS);
    assert_int_equal(n.n_sent, 3);
    for (size_t i = 0; i < 3; i++)
        assert_true(wg_endpoint_equal(&n.sent[i].dst, &s));
    /* Each send has its own transaction id (bytes 8..20). */
    assert_memory_not_equal(n.sent[0].buf + 8, n.sent[1].buf + 8, STUN_TXID_LEN);
    assert_memory_not_equal(n.sent[1].buf + 8, n.sent[2].buf + 8, STUN_TXID_LEN);
}

static void test_late_poll_keeps_spacing(void **state)
{
    struct wg_endpoint s = ep4(198, 18, 1, 1, 3478);
    struct net n;
    (void)state;

    start(&n, &s, 1);
    poll_at(&n, T0 + 250 * MS);   /* the loop was busy: one retry, not two */
    assert_int_equal(n.n_sent, 2);
    assert_int_equal(stun_prober_deadline(&n.p), T0 + 450 * MS);
}

static void test_phase_ends_at_3s(void **state)
{
    struct wg_endpoint s = ep4(198, 18, 1, 1, 3478);
    struct net n;
    (void)state;

    start(&n, &s, 1);
    poll_at(&n, T0 + 100 * MS);
    poll_at(&n, T0 + 300 * MS);
    assert_false(stun_prober_done(&n.p, T0 + STUN_PROBER_PHASE_NS - 1));
    assert_true(stun_prober_done(&n.p, T0 + STUN_PROBER_PHASE_NS));
    /* An answer after the phase is consumed but changes nothing. */
    struct wg_endpoint m = ep4(198, 18, 0, 10, 41641);
    assert_true(deliver(&n, 0, &m, T0 + STUN_PROBER_PHASE_NS + MS));
    assert_false(rep(&n)->udp);
    assert_false(rep(&n)->servers[0].answered);
}

static void test_nothing_sent_after_phase(void **state)
{
    struct wg_endpoint s = ep4(198, 18, 1, 1, 3478);
    struct stun_probe_target t = { .name = "x", .ep = s };
    struct net n;
    (void)state;

    memset(&n, 0, sizeof n);
    assert_int_equal(stun_prober_init(&n.p, &t, 1, T0), 0);
    poll_at(&n, T0 + STUN_PROBER_PHASE_NS);
    assert_int_equal(n.n_sent, 0);
}

static void test_udp_false_when_nothing_answers(void **state)
{
    struct wg_endpoint s[2] = { ep4(198, 18, 1, 1, 3478), ep4(198, 18, 2, 1, 3478) };
    struct net n;
    (void)state;

    start(&n, s, 2);
    poll_at(&n, T0 + 100 * MS);
    poll_at(&n, T0 + 300 * MS);
    assert_int_equal(n.n_sent, 6);
    assert_true(stun_prober_done(&n.p, T0 + STUN_PROBER_PHASE_NS));
    const struct stun_report *r = rep(&n);
    assert_false(r->udp);
    assert_false(r->ipv4);
    assert_false(r->ipv6);
    assert_int_equal(r->global_v4.family, 0);
    assert_int_equal(r->mapping_varies_by_dest_ip, STUN_UNKNOWN);
    for (size_t i = 0; i < 2; i++) {
        assert_false(r->servers[i].answered);
        assert_int_equal(r->servers[i].error, STUN_PROBE_TIMED_OUT);
    }
}

static void test_done_early_when_all_answered(void **state)
{
    struct wg_endpoint s[2] = { ep4(198, 18, 1, 1, 3478), ep4(198, 18, 2, 1, 3478) };
    struct wg_endpoint m = ep4(198, 18, 0, 10, 41641);
    struct net n;
    (void)state;

    start(&n, s, 2);
    assert_true(deliver(&n, 0, &m, T0 + 5 * MS));
    assert_false(stun_prober_done(&n.p, T0 + 5 * MS));
    assert_true(deliver(&n, 1, &m, T0 + 8 * MS));
    assert_true(stun_prober_done(&n.p, T0 + 8 * MS));
    poll_at(&n, T0 + 100 * MS);
    assert_int_equal(n.n_sent, 2);   /* no retransmission to answered servers */
}

/* ---- matching and latency ---- */

static void test_latency_of_first_try(void **state)
{
    struct wg_endpoint s = ep4(198, 18, 1, 1, 3478), m = ep4(198, 18, 0, 10, 41641);
    struct net n;
    (void)state;

    start(&n, &s, 1);
    assert_true(deliver(&n, 0, &m, T0 + 25 * MS));
    const struct stun_server_result *r = &rep(&n)->servers[0];
    assert_true(r->answered);
    assert_int_equal(r->error, STUN_PROBE_OK);
    assert_int_equal(r->latency_ns, 25 * MS);
    assert_true(wg_endpoint_equal(&r->mapped, &m));
}

/* Latency counts from the send that was answered, not the first one. */
static void test_latency_of_retransmission(void **state)
{
    struct wg_endpoint s = ep4(198, 18, 1, 1, 3478), m = ep4(198, 18, 0, 10, 41641);
    struct net n;
    (void)state;

    start(&n, &s, 1);
    poll_at(&n, T0 + 100 * MS);
    assert_true(deliver(&n, 1, &m, T0 + 107 * MS));
    assert_int_equal(rep(&n)->servers[0].latency_ns, 7 * MS);
    /* The first try's late answer is ours too, but the result stands. */
    assert_true(deliver(&n, 0, &m, T0 + 120 * MS));
    assert_int_equal(rep(&n)->servers[0].latency_ns, 7 * MS);
}

static void test_txid_mismatch_ignored(void **state)
{
    struct wg_endpoint s = ep4(198, 18, 1, 1, 3478), m = ep4(198, 18, 0, 10, 41641);
    struct net n;
    uint8_t out[STUN_MAX_RESPONSE];
    (void)state;

    start(&n, &s, 1);
    size_t len = answer(&n, 0, &m, out);
    out[19] ^= 0x01;   /* last txid byte */
    assert_false(stun_prober_handle(&n.p, &s, out, len, T0 + 5 * MS));
    assert_false(rep(&n)->udp);
    assert_false(rep(&n)->servers[0].answered);
    /* Not STUN at all (a WireGuard handshake initiation's first bytes). */
    static const uint8_t wg[32] = { 1, 0, 0, 0 };
    assert_false(stun_prober_handle(&n.p, &s, wg, sizeof wg, T0 + 5 * MS));
}

/* The answer may come from any address: the txid is the match. */
static void test_answer_from_other_source(void **state)
{
    struct wg_endpoint s = ep4(198, 18, 1, 1, 3478), other = ep4(198, 18, 9, 9, 9999);
    struct wg_endpoint m = ep4(198, 18, 0, 10, 41641);
    struct net n;
    uint8_t out[STUN_MAX_RESPONSE];
    (void)state;

    start(&n, &s, 1);
    size_t len = answer(&n, 0, &m, out);
    assert_true(stun_prober_handle(&n.p, &other, out, len, T0 + 3 * MS));
    assert_true(rep(&n)->servers[0].answered);
}

static void test_bad_response_consumed_and_reported(void **state)
{
    struct wg_endpoint s = ep4(198, 18, 1, 1, 3478);
    struct net n;
    struct stun_request req;
    uint8_t out[STUN_MAX_RESPONSE];
    (void)state;

    start(&n, &s, 1);
    assert_int_equal(stun_parse_request(n.sent[0].buf, n.sent[0].len, &req), STUN_OK);
    size_t len = stun_build_error_420(out, sizeof out, &req);
    assert_true(len > 0);
    assert_true(stun_prober_handle(&n.p, &s, out, len, T0 + 4 * MS));
    const struct stun_report *r = rep(&n);
    assert_false(r->udp);
    assert_false(r->servers[0].answered);
    assert_int_equal(r->servers[0].error, STUN_PROBE_BAD_RESPONSE);
    assert_int_not_equal(r->servers[0].bad_status, STUN_OK);
    /* Retries go on: a later good answer still counts. */
    poll_at(&n, T0 + 100 * MS);
    struct wg_endpoint m = ep4(198, 18, 0, 10, 41641);
    assert_true(deliver(&n, 1, &m, T0 + 110 * MS));
    assert_int_equal(rep(&n)->servers[0].error, STUN_PROBE_OK);
}

/* ---- determinations ---- */

static void test_mapping_same_from_two_servers(void **state)
{
    struct wg_endpoint s[2] = { ep4(198, 18, 1, 1, 3478), ep4(198, 18, 2, 1, 3478) };
    struct wg_endpoint m = ep4(198, 18, 0, 10, 41641);
    struct net n;
    (void)state;

    start(&n, s, 2);
    assert_true(deliver(&n, 0, &m, T0 + 2 * MS));
    assert_int_equal(rep(&n)->mapping_varies_by_dest_ip, STUN_UNKNOWN);
    assert_true(deliver(&n, 1, &m, T0 + 3 * MS));
    const struct stun_report *r = rep(&n);
    assert_true(r->udp);
    assert_true(r->ipv4);
    assert_false(r->ipv6);
    assert_true(wg_endpoint_equal(&r->global_v4, &m));
    assert_int_equal(r->mapping_varies_by_dest_ip, STUN_NO);
}

static void test_mapping_differs_between_servers(void **state)
{
    struct wg_endpoint s[3] = { ep4(198, 18, 1, 1, 3478), ep4(198, 18, 2, 1, 3478), ep4(198, 18, 3, 1, 3478) };
    struct wg_endpoint m1 = ep4(198, 18, 0, 10, 41641), m2 = ep4(198, 18, 0, 10, 50000);
    struct net n;
    (void)state;

    start(&n, s, 3);
    assert_true(deliver(&n, 0, &m1, T0 + 2 * MS));
    assert_true(deliver(&n, 1, &m2, T0 + 3 * MS));
    assert_int_equal(rep(&n)->mapping_varies_by_dest_ip, STUN_YES);
    /* GlobalV4 is the first answer; an answer equal to it does not undo "yes". */
    assert_true(deliver(&n, 2, &m1, T0 + 4 * MS));
    assert_int_equal(rep(&n)->mapping_varies_by_dest_ip, STUN_YES);
    assert_true(wg_endpoint_equal(&rep(&n)->global_v4, &m1));
}

static void test_mapping_unknown_with_one_server(void **state)
{
    struct wg_endpoint s = ep4(198, 18, 1, 1, 3478), m = ep4(198, 18, 0, 10, 41641);
    struct net n;
    (void)state;

    start(&n, &s, 1);
    poll_at(&n, T0 + 100 * MS);
    assert_true(deliver(&n, 0, &m, T0 + 120 * MS));
    assert_true(deliver(&n, 1, &m, T0 + 121 * MS));   /* the same server twice proves nothing */
    assert_true(rep(&n)->udp);
    assert_int_equal(rep(&n)->mapping_varies_by_dest_ip, STUN_UNKNOWN);
}

static void test_ipv6_global(void **state)
{
    struct wg_endpoint s[2] = { ep6(1, 3478), ep6(2, 3478) };
    struct wg_endpoint m1 = ep6(0x10, 41641), m2 = ep6(0x11, 41641);
    struct net n;
    (void)state;

    start(&n, s, 2);
    assert_true(deliver(&n, 0, &m1, T0 + 2 * MS));
    assert_true(deliver(&n, 1, &m2, T0 + 3 * MS));
    const struct stun_report *r = rep(&n);
    assert_true(r->udp);
    assert_true(r->ipv6);
    assert_false(r->ipv4);
    assert_true(wg_endpoint_equal(&r->global_v6, &m1));   /* the first */
    assert_int_equal(r->global_v4.family, 0);
    /* IPv6 answers say nothing about the IPv4 NAT. */
    assert_int_equal(r->mapping_varies_by_dest_ip, STUN_UNKNOWN);
}

static void test_can_send_and_send_failures(void **state)
{
    struct wg_endpoint s[2] = { ep4(198, 18, 1, 1, 3478), ep6(1, 3478) };
    struct net n;
    (void)state;

    start(&n, s, 2);
    stun_prober_sent(&n.p, &s[0], true);
    stun_prober_sent(&n.p, &s[1], false);
    assert_true(rep(&n)->ipv4_can_send);
    assert_false(rep(&n)->ipv6_can_send);
    assert_int_equal(rep(&n)->servers[1].error, STUN_PROBE_SEND_FAILED);
    poll_at(&n, T0 + 100 * MS);
    stun_prober_sent(&n.p, &s[1], false);
    poll_at(&n, T0 + 300 * MS);
    stun_prober_sent(&n.p, &s[1], false);
    /* The v4 server is still waited for; the v6 one has nothing left to try. */
    assert_false(stun_prober_done(&n.p, T0 + 300 * MS));
    struct wg_endpoint m = ep4(198, 18, 0, 10, 41641);
    assert_true(deliver(&n, 0, &m, T0 + 301 * MS));
    assert_true(stun_prober_done(&n.p, T0 + 301 * MS));
    assert_int_equal(rep(&n)->servers[1].error, STUN_PROBE_SEND_FAILED);
}

static void test_send_ok_after_failure(void **state)
{
    struct wg_endpoint s = ep4(198, 18, 1, 1, 3478);
    struct net n;
    (void)state;

    start(&n, &s, 1);
    stun_prober_sent(&n.p, &s, false);
    poll_at(&n, T0 + 100 * MS);
    stun_prober_sent(&n.p, &s, true);
    assert_int_equal(rep(&n)->servers[0].error, STUN_PROBE_TIMED_OUT);
    assert_true(rep(&n)->ipv4_can_send);
}

static void test_init_rejects(void **state)
{
    struct stun_prober p;
    struct stun_probe_target t[STUN_PROBER_MAX_SERVERS + 1];
    (void)state;

    for (size_t i = 0; i < STUN_PROBER_MAX_SERVERS + 1; i++)
        t[i] = (struct stun_probe_target){ .name = "x", .ep = ep4(198, 18, 1, (uint8_t)i, 3478) };
    assert_int_equal(stun_prober_init(&p, t, 0, T0), -1);
    assert_int_equal(stun_prober_init(&p, t, STUN_PROBER_MAX_SERVERS + 1, T0), -1);
    assert_int_equal(stun_prober_init(&p, t, STUN_PROBER_MAX_SERVERS, T0), 0);
    t[0].ep.family = 0;
    assert_int_equal(stun_prober_init(&p, t, 1, T0), -1);
}

static void test_name_is_copied(void **state)
{
    char name[32] = "stun.example.net:3478";
    struct stun_probe_target t = { .name = name, .ep = ep4(198, 18, 1, 1, 3478) };
    struct stun_prober p;
    (void)state;

    assert_int_equal(stun_prober_init(&p, &t, 1, T0), 0);
    memset(name, 0, sizeof name);
    assert_string_equal(stun_prober_report(&p)->servers[0].name, "stun.example.net:3478");
}

static int setup(void **state)
{
    (void)state;
    return sodium_init() < 0 ? -1 : 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retransmits_at_100_then_200_ms),
        cmocka_unit_test(test_late_poll_keeps_spacing),
        cmocka_unit_test(test_phase_ends_at_3s),
        cmocka_unit_test(test_nothing_sent_after_phase),
        cmocka_unit_test(test_udp_false_when_nothing_answers),
        cmocka_unit_test(test_done_early_when_all_answered),
        cmocka_unit_test(test_latency_of_first_try),
        cmocka_unit_test(test_latency_of_retransmission),
        cmocka_unit_test(test_txid_mismatch_ignored),
        cmocka_unit_test(test_answer_from_other_source),
        cmocka_unit_test(test_bad_response_consumed_and_reported),
        cmocka_unit_test(test_mapping_same_from_two_servers),
        cmocka_unit_test(test_mapping_differs_between_servers),
        cmocka_unit_test(test_mapping_unknown_with_one_server),
        cmocka_unit_test(test_ipv6_global),
        cmocka_unit_test(test_can_send_and_send_failures),
        cmocka_unit_test(test_send_ok_after_failure),
        cmocka_unit_test(test_init_rejects),
        cmocka_unit_test(test_name_is_copied),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
