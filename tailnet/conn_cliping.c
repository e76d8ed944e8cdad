/* The disco CLI ping (coder-behaviour.md §1.6, Tailscale's cliPing): the
 * same disco pings the path logic sends, to the trusted best address alone,
 * else via DERP and to every candidate; each is noted in the peer's path
 * (disco_path_note_sent) so that its pong also feeds path selection. The
 * first pong to any of one CLI ping's sends answers it. Answers and
 * timeouts are delivered from the ping's own timer, never from inside
 * vole_conn_ping or the socket's callback, so the owner may free the node
 * in its callback. */
#include "tailnet/conn_int.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "node/tunnel.h"

static const uint8_t zero_key[32];

static void deliver(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct conn_cliping *cp = w->data;
    vole_tailnet_pong_fn fn = cp->fn;
    void *ctx = cp->ctx;
    struct vole_tailnet_pong pong = cp->pong;
    bool answered = cp->answered;

    (void)revents;
    ev_timer_stop(loop, w);
    cp->id = 0;   /* free before the call: fn may ping again, or free everything */
    fn(ctx, answered ? &pong : NULL);
}

static struct conn_cliping *free_slot(struct vole_conn *c)
{
    for (size_t i = 0; i < VOLE_TAILNET_PINGS_MAX; i++)
        if (c->pings[i].id == 0)
            return &c->pings[i];
    return NULL;
}

/* One send: a fresh TxID, noted for the path, remembered for the CLI ping. */
static void send_one(struct vole_conn *c, struct conn_peer *p, struct conn_cliping *cp, const struct wg_endpoint *to,
                     int32_t region, uint64_t now)
{
    struct conn_cliping_tx *tx;
    struct wg_endpoint derp = { .family = 0 };

    if (cp->n_tx == CONN_CLIPING_TX)
        return;
    tx = &cp->tx[cp->n_tx];
    randombytes_buf(tx->txid, sizeof tx->txid);
    if (to)
        conn_disco_ping_udp(c, p, tx->txid, to);
    else if (conn_disco_ping_derp(c, p, tx->txid, region) < 0)
        return;   /* counted in drop_derp_tx; the other sends may still answer */
    (void)disco_path_note_sent(&p->path, tx->txid, to ? to : &derp, now);
    tx->to = to ? *to : derp;
    tx->region = to ? 0 : region;
    tx->at = now;
    cp->n_tx++;
}

static void send_all(struct vole_conn *c, struct conn_peer *p, struct conn_cliping *cp, uint64_t now)
{
    struct wg_endpoint best;
    int32_t region = p->home_region ? p->home_region : p->heard_region;

    if (disco_path_trusted(&p->path, now) && disco_path_best(&p->path, &best, NULL)) {
        send_one(c, p, cp, &best, 0, now);
        return;
    }
    if (region != 0)
        send_one(c, p, cp, NULL, region, now);
    for (size_t i = 0; i < p->path.n_cand && !c->block_endpoints; i++)
        send_one(c, p, cp, &p->path.cand[i].addr, 0, now);
}

int vole_conn_ping(struct vole_conn *c, const uint8_t key[32], vole_tailnet_pong_fn fn, void *ctx, char *err,
                   size_t errlen)
{
    struct conn_peer *p = conn_peer_by_key(c, key);
    struct conn_cliping *cp;

    if (!p || !p->active) {
        snprintf(err, errlen, "no such peer");
        return -1;
    }
    if (!p->shared.ok || memcmp(p->disco_pub, zero_key, 32) == 0) {
        snprintf(err, errlen, "peer has no disco key yet");
        return -1;
    }
    if (!(cp = free_slot(c))) {
        snprintf(err, errlen, "too many pings in flight");
        return -1;
    }
    memset(cp, 0, sizeof *cp);
    cp->conn = c;
    c->next_ping_id = c->next_ping_id >= INT_MAX || c->next_ping_id < 1 ? 1 : c->next_ping_id + 1;
    cp->id = c->next_ping_id;
    memcpy(cp->key, key, 32);
    cp->fn = fn;
    cp->ctx = ctx;
    ev_timer_init(&cp->timer, deliver, (double)VOLE_TAILNET_PING_TIMEOUT_NS / 1e9, 0.);
    cp->timer.data = cp;
    ev_timer_start(c->loop, &cp->timer);
    send_all(c, p, cp, vole_now_ns());
    return cp->id;
}

void vole_conn_ping_cancel(struct vole_conn *c, int id)
{
    for (size_t i = 0; i < VOLE_TAILNET_PINGS_MAX && id > 0; i++)
        if (c->pings[i].id == id) {
            ev_timer_stop(c->loop, &c->pings[i].timer);
            c->pings[i].id = 0;
        }
}

static void answer(struct vole_conn *c, struct conn_cliping *cp, const struct conn_cliping_tx *tx, uint64_t now)
{
    cp->answered = true;
    cp->pong.direct = tx->to.family != 0;
    cp->pong.endpoint = tx->to;
    cp->pong.derp_region = tx->region;
    cp->pong.latency_ns = now > tx->at ? now - tx->at : 0;
    ev_timer_stop(c->loop, &cp->timer);
    ev_timer_set(&cp->timer, 0., 0.);
    ev_timer_start(c->loop, &cp->timer);
}

void conn_cliping_on_pong(struct vole_conn *c, const struct conn_peer *p, const uint8_t txid[DISCO_TXID_LEN],
                          uint64_t now)
{
    for (size_t i = 0; i < VOLE_TAILNET_PINGS_MAX; i++) {
        struct conn_cliping *cp = &c->pings[i];
        if (cp->id == 0 || cp->answered || memcmp(cp->key, p->key, 32) != 0)
            continue;
        for (size_t k = 0; k < cp->n_tx; k++)
            if (sodium_memcmp(cp->tx[k].txid, txid, DISCO_TXID_LEN) == 0) {
                answer(c, cp, &cp->tx[k], now);
                return;
            }
    }
}

void conn_cliping_free_all(struct vole_conn *c)
{
    for (size_t i = 0; i < VOLE_TAILNET_PINGS_MAX; i++)
        if (c->pings[i].id != 0) {
            ev_timer_stop(c->loop, &c->pings[i].timer);
            c->pings[i].id = 0;
        }
}
