/* The coordinator core (coordinator.h): sessions, the key binding, the name
 * check, and the end of a session. Tunnels and forwarding: coordinator_peers.c. */
#include "coord/coordinator_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

/* ---- the coordinator ---- */

struct coord_coordinator *coord_coordinator_new(const struct coord_coordinator_config *cfg,
                                                const struct coord_coordinator_ops *ops)
{
    struct coord_coordinator *c = calloc(1, sizeof *c);
    size_t n_agents = cfg->tokens->n_agents;

    if (!c)
        return NULL;
    c->tokens = cfg->tokens;
    c->ops = *ops;
    c->block_direct = cfg->block_direct;
    c->next_id = 1;
    c->agent_live = calloc(n_agents ? n_agents : 1, sizeof(void *));   /* pointers to sessions */
    if (cfg->derp_map_json)
        c->derp_map_json = strdup(cfg->derp_map_json);
    if (!c->agent_live || (cfg->derp_map_json && !c->derp_map_json) ||
        coord_addrs_init(&c->addrs, cfg->max_nodes ? cfg->max_nodes : COORD_DEFAULT_MAX_NODES) < 0) {
        free(c->agent_live);
        free(c->derp_map_json);
        free(c);
        return NULL;
    }
    return c;
}

static void session_free(struct coord_session *s)
{
    free(s->tunnels);
    free(s);
}

void coord_coordinator_free(struct coord_coordinator *c)
{
    if (!c)
        return;
    for (struct coord_session *s = c->sessions, *next; s; s = next) {
        next = s->next;
        session_free(s);
    }
    coord_addrs_free(&c->addrs);
    free(c->agent_live);
    free(c->derp_map_json);
    free(c);
}

void coord_send_error(struct coord_coordinator *c, struct coord_session *x, const char *fmt, ...)
{
    struct coord_msg m = { .type = COORD_MSG_ERROR };
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(m.error, sizeof m.error, fmt, ap);
    va_end(ap);
    c->ops.send(c->ops.ctx, x->io, &m);
}

/* ---- opening ---- */

/* Which role a token plays, and its index in the tokens file. */
static enum coord_role lookup_token(const struct coord_tokens *t, const char *token, size_t *principal)
{
    const struct coord_agent_token *a = coord_tokens_agent(t, token);
    const struct coord_client_token *cl = coord_tokens_client(t, token);

    if (a) {
        *principal = (size_t)(a - t->agents);
        return COORD_ROLE_AGENT;
    }
    if (cl) {
        *principal = (size_t)(cl - t->clients);
        return COORD_ROLE_CLIENT;
    }
    return COORD_ROLE_REJECTED;
}

static void send_derp_map(struct coord_coordinator *c, struct coord_session *s)
{
    struct coord_msg m = { .type = COORD_MSG_DERP_MAP, .derp_map = c->derp_map_json };

    if (c->derp_map_json)
        c->ops.send(c->ops.ctx, s->io, &m);
}

struct coord_session *coord_session_open(struct coord_coordinator *c, void *io, const char *token,
                                         enum coord_role *role)
{
    size_t principal = 0, n_agents = c->tokens->n_agents;
    struct coord_session *s;

    *role = token ? lookup_token(c->tokens, token, &principal) : COORD_ROLE_REJECTED;
    if (*role == COORD_ROLE_REJECTED)
        return NULL;
    s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    if (*role == COORD_ROLE_CLIENT && n_agents && !(s->tunnels = calloc((n_agents + 7) / 8, 1))) {
        free(s);
        return NULL;
    }
    s->co = c;
    s->io = io;
    s->role = *role;
    s->principal = principal;
    s->id = c->next_id++;
    s->next = c->sessions;
    if (c->sessions)
        c->sessions->prev = s;
    c->sessions = s;
    c->n_sessions++;
    send_derp_map(c, s);
    return s;
}

/* ---- ending ---- */

static bool key_held_by_other(const struct coord_coordinator *c, const struct coord_session *x)
{
    for (const struct coord_session *s = c->sessions; s; s = s->next)
        if (s != x && s->bound && sodium_memcmp(s->node.key, x->node.key, COORD_KEY_LEN) == 0)
            return true;
    return false;
}

