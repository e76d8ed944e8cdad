/* DERP regions (tailscale-wire.md §1.7): one client per region in use,
 * dialled on first need (the home region at once); the region a peer was
 * heard on becomes its reverse route; NotePreferred on the home connection;
 * non-home regions without a write for 60 s are closed (checked every 15 s).
 * The embedded region (EmbeddedRelay) is dialled at the node's own server
 * URL + "/derp"; the others through the map's nodes. Reconnecting is the
 * client's own business. */
#include "tailnet/conn_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "derp/client.h"
#include "node/tunnel.h"

bool conn_derp_region_has_relay(const struct derp_map_region *r)
{
    size_t idx = 0;
    return derp_map_next_derp_node(r, &idx) != NULL;
}

static void on_packet(void *ctx, const uint8_t src[DERP_KEY_LEN], const uint8_t *pkt, size_t len)
{
    struct conn_region *r = ctx;
    conn_derp_input(r->conn, r, src, pkt, len);
}

static void on_peer_gone(void *ctx, const uint8_t key[DERP_KEY_LEN], uint8_t reason)
{
    struct conn_region *r = ctx;
    struct conn_peer *p = conn_peer_by_key(r->conn, key);
    (void)reason;
    if (p && p->heard_region == r->id) {
        p->heard_region = 0;
        conn_peer_update_path(r->conn, p, vole_now_ns());
    }
}

static int queue_push(struct conn_region *r, const uint8_t key[32], const uint8_t *pkt, size_t len)
{
    struct conn_derp_pending *e;
    if (!r->queue || r->q_count == CONN_DERP_QUEUE || len > CONN_DERP_QUEUE_MTU)
        return -1;
    e = &r->queue[(r->q_head + r->q_count++) % CONN_DERP_QUEUE];
    memcpy(e->key, key, 32);
    memcpy(e->data, pkt, len);
    e->len = (uint16_t)len;
    return 0;
}

static void queue_flush(struct conn_region *r)
{
    while (r->q_count > 0) {
        struct conn_derp_pending *e = &r->queue[r->q_head];
        if (vole_derp_client_send(r->client, e->key, e->data, e->len) < 0)
            r->conn->st.drop_derp_tx++;
        r->q_head = (r->q_head + 1) % CONN_DERP_QUEUE;
        r->q_count--;
    }
}

static void on_state(void *ctx, bool connected, const char *why)
{
    struct conn_region *r = ctx;
    struct vole_conn *c = r->conn;
    r->connected = connected;
    if (connected) {
        vole_derp_client_note_preferred(r->client, r->id == c->home);
        conn_logf(c, true, "derp %d: connected", (int)r->id);
        queue_flush(r);
    } else {
        conn_logf(c, true, "derp %d: disconnected: %s", (int)r->id, why ? why : "");
    }
}

static size_t region_index(const struct vole_conn *c, int32_t id)
{
    for (size_t i = 0; i < c->map.n_regions; i++)
        if (c->map.regions[i].region_id == id)
            return i;
    return SIZE_MAX;
}

int conn_derp_set_map(struct vole_conn *c, char *err, size_t errlen)
{
    c->regions = calloc(c->map.n_regions, sizeof(struct conn_region *));
    if (!c->regions) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < c->map.n_regions; i++) {
        if (!(c->regions[i] = calloc(1, sizeof **c->regions))) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        c->regions[i]->conn = c;
        c->regions[i]->id = (int32_t)c->map.regions[i].region_id;
    }
    return 0;
}

static void forget_routes_via(struct vole_conn *c, int32_t id)
{
    for (size_t i = 0; i < c->n_peers; i++)
        if (c->peers[i]->heard_region == id)
            c->peers[i]->heard_region = 0;
}

static void region_close(struct vole_conn *c, struct conn_region *r)
{
    if (!r->client)
        return;
    vole_derp_client_free(r->client);
    r->client = NULL;
    r->connected = false;
    free(r->queue);
    r->queue = NULL;
    r->q_head = r->q_count = 0;
    forget_routes_via(c, r->id);
}

