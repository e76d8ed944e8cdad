/* The peer table: one entry per WireGuard peer, addressed by its slot (the
 * placeholder's port), looked up by node key, disco key or placeholder; and
 * the path each peer is on, reported through on_path when it changes.
 * Lookups by key are linear: a tailnet node has a handful of peers (a
 * client its agents, an agent its clients). */
#include "tailnet/conn_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/tunnel.h"

static const uint8_t placeholder_v4[4] = CONN_PLACEHOLDER_V4;

static struct wg_endpoint placeholder_for(uint16_t slot)
{
    struct wg_endpoint ep = { .family = 6, .port = slot };
    ep.addr[10] = ep.addr[11] = 0xff;
    memcpy(ep.addr + 12, placeholder_v4, 4);
    return ep;
}

struct conn_peer *conn_peer_by_placeholder(const struct vole_conn *c, const struct wg_endpoint *ep)
{
    struct wg_endpoint ph;
    if (ep->family != 6 || ep->port == 0 || ep->port > c->n_peers)
        return NULL;
    ph = placeholder_for(ep->port);
    return wg_endpoint_equal(&ph, ep) ? c->peers[ep->port - 1] : NULL;
}

struct conn_peer *conn_peer_by_key(const struct vole_conn *c, const uint8_t key[32])
{
    for (size_t i = 0; i < c->n_peers; i++)
        if (memcmp(c->peers[i]->key, key, 32) == 0)
            return c->peers[i];
    return NULL;
}

/* Only active peers: a removed peer's disco key must not open anything. */
struct conn_peer *conn_peer_by_disco(const struct vole_conn *c, const uint8_t disco_pub[32])
{
    for (size_t i = 0; i < c->n_peers; i++)
        if (c->peers[i]->active && memcmp(c->peers[i]->disco_pub, disco_pub, 32) == 0)
            return c->peers[i];
    return NULL;
}

/* Replies go where we last heard the peer (magicsock's derpRoute), else to its home. */
int32_t conn_peer_derp_region(const struct conn_peer *p)
{
    return p->heard_region ? p->heard_region : p->home_region;
}

static bool path_differs(const struct vole_tailnet_path *a, const struct vole_tailnet_path *b)
{
    if (a->kind != b->kind)
        return true;
    if (a->kind == VOLE_PATH_DIRECT)   /* a new inner MTU is a new report (issue #7) */
        return !wg_endpoint_equal(&a->direct, &b->direct) || a->inner_mtu != b->inner_mtu;
    return a->kind == VOLE_PATH_DERP && a->derp_region != b->derp_region;
}

void conn_peer_update_path(struct vole_conn *c, struct conn_peer *p, uint64_t now)
{
    struct vole_tailnet_path cur = { .kind = VOLE_PATH_NONE };
    uint64_t lat;

    if (!p->active)
        return;
    if (disco_path_trusted(&p->path, now) && disco_path_best(&p->path, &cur.direct, &lat)) {
        cur.kind = VOLE_PATH_DIRECT;
        cur.latency_ns = lat;
    } else if (conn_peer_derp_region(p) != 0) {
        cur.kind = VOLE_PATH_DERP;
        cur.derp_region = conn_peer_derp_region(p);
    }
    conn_pmtu_follow(c, p, &cur, now);
    if (!path_differs(&cur, &p->reported)) {
        p->reported.latency_ns = cur.latency_ns;
        return;
    }
    /* The owner prints "path NAME: ..." (docs/TAILNET.md); no second line here. */
    p->reported = cur;
    if (c->ops.on_path)
        c->ops.on_path(c->ops.ctx, p->key, &cur);
}

static struct conn_peer *peer_new(struct vole_conn *c, const uint8_t key[32])
{
    struct wg_peer_config pc = { 0 };
    struct conn_peer *p;
    const char *why = "out of memory";

    if (c->n_peers >= CONN_MAX_PEERS)
        return NULL;
    if (c->n_peers == c->cap_peers) {
        size_t cap = c->cap_peers ? c->cap_peers * 2 : 8;
        struct conn_peer **np = realloc(c->peers, cap * sizeof(struct conn_peer *));
        if (!np)
            return NULL;
        c->peers = np;
        c->cap_peers = cap;
    }
    if (!(p = calloc(1, sizeof *p)))
        return NULL;
    p->slot = (uint16_t)(c->n_peers + 1);
    p->placeholder = placeholder_for(p->slot);
    memcpy(p->key, key, 32);
    memcpy(pc.public_key, key, 32);
    p->wg = wg_device_add_peer(c->dev, &pc, &why);
    if (!p->wg) {
        conn_logf(c, false, "peer ignored: %s", why);
        free(p);
        return NULL;
    }
    /* The core never roams: this module picks the real path per packet. */
    wg_peer_set_endpoint_fixed(p->wg, &p->placeholder);
    wg_peer_set_user(p->wg, p);
    disco_path_init(&p->path);
    disco_pmtu_init(&p->pmtu);
    p->inner_mtu = p->syn_mtu = VOLE_TAILNET_MTU;
    c->peers[c->n_peers++] = p;
    return p;
}