/* Tells the peers, forgets the session and frees it; the I/O is the caller's. */
static void end_session(struct coord_coordinator *c, struct coord_session *x, enum coord_peer_kind kind,
                        const char *reason)
{
    coord_peers_gone(c, x, kind, reason);
    if (x->role == COORD_ROLE_AGENT && c->agent_live[x->principal] == x)
        c->agent_live[x->principal] = NULL;
    if (x->bound && !key_held_by_other(c, x))
        coord_addrs_release(&c->addrs, x->node.key);
    if (x->prev)
        x->prev->next = x->next;
    else
        c->sessions = x->next;
    if (x->next)
        x->next->prev = x->prev;
    c->n_sessions--;
    session_free(x);
}

/* The server ends x: it is told why (when error is not NULL), peers see it
 * kind, and the embedder closes the connection. */
static void drop(struct coord_coordinator *c, struct coord_session *x, enum coord_peer_kind kind, const char *error,
                 const char *why)
{
    void *io = x->io;

    if (error)
        coord_send_error(c, x, "%s", error);
    end_session(c, x, kind, why);
    c->ops.close(c->ops.ctx, io, why);
}

void coord_session_fail(struct coord_coordinator *c, struct coord_session *s, const char *why)
{
    drop(c, s, COORD_PEER_LOST, why, why);
}

void coord_session_closed(struct coord_coordinator *c, struct coord_session *s)
{
    end_session(c, s, COORD_PEER_LOST, "connection lost");
}

/* ---- update_self ---- */

/* The name a node may carry: its token's for agents, none for clients.
 * NULL, or the error to send. */
static const char *check_name(struct coord_coordinator *c, struct coord_session *x, struct coord_node *n,
                              char *err, size_t errlen)
{
    const char *own;

    if (x->role == COORD_ROLE_CLIENT) {
        n->name[0] = '\0';   /* only agents are named: a client cannot pose as one */
        return NULL;
    }
    own = c->tokens->agents[x->principal].name;
    if (n->name[0] && strcmp(n->name, own) != 0) {
        snprintf(err, errlen, "name \"%s\" does not match the token", n->name);
        return err;
    }
    snprintf(n->name, sizeof n->name, "%s", own);
    return NULL;
}

static bool same_principal(const struct coord_session *a, const struct coord_session *b)
{
    return a->role == b->role && a->principal == b->principal;
}

/* Another principal's session holding key, or (through *older) this
 * principal's older session to replace. False when the key is taken. */
static bool key_available(struct coord_coordinator *c, struct coord_session *x, const uint8_t *key,
                          struct coord_session **older)
{
    *older = NULL;
    for (struct coord_session *s = c->sessions; s; s = s->next) {
        if (s == x || !s->bound || sodium_memcmp(s->node.key, key, COORD_KEY_LEN) != 0)
            continue;
        if (!same_principal(s, x))
            return false;
        *older = s;
    }
    return true;
}

/* The first update_self: the key, the addresses, the replaced session. 0,
 * or -1 after x was dropped. */
static int bind_key(struct coord_coordinator *c, struct coord_session *x, const struct coord_node *n)
{
    struct coord_session *older, *prev_agent = NULL;

    if (!key_available(c, x, n->key, &older)) {
        drop(c, x, COORD_PEER_LOST, "node key is in use by another node", "key in use");
        return -1;
    }
    if (coord_addrs_assign(&c->addrs, n->key, x->node.v6, x->node.v4) < 0) {
        drop(c, x, COORD_PEER_LOST, "no overlay addresses left", "addresses exhausted");
        return -1;
    }
    memcpy(x->node.key, n->key, COORD_KEY_LEN);
    x->node.has_v6 = x->node.has_v4 = true;
    x->node.id = x->id;
    x->bound = true;
    /* The newest connection wins, as DERP's does: the old one is stale. Its
     * peers hear it LOST while it is still the agent's live session; x holds
     * the key already, so the addresses stay. */
    if (x->role == COORD_ROLE_AGENT)
        prev_agent = c->agent_live[x->principal];
    if (older && older != prev_agent)
        drop(c, older, COORD_PEER_LOST, "replaced by a newer connection", "replaced");
    if (prev_agent)
        drop(c, prev_agent, COORD_PEER_LOST, "replaced by a newer connection", "replaced");
    if (x->role == COORD_ROLE_AGENT)
        c->agent_live[x->principal] = x;
    return 0;
}

