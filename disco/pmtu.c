/* Path MTU discovery for one direct path (disco/pmtu.h): the ladder of
 * probes at start, a binary search one probe at a time between the largest
 * size that got a pong (ok_wire) and the smallest given up (fail_wire), and
 * rechecks of the confirmed size while the session is active (black holes).
 *
 * One size at a time gathers failures (fail_tries_wire): the smallest that
 * timed out above ok_wire. It is probed again until it passes or has failed
 * DISCO_PMTU_TRIES times; a single lost datagram never lowers the MTU. */
#include "disco/pmtu.h"

#include <string.h>

#include <sodium.h>

static uint16_t floor_wire(uint8_t family)
{
    return (uint16_t)(DISCO_PMTU_INNER_FLOOR + DISCO_PMTU_WG_OVERHEAD + disco_pmtu_ip_udp(family));
}

/* The ladder, ascending: the floor, 1280, Coder's 1310-byte payload, 1360, 1400, 1500. */
#define LADDER_N 6
static void ladder(uint8_t family, uint16_t out[LADDER_N])
{
    out[0] = floor_wire(family);
    out[1] = 1280;
    out[2] = (uint16_t)(DISCO_PMTU_CODER_PAYLOAD + disco_pmtu_ip_udp(family));
    out[3] = 1360;
    out[4] = 1400;
    out[5] = DISCO_PMTU_MAX_WIRE;
}

void disco_pmtu_init(struct disco_pmtu *m)
{
    memset(m, 0, sizeof(*m));
}

void disco_pmtu_start(struct disco_pmtu *m, uint8_t family, uint64_t now)
{
    disco_pmtu_init(m);
    m->family = family == 6 ? 6 : 4;
    m->next_recheck = now + DISCO_PMTU_RECHECK;
}

void disco_pmtu_stop(struct disco_pmtu *m)
{
    disco_pmtu_init(m);
}

/* The search's upper bound: the smallest failed size, or just above the ceiling. */
static unsigned hi_bound(const struct disco_pmtu *m)
{
    return m->fail_wire != 0 ? m->fail_wire : DISCO_PMTU_MAX_WIRE + 1u;
}

static bool tracked_in_range(const struct disco_pmtu *m)
{
    return m->fail_tries > 0 && m->fail_tries_wire > m->ok_wire && m->fail_tries_wire < hi_bound(m);
}

bool disco_pmtu_unusable(const struct disco_pmtu *m)
{
    return m->family != 0 && m->fail_wire != 0 && m->fail_wire <= floor_wire(m->family);
}

static bool converged(const struct disco_pmtu *m)
{
    return m->ok_wire != 0 && !tracked_in_range(m) && hi_bound(m) - m->ok_wire <= DISCO_PMTU_RESOLUTION;
}

static bool search_in_flight(const struct disco_pmtu *m)
{
    for (size_t i = 0; i < DISCO_PMTU_MAX_INFLIGHT; i++)
        if (m->inflight[i].used && !m->inflight[i].recheck)
            return true;
    return false;
}

static bool recheck_in_flight(const struct disco_pmtu *m)
{
    for (size_t i = 0; i < DISCO_PMTU_MAX_INFLIGHT; i++)
        if (m->inflight[i].used && m->inflight[i].recheck)
            return true;
    return false;
}

/* The next search size, or 0 when none is due (ladder not out yet, a probe
 * in flight, converged, unusable). */
static uint16_t search_next(const struct disco_pmtu *m)
{
    if (m->family == 0 || !m->ladder_sent || search_in_flight(m) || disco_pmtu_unusable(m) || converged(m))
        return 0;
    if (tracked_in_range(m))
        return m->fail_tries_wire;   /* its next try */
    if (m->ok_wire == 0)
        return floor_wire(m->family);
    return (uint16_t)((m->ok_wire + hi_bound(m)) / 2);
}

bool disco_pmtu_settled(const struct disco_pmtu *m)
{
    return m->family != 0 && converged(m) && !search_in_flight(m);
}

uint16_t disco_pmtu_inner_mtu(const struct disco_pmtu *m)
{
    unsigned h = disco_pmtu_ip_udp(m->family) + DISCO_PMTU_WG_OVERHEAD;
    return m->family != 0 && m->ok_wire > h ? (uint16_t)(m->ok_wire - h) : 0;
}

static bool add_probe(struct disco_pmtu *m, uint16_t wire, bool recheck, uint64_t now, struct disco_pmtu_out *out)
{
    struct disco_pmtu_inflight *slot = NULL;
    for (size_t i = 0; i < DISCO_PMTU_MAX_INFLIGHT && slot == NULL; i++)
        if (!m->inflight[i].used)
            slot = &m->inflight[i];
    if (slot == NULL || out->n >= DISCO_PMTU_MAX_INFLIGHT)
        return false;
    randombytes_buf(slot->txid, DISCO_TXID_LEN);
    slot->wire = wire;
    slot->sent_at = now;
    slot->used = true;
    slot->recheck = recheck;
    struct disco_pmtu_probe *p = &out->probes[out->n++];
    memcpy(p->txid, slot->txid, DISCO_TXID_LEN);
    p->wire = wire;
    p->udp_payload = wire - disco_pmtu_ip_udp(m->family);
    m->probes_sent++;
    return true;
}

static void report(struct disco_pmtu_event *ev, const struct disco_pmtu_event *e)
{
    /* The last wins, but a plain "no answer" never hides a decision. */
    if (ev == NULL || (!e->failed && !e->black_hole && (ev->failed || ev->black_hole)))
        return;
    *ev = *e;
}

