/* disco/path: per-peer path selection against tailscale-wire.md §3.3-3.4,
 * sans-IO with a simulated clock (no sockets, no real time). betterAddr
 * table cases; the send path and its 6.5 s trust window to the nanosecond;
 * the 3 s heartbeat and its stop after 45 s idle; the 5 s per-candidate
 * ping interval; CallMeMaybe; pong matching (unknown, expired, DERP); the
 * 1 min upgrade round; a best that stops answering falling back to DERP
 * alone and coming back; candidate sources, expiry, filters and caps. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test/unit/endpoints.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "disco/path.h"

#define MS DISCO_PATH_MS
#define SEC (1000 * MS)
#define T0 (1000 * SEC)   /* simulated clock start: times are never 0 */

/* Two public candidates, one private, one loopback. */
static struct wg_endpoint pub_a(void) { return ep4(203, 0, 113, 1, 41641); }
static struct wg_endpoint pub_b(void) { return ep4(198, 51, 100, 2, 41641); }
static struct wg_endpoint lan(void) { return ep4(192, 168, 1, 7, 41641); }
static struct wg_endpoint lo(void) { return ep4(127, 0, 0, 1, 41641); }

/* ---- helpers --------------------------------------------------------------- */

static struct disco_path *new_path(void)
{
    struct disco_path *p = malloc(sizeof(*p));
    assert_non_null(p);
    disco_path_init(p);
    return p;
}

static void set_eps(struct disco_path *p, const struct wg_endpoint *eps, size_t n)
{
    disco_path_set_endpoints(p, eps, n, T0);
}

/* The ping in out to ep, or NULL. */
static const struct disco_path_ping *ping_to(const struct disco_path_out *out, struct wg_endpoint ep)
{
    for (size_t i = 0; i < out->n_pings; i++)
        if (wg_endpoint_equal(&out->pings[i].to, &ep))
            return &out->pings[i];
    return NULL;
}

/* Answers the ping in out to ep over UDP at `at`; asserts it matched. */
static void pong(struct disco_path *p, const struct disco_path_out *out, struct wg_endpoint ep, uint64_t at)
{
    const struct disco_path_ping *ping = ping_to(out, ep);
    assert_non_null(ping);
    uint64_t lat = 0;
    struct wg_endpoint to;
    assert_true(disco_path_on_pong(p, ping->txid, false, at, &lat, &to));
    assert_true(wg_endpoint_equal(&to, &ep));
}

/* A path whose best is ep (trusted from `at`), reached with one send at
 * at - lat and one pong at `at`. */
static void make_best(struct disco_path *p, struct wg_endpoint ep, uint64_t at, uint64_t lat)
{
    struct disco_path_route r;
    struct disco_path_out out;
    set_eps(p, &ep, 1);
    disco_path_send(p, at - lat, &r, &out);
    pong(p, &out, ep, at);
    assert_true(disco_path_trusted(p, at));
}

static bool best_is(const struct disco_path *p, struct wg_endpoint ep)
{
    struct wg_endpoint b;
    return disco_path_best(p, &b, NULL) && wg_endpoint_equal(&b, &ep);
}

static struct wg_endpoint ep6_of(const char *hex16, uint16_t port)
{
    struct wg_endpoint e = {.family = 6, .port = port};
    for (size_t i = 0; i < 16; i++) {
        unsigned b;
        assert_int_equal(sscanf(hex16 + 2 * i, "%2x", &b), 1);
        e.addr[i] = (uint8_t)b;
    }
    return e;
}

/* ---- betterAddr -------------------------------------------------------------- */

static bool better(struct wg_endpoint a, uint64_t la, struct wg_endpoint b, uint64_t lb)
{
    return disco_path_better_addr(&a, la, &b, lb, true);
}

static void test_better_addr_latency(void **state)
{
    /* 10 ms vs 20 ms: a gets 50 points. */
    assert_true(better(pub_a(), 10 * MS, pub_b(), 20 * MS));
    assert_false(better(pub_b(), 20 * MS, pub_a(), 10 * MS));
    /* Equal latencies, equal kinds: no points, no change. */
    assert_false(better(pub_a(), 10 * MS, pub_b(), 10 * MS));
    /* Zero latency against any latency: 100 points. */
    assert_true(better(pub_a(), 0, pub_b(), 1));
    /* Both zero: nothing to gain. */
    assert_false(better(pub_a(), 0, pub_b(), 0));
    /* Same address never beats itself, whatever the latency. */
    assert_false(better(pub_a(), 1 * MS, pub_a(), 100 * MS));
}

static void test_better_addr_hysteresis(void **state)
{
    /* 99 vs 100 ms is 1 point: not enough to move (aPoints <= 1, bPoints == 0). */
    assert_false(better(pub_a(), 99 * MS, pub_b(), 100 * MS));
    /* 98 vs 100 ms is 2 points: moves. */
    assert_true(better(pub_a(), 98 * MS, pub_b(), 100 * MS));
    /* 99.5 vs 100 ms truncates to 0 points. */
    assert_false(better(pub_a(), 99500 * DISCO_PATH_MS / 1000, pub_b(), 100 * MS));
}