void conn_derp_close_all(struct vole_conn *c)
{
    if (!c->regions)
        return;
    for (size_t i = 0; i < c->map.n_regions; i++) {
        if (c->regions[i])
            region_close(c, c->regions[i]);
        free(c->regions[i]);
    }
    free(c->regions);
    c->regions = NULL;
}

static struct vole_derp_client *dial(struct vole_conn *c, struct conn_region *r, const struct derp_map_region *mr)
{
    struct vole_derp_client_config base = { .ca_file = c->ca_file, .insecure_for_tests = c->cfg.insecure };
    struct vole_derp_client_ops ops = { .ctx = r, .on_packet = on_packet, .on_peer_gone = on_peer_gone,
                                        .on_state = on_state };
    struct vole_derp_client *cl;
    char err[256], url[1024];

    memcpy(base.private_key, c->cfg.private_key, sizeof base.private_key);
    if (mr->embedded_relay && c->server_url && c->server_url[0]) {
        size_t n = strlen(c->server_url);
        while (n > 0 && c->server_url[n - 1] == '/')
            n--;
        snprintf(url, sizeof url, "%.*s/derp", (int)n, c->server_url);
        base.url = url;
        cl = vole_derp_client_new(c->loop, &base, &ops, err, sizeof err);
    } else {
        cl = vole_derp_client_new_region(c->loop, mr, &base, &ops, err, sizeof err);
    }
    sodium_memzero(base.private_key, sizeof base.private_key);
    if (!cl)
        conn_logf(c, false, "derp region %d: %s", (int)r->id, err);
    return cl;
}

struct conn_region *conn_derp_region(struct vole_conn *c, int32_t id, bool want_dial)
{
    size_t i = c->regions ? region_index(c, id) : SIZE_MAX;
    struct conn_region *r;

    if (i == SIZE_MAX)
        return NULL;
    r = c->regions[i];
    if (!r->client && want_dial && conn_derp_region_has_relay(&c->map.regions[i])) {
        r->queue = malloc(CONN_DERP_QUEUE * sizeof *r->queue);
        r->client = r->queue ? dial(c, r, &c->map.regions[i]) : NULL;
        if (!r->client) {
            free(r->queue);
            r->queue = NULL;
        }
        r->q_head = r->q_count = 0;
        r->last_write = vole_now_ns();
    }
    return r->client ? r : NULL;
}

int conn_derp_send(struct vole_conn *c, int32_t region, const uint8_t key[32], const uint8_t *pkt, size_t len)
{
    struct conn_region *r = region ? conn_derp_region(c, region, true) : NULL;

    /* While connecting (or reconnecting), queue; once connected, the client's own buffer. */
    if (!r || (r->connected ? vole_derp_client_send(r->client, key, pkt, len) : queue_push(r, key, pkt, len)) < 0) {
        c->st.drop_derp_tx++;
        return -1;
    }
    r->last_write = vole_now_ns();
    return 0;
}

void conn_derp_set_home(struct vole_conn *c, int32_t home)
{
    c->home = home;
    (void)conn_derp_region(c, home, true);
    for (size_t i = 0; c->regions && i < c->map.n_regions; i++) {
        struct conn_region *r = c->regions[i];
        if (r->client && r->connected)
            vole_derp_client_note_preferred(r->client, r->id == home);
    }
}

void conn_derp_idle_check(struct vole_conn *c, uint64_t now)
{
    for (size_t i = 0; c->regions && i < c->map.n_regions; i++) {
        struct conn_region *r = c->regions[i];
        if (r->client && r->id != c->home && now - r->last_write >= CONN_DERP_INACTIVE) {
            conn_logf(c, true, "derp %d: idle for 60 s, closed", (int)r->id);
            region_close(c, r);
            for (size_t j = 0; j < c->n_peers; j++)
                conn_peer_update_path(c, c->peers[j], now);
        }
    }
}
