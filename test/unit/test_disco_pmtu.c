/* disco/pmtu: path MTU discovery for one direct path, sans-IO with a
 * simulated clock and a simulated link (a wire-size limit, optional losses
 * of chosen probes). The ladder at start (sizes per family), convergence of
 * the binary search on a 1280-byte path, a 1500 path, lost probes (one is
 * not a failure, two are), a path without even the floor (unusable), black
 * holes (rechecks only while active; two missed rechecks drop the inner MTU
 * to the floor's at once and the search climbs again), stop/start, unknown
 * TxIDs, IPv6. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include <sodium.h>

#include "disco/pmtu.h"

#define MS DISCO_PMTU_MS
#define SEC (1000 * MS)
#define T0 (1000 * SEC)

/* The link: carries probes up to limit bytes (wire); drops the next
 * `lose` probes of size lose_wire (0: any size). */
struct link {
    uint16_t limit;
    unsigned lose;
    uint16_t lose_wire;
    unsigned probes;        /* seen, for the assertions */
    uint16_t sizes[64];
};

struct sim {
    struct disco_pmtu m;
    struct link link;
    uint64_t now;
    bool active;
    unsigned confirmed, failed, black_holes;
};

static void sim_init(struct sim *s, uint8_t family, uint16_t limit)
{
    memset(s, 0, sizeof *s);
    disco_pmtu_init(&s->m);
    s->link.limit = limit;
    s->now = T0;
    s->active = true;
    disco_pmtu_start(&s->m, family, s->now);
}

static void count(struct sim *s, const struct disco_pmtu_event *ev)
{
    s->confirmed += ev->confirmed;
    s->failed += ev->failed;
    s->black_holes += ev->black_hole;
}

/* Sends what is due now; pongs come back 1 ms later for probes the link carries. */
static void step(struct sim *s)
{
    struct disco_pmtu_out out;
    struct disco_pmtu_event ev;
    disco_pmtu_tick(&s->m, s->now, s->active, &out, &ev);
    count(s, &ev);
    for (size_t i = 0; i < out.n; i++) {
        const struct disco_pmtu_probe *p = &out.probes[i];
        assert_int_equal(p->udp_payload, p->wire - disco_pmtu_ip_udp(s->m.family));
        if (s->link.probes < 64)
            s->link.sizes[s->link.probes] = p->wire;
        s->link.probes++;
        if (s->link.lose > 0 && (s->link.lose_wire == 0 || s->link.lose_wire == p->wire)) {
            s->link.lose--;
            continue;
        }
        if (p->wire > s->link.limit)
            continue;
        memset(&ev, 0, sizeof ev);
        assert_true(disco_pmtu_on_pong(&s->m, p->txid, s->now + MS, &ev));
        assert_true(ev.confirmed);
        assert_int_equal(ev.wire, p->wire);
        count(s, &ev);
    }
}

/* Runs until `until` (bounded), jumping to each deadline. */
static void run_until(struct sim *s, uint64_t until)
{
    for (int i = 0; i < 1000 && s->now <= until; i++) {
        step(s);
        uint64_t d = disco_pmtu_next_deadline(&s->m);
        if (d == UINT64_MAX || d > until)
            break;
        s->now = d > s->now ? d : s->now + MS;
    }
    s->now = until;
    step(s);
}

/* ---- the ladder ------------------------------------------------------------- */

static void test_ladder_v4(void **state)
{
    (void)state;
    struct disco_pmtu m;
    struct disco_pmtu_out out;
    disco_pmtu_init(&m);
    assert_int_equal(disco_pmtu_next_deadline(&m), UINT64_MAX);
    disco_pmtu_start(&m, 4, T0);
    assert_true(disco_pmtu_next_deadline(&m) <= T0);
    assert_int_equal(disco_pmtu_inner_mtu(&m), 0);
    assert_false(disco_pmtu_settled(&m));
    disco_pmtu_tick(&m, T0, true, &out, NULL);
    assert_int_equal(out.n, 6);
    const uint16_t wire[6] = { 636, 1280, 1338, 1360, 1400, 1500 };
    const size_t payload[6] = { 608, 1252, 1310, 1332, 1372, 1472 };
    for (size_t i = 0; i < 6; i++) {
        assert_int_equal(out.probes[i].wire, wire[i]);
        assert_int_equal(out.probes[i].udp_payload, payload[i]);
        for (size_t k = 0; k < i; k++)
            assert_memory_not_equal(out.probes[i].txid, out.probes[k].txid, DISCO_TXID_LEN);
    }
    /* Nothing more until the probes time out. */
    assert_int_equal(disco_pmtu_next_deadline(&m), T0 + DISCO_PMTU_PROBE_TIMEOUT);
    disco_pmtu_tick(&m, T0 + SEC, true, &out, NULL);
    assert_int_equal(out.n, 0);
}