static void test_better_addr_bonuses(void **state)
{
    /* Private +20 over public at equal latency. */
    assert_true(better(lan(), 10 * MS, pub_a(), 10 * MS));
    assert_false(better(pub_a(), 10 * MS, lan(), 10 * MS));
    /* A public address 24 points faster (10 vs 13 ms: 100-76) beats the private bonus;
     * 17 points (10 vs 12 ms: 100-83) does not. */
    assert_false(better(lan(), 13 * MS, pub_a(), 10 * MS));
    assert_true(better(pub_a(), 10 * MS, lan(), 13 * MS));
    assert_true(better(lan(), 12 * MS, pub_a(), 10 * MS));
    assert_true(better(lan(), 12300 * MS / 1000, pub_a(), 10 * MS));    /* 19 points < 20 */
    assert_false(better(lan(), 12500 * MS / 1000, pub_a(), 10 * MS));   /* 20 points = 20 */
    /* Loopback's +50 against 50 latency points (10 vs 20 ms) is a tie; 48 points lose. */
    assert_false(better(lo(), 20 * MS, pub_a(), 10 * MS));
    assert_true(better(lo(), 19500 * MS / 1000, pub_a(), 10 * MS));   /* 49 points < 50 */
    /* Loopback +50 beats private +20. */
    assert_true(better(lo(), 10 * MS, lan(), 10 * MS));
    assert_false(better(lan(), 10 * MS, lo(), 10 * MS));
    /* Every RFC 1918 range; 172.32/12 and 11/8 are public. */
    assert_true(better(ep4(10, 1, 2, 3, 1), 10 * MS, pub_a(), 10 * MS));
    assert_true(better(ep4(172, 31, 0, 1, 1), 10 * MS, pub_a(), 10 * MS));
    assert_false(better(ep4(172, 32, 0, 1, 1), 10 * MS, pub_a(), 10 * MS));
    assert_false(better(ep4(11, 0, 0, 1, 1), 10 * MS, pub_a(), 10 * MS));
    /* IPv6 +10 at equal latency; not against an 11-point latency edge. */
    struct wg_endpoint v6 = ep6(1, 41641);
    assert_true(better(v6, 10 * MS, pub_a(), 10 * MS));
    assert_false(better(pub_a(), 10 * MS, v6, 10 * MS));
    assert_true(better(pub_a(), 89 * MS, v6, 100 * MS));    /* 11 points > 10 */
    assert_false(better(pub_a(), 90 * MS, v6, 100 * MS));   /* 10 points = 10 */
    /* ULA (fc00::/7) is private and IPv6: 30 beats private IPv4's 20. */
    struct wg_endpoint ula = ep6_of("fd000000000000000000000000000001", 41641);
    assert_true(better(ula, 10 * MS, lan(), 10 * MS));
    assert_true(better(ep6_of("fc000000000000000000000000000001", 41641), 10 * MS, v6, 10 * MS));
    assert_false(better(lan(), 10 * MS, ula, 10 * MS));
    /* ::1 is loopback (+50 +10) and beats 127.0.0.1 (+50). */
    struct wg_endpoint lo6 = ep6_of("00000000000000000000000000000001", 41641);
    assert_true(better(lo6, 10 * MS, lo(), 10 * MS));
}

static void test_better_addr_invalid(void **state)
{
    struct wg_endpoint none = {0};
    struct wg_endpoint a = pub_a(), b = pub_b();
    /* Invalid b: any valid a wins, even a much slower one. */
    assert_true(disco_path_better_addr(&a, 900 * MS, &b, 1 * MS, false));
    assert_true(disco_path_better_addr(&a, 900 * MS, &none, 0, true));
    /* Invalid a never wins. */
    assert_false(disco_path_better_addr(&none, 0, &b, 900 * MS, true));
    assert_false(disco_path_better_addr(&none, 0, &none, 0, false));
    struct wg_endpoint bad = pub_a();
    bad.family = 5;
    assert_false(disco_path_better_addr(&bad, 0, &b, 900 * MS, true));
}

static void test_better_addr_huge_latency(void **state)
{
    /* No overflow in fast*100: half the latency is still ~50 points. */
    assert_true(better(pub_a(), UINT64_MAX / 2, pub_b(), UINT64_MAX));
    assert_false(better(pub_b(), UINT64_MAX, pub_a(), UINT64_MAX / 2));
    assert_false(better(pub_a(), UINT64_MAX - 1, pub_b(), UINT64_MAX));
}

/* ---- send path and trust ----------------------------------------------------- */

static void test_first_send(void **state)
{
    struct disco_path *p = new_path();
    struct disco_path_route r;
    struct disco_path_out out;
    assert_int_equal(disco_path_next_deadline(p), UINT64_MAX);

    /* No candidates: DERP only, nothing to ping, no CallMeMaybe. */
    disco_path_send(p, T0, &r, &out);
    assert_true(r.derp);
    assert_false(r.udp);
    assert_int_equal(out.n_pings, 0);
    assert_false(out.call_me_maybe);
    assert_int_equal(disco_path_next_deadline(p), T0 + DISCO_PATH_HEARTBEAT);

    /* Two candidates: both pinged, CallMeMaybe asked for, distinct TxIDs. */
    struct wg_endpoint eps[2] = {pub_a(), pub_b()};
    set_eps(p, eps, 2);
    disco_path_send(p, T0 + 1 * MS, &r, &out);
    assert_true(r.derp);
    assert_false(r.udp);
    assert_int_equal(out.n_pings, 2);
    assert_non_null(ping_to(&out, pub_a()));
    assert_non_null(ping_to(&out, pub_b()));
    assert_memory_not_equal(out.pings[0].txid, out.pings[1].txid, DISCO_TXID_LEN);
    assert_true(out.call_me_maybe);
    /* The pings are pending: the next deadline is still the heartbeat (3 s < 5 s). */
    assert_int_equal(disco_path_next_deadline(p), T0 + DISCO_PATH_HEARTBEAT);
    free(p);
}

static void test_trust_window(void **state)
{
    struct disco_path *p = new_path();
    struct disco_path_route r;
    struct disco_path_out out;
    uint64_t at = T0 + 20 * MS;
    make_best(p, pub_a(), at, 20 * MS);

    uint64_t lat = 0;
    assert_true(disco_path_best(p, NULL, &lat));
    assert_int_equal(lat, 20 * MS);

    /* Trusted: UDP only, no pings, up to and including pong + 6.5 s. */
    struct wg_endpoint a = pub_a();
    disco_path_send(p, at + 1 * MS, &r, &out);
    assert_true(r.udp);
    assert_false(r.derp);
    assert_true(wg_endpoint_equal(&r.udp_addr, &a));
    assert_int_equal(out.n_pings, 0);
    assert_false(out.call_me_maybe);
    assert_true(disco_path_trusted(p, at + DISCO_PATH_TRUST));
    disco_path_send(p, at + DISCO_PATH_TRUST, &r, &out);
    assert_true(r.udp);
    assert_false(r.derp);
    assert_int_equal(out.n_pings, 0);

    /* One nanosecond later: best plus DERP, and best (last pinged 6.52 s ago) is pinged, with CMM. */
    assert_false(disco_path_trusted(p, at + DISCO_PATH_TRUST + 1));
    disco_path_send(p, at + DISCO_PATH_TRUST + 1, &r, &out);
    assert_true(r.udp);
    assert_true(r.derp);
    assert_true(wg_endpoint_equal(&r.udp_addr, &a));
    assert_int_equal(out.n_pings, 1);
    assert_true(out.call_me_maybe);

    /* Its pong restores trust for another 6.5 s from the pong. */
    uint64_t at2 = at + DISCO_PATH_TRUST + 30 * MS;
    pong(p, &out, pub_a(), at2);
    assert_true(disco_path_trusted(p, at2 + DISCO_PATH_TRUST));
    assert_false(disco_path_trusted(p, at2 + DISCO_PATH_TRUST + 1));
    assert_true(disco_path_best(p, NULL, &lat));
    assert_int_equal(lat, 30 * MS - 1);

    /* A link change stops trusting at once; best stays as the untrusted UDP address. */
    disco_path_reset_trust(p);
    assert_false(disco_path_trusted(p, at2 + 1));
    disco_path_send(p, at2 + 1, &r, &out);
    assert_true(r.udp);
    assert_true(r.derp);
    free(p);
}