/* A recheck of the confirmed size went unanswered. */
static void recheck_missed(struct disco_pmtu *m, uint16_t wire, struct disco_pmtu_event *e)
{
    if (wire != m->ok_wire)
        return;   /* the confirmed size moved on since */
    if (++m->recheck_misses < DISCO_PMTU_TRIES)
        return;
    uint16_t fl = floor_wire(m->family);
    m->fail_wire = wire;
    m->ok_wire = wire > fl ? fl : 0;
    m->fail_tries = 0;
    m->fail_tries_wire = 0;
    m->recheck_misses = 0;
    e->black_hole = true;
}

/* A search or ladder probe went unanswered. */
static void probe_missed(struct disco_pmtu *m, uint16_t wire, struct disco_pmtu_event *e)
{
    if (wire <= m->ok_wire || wire >= hi_bound(m))
        return;   /* known either way already */
    if (m->fail_tries_wire == wire && m->fail_tries > 0) {
        m->fail_tries++;
    } else if (!tracked_in_range(m) || wire < m->fail_tries_wire) {
        m->fail_tries_wire = wire;
        m->fail_tries = 1;
    } else {
        return;   /* a smaller size is gathering failures: it decides first */
    }
    if (m->fail_tries >= DISCO_PMTU_TRIES) {
        m->fail_wire = wire;
        m->fail_tries = 0;
        m->fail_tries_wire = 0;
        e->failed = true;
    }
}

static void expire(struct disco_pmtu *m, uint64_t now, struct disco_pmtu_event *ev)
{
    /* Ascending by size, so that the smallest miss is the one tracked. */
    for (;;) {
        struct disco_pmtu_inflight *f = NULL;
        for (size_t i = 0; i < DISCO_PMTU_MAX_INFLIGHT; i++) {
            struct disco_pmtu_inflight *s = &m->inflight[i];
            if (s->used && now - s->sent_at >= DISCO_PMTU_PROBE_TIMEOUT && (f == NULL || s->wire < f->wire))
                f = s;
        }
        if (f == NULL)
            return;
        struct disco_pmtu_event e = { .wire = f->wire };
        f->used = false;
        m->timeouts++;
        if (f->recheck)
            recheck_missed(m, f->wire, &e);
        else
            probe_missed(m, f->wire, &e);
        report(ev, &e);
    }
}

static void recheck(struct disco_pmtu *m, uint64_t now, bool active, struct disco_pmtu_out *out)
{
    if (m->ok_wire == 0 || now < m->next_recheck)
        return;
    m->next_recheck = now + DISCO_PMTU_RECHECK;
    if (active && !recheck_in_flight(m))
        (void)add_probe(m, m->ok_wire, true, now, out);
}

void disco_pmtu_tick(struct disco_pmtu *m, uint64_t now, bool active, struct disco_pmtu_out *out,
                     struct disco_pmtu_event *ev)
{
    out->n = 0;
    if (ev != NULL)
        memset(ev, 0, sizeof(*ev));
    if (m->family == 0)
        return;
    expire(m, now, ev);
    if (!m->ladder_sent) {
        uint16_t sizes[LADDER_N];
        ladder(m->family, sizes);
        for (size_t i = 0; i < LADDER_N; i++)
            (void)add_probe(m, sizes[i], false, now, out);
        m->ladder_sent = true;
    } else {
        uint16_t w = search_next(m);
        if (w != 0)
            (void)add_probe(m, w, false, now, out);
    }
    recheck(m, now, active, out);
}

uint64_t disco_pmtu_next_deadline(const struct disco_pmtu *m)
{
    if (m->family == 0)
        return UINT64_MAX;
    if (!m->ladder_sent || search_next(m) != 0)
        return 1;   /* at once (times are never 0) */
    uint64_t next = m->ok_wire != 0 ? m->next_recheck : UINT64_MAX;
    for (size_t i = 0; i < DISCO_PMTU_MAX_INFLIGHT; i++)
        if (m->inflight[i].used && m->inflight[i].sent_at + DISCO_PMTU_PROBE_TIMEOUT < next)
            next = m->inflight[i].sent_at + DISCO_PMTU_PROBE_TIMEOUT;
    return next;
}

bool disco_pmtu_on_pong(struct disco_pmtu *m, const uint8_t txid[DISCO_TXID_LEN], uint64_t now,
                        struct disco_pmtu_event *ev)
{
    (void)now;
    if (m->family == 0)
        return false;
    for (size_t i = 0; i < DISCO_PMTU_MAX_INFLIGHT; i++) {
        struct disco_pmtu_inflight *s = &m->inflight[i];
        if (!s->used || sodium_memcmp(s->txid, txid, DISCO_TXID_LEN) != 0)
            continue;
        s->used = false;
        m->pongs++;
        if (s->recheck && s->wire == m->ok_wire)
            m->recheck_misses = 0;
        if (s->wire > m->ok_wire)
            m->ok_wire = s->wire;
        if (m->fail_wire != 0 && m->fail_wire <= m->ok_wire)
            m->fail_wire = 0;   /* it passes after all */
        if (m->fail_tries_wire <= m->ok_wire) {
            m->fail_tries = 0;
            m->fail_tries_wire = 0;
        }
        if (ev != NULL)
            *ev = (struct disco_pmtu_event){ .confirmed = true, .wire = s->wire };
        return true;
    }
    return false;
}