static void test_ladder_v6(void **state)
{
    (void)state;
    struct disco_pmtu m;
    struct disco_pmtu_out out;
    disco_pmtu_init(&m);
    disco_pmtu_start(&m, 6, T0);
    disco_pmtu_tick(&m, T0, true, &out, NULL);
    assert_int_equal(out.n, 6);
    const uint16_t wire[6] = { 656, 1280, 1358, 1360, 1400, 1500 };
    for (size_t i = 0; i < 6; i++) {
        assert_int_equal(out.probes[i].wire, wire[i]);
        assert_int_equal(out.probes[i].udp_payload, wire[i] - 48);
    }
    /* The Coder probe is a 1310-byte UDP payload in either family. */
    assert_int_equal(out.probes[2].udp_payload, DISCO_PMTU_CODER_PAYLOAD);
}

/* ---- convergence ------------------------------------------------------------ */

static void test_1500_path(void **state)
{
    (void)state;
    struct sim s;
    sim_init(&s, 4, 1500);
    run_until(&s, T0 + 10 * MS);
    assert_int_equal(s.m.ok_wire, 1500);
    assert_true(disco_pmtu_settled(&s.m));
    assert_int_equal(disco_pmtu_inner_mtu(&s.m), 1500 - 28 - 32);
    assert_int_equal(s.link.probes, 6);   /* the ladder alone */
    assert_int_equal(s.confirmed, 6);
}

static void test_1280_path_binary_search(void **state)
{
    (void)state;
    struct sim s;
    sim_init(&s, 4, 1300);   /* a link of 1300: the search must go past the ladder's 1280 */
    run_until(&s, T0 + 60 * SEC);
    assert_true(disco_pmtu_settled(&s.m));
    assert_true(s.m.ok_wire <= 1300);
    assert_true(1300 - s.m.ok_wire < DISCO_PMTU_RESOLUTION);
    assert_true(s.m.fail_wire > 1300);
    assert_true(s.m.fail_wire - s.m.ok_wire <= DISCO_PMTU_RESOLUTION);
    assert_int_equal(disco_pmtu_inner_mtu(&s.m), s.m.ok_wire - 60);
    assert_true(s.failed >= 2);
    assert_false(disco_pmtu_unusable(&s.m));

    sim_init(&s, 4, 1280);
    run_until(&s, T0 + 60 * SEC);
    assert_true(disco_pmtu_settled(&s.m));
    assert_int_equal(s.m.ok_wire, 1280);
    assert_true(s.m.fail_wire - 1280 <= DISCO_PMTU_RESOLUTION);
    assert_int_equal(disco_pmtu_inner_mtu(&s.m), 1220);
}

static void test_inner_mtu_early(void **state)
{
    (void)state;
    struct sim s;
    sim_init(&s, 4, 1280);
    step(&s);   /* the ladder, its pongs at once */
    /* 1280 confirmed before the search is over. */
    assert_int_equal(disco_pmtu_inner_mtu(&s.m), 1220);
    assert_false(disco_pmtu_settled(&s.m));
}

/* ---- losses ----------------------------------------------------------------- */

static void test_one_loss_is_not_failure(void **state)
{
    (void)state;
    struct sim s;
    sim_init(&s, 4, 1500);
    s.active = false;   /* no rechecks in the count */
    s.link.lose = 1;
    s.link.lose_wire = 1500;
    run_until(&s, T0 + 30 * SEC);
    assert_int_equal(s.m.ok_wire, 1500);
    assert_int_equal(s.m.fail_wire, 0);
    assert_int_equal(s.failed, 0);
    assert_true(disco_pmtu_settled(&s.m));
    assert_int_equal(s.link.probes, 7);   /* the ladder, then 1500 again */
    assert_int_equal(s.link.sizes[6], 1500);
}