/* ---- heartbeat ---------------------------------------------------------------- */

static void test_heartbeat_cadence(void **state)
{
    struct disco_path *p = new_path();
    struct disco_path_route r;
    struct disco_path_out out;
    struct wg_endpoint eps[2] = {pub_a(), pub_b()};
    set_eps(p, eps, 2);
    disco_path_send(p, T0, &r, &out);          /* heartbeat due at T0 + 3 s */
    pong(p, &out, pub_a(), T0 + 1 * MS);       /* best a, 1 ms: good enough, no upgrades */
    assert_true(best_is(p, pub_a()));

    /* Before the deadline a tick does nothing. */
    disco_path_tick(p, T0 + DISCO_PATH_HEARTBEAT - 1, &out);
    assert_int_equal(out.n_pings, 0);
    assert_int_equal(disco_path_next_deadline(p), T0 + DISCO_PATH_HEARTBEAT);

    /* Every 3 s while sending: exactly one ping, to best, answered; no full
     * round, not even after the 1 min upgrade interval (1 ms is good enough). */
    uint64_t now = T0 + DISCO_PATH_HEARTBEAT;
    for (int i = 0; i < 25; i++) {
        disco_path_send(p, now - 1 * MS, &r, &out);
        assert_false(r.derp);
        assert_int_equal(disco_path_next_deadline(p), now);
        disco_path_tick(p, now, &out);
        assert_int_equal(out.n_pings, 1);
        assert_true(wg_endpoint_equal(&out.pings[0].to, &eps[0]));
        assert_false(out.call_me_maybe);
        pong(p, &out, pub_a(), now + 1 * MS);
        now += DISCO_PATH_HEARTBEAT;
    }
    free(p);
}

static void test_heartbeat_stops_when_idle(void **state)
{
    struct disco_path *p = new_path();
    struct disco_path_route r;
    struct disco_path_out out;
    make_best(p, pub_a(), T0 + 1 * MS, 1 * MS);   /* last send at T0 */

    /* Heartbeats continue (answered) while the last send is within 45 s. */
    uint64_t now = disco_path_next_deadline(p);
    int beats = 0;
    while (now != UINT64_MAX && beats < 100) {
        disco_path_tick(p, now, &out);
        if (out.n_pings > 0) {
            beats++;
            assert_true(now - T0 <= DISCO_PATH_SESSION_ACTIVE);
            pong(p, &out, pub_a(), now + 1 * MS);
        }
        now = disco_path_next_deadline(p);
    }
    /* 3, 6, ..., 45 s: 15 heartbeats, then none. */
    assert_int_equal(beats, 15);
    assert_int_equal(disco_path_next_deadline(p), UINT64_MAX);

    /* The next send restarts it 3 s later. */
    uint64_t later = T0 + 100 * SEC;
    disco_path_send(p, later, &r, &out);
    assert_int_equal(disco_path_next_deadline(p), later + DISCO_PATH_HEARTBEAT);
    disco_path_tick(p, later + DISCO_PATH_HEARTBEAT, &out);
    assert_non_null(ping_to(&out, pub_a()));
    free(p);
}

static void test_heartbeat_full_round_when_untrusted(void **state)
{
    struct disco_path *p = new_path();
    struct disco_path_route r;
    struct disco_path_out out;
    struct wg_endpoint eps[2] = {pub_a(), pub_b()};
    set_eps(p, eps, 2);
    disco_path_send(p, T0, &r, &out);          /* the only send */
    pong(p, &out, pub_a(), T0 + 1 * MS);       /* best a, 1 ms; b never answers */

    /* Trusted with a good-enough latency: the heartbeat pings a alone, even
     * though b is due (last pinged 6 s ago). */
    disco_path_tick(p, T0 + 3 * SEC, &out);
    assert_int_equal(out.n_pings, 1);
    pong(p, &out, pub_a(), T0 + 3 * SEC + 1 * MS);   /* trusted until T0 + 9.501 s */
    disco_path_tick(p, T0 + 6 * SEC, &out);
    assert_int_equal(out.n_pings, 1);
    assert_non_null(ping_to(&out, pub_a()));
    disco_path_tick(p, T0 + 9 * SEC, &out);
    assert_int_equal(out.n_pings, 1);
    assert_false(out.call_me_maybe);
    /* Trust expired (no sends needed): the heartbeat adds a full round. */
    disco_path_tick(p, T0 + 12 * SEC, &out);
    assert_int_equal(out.n_pings, 2);
    assert_non_null(ping_to(&out, pub_a()));
    assert_non_null(ping_to(&out, pub_b()));
    assert_true(out.call_me_maybe);
    free(p);
}

static void test_upgrade_round(void **state)
{
    struct disco_path *p = new_path();
    struct disco_path_route r;
    struct disco_path_out out;
    struct wg_endpoint eps[2] = {pub_a(), pub_b()};
    set_eps(p, eps, 2);
    disco_path_send(p, T0, &r, &out);          /* the full round: last_full_ping = T0 */
    pong(p, &out, pub_a(), T0 + 20 * MS);      /* best a at 20 ms (> 5 ms); b never answers */
    assert_true(best_is(p, pub_a()));

    /* Trusted and active: heartbeats ping only a until 1 min after the last
     * full round; then one heartbeat pings b too (and asks for CallMeMaybe). */
    uint64_t now = T0 + DISCO_PATH_HEARTBEAT, upgrade_at = 0;
    for (int i = 0; i < 30 && upgrade_at == 0; i++, now += DISCO_PATH_HEARTBEAT) {
        disco_path_send(p, now - 1 * MS, &r, &out);
        assert_int_equal(out.n_pings, 0);
        disco_path_tick(p, now, &out);
        assert_non_null(ping_to(&out, pub_a()));
        if (ping_to(&out, pub_b()) != NULL) {
            upgrade_at = now;
            assert_true(out.call_me_maybe);
        } else {
            assert_int_equal(out.n_pings, 1);
        }
        pong(p, &out, pub_a(), now + 20 * MS);
    }
    assert_true(upgrade_at >= T0 + DISCO_PATH_UPGRADE);
    assert_true(upgrade_at < T0 + DISCO_PATH_UPGRADE + DISCO_PATH_HEARTBEAT);
    free(p);
}

