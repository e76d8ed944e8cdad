/* The netcheck's STUN phase: every node with STUN, probed from one UDP
 * socket by stun/probe, as the netcheck client does (coder-behaviour.md
 * §1.5). Its report is the netcheck's UDP, IPv4/IPv6, GlobalV4/V6 and
 * MappingVariesByDestIP; each node's answer is that node's STUN test.
 * A node's address: STUNTestIP, else its HostName looked up (first
 * result), else IPv4, else IPv6. */
#include "diag/netcheck_run_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/udp.h"
#include "node/tunnel.h"

#define NC_STUN_MARGIN_NS 500000000ull   /* beyond the prober's phase, in case of a bug */
#define NC_RESOLVE_POLL 0.01

__attribute__((format(printf, 2, 3))) static void stun_logf(struct vole_netcheck_run *r, const char *fmt, ...)
{
    char msg[VOLE_HEALTH_TEXT_MAX] = "";
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    vole_derp_health_log(&r->h, "netcheck: %s", msg);
    nc_logf(r, "netcheck: %s", msg);
}

/* ---- the end ---- */

void nc_stun_record(struct vole_netcheck_run *r)
{
    struct nc_stun *st = &r->stun;
    char ep[64], mapped[64];

    if (st->recorded)
        return;
    st->recorded = true;
    if (st->probing)
        st->report = *stun_prober_report(&st->prober);
    r->h.stun = &st->report;
    for (size_t i = 0; i < st->n; i++) {
        struct nc_stun_node *sn = &st->nodes[i];
        const struct stun_server_result *s;
        if (sn->target < 0)
            continue;
        s = &st->report.servers[sn->target];
        vole_endpoint_format(ep, sizeof ep, &s->server);
        if (s->answered) {
            sn->h->can_stun = true;
            vole_endpoint_format(mapped, sizeof mapped, &s->mapped);
            stun_logf(r, "STUN %s (%s): answered in %.1fms, mapped %s", sn->h->node->name, ep,
                      (double)s->latency_ns / 1e6, mapped);
        } else {
            snprintf(sn->h->stun_error, sizeof sn->h->stun_error, "STUN %s: %s", ep, stun_probe_error_str(s->error));
            stun_logf(r, "STUN %s (%s): %s", sn->h->node->name, ep, stun_probe_error_str(s->error));
        }
    }
}

void nc_stun_stop(struct vole_netcheck_run *r)
{
    struct nc_stun *st = &r->stun;

    if (st->done)
        return;
    st->done = true;
    if (r->loop)
        ev_timer_stop(r->loop, &st->timer);
    for (size_t i = 0; i < st->n; i++) {
        derp_resolve_free(st->nodes[i].resolve);
        st->nodes[i].resolve = NULL;
    }
    if (st->udp)
        vole_udp_close(st->udp);
    st->udp = NULL;
    nc_stun_record(r);
    nc_mtu_record(r);
}

/* ---- probing ---- */

static void emit(void *ctx, const struct wg_endpoint *dst, const uint8_t *buf, size_t len)
{
    struct vole_netcheck_run *r = ctx;
    struct nc_stun *st = &r->stun;
    const struct vole_udp_stats *s = vole_udp_stats(st->udp);
    uint64_t failed = s->tx_errors + s->tx_dropped;
    uint8_t *slot = vole_udp_tx_slot(st->udp, len);

    if (slot) {
        memcpy(slot, buf, len);
        vole_udp_tx_commit(st->udp, dst, len);
        vole_udp_flush(st->udp);   /* now: the OS's verdict is IPv4CanSend/IPv6CanSend */
    }
    stun_prober_sent(&st->prober, dst, slot && s->tx_errors + s->tx_dropped == failed);
}

static void step(struct vole_netcheck_run *r)
{
    struct nc_stun *st = &r->stun;
    uint64_t now = vole_now_ns(), at;

    stun_prober_poll(&st->prober, now, emit, r);
    if (stun_prober_done(&st->prober, now) || now >= st->hard_end) {
        nc_stun_record(r);
        if (nc_mtu_start(r))
            return;
        nc_stun_stop(r);
        nc_check_done(r);
        return;
    }
    at = stun_prober_deadline(&st->prober);
    if (at > st->hard_end)
        at = st->hard_end;
    ev_timer_stop(r->loop, &st->timer);
    ev_timer_set(&st->timer, at > now ? (double)(at - now) / 1e9 : 0., 0.);
    ev_timer_start(r->loop, &st->timer);
}

static void on_probe_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    step(w->data);
}

static void on_datagram(void *ctx, const struct wg_endpoint *src, uint8_t *buf, size_t len)
{
    struct vole_netcheck_run *r = ctx;
    struct nc_stun *st = &r->stun;

    if (!st->probing || st->done)
        return;
    if (st->mtu_running) {
        (void)nc_mtu_handle(r, buf, len);
        return;
    }
    if (stun_prober_handle(&st->prober, src, buf, len, vole_now_ns()) &&
        stun_prober_done(&st->prober, vole_now_ns())) {
        /* Not from here: the socket may not be closed inside its own callback. */
        ev_timer_stop(r->loop, &st->timer);
        ev_timer_set(&st->timer, 0., 0.);
        ev_timer_start(r->loop, &st->timer);
    }
}

