/* The message exchange of one DERP node (coder-behaviour.md §3): two DERP
 * clients with fresh keys; the sender sends an 8-byte timestamp to the
 * receiver every second; the first one to arrive from the sender's key
 * gives can_exchange_messages and the round trip. For vole server's own
 * region, each key is registered first (update_self over a coordinator
 * session with the user's token), since its DERP admits only registered
 * keys; the sessions stay open until the exchange ends. */
#include "diag/netcheck_run_int.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "derp/client.h"
#include "node/tunnel.h"
#include "tailnet/control.h"

static const char *const WHO[2] = { "receiver", "sender" };

static void client_err(struct nc_client *c, const char *fmt, const char *arg);

static void stop_clients(struct nc_node *n)
{
    ev_timer_stop(n->run->loop, &n->tick);
    ev_timer_stop(n->run->loop, &n->timeout);
    for (int i = 0; i < 2; i++) {
        struct nc_client *c = &n->c[i];
        vole_derp_client_free(c->derp);
        c->derp = NULL;
        vole_control_free(c->control);
        c->control = NULL;
        sodium_memzero(c->priv, sizeof c->priv);
    }
}

/* why: the exchange did not finish (timeout); NULL when the run is freed. */
void nc_exchange_stop(struct nc_node *n, const char *why)
{
    if (n->exchange_done)
        return;
    n->exchange_done = true;
    /* A client that never connected may not have said why: ask it. */
    for (int i = 0; why && i < 2; i++) {
        const char *last = n->c[i].derp ? vole_derp_client_last_error(n->c[i].derp) : "";
        if (!n->c[i].connected && last && last[0])
            client_err(&n->c[i], "%s", last);
    }
    if (n->run->loop)
        stop_clients(n);
    if (why && !n->h->can_exchange_messages && !n->h->error[0]) {
        const char *cause = n->c[0].last_err[0] ? n->c[0].last_err : n->c[1].last_err;
        if (cause[0])
            snprintf(n->h->error, sizeof n->h->error, "cannot exchange messages (%.50s): %.120s", why, cause);
        else
            snprintf(n->h->error, sizeof n->h->error, "cannot exchange messages: no packet arrived before %.100s", why);
    }
}

static void client_err(struct nc_client *c, const char *fmt, const char *arg)
{
    char line[VOLE_HEALTH_TEXT_MAX];
    if (snprintf(line, sizeof line, fmt, arg) < 0)   /* longer lines are cut: health texts are bounded */
        line[0] = '\0';
    /* A reconnecting client repeats itself: keep each reason once in a row. */
    if (strcmp(line, c->last_err) == 0)
        return;
    snprintf(c->last_err, sizeof c->last_err, "%s", line);
    vole_derp_client_log(&c->node->h->clients[c->idx], true, "%s", line);
    nc_logf(c->node->run, "node %s: %s: %s", c->node->h->node->name, WHO[c->idx], line);
}

static void client_log(struct nc_client *c, const char *fmt, const char *arg)
{
    char line[VOLE_HEALTH_TEXT_MAX];
    if (snprintf(line, sizeof line, fmt, arg) < 0)   /* longer lines are cut: health texts are bounded */
        line[0] = '\0';
    vole_derp_client_log(&c->node->h->clients[c->idx], false, "%s", line);
    nc_logf(c->node->run, "node %s: %s: %s", c->node->h->node->name, WHO[c->idx], line);
}

/* ---- sending and receiving ---- */

static void send_stamp(struct nc_node *n)
{
    uint8_t pkt[8];
    uint64_t now = vole_now_ns();

    if (!n->c[0].connected || !n->c[1].connected)
        return;
    for (int i = 0; i < 8; i++)
        pkt[i] = (uint8_t)(now >> (56 - 8 * i));
    if (vole_derp_client_send(n->c[1].derp, n->c[0].pub, pkt, sizeof pkt) < 0)
        client_err(&n->c[1], "%s", "sending a packet failed");
}

static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
    send_stamp(w->data);
}

static void on_packet(void *ctx, const uint8_t src[DERP_KEY_LEN], const uint8_t *pkt, size_t len)
{
    struct nc_client *c = ctx;
    struct nc_node *n = c->node;
    uint64_t sent = 0, now = vole_now_ns();

    if (c->idx != 0 || n->exchange_done)
        return;
    if (sodium_memcmp(src, n->c[1].pub, DERP_KEY_LEN) != 0 || len != 8) {
        client_log(c, "%s", "a packet from an unknown peer, ignored");
        return;
    }
    for (size_t i = 0; i < 8; i++)
        sent = sent << 8 | pkt[i];
    n->h->can_exchange_messages = true;
    n->h->round_trip_ns = now > sent ? now - sent : 0;
    client_log(c, "%s", "received the sender's packet");
    nc_exchange_stop(n, NULL);
    nc_check_done(n->run);
}