/* ---- the 5 s ping interval and CallMeMaybe --------------------------------------- */

static void test_ping_interval(void **state)
{
    struct disco_path *p = new_path();
    struct disco_path_route r;
    struct disco_path_out out;
    struct wg_endpoint eps[2] = {pub_a(), pub_b()};
    set_eps(p, eps, 2);
    disco_path_send(p, T0, &r, &out);
    assert_int_equal(out.n_pings, 2);

    /* Untrusted sends within 5 s ping nothing and ask for no CallMeMaybe. */
    disco_path_send(p, T0 + 1 * SEC, &r, &out);
    assert_int_equal(out.n_pings, 0);
    assert_false(out.call_me_maybe);
    /* Nor does the heartbeat's full round at 3 s. */
    disco_path_tick(p, T0 + DISCO_PATH_HEARTBEAT, &out);
    assert_int_equal(out.n_pings, 0);
    assert_false(out.call_me_maybe);

    /* A candidate added meanwhile is pinged at once, alone. */
    struct wg_endpoint three[3] = {pub_a(), pub_b(), lan()};
    set_eps(p, three, 3);
    disco_path_send(p, T0 + 4 * SEC, &r, &out);
    assert_int_equal(out.n_pings, 1);
    assert_non_null(ping_to(&out, lan()));
    assert_true(out.call_me_maybe);
    disco_path_send(p, T0 + DISCO_PATH_PING_INTERVAL - 1, &r, &out);
    assert_int_equal(out.n_pings, 0);
    assert_false(out.call_me_maybe);

    /* At exactly 5 s the first two are due again. */
    disco_path_send(p, T0 + DISCO_PATH_PING_INTERVAL, &r, &out);
    assert_int_equal(out.n_pings, 2);
    assert_non_null(ping_to(&out, pub_a()));
    assert_non_null(ping_to(&out, pub_b()));
    assert_true(out.call_me_maybe);
    free(p);
}

static void test_call_me_maybe(void **state)
{
    struct disco_path *p = new_path();
    struct disco_path_route r;
    struct disco_path_out out;
    struct wg_endpoint coord = pub_a();
    set_eps(p, &coord, 1);
    struct wg_endpoint cmm1[2] = {pub_b(), lan()};
    disco_path_on_call_me_maybe(p, cmm1, 2, T0, &out);
    /* Everything pinged at once, no CallMeMaybe back. */
    assert_int_equal(out.n_pings, 3);
    assert_false(out.call_me_maybe);
    assert_int_equal(p->n_cand, 3);

    /* A second CallMeMaybe 1 s later resets the 5 s interval: all pinged
     * again. It replaces the CMM set: lan is gone, the coordinator's stays. */
    struct wg_endpoint cmm2[2] = {pub_b(), lo()};
    disco_path_on_call_me_maybe(p, cmm2, 2, T0 + 1 * SEC, &out);
    assert_int_equal(out.n_pings, 3);
    assert_non_null(ping_to(&out, pub_a()));
    assert_non_null(ping_to(&out, pub_b()));
    assert_non_null(ping_to(&out, lo()));
    assert_null(ping_to(&out, lan()));
    assert_false(out.call_me_maybe);
    assert_int_equal(p->n_cand, 3);

    /* A send right after pings nothing (all just pinged). */
    disco_path_send(p, T0 + 2 * SEC, &r, &out);
    assert_int_equal(out.n_pings, 0);
    assert_false(out.call_me_maybe);

    /* An empty CallMeMaybe forgets the CMM set; the coordinator's endpoint remains. */
    disco_path_on_call_me_maybe(p, NULL, 0, T0 + 3 * SEC, &out);
    assert_int_equal(p->n_cand, 1);
    assert_int_equal(out.n_pings, 1);
    assert_non_null(ping_to(&out, pub_a()));
    free(p);
}

static void test_candidate_filters(void **state)
{
    struct disco_path *p = new_path();
    struct disco_path_out out;
    struct wg_endpoint eps[] = {
        ep6_of("fe800000000000000000000000000001", 41641),   /* link-local IPv6 */
        ep6_of("febf0000000000000000000000000001", 41641),   /* still fe80::/10 */
        ep4(100, 64, 0, 1, 41641),                           /* overlay 100.64.0.0/10 */
        ep4(100, 127, 255, 254, 41641),
        ep6_of("fd7a115ca1e000000000000000000001", 41641),   /* overlay fd7a:115c:a1e0::/48 */
        {0},                                                 /* family 0 */
        ep4(0, 0, 0, 0, 41641),                              /* unspecified */
        ep4(203, 0, 113, 9, 0),                              /* port 0 */
        ep4(100, 128, 0, 1, 41641),                          /* outside 100.64/10: kept */
        ep4(169, 254, 1, 1, 41641),                          /* IPv4 link-local: kept */
        ep6_of("fd7a115ca1e100000000000000000001", 41641),   /* another ULA /48: kept */
    };
    size_t n = sizeof(eps) / sizeof(eps[0]);
    disco_path_on_call_me_maybe(p, eps, n, T0, &out);
    assert_int_equal(p->n_cand, 3);
    assert_int_equal(p->ignored_candidates, 8);
    assert_int_equal(out.n_pings, 3);
    assert_non_null(ping_to(&out, ep4(100, 128, 0, 1, 41641)));
    assert_non_null(ping_to(&out, ep4(169, 254, 1, 1, 41641)));

    /* The same filters apply to the coordinator's list and to ping sources. */
    disco_path_set_endpoints(p, eps, n, T0);
    disco_path_on_ping(p, &eps[2], T0);
    assert_int_equal(p->n_cand, 3);
    assert_int_equal(p->ignored_candidates, 8 + 8 + 1);

    /* IPv4-mapped IPv6 is the IPv4 candidate, not a second one. */
    struct wg_endpoint mapped = ep6_of("00000000000000000000ffffcb007101", 41641);   /* ::ffff:203.0.113.1 */
    disco_path_on_ping(p, &mapped, T0);
    struct wg_endpoint a = pub_a();
    disco_path_set_endpoints(p, &a, 1, T0);
    assert_int_equal(p->n_cand, 4);
    assert_int_equal(p->cand[3].sources, (unsigned)(DISCO_PATH_FROM_PING | DISCO_PATH_FROM_COORD));
    free(p);
}

