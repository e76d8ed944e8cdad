/* The data plane's lifecycle and timers: the shared UDP socket, the
 * WireGuard device, the disco keypair, and the three timers of the loop
 * (WireGuard's next deadline and the earliest disco deadline, both re-armed
 * once per iteration from an ev_prepare as node/tunnel.c does; the DERP idle
 * check every 15 s). The STUN timer lives in conn_stun.c. */
#include "tailnet/conn_int.h"
#include "io/logf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "derp/frame.h"
#include "io/udp.h"
#include "node/tunnel.h"
#include "node/wgio.h"
#include "stack/stack.h"

void conn_logf(const struct vole_conn *c, bool verbose_only, const char *fmt, ...)
{
    va_list ap;
    if (verbose_only && !c->cfg.verbose)
        return;
    va_start(ap, fmt);
    vole_vlogf(c->cfg.log, c->cfg.log_ctx, fmt, ap);
    va_end(ap);
}

void conn_self_changed(struct vole_conn *c)
{
    if (c->ops.on_self_changed)
        c->ops.on_self_changed(c->ops.ctx);
}

/* ---- timers ---- */

static void on_wg_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct vole_conn *c = w->data;
    (void)loop;
    (void)revents;
    c->wg_armed = 0;
    wg_device_tick(c->dev, vole_now_ns());
}

static void on_disco_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct vole_conn *c = w->data;
    (void)loop;
    (void)revents;
    c->disco_armed = 0;
    conn_disco_tick(c, vole_now_ns());
}

static void on_derp_idle(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    conn_derp_idle_check(w->data, vole_now_ns());
}

static void arm(struct ev_loop *loop, ev_timer *t, uint64_t *armed, uint64_t deadline, uint64_t now)
{
    if (deadline == *armed)
        return;
    ev_timer_stop(loop, t);
    *armed = deadline;
    if (deadline == UINT64_MAX)
        return;
    ev_timer_set(t, deadline > now ? (double)(deadline - now) / 1e9 : 0.0, 0.0);
    ev_timer_start(loop, t);
}

/* Once per iteration, after this iteration's packets and before the UDP
 * flush: deadlines moved by traffic are armed here, not per packet. */
static void on_rearm(struct ev_loop *loop, ev_prepare *w, int revents)
{
    struct vole_conn *c = w->data;
    uint64_t now = vole_now_ns();
    (void)revents;
    arm(loop, &c->wg_timer, &c->wg_armed, wg_device_next_deadline(c->dev), now);
    arm(loop, &c->disco_timer, &c->disco_armed, conn_disco_next_deadline(c, now), now);
}

static void timers_start(struct vole_conn *c)
{
    ev_timer_init(&c->wg_timer, on_wg_timer, 0., 0.);
    c->wg_timer.data = c;
    ev_timer_init(&c->disco_timer, on_disco_timer, 0., 0.);
    c->disco_timer.data = c;
    ev_timer_init(&c->derp_idle, on_derp_idle, CONN_DERP_IDLE_CHECK, CONN_DERP_IDLE_CHECK);
    c->derp_idle.data = c;
    ev_timer_start(c->loop, &c->derp_idle);
    ev_prepare_init(&c->rearm, on_rearm);
    c->rearm.data = c;
    ev_prepare_start(c->loop, &c->rearm);
    c->wg_armed = c->disco_armed = UINT64_MAX;
}

/* ---- construction ---- */

static int copy_config(struct vole_conn *c, const struct vole_conn_config *cfg)
{
    c->cfg = *cfg;
    if (cfg->server_url && !(c->server_url = strdup(cfg->server_url)))
        return -1;
    if (cfg->ca_file && !(c->ca_file = strdup(cfg->ca_file)))
        return -1;
    c->cfg.server_url = c->server_url;
    c->cfg.ca_file = c->ca_file;
    return 0;
}

static int open_socket(struct vole_conn *c, char *err, size_t errlen)
{
    struct vole_udp_config uc = { .port = c->cfg.udp_port, .max_datagram = 2048 };

    c->udp = vole_udp_open(c->loop, &uc, conn_on_datagram, c, err, errlen);
    if (!c->udp)
        return -1;
    /* Don't-fragment on the whole socket: path MTU probes (conn_pmtu.c) must
     * fail where a WireGuard packet of their size would, and WireGuard
     * packets are fitted to what the probes found, so they lose nothing. */
    if (vole_udp_set_dont_fragment(c->udp) < 0)
        conn_logf(c, true, "cannot set don't-fragment on the UDP socket; path MTU is not probed");
    return 0;
}

