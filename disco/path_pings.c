/* Asking the caller for disco pings: one to a candidate (startDiscoPingLocked),
 * a full round over every candidate not pinged within 5 s
 * (sendDiscoPingsLocked), and when the heartbeat wants a full round
 * (wantFullPingLocked). tailscale-wire.md §3.4. */
#include "disco/path_internal.h"

#include <sodium.h>

void disco_path_ping_candidate(struct disco_path *p, struct disco_path_candidate *c, uint64_t now,
                               struct disco_path_out *out)
{
    /* Cannot happen (one ping per candidate per call), but never overrun. */
    if (out->n_pings >= DISCO_PATH_MAX_PINGS)
        return;
    struct disco_path_ping *ping = &out->pings[out->n_pings++];
    randombytes_buf(ping->txid, DISCO_TXID_LEN);
    ping->to = c->addr;
    disco_path_sent_record(p, ping->txid, &c->addr, now);
    c->last_ping_sent = now;
}

static bool pinged_recently(const struct disco_path_candidate *c, uint64_t now)
{
    return c->last_ping_sent != 0 && now >= c->last_ping_sent &&
           now - c->last_ping_sent < DISCO_PATH_PING_INTERVAL;
}

bool disco_path_ping_round(struct disco_path *p, uint64_t now, struct disco_path_out *out)
{
    p->last_full_ping = now;
    disco_path_cand_expire(p, now);
    bool sent_any = false;
    for (size_t i = 0; i < p->n_cand; i++) {
        if (pinged_recently(&p->cand[i], now))
            continue;
        disco_path_ping_candidate(p, &p->cand[i], now, out);
        sent_any = true;
    }
    return sent_any;
}

bool disco_path_want_full_ping(const struct disco_path *p, uint64_t now)
{
    if (!p->has_best || p->last_full_ping == 0)
        return true;
    if (now > p->trust_until)
        return true;
    if (p->best_latency <= DISCO_PATH_GOOD_ENOUGH)
        return false;
    return now >= p->last_full_ping && now - p->last_full_ping >= DISCO_PATH_UPGRADE;
}