/* ---- pongs ----------------------------------------------------------------------- */

static void test_pong_matching(void **state)
{
    struct disco_path *p = new_path();
    struct disco_path_route r;
    struct disco_path_out out;
    struct wg_endpoint eps[2] = {pub_a(), pub_b()};
    set_eps(p, eps, 2);
    disco_path_send(p, T0, &r, &out);
    struct disco_path_out first = out;

    /* Unknown TxID: not matched, counted, nothing changes. */
    uint8_t unknown[DISCO_TXID_LEN] = {1, 2, 3};
    uint64_t lat = 7;
    struct wg_endpoint to = {0};
    assert_false(disco_path_on_pong(p, unknown, false, T0 + 1 * MS, &lat, &to));
    assert_int_equal(lat, 7);
    assert_int_equal(p->unmatched_pongs, 1);
    assert_false(disco_path_best(p, NULL, NULL));

    /* A pong over DERP for a UDP ping completes it but does not move best. */
    const struct disco_path_ping *pa = ping_to(&first, pub_a());
    assert_true(disco_path_on_pong(p, pa->txid, true, T0 + 3 * MS, &lat, &to));
    assert_int_equal(lat, 3 * MS);
    assert_true(wg_endpoint_equal(&to, &eps[0]));
    assert_false(disco_path_best(p, NULL, NULL));
    /* The TxID is used up: the same pong again (now over UDP) is unknown. */
    assert_false(disco_path_on_pong(p, pa->txid, false, T0 + 4 * MS, &lat, &to));
    assert_false(disco_path_best(p, NULL, NULL));

    /* A pong 5 s after its ping is too late: ignored, no best. 4.999 s is in time. */
    const struct disco_path_ping *pb = ping_to(&first, pub_b());
    assert_false(disco_path_on_pong(p, pb->txid, false, T0 + DISCO_PATH_PING_TIMEOUT, NULL, NULL));
    assert_false(disco_path_best(p, NULL, NULL));
    assert_int_equal(p->unmatched_pongs, 3);

    disco_path_send(p, T0 + DISCO_PATH_PING_INTERVAL, &r, &out);
    assert_int_equal(out.n_pings, 2);
    pb = ping_to(&out, pub_b());
    assert_true(disco_path_on_pong(p, pb->txid, false, T0 + DISCO_PATH_PING_INTERVAL + DISCO_PATH_PING_TIMEOUT - 1,
                                   &lat, NULL));
    assert_int_equal(lat, DISCO_PATH_PING_TIMEOUT - 1);
    assert_true(best_is(p, pub_b()));
    free(p);
}

static void test_pong_derp_ping(void **state)
{
    struct disco_path *p = new_path();
    struct wg_endpoint a = pub_a();
    make_best(p, a, T0 + 10 * MS, 10 * MS);

    /* A CLI ping via DERP (to = family 0): its DERP pong matches, to comes
     * back family 0, best and trust are untouched. */
    uint8_t txid[DISCO_TXID_LEN];
    memset(txid, 0x5a, sizeof(txid));
    struct wg_endpoint derp = {0};
    assert_true(disco_path_note_sent(p, txid, &derp, T0 + 1 * SEC));
    uint64_t lat = 0;
    struct wg_endpoint to = pub_b();
    assert_true(disco_path_on_pong(p, txid, true, T0 + 1 * SEC + 40 * MS, &lat, &to));
    assert_int_equal(lat, 40 * MS);
    assert_int_equal(to.family, 0);
    assert_true(best_is(p, a));
    assert_false(disco_path_trusted(p, T0 + 10 * MS + DISCO_PATH_TRUST + 1));

    /* A CLI ping over UDP to an address that is not a candidate: matched, no best. */
    memset(txid, 0x6b, sizeof(txid));
    struct wg_endpoint other = pub_b();
    assert_true(disco_path_note_sent(p, txid, &other, T0 + 2 * SEC));
    assert_true(disco_path_on_pong(p, txid, false, T0 + 2 * SEC + 1 * MS, &lat, &to));
    assert_true(wg_endpoint_equal(&to, &other));
    assert_true(best_is(p, a));
    /* CLI pings do not count against a candidate's 5 s interval: a (last
     * pinged at T0) is pinged by the untrusted send right after one. */
    memset(txid, 0x7c, sizeof(txid));
    assert_true(disco_path_note_sent(p, txid, &a, T0 + 7 * SEC));
    struct disco_path_route r;
    struct disco_path_out out;
    disco_path_send(p, T0 + 7 * SEC, &r, &out);
    assert_int_equal(out.n_pings, 1);
    assert_non_null(ping_to(&out, a));
    free(p);
}

static void test_cli_pong_makes_best(void **state)
{
    /* A CLI ping over UDP to a candidate can make it best before any full
     * round; the first heartbeat then still runs one (no full ping yet). */
    struct disco_path *p = new_path();
    struct disco_path_route r;
    struct disco_path_out out;
    struct wg_endpoint eps[2] = {pub_a(), pub_b()};
    set_eps(p, eps, 2);
    uint8_t txid[DISCO_TXID_LEN];
    memset(txid, 0x11, sizeof(txid));
    assert_true(disco_path_note_sent(p, txid, &eps[0], T0));
    assert_true(disco_path_on_pong(p, txid, false, T0 + 1 * MS, NULL, NULL));
    assert_true(best_is(p, pub_a()));
    disco_path_send(p, T0 + 2 * MS, &r, &out);   /* trusted: UDP only, no round */
    assert_false(r.derp);
    assert_int_equal(out.n_pings, 0);
    disco_path_tick(p, T0 + 2 * MS + DISCO_PATH_HEARTBEAT, &out);
    assert_int_equal(out.n_pings, 2);
    assert_true(out.call_me_maybe);
    free(p);
}