static void start_probing(struct vole_netcheck_run *r)
{
    struct nc_stun *st = &r->stun;
    struct stun_probe_target t[STUN_PROBER_MAX_SERVERS];
    size_t n = 0;

    for (size_t i = 0; i < st->n; i++) {
        struct nc_stun_node *sn = &st->nodes[i];
        if (!sn->resolved) {
            snprintf(sn->h->stun_error, sizeof sn->h->stun_error, "%s",
                     sn->h->stun_error[0] ? sn->h->stun_error : "the node's address could not be found");
            continue;
        }
        if (n == STUN_PROBER_MAX_SERVERS) {
            snprintf(sn->h->stun_error, sizeof sn->h->stun_error, "not probed: more than %d STUN nodes",
                     STUN_PROBER_MAX_SERVERS);
            continue;
        }
        sn->target = (int)n;
        t[n].name = sn->h->node->name;
        t[n++].ep = sn->ep;
    }
    if (n == 0 || stun_prober_init(&st->prober, t, n, vole_now_ns()) < 0) {
        if (st->n)
            stun_logf(r, "no STUN node could be probed");
        nc_stun_stop(r);
        nc_check_done(r);
        return;
    }
    st->probing = true;
    st->hard_end = vole_now_ns() + STUN_PROBER_PHASE_NS + NC_STUN_MARGIN_NS;
    ev_set_cb(&st->timer, on_probe_timer);
    step(r);
}

/* ---- addresses ---- */

static bool literal(const char *ip, int port, struct wg_endpoint *ep)
{
    char err[64];
    struct derp_resolve *res;
    struct derp_addr a;
    size_t n = 0;

    if (!ip[0])
        return false;
    res = derp_resolve_start(ip, (uint16_t)port, err, sizeof err);
    if (!res)
        return false;
    /* Only an address literal is done at once; a name is not wanted here. */
    bool ok = derp_resolve_poll(res, &a, 1, &n, err, sizeof err) == 1 && n == 1;
    derp_resolve_free(res);
    if (ok)
        vole_sockaddr_to_endpoint(ep, (const struct sockaddr *)&a.ss);
    return ok && (ep->family == 4 || ep->family == 6);
}

static void fallback(struct nc_stun_node *sn, const char *why)
{
    const struct derp_map_node *node = sn->h->node;
    sn->resolved = literal(node->ipv4, node->stun_port, &sn->ep) || literal(node->ipv6, node->stun_port, &sn->ep);
    if (!sn->resolved)
        snprintf(sn->h->stun_error, sizeof sn->h->stun_error, "looking up %.100s: %.80s", node->host_name, why);
}

/* 1 when every lookup has ended. */
static int poll_lookups(struct vole_netcheck_run *r, bool give_up)
{
    struct nc_stun *st = &r->stun;
    int all = 1;

    for (size_t i = 0; i < st->n; i++) {
        struct nc_stun_node *sn = &st->nodes[i];
        struct derp_addr a;
        size_t n = 0;
        char err[VOLE_HEALTH_TEXT_MAX];
        int rc;

        if (!sn->resolve)
            continue;
        rc = derp_resolve_poll(sn->resolve, &a, 1, &n, err, sizeof err);
        if (rc == 0 && !give_up) {
            all = 0;
            continue;
        }
        if (rc == 1 && n == 1) {
            vole_sockaddr_to_endpoint(&sn->ep, (const struct sockaddr *)&a.ss);
            sn->resolved = sn->ep.family == 4 || sn->ep.family == 6;
        }
        if (!sn->resolved)
            fallback(sn, rc == 0 ? "timed out" : rc == 1 ? "no address" : err);
        derp_resolve_free(sn->resolve);
        sn->resolve = NULL;
    }
    return all;
}

static void on_resolve_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct vole_netcheck_run *r = w->data;
    if (poll_lookups(r, vole_now_ns() >= r->stun.resolve_end))
        start_probing(r);
    else
        ev_timer_again(loop, w);
}

static void start_lookup(struct nc_stun_node *sn)
{
    const struct derp_map_node *node = sn->h->node;
    char err[VOLE_HEALTH_TEXT_MAX];

    sn->target = -1;
    if (literal(node->stun_test_ip, node->stun_port, &sn->ep)) {
        sn->resolved = true;
        return;
    }
    sn->resolve = derp_resolve_start(node->host_name, (uint16_t)node->stun_port, err, sizeof err);
    if (!sn->resolve)
        fallback(sn, err);
}

int nc_stun_start(struct vole_netcheck_run *r, char *err, size_t errlen)
{
    struct nc_stun *st = &r->stun;
    struct vole_udp_config uc = { .port = 0 };
    char udp_err[VOLE_HEALTH_TEXT_MAX];
    size_t total = 0;

    ev_timer_init(&st->timer, on_resolve_timer, 0., NC_RESOLVE_POLL);
    st->timer.data = r;
    for (size_t i = 0; i < r->h.n_regions; i++)
        for (size_t k = 0; k < r->h.regions[i].n_nodes; k++)
            total += r->h.regions[i].nodes[k].stun_enabled;
    if (total == 0) {
        nc_stun_stop(r);
        return 0;
    }
    st->nodes = calloc(total, sizeof *st->nodes);
    if (!st->nodes) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    st->udp = vole_udp_open(r->loop, &uc, on_datagram, r, udp_err, sizeof udp_err);
    if (!st->udp) {   /* no STUN at all: said in netcheck_err, the rest still runs */
        snprintf(r->h.netcheck_err, sizeof r->h.netcheck_err, "%s", udp_err);
        for (size_t i = 0; i < total; i++)
            st->nodes[i].target = -1;
        nc_stun_stop(r);
        return 0;
    }
    for (size_t i = 0; i < r->h.n_regions; i++)
        for (size_t k = 0; k < r->h.regions[i].n_nodes; k++)
            if (r->h.regions[i].nodes[k].stun_enabled) {
                st->nodes[st->n].h = &r->h.regions[i].nodes[k];
                start_lookup(&st->nodes[st->n++]);
            }
    st->resolve_end = vole_now_ns() + (uint64_t)(NC_STUN_RESOLVE_S * 1e9);
    ev_timer_again(r->loop, &st->timer);
    return 0;
}
