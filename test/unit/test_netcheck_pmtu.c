/* diag/netcheck_pmtu: the path MTU search against simulated paths (each
 * server behind a path MTU that either drops larger packets silently or has
 * the OS refuse them), on a simulated clock. The padded requests must
 * parse as Tailscale's binding request; answers are built from them. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "diag/netcheck_pmtu.h"
#include "test/unit/endpoints.h"

#define MS 1000000ull
#define T0 (7000 * MS)
#define MAX_QUEUE 256

struct answer {
    uint8_t b[STUN_MAX_RESPONSE];
    size_t len;
};

struct sim {
    unsigned mtu[4];           /* per server; 0: never answers */
    bool refuse;               /* the OS knows the MTU: larger sends fail at once */
    bool lose_first;           /* the first try of every size is lost */
    bool tried[4][VOLE_PMTU_MAX_WIRE + 1];
    struct answer q[MAX_QUEUE];
    size_t n_q;
    unsigned sends, sent_above_mtu, notes;
    uint64_t now;
};

static bool sim_send(void *ctx, size_t i, const struct wg_endpoint *dst, const uint8_t *buf, size_t len,
                     unsigned wire)
{
    struct sim *s = ctx;
    struct stun_request req;
    bool first = !s->tried[i][wire];

    s->tried[i][wire] = true;
    assert_int_equal(len + vole_pmtu_overhead(dst->family), wire);
    assert_int_equal(stun_parse_request(buf, len, &req), STUN_OK);
    assert_true(req.software_is_tailnode && req.has_fingerprint);
    s->sends++;
    if (s->refuse && wire > s->mtu[i])
        return false;
    s->sent_above_mtu += wire > s->mtu[i];
    if (wire > s->mtu[i] || (s->lose_first && first))
        return true;
    assert_true(s->n_q < MAX_QUEUE);
    s->q[s->n_q].len = stun_build_success(s->q[s->n_q].b, STUN_MAX_RESPONSE, &req, dst);
    assert_true(s->q[s->n_q].len > 0);
    s->n_q++;
    return true;
}

static void sim_note(void *ctx, size_t i, unsigned wire, const char *what)
{
    ((struct sim *)ctx)->notes++;
}

/* Runs the phase to its end: answers arrive 1 ms after their request. The
 * time it took, in ms. */
static uint64_t run(struct sim *s, struct vole_pmtu_prober *p, const struct wg_endpoint *servers, size_t n)
{
    const struct vole_pmtu_io io = { .send = sim_send, .note = sim_note, .ctx = s };

    s->now = T0;
    assert_int_equal(vole_pmtu_init(p, servers, n, s->now), 0);
    for (int guard = 0; guard < 10000 && !vole_pmtu_done(p, s->now); guard++) {
        vole_pmtu_poll(p, s->now, &io);
        if (vole_pmtu_done(p, s->now))
            break;
        if (s->n_q) {
            size_t k = s->n_q;
            s->n_q = 0;
            s->now += MS;
            for (size_t j = 0; j < k; j++)
                assert_true(vole_pmtu_handle(p, s->q[j].b, s->q[j].len, s->now, &io));
            continue;
        }
        uint64_t at = vole_pmtu_deadline(p);
        assert_true(at <= T0 + VOLE_PMTU_PHASE_NS);
        if (at > s->now)
            s->now = at;
    }
    assert_true(vole_pmtu_done(p, s->now));
    return (s->now - T0) / MS;
}

static void test_full_mtu_found_at_once(void **state)
{
    struct sim s = { .mtu = { 1500, 1500 } };
    struct vole_pmtu_prober p;
    const struct wg_endpoint servers[] = { ep4(192, 0, 2, 1, 3478), ep6(1, 3478) };

    assert_true(run(&s, &p, servers, 2) < 10);   /* every ladder size answered */
    assert_int_equal(vole_pmtu_result(&p, 0), 1500);
    assert_int_equal(vole_pmtu_result(&p, 1), 1500);
    assert_int_equal(s.sends, 10);
    assert_int_equal(s.notes, 10);
}

/* A 1280 link dropping larger packets silently: the ladder, then one
 * round between 1280 and 1360, each ending on the lost tries. */
static void test_silent_1280(void **state)
{
    struct sim s = { .mtu = { 1280 } };
    struct vole_pmtu_prober p;
    const struct wg_endpoint servers[] = { ep4(192, 0, 2, 1, 3478) };
    uint64_t ms = run(&s, &p, servers, 1);

    assert_int_equal(vole_pmtu_result(&p, 0), 1280);
    assert_true(ms >= 2ull * VOLE_PMTU_TRIES * VOLE_PMTU_TRY_NS / MS && ms <= 2100);
    assert_true(s.sent_above_mtu > 0);
}

