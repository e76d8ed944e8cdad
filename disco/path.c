/* One peer's path over time (tailscale-wire.md §3.4): where a WireGuard
 * packet goes (addrForSendLocked), the pings an untrusted send triggers
 * (endpoint.send), and the 3 s heartbeat while the session is active
 * (endpoint.heartbeat). Events from the peer are in path_sources.c and
 * path_pong.c. */
#include "disco/path_internal.h"

#include <string.h>

void disco_path_init(struct disco_path *p)
{
    memset(p, 0, sizeof(*p));
    p->next_heartbeat = UINT64_MAX;
}

bool disco_path_trusted(const struct disco_path *p, uint64_t now)
{
    return p->has_best && now <= p->trust_until;
}

bool disco_path_best(const struct disco_path *p, struct wg_endpoint *addr, uint64_t *latency_ns)
{
    if (!p->has_best)
        return false;
    if (addr != NULL)
        *addr = p->best;
    if (latency_ns != NULL)
        *latency_ns = p->best_latency;
    return true;
}

void disco_path_reset_trust(struct disco_path *p)
{
    p->trust_until = 0;
}

void disco_path_send(struct disco_path *p, uint64_t now, struct disco_path_route *route, struct disco_path_out *out)
{
    disco_path_out_reset(out);
    memset(route, 0, sizeof(*route));
    disco_path_sent_expire(p, now);

    /* The route is read after the round: a round may forget best (its
     * ping-learned candidate expired), and this packet should not go there. */
    bool trusted = disco_path_trusted(p, now);
    if (!trusted && disco_path_ping_round(p, now, out))
        out->call_me_maybe = true;
    route->udp = p->has_best;
    if (p->has_best)
        route->udp_addr = p->best;
    route->derp = !trusted;

    /* noteActiveLocked: the heartbeat starts with the session. */
    p->last_send = now;
    if (p->next_heartbeat == UINT64_MAX)
        p->next_heartbeat = now + DISCO_PATH_HEARTBEAT;
}

uint64_t disco_path_next_deadline(const struct disco_path *p)
{
    uint64_t next = disco_path_sent_next_timeout(p);
    return p->next_heartbeat < next ? p->next_heartbeat : next;
}

static void heartbeat(struct disco_path *p, uint64_t now, struct disco_path_out *out)
{
    if (p->has_best) {
        struct disco_path_candidate *c = disco_path_cand_find(p, &p->best);
        if (c != NULL)   /* always: best is forgotten with its candidate */
            disco_path_ping_candidate(p, c, now, out);
    }
    if (disco_path_want_full_ping(p, now) && disco_path_ping_round(p, now, out))
        out->call_me_maybe = true;
}

void disco_path_tick(struct disco_path *p, uint64_t now, struct disco_path_out *out)
{
    disco_path_out_reset(out);
    disco_path_sent_expire(p, now);
    if (now < p->next_heartbeat)
        return;
    if (p->last_send == 0 || now - p->last_send > DISCO_PATH_SESSION_ACTIVE) {
        p->next_heartbeat = UINT64_MAX;   /* idle: the next send restarts it */
        return;
    }
    heartbeat(p, now, out);
    p->next_heartbeat = now + DISCO_PATH_HEARTBEAT;
}
