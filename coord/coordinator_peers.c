/* Tunnels and who learns what (coordinator.h): a node is told only about
 * the other ends of its tunnels, only once both have a home DERP region,
 * and an agent a client may not reach stays invisible to it, even by error
 * text. */
#include "coord/coordinator_int.h"

#include <stdio.h>
#include <string.h>

static bool has_tunnel(const struct coord_session *client, size_t agent)
{
    return client->tunnels && (client->tunnels[agent / 8] >> (agent % 8)) & 1;
}

/* One peer update (node: kind NODE) for `to` about `about`. */
static void send_update(struct coord_coordinator *c, struct coord_session *to, const struct coord_session *about,
                        enum coord_peer_kind kind, const char *reason)
{
    struct coord_peer_update u = { .id = about->id, .kind = kind };
    struct coord_msg m = { .type = COORD_MSG_PEER_UPDATES, .updates = &u, .n_updates = 1 };

    if (kind == COORD_PEER_NODE) {
        u.node = about->node;
        if (c->block_direct)
            u.node.n_endpoints = 0;   /* Coder's BlockEndpoints: DERP only */
    } else if (reason) {
        snprintf(u.reason, sizeof u.reason, "%s", reason);
    }
    c->ops.send(c->ops.ctx, to->io, &m);
}

/* Calls fn for every live tunnel peer of x. The peers' list is not changed
 * by fn (it only sends). */
static void for_each_peer(struct coord_coordinator *c, struct coord_session *x,
                          void (*fn)(struct coord_coordinator *, struct coord_session *x, struct coord_session *peer,
                                     const void *arg),
                          const void *arg)
{
    if (x->role == COORD_ROLE_AGENT) {
        if (c->agent_live[x->principal] != x)
            return;   /* not bound yet, or replaced: nobody's peer */
        for (struct coord_session *s = c->sessions; s; s = s->next)
            if (s->role == COORD_ROLE_CLIENT && has_tunnel(s, x->principal))
                fn(c, x, s, arg);
        return;
    }
    for (size_t a = 0; a < c->tokens->n_agents; a++)
        if (has_tunnel(x, a) && c->agent_live[a])
            fn(c, x, c->agent_live[a], arg);
}

static void exchange(struct coord_coordinator *c, struct coord_session *x, struct coord_session *peer,
                     const void *arg)
{
    bool became_ready = *(const bool *)arg;

    if (!coord_ready(peer))
        return;
    send_update(c, peer, x, COORD_PEER_NODE, NULL);
    if (became_ready)
        send_update(c, x, peer, COORD_PEER_NODE, NULL);
}

void coord_peers_node_changed(struct coord_coordinator *c, struct coord_session *x, bool became_ready)
{
    x->ever_ready = true;
    for_each_peer(c, x, exchange, &became_ready);
}

struct gone {
    enum coord_peer_kind kind;
    const char *reason;
};

static void tell_gone(struct coord_coordinator *c, struct coord_session *x, struct coord_session *peer,
                      const void *arg)
{
    const struct gone *g = arg;

    /* Only a peer that may have been told about x hears that it left. */
    if (peer->ever_ready)
        send_update(c, peer, x, g->kind, g->reason);
}

void coord_peers_gone(struct coord_coordinator *c, struct coord_session *x, enum coord_peer_kind kind,
                      const char *reason)
{
    struct gone g = { .kind = kind, .reason = reason };

    if (x->ever_ready)
        for_each_peer(c, x, tell_gone, &g);
}

/* The agent index a client may reach by this name, or -1 (unknown and
 * forbidden alike). */
static long reachable_agent(const struct coord_coordinator *c, const struct coord_session *x, const char *name)
{
    const struct coord_client_token *ct = &c->tokens->clients[x->principal];

    for (size_t i = 0; i < ct->n_agents; i++) {
        size_t a = ct->agents[i];
        if (a < c->tokens->n_agents && strcmp(c->tokens->agents[a].name, name) == 0)
            return (long)a;
    }
    return -1;
}

void coord_peers_add_tunnel(struct coord_coordinator *c, struct coord_session *x, const char *agent)
{
    struct coord_session *a;
    long idx;

    if (x->role != COORD_ROLE_CLIENT) {
        coord_send_error(c, x, "add_tunnel: only clients open tunnels");
        return;
    }
    idx = reachable_agent(c, x, agent);
    if (idx < 0) {
        coord_send_error(c, x, COORD_ERR_AGENT_FMT, agent);
        return;
    }
    x->tunnels[idx / 8] |= (uint8_t)(1u << (idx % 8));
    a = c->agent_live[idx];
    /* Repeated add_tunnel re-sends: a client that lost its state asks again. */
    if (a && coord_ready(a) && coord_ready(x)) {
        send_update(c, x, a, COORD_PEER_NODE, NULL);
        send_update(c, a, x, COORD_PEER_NODE, NULL);
    }
}