static void set_disco_key(struct vole_conn *c, struct conn_peer *p, const uint8_t disco_pub[32])
{
    if (p->active && memcmp(p->disco_pub, disco_pub, 32) == 0)
        return;
    /* A new disco key is a restarted peer: what we knew of its paths is stale. */
    memcpy(p->disco_pub, disco_pub, 32);
    if (disco_shared_init(&p->shared, disco_pub, c->disco.priv) < 0)
        conn_logf(c, false, "peer %s: its disco key is a low-order point; direct paths are off", p->name);
    disco_path_init(&p->path);
    p->heard_region = 0;
}

/* Kept in the peer either way; the path sees them only while not blocked. */
static void set_endpoints(const struct vole_conn *c, struct conn_peer *p, const struct coord_node *n, uint64_t now)
{
    size_t k = 0;
    for (size_t i = 0; i < n->n_endpoints && i < COORD_MAX_ENDPOINTS; i++) {
        const struct coord_endpoint *e = &n->endpoints[i];
        if (e->family != 4 && e->family != 6)
            continue;
        p->coord_eps[k] = (struct wg_endpoint){ .family = e->family, .port = e->port };
        memcpy(p->coord_eps[k].addr, e->ip, e->family == 4 ? 4 : 16);
        k++;
    }
    p->n_coord_eps = k;
    disco_path_set_endpoints(&p->path, p->coord_eps, c->block_endpoints ? 0 : k, now);
}

/* A block that begins forgets every UDP path (a trusted best would
 * otherwise carry on); one that ends gives the coordinator's endpoints back. */
void conn_peers_apply_block(struct vole_conn *c)
{
    uint64_t now = vole_now_ns();
    for (size_t i = 0; i < c->n_peers; i++) {
        struct conn_peer *p = c->peers[i];
        if (!p->active)
            continue;
        if (c->block_endpoints)
            disco_path_init(&p->path);
        else
            disco_path_set_endpoints(&p->path, p->coord_eps, p->n_coord_eps, now);
        conn_peer_update_path(c, p, now);
    }
}

int vole_conn_upsert_peer(struct vole_conn *c, const struct coord_node *n, const char *name)
{
    struct conn_peer *p;
    uint64_t now = vole_now_ns();

    if (memcmp(n->key, c->pub, 32) == 0) {
        conn_logf(c, false, "peer %s has our own key; ignored", name ? name : "?");
        return -1;
    }
    p = conn_peer_by_key(c, n->key);
    if (!p && !(p = peer_new(c, n->key)))
        return -1;
    snprintf(p->name, sizeof p->name, "%s", name ? name : "");
    if (!p->active)
        memset(&p->disco, 0, sizeof p->disco);   /* counted since the node arrived */
    set_disco_key(c, p, n->disco);
    p->active = true;
    /* Adding a prefix the peer already holds is a no-op in the trie. */
    if (n->has_v6)
        wg_peer_add_allowed_ip(p->wg, 6, n->v6, 128);
    if (n->has_v4)
        wg_peer_add_allowed_ip(p->wg, 4, n->v4, 32);
    set_endpoints(c, p, n, now);
    p->home_region = n->preferred_derp;
    conn_peer_update_path(c, p, now);
    conn_held_replay(c, n->key);
    return 0;
}

/* The WireGuard peer stays (the core cannot remove one), inert: its output
 * is dropped at tx_commit and its disco and DERP input is not accepted. No
 * on_path: the owner knows the peer left. */
void vole_conn_remove_peer(struct vole_conn *c, const uint8_t key[32])
{
    struct conn_peer *p = conn_peer_by_key(c, key);
    if (!p || !p->active)
        return;
    p->active = false;
    p->heard_region = 0;
    disco_path_init(&p->path);
    disco_pmtu_stop(&p->pmtu);
    p->inner_mtu = VOLE_TAILNET_MTU;
    memset(&p->reported, 0, sizeof p->reported);
}

void vole_conn_peer_path(const struct vole_conn *c, const uint8_t key[32], struct vole_tailnet_path *out)
{
    const struct conn_peer *p = conn_peer_by_key(c, key);
    memset(out, 0, sizeof *out);
    if (p && p->active)
        *out = p->reported;
}

void conn_peers_free(struct vole_conn *c)
{
    for (size_t i = 0; i < c->n_peers; i++) {
        disco_shared_clear(&c->peers[i]->shared);
        free(c->peers[i]);
    }
    free(c->peers);
    c->peers = NULL;
    c->n_peers = c->cap_peers = 0;
}