static void test_best_selection(void **state)
{
    struct disco_path *p = new_path();
    struct disco_path_route r;
    struct disco_path_out out;
    struct wg_endpoint eps[3] = {pub_a(), pub_b(), lan()};
    set_eps(p, eps, 3);
    disco_path_send(p, T0, &r, &out);
    struct disco_path_out round = out;

    /* The first pong wins (no best yet), even at 100 ms. */
    pong(p, &round, pub_a(), T0 + 100 * MS);
    assert_true(best_is(p, pub_a()));
    /* Slower public b: a stays. */
    pong(p, &round, pub_b(), T0 + 120 * MS);
    assert_true(best_is(p, pub_a()));
    /* Private at 130 ms: its +20 does not beat a's 24 latency points. */
    pong(p, &round, lan(), T0 + 130 * MS);
    assert_true(best_is(p, pub_a()));
    /* Pongs from non-best candidates do not extend trust. */
    assert_true(disco_path_trusted(p, T0 + 100 * MS + DISCO_PATH_TRUST));
    assert_false(disco_path_trusted(p, T0 + 100 * MS + DISCO_PATH_TRUST + 1));

    /* The next round (untrusted send): private at 101 ms beats public 100 ms (20 > 0 + 1). */
    uint64_t t = T0 + 7 * SEC;
    disco_path_send(p, t, &r, &out);
    assert_int_equal(out.n_pings, 3);
    pong(p, &out, pub_a(), t + 100 * MS);
    assert_true(best_is(p, pub_a()));
    pong(p, &out, lan(), t + 101 * MS);
    assert_true(best_is(p, lan()));
    uint64_t lat = 0;
    disco_path_best(p, NULL, &lat);
    assert_int_equal(lat, 101 * MS);
    assert_true(disco_path_trusted(p, t + 101 * MS + DISCO_PATH_TRUST));
    assert_false(disco_path_trusted(p, t + 101 * MS + DISCO_PATH_TRUST + 1));
    free(p);
}

/* ---- a best that dies, and comes back ----------------------------------------------- */

struct sim {
    struct disco_path *p;
    uint64_t now;
    bool udp_works;            /* pongs to UDP pings come back (1 ms) */
    uint64_t dropped_at;       /* when best went away (0: not yet) */
    struct disco_path_route r; /* of the last send */
};

/* Runs the sender at one packet every 100 ms with the heartbeat ticking on
 * time, answering pings only while UDP works, until `until`. */
static void sim_run(struct sim *s, uint64_t until)
{
    struct disco_path_out out;
    for (int guard = 0; s->now < until && guard < 100000; guard++) {
        uint64_t next_send = s->now + 100 * MS < until ? s->now + 100 * MS : until;
        uint64_t deadline = disco_path_next_deadline(s->p);
        bool tick = deadline <= next_send;
        s->now = tick ? deadline : next_send;
        if (tick)
            disco_path_tick(s->p, s->now, &out);
        else
            disco_path_send(s->p, s->now, &s->r, &out);
        for (size_t i = 0; s->udp_works && i < out.n_pings; i++)
            assert_true(disco_path_on_pong(s->p, out.pings[i].txid, false, s->now + 1 * MS, NULL, NULL));
        if (!disco_path_best(s->p, NULL, NULL) && s->dropped_at == 0)
            s->dropped_at = s->now;
    }
}

static void test_dead_best_falls_back_to_derp(void **state)
{
    struct sim s = {.p = new_path(), .now = T0, .udp_works = true};
    struct wg_endpoint eps[2] = {pub_a(), pub_b()};
    set_eps(s.p, eps, 2);
    sim_run(&s, T0 + 10 * SEC);
    assert_true(disco_path_trusted(s.p, s.now));
    assert_true(s.r.udp);
    assert_false(s.r.derp);
    uint64_t until = s.p->trust_until;
    s.dropped_at = 0;

    /* UDP is blocked mid-transfer: still UDP only until trust expires. */
    s.udp_works = false;
    sim_run(&s, until);
    assert_true(s.r.udp);
    assert_false(s.r.derp);
    /* Then DERP plus the untrusted best, with full rounds. */
    sim_run(&s, until + 1 * SEC);
    assert_true(s.r.udp);
    assert_true(s.r.derp);
    assert_true(disco_path_best(s.p, NULL, NULL));
    /* Three unanswered pings after expiry: best forgotten within 3 heartbeats + timeout. */
    sim_run(&s, until + 3 * DISCO_PATH_HEARTBEAT + DISCO_PATH_PING_TIMEOUT + 1 * SEC);
    assert_true(s.dropped_at > until + 2 * DISCO_PATH_HEARTBEAT + DISCO_PATH_PING_TIMEOUT);
    assert_true(s.dropped_at <= until + 3 * DISCO_PATH_HEARTBEAT + DISCO_PATH_PING_TIMEOUT);
    assert_false(s.r.udp);
    assert_true(s.r.derp);
    assert_int_equal(s.p->n_cand, 2);   /* the candidates stay */

    /* On DERP alone, full rounds continue while the session is active:
     * every candidate keeps being pinged every 5 s (+ one send step). */
    uint64_t derp_from = s.now;
    for (int i = 1; i <= 30; i++) {
        sim_run(&s, derp_from + (uint64_t)i * SEC);
        assert_false(s.r.udp);
        assert_true(s.r.derp);
        for (size_t c = 0; c < s.p->n_cand; c++)
            assert_true(s.now - s.p->cand[c].last_ping_sent <= DISCO_PATH_PING_INTERVAL + 100 * MS);
    }

    /* UDP restored: the next round's pong makes it direct again, within 5 s. */
    s.udp_works = true;
    uint64_t restored = s.now;
    sim_run(&s, restored + DISCO_PATH_PING_INTERVAL + 1 * SEC);
    assert_true(s.r.udp);
    assert_false(s.r.derp);
    assert_true(disco_path_trusted(s.p, s.now));
    free(s.p);
}

static void test_dead_best_idle_session(void **state)
{
    /* The last send, then the peer goes away: heartbeats run 45 s more and go
     * unanswered; best is forgotten, the heartbeats stop, and the next send
     * goes via DERP alone and pings the candidate. */
    struct disco_path *p = new_path();
    struct disco_path_route r;
    struct disco_path_out out;
    make_best(p, pub_a(), T0 + 1 * MS, 1 * MS);
    uint64_t now = disco_path_next_deadline(p);
    for (int i = 0; i < 100 && now != UINT64_MAX; i++) {
        disco_path_tick(p, now, &out);   /* heartbeats go unanswered */
        now = disco_path_next_deadline(p);
    }
    assert_int_equal(disco_path_next_deadline(p), UINT64_MAX);
    assert_false(disco_path_best(p, NULL, NULL));
    disco_path_send(p, T0 + 200 * SEC, &r, &out);
    assert_false(r.udp);
    assert_true(r.derp);
    assert_non_null(ping_to(&out, pub_a()));
    free(p);
}

