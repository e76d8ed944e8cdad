/* The clients table: node key -> its connections (tailscale-wire.md §1.6).
 *
 * Duplicates follow Go's lastWriterIsActive: the newest connection of a key is
 * active, and so becomes any duplicate that sends; older ones stay open but
 * get no packets. When the active one of several leaves, none is active (drops
 * counted drop_inactive_dup, Go's "dup_client") until one sends or only one
 * is left. When a key's last connection leaves, every connection that received
 * its packets hears PeerGone(key, Disconnected). */
#include <stdlib.h>
#include <string.h>

#include "derp/relay_int.h"

struct derp_relay_peer *drelay_peer(const struct derp_relay *r, const uint8_t key[DERP_KEY_LEN])
{
    const struct derp_peer_slot *s = derp_keytab_find(&r->peers, r->hash_key, key);

    return s ? s->peer : NULL;
}

static struct derp_relay_peer *peer_get(struct derp_relay *r, const uint8_t key[DERP_KEY_LEN])
{
    bool fresh;
    struct derp_peer_slot *s = derp_keytab_insert(&r->peers, r->hash_key, key, &fresh);

    if (!s || !fresh)
        return s ? s->peer : NULL;
    s->peer = calloc(1, sizeof *s->peer);
    if (!s->peer) {
        derp_keytab_remove(&r->peers, s);
        return NULL;
    }
    memcpy(s->peer->key, key, DERP_KEY_LEN);
    derp_keytab_init(&s->peer->sent_to, sizeof(struct derp_sent_to));
    return s->peer;
}

int drelay_register(struct derp_relay *r, struct derp_relay_conn *c, const uint8_t key[DERP_KEY_LEN])
{
    struct derp_relay_peer *p = peer_get(r, key);

    if (!p)
        return -1;
    c->peer = p;
    c->next_dup = p->conns;
    p->conns = c;
    p->n_conns++;
    p->active = c;   /* the newest connection wins */
    c->conn_num = ++r->next_conn_num;
    r->stats.clients_current++;
    r->stats.clients_total++;
    return 0;
}

void drelay_note_activity(struct derp_relay_conn *c)
{
    if (c->peer->n_conns > 1)
        c->peer->active = c;
}

/* A receiver still connected on the connection that got the packets. */
static bool receiver_present(void *ctx, const void *entry)
{
    const struct derp_sent_to *e = entry;
    const struct derp_relay_peer *p = drelay_peer(ctx, e->key);

    for (const struct derp_relay_conn *d = p ? p->conns : NULL; d; d = d->next_dup)
        if (d->conn_num == e->conn_num)
            return true;
    return false;
}

void drelay_note_sent(struct derp_relay *r, struct derp_relay_peer *src, const uint8_t dst[DERP_KEY_LEN],
                      uint64_t conn_num)
{
    struct derp_keytab *t = &src->sent_to;
    struct derp_sent_to *e = derp_keytab_find(t, r->hash_key, dst);
    bool fresh;

    if (e) {
        e->conn_num = conn_num;
        return;
    }
    /* Before growing, forget receivers that left, so the set follows who is
     * connected now and not everyone ever reached; grow anyway if more than
     * half remain, which keeps the pruning amortised O(1). */
    if (t->cap && derp_keytab_full(t)) {
        derp_keytab_rebuild(t, t->cap, receiver_present, r);
        if ((uint64_t)t->count * 2 > t->cap)
            derp_keytab_rebuild(t, t->cap * 2, NULL, NULL);
    }
    e = derp_keytab_insert(t, r->hash_key, dst, &fresh);
    if (e)   /* out of memory: this receiver only misses its PeerGone */
        e->conn_num = conn_num;
}

static void peer_free(struct derp_relay *r, struct derp_relay_peer *p)
{
    struct derp_peer_slot *s = derp_keytab_find(&r->peers, r->hash_key, p->key);

    if (s)
        derp_keytab_remove(&r->peers, s);
    derp_keytab_free(&p->sent_to);
    free(p);
}

/* The key left the region: Go's notePeerGoneFromRegionLocked. */
static void peer_gone(struct derp_relay *r, struct derp_relay_peer *p)
{
    for (uint32_t i = 0; i < p->sent_to.cap; i++) {
        const struct derp_sent_to *e = derp_keytab_slot(&p->sent_to, i);
        const struct derp_relay_peer *dst = e ? drelay_peer(r, e->key) : NULL;
        for (struct derp_relay_conn *d = dst ? dst->conns : NULL; d; d = d->next_dup)
            if (d->conn_num == e->conn_num)
                drelay_queue_peer_gone(r, d, p->key, DERP_PEER_GONE_DISCONNECTED);
    }
    peer_free(r, p);
}

static void unlink_conn(struct derp_relay_peer *p, struct derp_relay_conn *c)
{
    struct derp_relay_conn **pp = &p->conns;

    while (*pp && *pp != c)
        pp = &(*pp)->next_dup;
    if (*pp)
        *pp = c->next_dup;
    c->next_dup = NULL;
    p->n_conns--;
}

void drelay_unregister(struct derp_relay *r, struct derp_relay_conn *c)
{
    struct derp_relay_peer *p = c->peer;

    if (!p)
        return;
    unlink_conn(p, c);
    c->peer = NULL;
    r->stats.clients_current--;
    if (p->active == c)
        p->active = NULL;
    if (p->n_conns == 1)
        p->active = p->conns;   /* a lone connection is active again */
    else if (p->n_conns == 0)
        peer_gone(r, p);
}

/* Teardown of the whole relay: no PeerGone, nobody is left to hear it. */
void drelay_free_peers(struct derp_relay *r)
{
    for (uint32_t i = 0; i < r->peers.cap; i++) {
        struct derp_peer_slot *s = derp_keytab_slot(&r->peers, i);
        if (s) {
            derp_keytab_free(&s->peer->sent_to);
            free(s->peer);
        }
    }
    derp_keytab_free(&r->peers);
}
