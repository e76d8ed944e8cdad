/* Pings awaiting a pong (magicsock's sentPing): TxID, where it went, when.
 * A ping times out 5 s after it was sent (pingTimeoutDuration): a later pong
 * is not matched. The table is fixed-size; when every slot holds a live ping
 * the oldest is forgotten, so its pong will not match (counted). */
#include "disco/path_internal.h"

#include <string.h>

bool disco_path_sent_expired(const struct disco_path_sent *s, uint64_t now)
{
    return now >= s->at && now - s->at >= DISCO_PATH_PING_TIMEOUT;
}

static struct disco_path_sent *free_or_oldest(struct disco_path *p, uint64_t now, bool *reused_live)
{
    struct disco_path_sent *oldest = &p->sent[0];
    for (size_t i = 0; i < DISCO_PATH_MAX_SENT; i++) {
        struct disco_path_sent *s = &p->sent[i];
        if (!s->used)
            return s;
        if (disco_path_sent_expired(s, now)) {
            disco_path_sent_release(p, s, now);
            return s;
        }
        if (s->at < oldest->at)
            oldest = s;
    }
    *reused_live = true;
    return oldest;
}

bool disco_path_sent_record(struct disco_path *p, const uint8_t txid[DISCO_TXID_LEN],
                            const struct wg_endpoint *to, uint64_t now)
{
    bool reused_live = false;
    struct disco_path_sent *s = free_or_oldest(p, now, &reused_live);
    if (reused_live)
        p->forgotten_pings++;
    memcpy(s->txid, txid, DISCO_TXID_LEN);
    memset(&s->to, 0, sizeof(s->to));
    if (to != NULL && (to->family == 4 || to->family == 6))
        s->to = *to;
    s->at = now;
    s->used = true;
    return !reused_live;
}

bool disco_path_note_sent(struct disco_path *p, const uint8_t txid[DISCO_TXID_LEN], const struct wg_endpoint *to,
                          uint64_t now)
{
    struct wg_endpoint norm;
    if (to != NULL && disco_path_cand_normalize(to, &norm))
        return disco_path_sent_record(p, txid, &norm, now);
    return disco_path_sent_record(p, txid, to, now);
}

struct disco_path_sent *disco_path_sent_find(struct disco_path *p, const uint8_t txid[DISCO_TXID_LEN])
{
    for (size_t i = 0; i < DISCO_PATH_MAX_SENT; i++)
        if (p->sent[i].used && memcmp(p->sent[i].txid, txid, DISCO_TXID_LEN) == 0)
            return &p->sent[i];
    return NULL;
}

void disco_path_sent_release(struct disco_path *p, struct disco_path_sent *s, uint64_t now)
{
    if (disco_path_sent_expired(s, now))
        disco_path_best_note_timeout(p, &s->to, s->at);
    s->used = false;
}

void disco_path_sent_expire(struct disco_path *p, uint64_t now)
{
    for (size_t i = 0; i < DISCO_PATH_MAX_SENT; i++)
        if (p->sent[i].used && disco_path_sent_expired(&p->sent[i], now))
            disco_path_sent_release(p, &p->sent[i], now);
}

uint64_t disco_path_sent_next_timeout(const struct disco_path *p)
{
    uint64_t next = UINT64_MAX;
    for (size_t i = 0; i < DISCO_PATH_MAX_SENT; i++)
        if (p->sent[i].used && p->sent[i].at + DISCO_PATH_PING_TIMEOUT < next)
            next = p->sent[i].at + DISCO_PATH_PING_TIMEOUT;
    return next;
}