static void test_two_losses_fail(void **state)
{
    (void)state;
    struct sim s;
    sim_init(&s, 4, 1500);
    s.link.lose = 2;
    s.link.lose_wire = 1500;
    run_until(&s, T0 + 60 * SEC);
    assert_int_equal(s.m.fail_wire, 1500);
    assert_true(s.m.ok_wire >= 1492);   /* the search below it */
    assert_true(s.failed >= 1);
}

static void test_floor_fails_unusable(void **state)
{
    (void)state;
    struct sim s;
    sim_init(&s, 4, 500);   /* nothing fits */
    run_until(&s, T0 + 3 * SEC);
    assert_false(disco_pmtu_unusable(&s.m));   /* one miss of the floor */
    run_until(&s, T0 + 10 * SEC);
    assert_true(disco_pmtu_unusable(&s.m));
    assert_int_equal(disco_pmtu_inner_mtu(&s.m), 0);
    assert_false(disco_pmtu_settled(&s.m));
    assert_int_equal(disco_pmtu_next_deadline(&s.m), UINT64_MAX);
    unsigned before = s.link.probes;
    run_until(&s, T0 + 60 * SEC);
    assert_int_equal(s.link.probes, before);   /* nothing more is probed */
}

/* ---- black holes ------------------------------------------------------------ */

static void test_recheck_only_while_active(void **state)
{
    (void)state;
    struct sim s;
    sim_init(&s, 4, 1500);
    run_until(&s, T0 + 10 * MS);
    unsigned n = s.link.probes;
    s.active = false;
    run_until(&s, T0 + 30 * SEC);
    assert_int_equal(s.link.probes, n);
    s.active = true;
    run_until(&s, T0 + 30 * SEC + 3 * SEC + MS);
    assert_true(s.link.probes > n);
    assert_int_equal(s.link.sizes[n], 1500);
}

static void test_black_hole(void **state)
{
    (void)state;
    struct sim s;
    sim_init(&s, 4, 1500);
    run_until(&s, T0 + 10 * SEC);
    assert_int_equal(s.m.ok_wire, 1500);
    /* From now on nothing over 1200 passes, without a word. */
    s.link.limit = 1200;
    uint64_t hole = s.now;
    /* One missed recheck is not a black hole. */
    run_until(&s, hole + 5 * SEC);
    assert_int_equal(s.black_holes, 0);
    assert_int_equal(disco_pmtu_inner_mtu(&s.m), 1440);
    /* The second, within 3 s + 2 s more: down to the floor's at once. */
    uint64_t t = hole;
    for (int i = 0; i < 100 && s.black_holes == 0; i++) {
        t += 100 * MS;
        run_until(&s, t);
    }
    assert_int_equal(s.black_holes, 1);
    assert_true(t - hole <= 10 * SEC);
    assert_true(s.m.ok_wire >= 636);
    assert_true(disco_pmtu_inner_mtu(&s.m) >= DISCO_PMTU_INNER_FLOOR);
    assert_true(disco_pmtu_inner_mtu(&s.m) <= 1200 - 60);
    assert_int_equal(s.m.fail_wire == 1500 || s.m.fail_wire <= 1208, true);
    /* Then it climbs to the new limit. */
    run_until(&s, t + 60 * SEC);
    assert_true(disco_pmtu_settled(&s.m));
    assert_true(s.m.ok_wire <= 1200 && 1200 - s.m.ok_wire < DISCO_PMTU_RESOLUTION);
    assert_false(disco_pmtu_unusable(&s.m));
}

static void test_black_hole_at_floor_unusable(void **state)
{
    (void)state;
    struct sim s;
    sim_init(&s, 4, 636);   /* only the floor passes */
    run_until(&s, T0 + 60 * SEC);
    assert_int_equal(s.m.ok_wire, 636);
    assert_int_equal(disco_pmtu_inner_mtu(&s.m), DISCO_PMTU_INNER_FLOOR);
    s.link.limit = 0;
    run_until(&s, T0 + 80 * SEC);
    assert_true(s.black_holes >= 1);
    assert_true(disco_pmtu_unusable(&s.m));
}

/* ---- lifecycle -------------------------------------------------------------- */

