/* The node's peers: what the coordinator's peer_updates say, handed to the
 * data plane, and the data plane's path reports, named and logged. Peers are
 * kept in arrival order so that a name held by two nodes for a moment (an
 * agent that reconnected before its old session was declared lost) means
 * the newer one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/tunnel.h"
#include "tailnet/conn.h"
#include "tailnet/node_int.h"

static struct tn_peer *by_id(struct vole_tailnet *t, int64_t id)
{
    for (size_t i = 0; i < t->n_peers; i++)
        if (t->peers[i].id == id)
            return &t->peers[i];
    return NULL;
}

static struct tn_peer *by_key(struct vole_tailnet *t, const uint8_t key[32])
{
    for (size_t i = t->n_peers; i-- > 0;)
        if (memcmp(t->peers[i].node.key, key, 32) == 0)
            return &t->peers[i];
    return NULL;
}

const struct tn_peer *tn_peer_by_name(const struct vole_tailnet *t, const char *name)
{
    for (size_t i = t->n_peers; i-- > 0;)
        if (strcmp(t->peers[i].name, name) == 0)
            return &t->peers[i];
    return NULL;
}

const struct tn_peer *tn_peer_by_addr(const struct vole_tailnet *t, int family, const uint8_t *ip)
{
    for (size_t i = t->n_peers; i-- > 0;) {
        const struct coord_node *n = &t->peers[i].node;
        if ((family == 4 && n->has_v4 && memcmp(n->v4, ip, 4) == 0) ||
            (family == 6 && n->has_v6 && memcmp(n->v6, ip, 16) == 0))
            return &t->peers[i];
    }
    return NULL;
}

void tn_peers_free(struct vole_tailnet *t)
{
    free(t->peers);
    t->peers = NULL;
    t->n_peers = t->cap_peers = 0;
}

static struct tn_peer *append(struct vole_tailnet *t, int64_t id)
{
    struct tn_peer *p;

    if (t->n_peers == t->cap_peers) {
        size_t cap = t->cap_peers ? t->cap_peers * 2 : 8;
        if (t->cap_peers >= TN_MAX_PEERS)
            return NULL;
        cap = cap > TN_MAX_PEERS ? TN_MAX_PEERS : cap;
        p = realloc(t->peers, cap * sizeof *p);
        if (!p)
            return NULL;
        t->peers = p;
        t->cap_peers = cap;
    }
    p = &t->peers[t->n_peers++];
    memset(p, 0, sizeof *p);
    p->id = id;
    p->path.kind = VOLE_PATH_NONE;
    return p;
}

/* Keeps the order (see the top of the file). */
static void drop(struct vole_tailnet *t, struct tn_peer *p)
{
    size_t i = (size_t)(p - t->peers);
    memmove(p, p + 1, (t->n_peers - i - 1) * sizeof *p);
    t->n_peers--;
}

static void on_node(struct vole_tailnet *t, const struct coord_peer_update *u)
{
    struct tn_peer *p = by_id(t, u->id);
    bool existed = p != NULL;

    if (!p && !(p = append(t, u->id))) {
        t->peers_dropped++;
        tn_logf(t, "peer %lld: dropped (%zu peers is the limit, or out of memory)", (long long)u->id, t->n_peers);
        return;
    }
    /* The same session cannot change its key; a server that says so anyway
     * gets the old key's WireGuard peer removed rather than left behind. */
    if (existed && memcmp(p->node.key, u->node.key, 32) != 0)
        vole_conn_remove_peer(t->conn, p->node.key);
    p->node = u->node;
    p->node.id = u->id;
    if (u->node.name[0])
        snprintf(p->name, sizeof p->name, "%s", u->node.name);
    else
        snprintf(p->name, sizeof p->name, "client-%lld", (long long)u->id);
    if (vole_conn_upsert_peer(t->conn, &p->node, p->name) < 0) {
        tn_logf(t, "peer %s: node not usable (its key is ours?)", p->name);
        drop(t, p);
        return;
    }
    tn_vlogf(t, "peer %s: node update, %zu endpoints, home derp %d", p->name, p->node.n_endpoints,
             (int)p->node.preferred_derp);
    if (t->ops.on_peer)
        t->ops.on_peer(t->ops.ctx, p->name, &p->node);
}

static void on_gone(struct vole_tailnet *t, const struct coord_peer_update *u)
{
    struct tn_peer *p = by_id(t, u->id);

    if (!p) {
        tn_vlogf(t, "peer %lld: %s, but it was not known", (long long)u->id, coord_peer_kind_name(u->kind));
        return;
    }
    tn_logf(t, "peer %s: %s%s%s", p->name, u->kind == COORD_PEER_LOST ? "lost" : "disconnected",
            u->reason[0] ? ": " : "", u->reason);
    vole_conn_remove_peer(t->conn, p->node.key);
    drop(t, p);
}

void tn_on_peer_updates(struct vole_tailnet *t, const struct coord_msg *m)
{
    for (size_t i = 0; i < m->n_updates; i++) {
        const struct coord_peer_update *u = &m->updates[i];
        if (u->kind == COORD_PEER_NODE)
            on_node(t, u);
        else
            on_gone(t, u);
    }
}

static bool same_path(const struct vole_tailnet_path *a, const struct vole_tailnet_path *b)
{
    if (a->kind != b->kind)
        return false;
    if (a->kind == VOLE_PATH_DIRECT)
        return wg_endpoint_equal(&a->direct, &b->direct) && a->inner_mtu == b->inner_mtu;
    return a->kind != VOLE_PATH_DERP || a->derp_region == b->derp_region;
}

static void log_path(const struct vole_tailnet *t, const char *name, const struct vole_tailnet_path *path)
{
    char ep[COORD_ENDPOINT_STR];

    switch (path->kind) {
    case VOLE_PATH_DIRECT:
        vole_endpoint_format(ep, sizeof ep, &path->direct);
        if (path->inner_mtu != 0)   /* issue #7: the tunnel MTU path MTU discovery found */
            tn_logf(t, "path %s: direct %s, mtu %u", name, ep, path->inner_mtu);
        else
            tn_logf(t, "path %s: direct %s", name, ep);
        break;
    case VOLE_PATH_DERP:
        tn_logf(t, "path %s: derp %d", name, (int)path->derp_region);
        break;
    default:
        tn_logf(t, "path %s: none", name);
        break;
    }
}

/* Logged only when the path really changed (not for a new latency); the
 * owner's on_path hears every report. */
void tn_on_conn_path(void *ctx, const uint8_t peer_key[32], const struct vole_tailnet_path *path)
{
    struct vole_tailnet *t = ctx;
    struct tn_peer *p = by_key(t, peer_key);

    if (!p) {
        tn_vlogf(t, "path report for a peer that is not known: ignored");
        return;
    }
    if (!same_path(&p->path, path))
        log_path(t, p->name, path);
    p->path = *path;
    if (t->ops.on_path)
        t->ops.on_path(t->ops.ctx, p->name, path);
}
