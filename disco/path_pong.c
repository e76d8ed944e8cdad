/* A Pong from the peer (handlePongConnLocked, tailscale-wire.md §3.4):
 * matched by TxID against pings sent less than 5 s ago; only a pong over
 * UDP for a ping that went to a current candidate can move best. */
#include "disco/path_internal.h"

bool disco_path_on_pong(struct disco_path *p, const uint8_t txid[DISCO_TXID_LEN], bool via_derp, uint64_t now,
                        uint64_t *latency_ns, struct wg_endpoint *to)
{
    struct disco_path_sent *s = disco_path_sent_find(p, txid);
    if (s == NULL || disco_path_sent_expired(s, now)) {
        if (s != NULL)
            disco_path_sent_release(p, s, now);
        p->unmatched_pongs++;
        return false;
    }
    uint64_t latency = now > s->at ? now - s->at : 0;
    struct wg_endpoint sent_to = s->to;
    disco_path_sent_release(p, s, now);
    if (latency_ns != NULL)
        *latency_ns = latency;
    if (to != NULL)
        *to = sent_to;

    if (!via_derp && sent_to.family != 0) {
        struct disco_path_candidate *c = disco_path_cand_find(p, &sent_to);
        if (c != NULL)
            disco_path_best_note_pong(p, c, latency, now);
    }
    return true;
}