/* The OS refuses what it knows cannot pass: no waiting at all. */
static void test_refused_sizes_fail_at_once(void **state)
{
    struct sim s = { .mtu = { 1000, 1300 }, .refuse = true };
    struct vole_pmtu_prober p;
    const struct wg_endpoint servers[] = { ep6(2, 3478), ep4(192, 0, 2, 2, 3478) };

    assert_true(run(&s, &p, servers, 2) < 50);
    assert_true(vole_pmtu_result(&p, 0) <= 1000 && vole_pmtu_result(&p, 0) > 1000 - VOLE_PMTU_STEP);
    assert_true(vole_pmtu_result(&p, 1) <= 1300 && vole_pmtu_result(&p, 1) > 1300 - VOLE_PMTU_STEP);
    assert_int_equal(s.sent_above_mtu, 0);
}

/* Silent paths of many MTUs: never above the MTU, close below it, and
 * never past the phase's 3 s. */
static void test_silent_search_is_bounded(void **state)
{
    const unsigned mtus[] = { 576, 600, 1000, 1234, 1372, 1400, 1492, 1499 };

    for (size_t k = 0; k < sizeof mtus / sizeof mtus[0]; k++) {
        struct sim s = { .mtu = { mtus[k], mtus[k] } };
        struct vole_pmtu_prober p;
        const struct wg_endpoint servers[] = { ep4(192, 0, 2, 3, 3478), ep6(3, 3478) };
        uint64_t ms = run(&s, &p, servers, 2);

        assert_true(ms <= VOLE_PMTU_PHASE_NS / MS);
        for (size_t i = 0; i < 2; i++) {
            unsigned r = vole_pmtu_result(&p, i);
            assert_true(r <= mtus[k]);
            if (r + 3 * VOLE_PMTU_STEP <= mtus[k])
                fprintf(stderr, "MTU %u, server %zu: found %u in %llu ms\n", mtus[k], i, r, (unsigned long long)ms);
            assert_true(r + 3 * VOLE_PMTU_STEP > mtus[k]);
        }
    }
}

/* A server that never answers padded probes: 0, after the ladder's 1 s. */
static void test_no_answer(void **state)
{
    struct sim s = { .mtu = { 0, 1500 } };
    struct vole_pmtu_prober p;
    const struct wg_endpoint servers[] = { ep4(192, 0, 2, 4, 3478), ep4(192, 0, 2, 5, 3478) };
    uint64_t ms = run(&s, &p, servers, 2);

    assert_int_equal(vole_pmtu_result(&p, 0), 0);
    assert_int_equal(vole_pmtu_result(&p, 1), 1500);
    assert_true(ms >= 1000 && ms < 1100);
}

/* Loss of first tries: the second one carries each size. */
static void test_lost_first_tries(void **state)
{
    struct sim s = { .mtu = { 1500, 1360 }, .lose_first = true };
    struct vole_pmtu_prober p;
    const struct wg_endpoint servers[] = { ep4(192, 0, 2, 6, 3478), ep6(6, 3478) };

    run(&s, &p, servers, 2);
    assert_int_equal(vole_pmtu_result(&p, 0), 1500);
    assert_true(vole_pmtu_result(&p, 1) <= 1360 && vole_pmtu_result(&p, 1) >= 1360 - VOLE_PMTU_STEP);
}

/* Foreign datagrams are not ours; bad setups are refused. */
static void test_foreign_and_bad_input(void **state)
{
    struct vole_pmtu_prober p;
    const struct wg_endpoint good[] = { ep4(192, 0, 2, 7, 3478) }, bad[] = { { .family = 0 } };
    const struct vole_pmtu_io io = { 0 };
    uint8_t req[STUN_REQUEST_LEN], txid[STUN_TXID_LEN] = { 9 };

    assert_int_equal(vole_pmtu_init(&p, good, 0, T0), -1);
    assert_int_equal(vole_pmtu_init(&p, bad, 1, T0), -1);
    assert_int_equal(vole_pmtu_init(&p, good, VOLE_PMTU_MAX_SERVERS + 1, T0), -1);
    assert_int_equal(vole_pmtu_init(&p, good, 1, T0), 0);
    stun_build_request(req, txid);
    assert_false(vole_pmtu_handle(&p, req, sizeof req, T0, &io));    /* not one of our txids */
    assert_false(vole_pmtu_handle(&p, (const uint8_t *)"\x01\x00\x00", 3, T0, &io));
    assert_false(vole_pmtu_done(&p, T0));
    assert_true(vole_pmtu_done(&p, T0 + VOLE_PMTU_PHASE_NS));
    assert_int_equal(vole_pmtu_deadline(&p), 0);                     /* the ladder is due */
    assert_int_equal(vole_pmtu_result(&p, 5), 0);
    assert_int_equal(vole_pmtu_overhead(4), 28);
    assert_int_equal(vole_pmtu_overhead(6), 48);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_mtu_found_at_once), cmocka_unit_test(test_silent_1280),
        cmocka_unit_test(test_refused_sizes_fail_at_once), cmocka_unit_test(test_silent_search_is_bounded),
        cmocka_unit_test(test_no_answer), cmocka_unit_test(test_lost_first_tries),
        cmocka_unit_test(test_foreign_and_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
