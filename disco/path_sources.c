/* The three sources of candidates (tailscale-wire.md §3.4): the coordinator's
 * endpoint list and the peer's CallMeMaybe each replace their previous set;
 * a ping's UDP source is added (or refreshed) and expires 45 s after the
 * last ping from it. Unusable addresses and those beyond the cap are
 * ignored and counted (disco_path_cand_add). */
#include "disco/path_internal.h"

/* Clear the source's bit, re-add the new list, then drop what no source
 * names: an address in both the old and the new list keeps its state
 * (pong history, best, trust). */
static void replace_source(struct disco_path *p, unsigned source, const struct wg_endpoint *eps, size_t n)
{
    disco_path_cand_clear_source(p, source);
    for (size_t i = 0; i < n && eps != NULL; i++)
        disco_path_cand_add(p, &eps[i], source);
    disco_path_cand_compact(p);
}

void disco_path_set_endpoints(struct disco_path *p, const struct wg_endpoint *eps, size_t n, uint64_t now)
{
    (void)now;   /* magicsock pings new netmap endpoints on the next send or heartbeat, not here */
    replace_source(p, DISCO_PATH_FROM_COORD, eps, n);
}

void disco_path_on_ping(struct disco_path *p, const struct wg_endpoint *src, uint64_t now)
{
    struct disco_path_candidate *c = disco_path_cand_add(p, src, DISCO_PATH_FROM_PING);
    if (c != NULL)
        c->last_got_ping = now;
}

/* handleCallMeMaybe: the peer has just pinged us from its side, so our NAT
 * may be open now; ping everything at once, without asking back. */
void disco_path_on_call_me_maybe(struct disco_path *p, const struct wg_endpoint *eps, size_t n, uint64_t now,
                                 struct disco_path_out *out)
{
    disco_path_out_reset(out);
    replace_source(p, DISCO_PATH_FROM_CMM, eps, n);
    for (size_t i = 0; i < p->n_cand; i++)
        p->cand[i].last_ping_sent = 0;
    disco_path_ping_round(p, now, out);
}
