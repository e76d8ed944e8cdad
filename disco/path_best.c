/* The best UDP address (magicsock's bestAddr) and its trust: promoted by UDP
 * pongs through betterAddr, trusted for 6.5 s after each pong to it, and,
 * unlike magicsock, forgotten after DISCO_PATH_BEST_MAX_MISSES pings sent to
 * it while untrusted time out unanswered, so a dead path ends on DERP only
 * (see disco/path.h). */
#include "disco/path_internal.h"

#include <string.h>

void disco_path_best_forget(struct disco_path *p)
{
    p->has_best = false;
    memset(&p->best, 0, sizeof(p->best));
    p->best_latency = 0;
    p->trust_until = 0;
    p->best_misses = 0;
}

void disco_path_drop_best(struct disco_path *p)
{
    disco_path_best_forget(p);
}

/* Only pings sent after trust expired count: while trusted, a lost
 * heartbeat is covered by the next one within the 6.5 s window, and a pong
 * resets the count (trust_until then lies after every earlier ping). */
void disco_path_best_note_timeout(struct disco_path *p, const struct wg_endpoint *to, uint64_t at)
{
    if (!p->has_best || !wg_endpoint_equal(to, &p->best) || at <= p->trust_until)
        return;
    if (++p->best_misses >= DISCO_PATH_BEST_MAX_MISSES)
        disco_path_best_forget(p);
}

/* handlePongConnLocked, UDP case. */
void disco_path_best_note_pong(struct disco_path *p, struct disco_path_candidate *c, uint64_t latency,
                               uint64_t now)
{
    c->last_pong = now;
    c->latency = latency;
    if (disco_path_better_addr(&c->addr, latency, &p->best, p->best_latency, p->has_best)) {
        p->has_best = true;
        p->best = c->addr;
        p->best_misses = 0;
    }
    if (p->has_best && wg_endpoint_equal(&p->best, &c->addr)) {
        p->best_latency = latency;
        p->trust_until = now + DISCO_PATH_TRUST;
        p->best_misses = 0;
    }
}
