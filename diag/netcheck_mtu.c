/* The netcheck's path MTU phase: after the STUN answers, every node that
 * answered is probed with padded binding requests (diag/netcheck_pmtu.h)
 * from the same socket, now with don't-fragment, so that a packet too
 * large for the path is dropped or refused rather than fragmented. */
#include "diag/netcheck_run_int.h"

#include <stdio.h>
#include <string.h>

#include "io/udp.h"
#include "node/tunnel.h"

static struct nc_stun_node *mtu_node(struct vole_netcheck_run *r, size_t i)
{
    return &r->stun.nodes[r->stun.mtu_node[i]];
}

static bool mtu_send(void *ctx, size_t i, const struct wg_endpoint *dst, const uint8_t *buf, size_t len,
                     unsigned wire)
{
    struct vole_netcheck_run *r = ctx;
    struct vole_udp *u = r->stun.udp;
    const struct vole_udp_stats *s = vole_udp_stats(u);
    uint64_t failed = s->tx_errors + s->tx_dropped;
    uint8_t *slot = vole_udp_tx_slot(u, len);
    bool ok;

    if (slot) {
        memcpy(slot, buf, len);
        vole_udp_tx_commit(u, dst, len);
        vole_udp_flush(u);   /* now: EMSGSIZE is the kernel knowing the path MTU */
    }
    ok = slot && s->tx_errors + s->tx_dropped == failed;
    nc_logf(r, "netcheck: path MTU probe to %s: %u bytes (%zu of STUN)%s", mtu_node(r, i)->h->node->name, wire,
            len, ok ? "" : ": not sent");
    return ok;
}

static void mtu_note(void *ctx, size_t i, unsigned wire, const char *what)
{
    struct vole_netcheck_run *r = ctx;
    if (strcmp(what, "not sent") != 0)   /* mtu_send said so */
        nc_logf(r, "netcheck: path MTU probe to %s: %u bytes: %s", mtu_node(r, i)->h->node->name, wire, what);
}

static void mtu_step(struct vole_netcheck_run *r)
{
    struct nc_stun *st = &r->stun;
    uint64_t now = vole_now_ns(), at;

    vole_pmtu_poll(&st->pmtu, now, &st->mtu_io);
    if (vole_pmtu_done(&st->pmtu, now)) {
        nc_stun_stop(r);
        nc_check_done(r);
        return;
    }
    at = vole_pmtu_deadline(&st->pmtu);
    ev_timer_stop(r->loop, &st->timer);
    ev_timer_set(&st->timer, at > now ? (double)(at - now) / 1e9 : 0., 0.);
    ev_timer_start(r->loop, &st->timer);
}

static void on_mtu_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    mtu_step(w->data);
}

bool nc_mtu_handle(struct vole_netcheck_run *r, const uint8_t *buf, size_t len)
{
    struct nc_stun *st = &r->stun;

    if (!vole_pmtu_handle(&st->pmtu, buf, len, vole_now_ns(), &st->mtu_io))
        return false;
    /* The next round may be due; not from here (the socket's own callback). */
    ev_timer_stop(r->loop, &st->timer);
    ev_timer_set(&st->timer, 0., 0.);
    ev_timer_start(r->loop, &st->timer);
    return true;
}

bool nc_mtu_start(struct vole_netcheck_run *r)
{
    struct nc_stun *st = &r->stun;
    struct wg_endpoint eps[VOLE_PMTU_MAX_SERVERS];
    size_t n = 0;

    for (size_t i = 0; i < st->n && n < VOLE_PMTU_MAX_SERVERS; i++) {
        const struct nc_stun_node *sn = &st->nodes[i];
        if (sn->target < 0 || !st->report.servers[sn->target].answered)
            continue;
        st->mtu_node[n] = i;
        eps[n++] = sn->ep;
    }
    if (n == 0 || !st->udp)
        return false;
    if (vole_udp_set_dont_fragment(st->udp) < 0) {
        nc_logf(r, "netcheck: no path MTU probes: the socket cannot be set to don't-fragment");
        return false;
    }
    if (vole_pmtu_init(&st->pmtu, eps, n, vole_now_ns()) < 0)
        return false;
    st->mtu_io = (struct vole_pmtu_io){ .send = mtu_send, .note = mtu_note, .ctx = r };
    st->mtu_running = true;
    ev_set_cb(&st->timer, on_mtu_timer);
    mtu_step(r);
    return true;
}

void nc_mtu_record(struct vole_netcheck_run *r)
{
    struct nc_stun *st = &r->stun;

    if (!st->mtu_running)
        return;
    st->mtu_running = false;
    for (size_t i = 0; i < st->pmtu.n; i++) {
        struct nc_stun_node *sn = mtu_node(r, i);
        unsigned mtu = vole_pmtu_result(&st->pmtu, i);
        sn->h->path_mtu = mtu;
        st->report.servers[sn->target].path_mtu = mtu;
        vole_derp_health_log(&r->h, "netcheck: STUN %s: path MTU %u", sn->h->node->name, mtu);
        nc_logf(r, "netcheck: STUN %s: path MTU %u%s", sn->h->node->name, mtu,
                mtu ? "" : " (no padded probe answered)");
    }
}