static bool endpoints_equal(const struct coord_node *a, const struct coord_node *b)
{
    if (a->n_endpoints != b->n_endpoints)
        return false;
    for (size_t i = 0; i < a->n_endpoints; i++) {
        const struct coord_endpoint *x = &a->endpoints[i], *y = &b->endpoints[i];
        if (x->family != y->family || x->port != y->port || memcmp(x->ip, y->ip, x->family == 4 ? 4 : 16) != 0)
            return false;
    }
    return true;
}

/* What peers see of a node: key, disco, home, endpoints (the rest is ours). */
static bool node_changed(const struct coord_node *old, const struct coord_node *n)
{
    return memcmp(old->disco, n->disco, COORD_KEY_LEN) != 0 || old->preferred_derp != n->preferred_derp ||
           !endpoints_equal(old, n);
}

static void send_self(struct coord_coordinator *c, struct coord_session *x)
{
    struct coord_msg m = { .type = COORD_MSG_SELF, .node = x->node, .block_endpoints = c->block_direct };

    if (c->block_direct)
        m.node.n_endpoints = 0;
    c->ops.send(c->ops.ctx, x->io, &m);
}

static void update_self(struct coord_coordinator *c, struct coord_session *x, const struct coord_msg *m)
{
    struct coord_node n = m->node;
    char err[COORD_MSG_ERROR_MAX + 1];
    bool first = !x->bound, was_ready = coord_ready(x), changed;

    if (check_name(c, x, &n, err, sizeof err)) {
        drop(c, x, COORD_PEER_LOST, err, "name mismatch");
        return;
    }
    if (n.preferred_derp < 0) {
        drop(c, x, COORD_PEER_LOST, "node.preferred_derp: negative", "bad node");
        return;
    }
    if (x->bound && sodium_memcmp(x->node.key, n.key, COORD_KEY_LEN) != 0) {
        drop(c, x, COORD_PEER_LOST, "node.key: a session keeps the key it registered first", "key changed");
        return;
    }
    if (first && bind_key(c, x, &n) < 0)
        return;
    changed = first || node_changed(&x->node, &n);
    memcpy(x->node.disco, n.disco, COORD_KEY_LEN);
    x->node.preferred_derp = n.preferred_derp;
    memcpy(x->node.endpoints, n.endpoints, sizeof n.endpoints);
    x->node.n_endpoints = n.n_endpoints;
    snprintf(x->node.name, sizeof x->node.name, "%s", n.name);
    if (first)
        send_self(c, x);
    if (coord_ready(x) && (changed || !was_ready))
        coord_peers_node_changed(c, x, !was_ready);
}

/* ---- input ---- */

void coord_session_input(struct coord_coordinator *c, struct coord_session *s, const struct coord_msg *m)
{
    char err[COORD_MSG_ERROR_MAX + 1];

    switch (m->type) {
    case COORD_MSG_UPDATE_SELF:
        update_self(c, s, m);
        return;
    case COORD_MSG_ADD_TUNNEL:
        coord_peers_add_tunnel(c, s, m->agent);
        return;
    case COORD_MSG_DISCONNECT:
        drop(c, s, COORD_PEER_DISCONNECTED, NULL, "disconnected");
        return;
    case COORD_MSG_SELF:
    case COORD_MSG_PEER_UPDATES:
    case COORD_MSG_ERROR:
    case COORD_MSG_DERP_MAP:
        break;
    }
    snprintf(err, sizeof err, "unexpected message \"%s\" from a node", coord_msg_type_name(m->type));
    drop(c, s, COORD_PEER_LOST, err, "protocol error");
}

enum coord_role coord_session_role(const struct coord_session *s)
{
    return s->role;
}

int64_t coord_session_id(const struct coord_session *s)
{
    return s->id;
}

bool coord_key_registered(const struct coord_coordinator *c, const uint8_t key[COORD_KEY_LEN])
{
    for (const struct coord_session *s = c->sessions; s; s = s->next)
        if (s->bound && sodium_memcmp(s->node.key, key, COORD_KEY_LEN) == 0)
            return true;
    return false;
}

size_t coord_session_count(const struct coord_coordinator *c)
{
    return c->n_sessions;
}