static void on_derp_state(void *ctx, bool connected, const char *why)
{
    struct nc_client *c = ctx;

    c->connected = connected;
    if (connected) {
        client_log(c, "connected to %s", c->node->derp_url);
        send_stamp(c->node);
        return;
    }
    if (why && strstr(why, "WebSocket on the next attempt"))
        c->node->h->uses_websocket = true;
    client_err(c, "%s", why && why[0] ? why : "disconnected");
}

static int start_derp(struct nc_client *c, char *err, size_t errlen)
{
    struct nc_node *n = c->node;
    const struct derp_map_node *node = n->h->node;
    struct vole_derp_client_config dc = {
        .url = n->derp_url, .ca_file = n->run->cfg.ca_file,
        .insecure_for_tests = n->run->cfg.insecure || node->insecure_for_tests,
    };
    struct vole_derp_client_ops ops = { .ctx = c, .on_packet = on_packet, .on_state = on_derp_state };

    if (!n->region->embedded_relay || !n->run->cfg.url)
        dc.tls_server_name = derp_map_node_tls_name(node);
    memcpy(dc.private_key, c->priv, sizeof dc.private_key);
    client_log(c, "connecting to %s", n->derp_url);
    c->derp = vole_derp_client_new(n->run->loop, &dc, &ops, err, errlen);
    sodium_memzero(dc.private_key, sizeof dc.private_key);
    return c->derp ? 0 : -1;
}

/* Registering is best effort: without it vole's DERP refuses the key,
 * which the exchange then reports in its own words. */
static void registered(struct nc_client *c)
{
    char err[VOLE_HEALTH_TEXT_MAX];

    if (c->control_done)
        return;
    c->control_done = true;
    if (start_derp(c, err, sizeof err) < 0)
        client_err(c, "%s", err);
}

/* ---- the coordinator session of one key ---- */

static void on_control_state(void *ctx, bool connected, bool permanent, const char *why)
{
    struct nc_client *c = ctx;
    struct coord_msg m = { .type = COORD_MSG_UPDATE_SELF };

    if (!connected) {
        client_err(c, "registering the key with the coordinator: %s", why);
        if (permanent || !c->control_done)
            registered(c);   /* try DERP anyway */
        return;
    }
    memcpy(m.node.key, c->pub, sizeof m.node.key);
    randombytes_buf(m.node.disco, sizeof m.node.disco);   /* never used: no disco here */
    if (vole_control_send(c->control, &m) < 0)
        client_err(c, "%s", "registering the key: update_self could not be sent");
}

static void on_control_msg(void *ctx, const struct coord_msg *m)
{
    struct nc_client *c = ctx;

    if (m->type == COORD_MSG_SELF) {
        client_log(c, "%s", "key registered with the coordinator");
        registered(c);
    } else if (m->type == COORD_MSG_ERROR) {
        client_err(c, "coordinator: %s", m->error);
        registered(c);
    }
}

static int start_control(struct nc_client *c, char *err, size_t errlen)
{
    const struct vole_netcheck_run_config *cfg = &c->node->run->cfg;
    struct vole_control_config cc = { .url = cfg->url, .token = cfg->token, .ca_file = cfg->ca_file,
                                      .insecure = cfg->insecure };
    struct vole_control_ops ops = { .ctx = c, .on_state = on_control_state, .on_msg = on_control_msg };

    c->control = vole_control_new(c->node->run->loop, &cc, &ops, err, errlen);
    return c->control ? 0 : -1;
}

/* ---- the node ---- */

static void on_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct nc_node *n = w->data;
    char why[64];

    snprintf(why, sizeof why, "the node's %gs timeout", n->run->cfg.node_timeout);
    nc_exchange_stop(n, why);
    nc_check_done(n->run);
}

int nc_exchange_start(struct nc_node *n, char *err, size_t errlen)
{
    struct ev_loop *loop = n->run->loop;

    ev_timer_init(&n->tick, on_tick, VOLE_NETCHECK_SEND_EVERY, VOLE_NETCHECK_SEND_EVERY);
    n->tick.data = n;
    ev_timer_start(loop, &n->tick);
    ev_timer_init(&n->timeout, on_timeout, n->run->cfg.node_timeout, 0.);
    n->timeout.data = n;
    ev_timer_start(loop, &n->timeout);
    for (int i = 0; i < 2; i++) {
        struct nc_client *c = &n->c[i];
        c->node = n;
        c->idx = i;
        randombytes_buf(c->priv, sizeof c->priv);
        crypto_scalarmult_curve25519_base(c->pub, c->priv);
        if (!n->register_keys)
            registered(c);
        else if (start_control(c, err, errlen) < 0) {
            stop_clients(n);
            return -1;
        }
    }
    return 0;
}