static void test_stop_start_forgets(void **state)
{
    (void)state;
    struct sim s;
    struct disco_pmtu_out out;
    sim_init(&s, 4, 1500);
    step(&s);
    assert_int_equal(s.m.ok_wire, 1500);
    /* A probe left in flight, then stop: its pong is not ours any more. */
    disco_pmtu_start(&s.m, 4, s.now);
    disco_pmtu_tick(&s.m, s.now, true, &out, NULL);
    assert_int_equal(out.n, 6);
    disco_pmtu_stop(&s.m);
    assert_int_equal(disco_pmtu_inner_mtu(&s.m), 0);
    assert_false(disco_pmtu_on_pong(&s.m, out.probes[0].txid, s.now, NULL));
    assert_int_equal(disco_pmtu_next_deadline(&s.m), UINT64_MAX);
    disco_pmtu_tick(&s.m, s.now + SEC, true, &out, NULL);
    assert_int_equal(out.n, 0);
    /* A new start: everything from scratch, IPv6 this time. */
    sim_init(&s, 6, 1280);
    run_until(&s, T0 + 60 * SEC);
    assert_int_equal(s.m.ok_wire, 1280);
    assert_int_equal(disco_pmtu_inner_mtu(&s.m), 1280 - 48 - 32);
    assert_true(disco_pmtu_settled(&s.m));
}

static void test_unknown_txid(void **state)
{
    (void)state;
    struct sim s;
    uint8_t txid[DISCO_TXID_LEN];
    struct disco_pmtu_event ev = { 0 };
    sim_init(&s, 4, 1500);
    randombytes_buf(txid, sizeof txid);
    assert_false(disco_pmtu_on_pong(&s.m, txid, s.now, &ev));
    assert_false(ev.confirmed);
    step(&s);
    assert_false(disco_pmtu_on_pong(&s.m, txid, s.now, &ev));
    assert_int_equal(s.m.pongs, 6);
}

static void test_late_pong_not_consumed(void **state)
{
    (void)state;
    struct disco_pmtu m;
    struct disco_pmtu_out out;
    disco_pmtu_init(&m);
    disco_pmtu_start(&m, 4, T0);
    disco_pmtu_tick(&m, T0, true, &out, NULL);
    disco_pmtu_tick(&m, T0 + DISCO_PMTU_PROBE_TIMEOUT, true, &out, NULL);
    assert_int_equal(m.timeouts, 6);
    uint8_t first[DISCO_TXID_LEN];
    memcpy(first, out.probes[0].txid, DISCO_TXID_LEN);   /* the floor's retry */
    assert_int_equal(out.probes[0].wire, 636);
    assert_true(disco_pmtu_on_pong(&m, first, T0 + DISCO_PMTU_PROBE_TIMEOUT + MS, NULL));
    assert_false(disco_pmtu_on_pong(&m, first, T0 + DISCO_PMTU_PROBE_TIMEOUT + MS, NULL));
}

static void test_ipv6_search(void **state)
{
    (void)state;
    struct sim s;
    sim_init(&s, 6, 1350);
    run_until(&s, T0 + 60 * SEC);
    assert_true(disco_pmtu_settled(&s.m));
    assert_true(s.m.ok_wire <= 1350 && 1350 - s.m.ok_wire < DISCO_PMTU_RESOLUTION);
    assert_int_equal(disco_pmtu_inner_mtu(&s.m), s.m.ok_wire - 80);
    /* A v6 path that carries only the floor: 576 inner bytes. */
    sim_init(&s, 6, 656);
    run_until(&s, T0 + 60 * SEC);
    assert_int_equal(disco_pmtu_inner_mtu(&s.m), DISCO_PMTU_INNER_FLOOR);
    assert_false(disco_pmtu_unusable(&s.m));
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ladder_v4),
        cmocka_unit_test(test_ladder_v6),
        cmocka_unit_test(test_1500_path),
        cmocka_unit_test(test_1280_path_binary_search),
        cmocka_unit_test(test_inner_mtu_early),
        cmocka_unit_test(test_one_loss_is_not_failure),
        cmocka_unit_test(test_two_losses_fail),
        cmocka_unit_test(test_floor_fails_unusable),
        cmocka_unit_test(test_recheck_only_while_active),
        cmocka_unit_test(test_black_hole),
        cmocka_unit_test(test_black_hole_at_floor_unusable),
        cmocka_unit_test(test_stop_start_forgets),
        cmocka_unit_test(test_unknown_txid),
        cmocka_unit_test(test_late_pong_not_consumed),
        cmocka_unit_test(test_ipv6_search),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