static void test_best_recovers_before_drop(void **state)
{
    struct disco_path *p = new_path();
    struct disco_path_route r;
    struct disco_path_out out;
    uint64_t at = T0 + 1 * MS;
    make_best(p, pub_a(), at, 1 * MS);
    /* Heartbeats after trust expiry (last send at T0, still active). */
    uint64_t t1 = at + DISCO_PATH_TRUST + 1 * SEC;
    disco_path_tick(p, t1, &out);
    assert_non_null(ping_to(&out, pub_a()));
    disco_path_tick(p, t1 + DISCO_PATH_HEARTBEAT, &out);
    assert_int_equal(out.n_pings, 1);
    assert_non_null(ping_to(&out, pub_a()));
    /* The first times out: one miss, best kept. */
    disco_path_tick(p, t1 + DISCO_PATH_PING_TIMEOUT, &out);
    assert_int_equal(out.n_pings, 0);
    assert_int_equal(p->best_misses, 1);
    disco_path_tick(p, t1 + 2 * DISCO_PATH_HEARTBEAT, &out);
    struct disco_path_out third = out;
    assert_non_null(ping_to(&third, pub_a()));
    /* The second times out: two misses, still best, sent to untrusted with DERP. */
    uint64_t t2 = t1 + DISCO_PATH_HEARTBEAT + DISCO_PATH_PING_TIMEOUT;
    disco_path_tick(p, t2, &out);
    assert_int_equal(p->best_misses, 2);
    assert_true(best_is(p, pub_a()));
    disco_path_send(p, t2, &r, &out);
    assert_true(r.udp);
    assert_true(r.derp);
    /* The third is answered: trusted again, the count starts over. */
    pong(p, &third, pub_a(), t2 + 2 * MS);
    assert_int_equal(p->best_misses, 0);
    assert_true(disco_path_trusted(p, t2 + 2 * MS));
    disco_path_send(p, t2 + 3 * MS, &r, &out);
    assert_true(r.udp);
    assert_false(r.derp);
    free(p);
}

/* ---- candidate sources, expiry and caps ------------------------------------------------- */

/* Issue #7: the caller gives a trusted best up (its path MTU is below the
 * floor): DERP alone at once, the candidate kept, and a later pong to it
 * makes it best again. */
static void test_drop_best(void **state)
{
    (void)state;
    struct disco_path *p = new_path();
    struct disco_path_route r;
    struct disco_path_out out;
    make_best(p, pub_a(), T0 + 10 * MS, 10 * MS);
    disco_path_drop_best(p);
    assert_false(disco_path_best(p, NULL, NULL));
    assert_false(disco_path_trusted(p, T0 + 20 * MS));
    disco_path_send(p, T0 + 20 * MS, &r, &out);
    assert_true(r.derp);
    assert_false(r.udp);
    assert_int_equal(p->n_cand, 1);
    /* The send's round pings the candidate (5 s after the last); its pong restores it. */
    disco_path_send(p, T0 + 6 * SEC, &r, &out);
    pong(p, &out, pub_a(), T0 + 6 * SEC + 10 * MS);
    assert_true(disco_path_trusted(p, T0 + 6 * SEC + 10 * MS));
    free(p);
}

static void test_ping_candidate_expiry(void **state)
{
    struct disco_path *p = new_path();
    struct disco_path_route r;
    struct disco_path_out out;
    struct wg_endpoint src = pub_b();
    disco_path_on_ping(p, &src, T0);
    assert_int_equal(p->n_cand, 1);
    assert_int_equal(p->cand[0].sources, (unsigned)DISCO_PATH_FROM_PING);

    /* Pinged like any candidate. */
    disco_path_send(p, T0 + 1 * SEC, &r, &out);
    assert_non_null(ping_to(&out, src));

    /* Still there exactly 45 s after the last ping from it; gone after. */
    disco_path_on_ping(p, &src, T0 + 10 * SEC);
    disco_path_send(p, T0 + 10 * SEC + DISCO_PATH_SESSION_ACTIVE, &r, &out);
    assert_int_equal(p->n_cand, 1);
    assert_non_null(ping_to(&out, src));
    disco_path_send(p, T0 + 10 * SEC + DISCO_PATH_SESSION_ACTIVE + 1, &r, &out);
    assert_int_equal(p->n_cand, 0);

    /* A ping source that the coordinator also lists only loses the PING bit. */
    struct wg_endpoint a = pub_a();
    set_eps(p, &a, 1);
    disco_path_on_ping(p, &a, T0 + 100 * SEC);
    assert_int_equal(p->cand[0].sources, (unsigned)(DISCO_PATH_FROM_COORD | DISCO_PATH_FROM_PING));
    disco_path_send(p, T0 + 200 * SEC, &r, &out);
    assert_int_equal(p->n_cand, 1);
    assert_int_equal(p->cand[0].sources, (unsigned)DISCO_PATH_FROM_COORD);
    assert_non_null(ping_to(&out, a));
    free(p);
}

static void test_expired_ping_source_drops_best(void **state)
{
    struct disco_path *p = new_path();
    struct disco_path_route r;
    struct disco_path_out out;
    struct wg_endpoint src = pub_b();
    disco_path_on_ping(p, &src, T0);
    disco_path_send(p, T0, &r, &out);
    pong(p, &out, src, T0 + 1 * MS);
    assert_true(best_is(p, src));
    /* No ping from it for over 45 s; the next full round deletes it and best. */
    disco_path_send(p, T0 + DISCO_PATH_SESSION_ACTIVE + 1 * SEC, &r, &out);
    assert_false(disco_path_best(p, NULL, NULL));
    assert_int_equal(p->n_cand, 0);
    assert_false(r.udp);
    free(p);
}