struct vole_conn *vole_conn_new(struct ev_loop *loop, const struct vole_conn_config *cfg,
                                const struct vole_conn_ops *ops, char *err, size_t errlen)
{
    struct vole_conn *c = calloc(1, sizeof *c);
    struct wg_sink sink = conn_wg_sink;

    if (c)
        c->loop = loop;
    if (!c || copy_config(c, cfg) < 0 || !(c->scratch = malloc(DERP_MAX_PACKET_SIZE)) ||
        !(c->flat = malloc(VOLE_WG_FLAT_LEN))) {
        snprintf(err, errlen, "out of memory");
        vole_conn_free(c);
        return NULL;
    }
    if (ops)
        c->ops = *ops;
    sink.ctx = c;
    c->dev = wg_device_new(cfg->private_key, VOLE_TAILNET_MTU, &sink, vole_now_ns());
    if (!c->dev) {
        snprintf(err, errlen, "cannot initialise libsodium");
        vole_conn_free(c);
        return NULL;
    }
    wg_device_set_wall_offset(c->dev, vole_wall_offset_ns());
    wg_device_public_key(c->dev, c->pub);
    disco_keypair_generate(&c->disco);
    if (open_socket(c, err, errlen) < 0) {
        vole_conn_free(c);
        return NULL;
    }
    c->block_local = c->block_endpoints = cfg->block_endpoints;
    timers_start(c);
    return c;
}

void vole_conn_free(struct vole_conn *c)
{
    if (!c)
        return;
    if (c->rearm.data) {
        ev_timer_stop(c->loop, &c->wg_timer);
        ev_timer_stop(c->loop, &c->disco_timer);
        ev_timer_stop(c->loop, &c->derp_idle);
        ev_prepare_stop(c->loop, &c->rearm);
    }
    conn_stun_stop(c);
    conn_cliping_free_all(c);
    conn_derp_close_all(c);
    if (c->has_map)
        derp_map_free(&c->map);
    if (c->udp)
        vole_udp_close(c->udp);
    conn_peers_free(c);
    wg_device_free(c->dev);
    sodium_memzero(&c->disco, sizeof c->disco);
    sodium_memzero(c->cfg.private_key, sizeof c->cfg.private_key);
    free(c->scratch);
    free(c->flat);
    free(c->server_url);
    free(c->ca_file);
    free(c);
}

/* ---- the DERP map and what we tell the coordinator ---- */

int vole_conn_set_derp_map(struct vole_conn *c, const struct derp_map *m, char *err, size_t errlen)
{
    struct derp_map copy = { 0 };
    char *json;
    int rc;

    if (!m || m->n_regions == 0) {
        snprintf(err, errlen, "the DERP map has no region");
        return -1;
    }
    /* A deep copy through the map's own JSON form: one codec, no second copier to keep in step. */
    json = derp_map_to_json(m);
    if (!json) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    rc = derp_map_parse(json, strlen(json), &copy, err, errlen);
    free(json);
    if (rc < 0)
        return -1;
    conn_stun_stop(c);
    conn_derp_close_all(c);
    if (c->has_map)
        derp_map_free(&c->map);
    c->map = copy;
    c->has_map = true;
    if (conn_derp_set_map(c, err, errlen) < 0)
        return -1;
    /* The old connections are gone: redial the home if the new map still has it. */
    if (c->home != 0) {
        const struct derp_map_region *r = derp_map_region(&c->map, c->home);
        if (r && conn_derp_region_has_relay(r))
            conn_derp_set_home(c, c->home);
        else
            c->home = 0;
    }
    conn_stun_start(c);
    return 0;
}

void vole_conn_set_block_endpoints(struct vole_conn *c, bool block)
{
    bool was = c->block_endpoints;

    c->block_server = block;
    c->block_endpoints = c->block_local || c->block_server;
    if (c->block_endpoints == was)
        return;
    conn_peers_apply_block(c);
    /* No STUN while blocked; a lifted block starts a round at once. */
    if (c->has_map) {
        conn_stun_stop(c);
        conn_stun_start(c);
    }
    conn_self_changed(c);
}

bool vole_conn_endpoints_blocked(const struct vole_conn *c) { return c->block_endpoints; }

void vole_conn_self(const struct vole_conn *c, struct coord_node *out)
{
    memset(out, 0, sizeof *out);
    memcpy(out->key, c->pub, sizeof out->key);
    memcpy(out->disco, c->disco.pub, sizeof out->disco);
    out->preferred_derp = c->home;
    if (c->block_endpoints)
        return;
    out->n_endpoints = c->n_endpoints;
    memcpy(out->endpoints, c->endpoints, c->n_endpoints * sizeof c->endpoints[0]);
}

/* The tailnet's stack does TSO (issue #8): lwIP's TCP segments are cut to
 * each peer's inner MTU as they leave (conn_max_packet). */
void vole_conn_attach_stack(struct vole_conn *c, struct vole_stack *s)
{
    if (c->stack && c->stack != s)
        vole_stack_set_tso(c->stack, NULL, NULL);
    c->stack = s;
    if (s)
        vole_stack_set_tso(s, conn_max_packet, c);
}
uint16_t vole_conn_udp_port(const struct vole_conn *c) { return vole_udp_local_port(c->udp); }
const struct vole_conn_stats *vole_conn_stats(const struct vole_conn *c) { return &c->st; }
struct wg_device *vole_conn_device(struct vole_conn *c) { return c->dev; }