static void test_sources_merge_and_replace(void **state)
{
    struct disco_path *p = new_path();
    struct disco_path_out out;
    struct wg_endpoint a = pub_a(), b = pub_b();
    struct wg_endpoint both[2] = {a, b};
    set_eps(p, both, 2);
    disco_path_on_call_me_maybe(p, &a, 1, T0, &out);
    disco_path_on_ping(p, &a, T0);
    /* One entry for a, with all three sources. */
    assert_int_equal(p->n_cand, 2);
    assert_true(wg_endpoint_equal(&p->cand[0].addr, &a));
    assert_int_equal(p->cand[0].sources,
                     (unsigned)(DISCO_PATH_FROM_COORD | DISCO_PATH_FROM_CMM | DISCO_PATH_FROM_PING));

    /* b becomes best; the same list again keeps it (and its trust). */
    disco_path_on_call_me_maybe(p, &a, 1, T0 + 1 * SEC, &out);
    pong(p, &out, b, T0 + 1 * SEC + 1 * MS);
    assert_true(best_is(p, b));
    set_eps(p, both, 2);
    assert_true(best_is(p, b));
    assert_true(disco_path_trusted(p, T0 + 2 * SEC));
    /* The coordinator drops b: b is no candidate, best is forgotten. */
    set_eps(p, &a, 1);
    assert_int_equal(p->n_cand, 1);
    assert_false(disco_path_best(p, NULL, NULL));
    assert_false(disco_path_trusted(p, T0 + 2 * SEC));
    /* Now no coordinator endpoints at all: a stays through CMM and ping. */
    set_eps(p, NULL, 0);
    assert_int_equal(p->n_cand, 1);
    assert_int_equal(p->cand[0].sources, (unsigned)(DISCO_PATH_FROM_CMM | DISCO_PATH_FROM_PING));
    free(p);
}

static void test_caps(void **state)
{
    struct disco_path *p = new_path();
    struct disco_path_route r;
    struct disco_path_out out;
    enum { N = DISCO_PATH_MAX_CANDIDATES + 36 };
    struct wg_endpoint eps[N];
    for (int i = 0; i < N; i++)
        eps[i] = ep4(198, 18, (uint8_t)(i / 250), (uint8_t)(i % 250 + 1), 41641);
    /* Duplicates of the first few among them. */
    for (int i = 0; i < 5; i++)
        eps[DISCO_PATH_MAX_CANDIDATES + 2 * i] = eps[i];

    set_eps(p, eps, N);
    assert_int_equal(p->n_cand, DISCO_PATH_MAX_CANDIDATES);
    assert_int_equal(p->ignored_candidates, N - DISCO_PATH_MAX_CANDIDATES - 5);
    /* CallMeMaybe and ping sources beyond the cap are ignored too, existing ones merge. */
    disco_path_on_call_me_maybe(p, eps, N, T0, &out);
    assert_int_equal(p->n_cand, DISCO_PATH_MAX_CANDIDATES);
    assert_int_equal(out.n_pings, DISCO_PATH_MAX_CANDIDATES);
    struct wg_endpoint extra = ep4(198, 19, 0, 1, 41641);
    uint64_t before = p->ignored_candidates;
    disco_path_on_ping(p, &extra, T0);
    assert_int_equal(p->ignored_candidates, before + 1);
    assert_int_equal(p->n_cand, DISCO_PATH_MAX_CANDIDATES);
    for (size_t i = 0; i < p->n_cand; i++)
        assert_int_equal(p->cand[i].sources, (unsigned)(DISCO_PATH_FROM_COORD | DISCO_PATH_FROM_CMM));

    /* A full set at every heartbeat: each call asks for at most one ping per
     * candidate and every pong of the latest round still matches. */
    disco_path_send(p, T0 + DISCO_PATH_PING_INTERVAL, &r, &out);
    assert_int_equal(out.n_pings, DISCO_PATH_MAX_CANDIDATES);
    for (size_t i = 0; i < out.n_pings; i++)
        assert_true(disco_path_on_pong(p, out.pings[i].txid, false, T0 + DISCO_PATH_PING_INTERVAL + 1 * MS, NULL,
                                       NULL));
    assert_true(disco_path_best(p, NULL, NULL));
    assert_int_equal(p->forgotten_pings, 0);
    free(p);
}

static void test_sent_table_full(void **state)
{
    struct disco_path *p = new_path();
    uint8_t txid[DISCO_TXID_LEN] = {0};
    struct wg_endpoint derp = {0};
    for (int i = 0; i < DISCO_PATH_MAX_SENT; i++) {
        txid[0] = (uint8_t)i;
        assert_true(disco_path_note_sent(p, txid, &derp, T0 + (uint64_t)i * MS));
    }
    /* One more while all are younger than 5 s: the oldest (txid 0) is forgotten. */
    txid[0] = 0xff;
    assert_false(disco_path_note_sent(p, txid, &derp, T0 + 100 * MS));
    assert_int_equal(p->forgotten_pings, 1);
    txid[0] = 0;
    assert_false(disco_path_on_pong(p, txid, true, T0 + 101 * MS, NULL, NULL));
    txid[0] = 1;
    assert_true(disco_path_on_pong(p, txid, true, T0 + 101 * MS, NULL, NULL));
    /* After the timeout every slot is free again without forgetting anything. */
    for (int i = 0; i < DISCO_PATH_MAX_SENT; i++) {
        txid[0] = (uint8_t)(0x80 + i);
        assert_true(disco_path_note_sent(p, txid, &derp, T0 + 10 * SEC));
    }
    assert_int_equal(p->forgotten_pings, 1);
    /* A pending ping's timeout is a deadline (so a dead best is noticed on time). */
    assert_int_equal(disco_path_next_deadline(p), T0 + 10 * SEC + DISCO_PATH_PING_TIMEOUT);
    free(p);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_better_addr_latency),
        cmocka_unit_test(test_better_addr_hysteresis),
        cmocka_unit_test(test_better_addr_bonuses),
        cmocka_unit_test(test_better_addr_invalid),
        cmocka_unit_test(test_better_addr_huge_latency),
        cmocka_unit_test(test_first_send),
        cmocka_unit_test(test_trust_window),
        cmocka_unit_test(test_heartbeat_cadence),
        cmocka_unit_test(test_heartbeat_stops_when_idle),
        cmocka_unit_test(test_heartbeat_full_round_when_untrusted),
        cmocka_unit_test(test_upgrade_round),
        cmocka_unit_test(test_ping_interval),
        cmocka_unit_test(test_call_me_maybe),
        cmocka_unit_test(test_candidate_filters),
        cmocka_unit_test(test_pong_matching),
        cmocka_unit_test(test_pong_derp_ping),
        cmocka_unit_test(test_cli_pong_makes_best),
        cmocka_unit_test(test_best_selection),
        cmocka_unit_test(test_dead_best_falls_back_to_derp),
        cmocka_unit_test(test_dead_best_idle_session),
        cmocka_unit_test(test_best_recovers_before_drop),
        cmocka_unit_test(test_drop_best),
        cmocka_unit_test(test_ping_candidate_expiry),
        cmocka_unit_test(test_expired_ping_source_drops_best),
        cmocka_unit_test(test_sources_merge_and_replace),
        cmocka_unit_test(test_caps),
        cmocka_unit_test(test_sent_table_full),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
