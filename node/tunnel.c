#include "node/tunnel.h"

#include <arpa/inet.h>
#include <ev.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "io/logf.h"
#include "io/udp.h"
#include "node/classify.h"
#include "node/wgio.h"
#include "lwip/pbuf.h"
#include "stack/gro.h"
#include "stack/stack.h"

struct vole_tunnel {
    struct ev_loop *loop;
    struct wg_device *dev;
    struct vole_udp *udp;
    struct vole_stack *stack;
    ev_timer wg_timer;           /* the core's next deadline */
    ev_prepare rearm;            /* re-arms wg_timer once per loop iteration */
    uint64_t armed_deadline;
    uint8_t *flat;               /* scratch for over-long pbuf chains */
    uint64_t stun_unclaimed;     /* STUN with no on_stun handler */
    uint64_t disco_dropped;      /* disco before disco is implemented */
    struct vole_tunnel_options opt;
};

uint64_t vole_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void vole_endpoint_format(char *buf, size_t len, const struct wg_endpoint *ep)
{
    char a[INET6_ADDRSTRLEN];
    if (ep->family == 4) {
        inet_ntop(AF_INET, ep->addr, a, sizeof a);
        snprintf(buf, len, "%s:%u", a, ep->port);
    } else if (ep->family == 6) {
        inet_ntop(AF_INET6, ep->addr, a, sizeof a);
        snprintf(buf, len, "[%s]:%u", a, ep->port);
    } else {
        snprintf(buf, len, "(none)");
    }
}

static void logf_(struct vole_tunnel *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(struct vole_tunnel *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vole_vlogf(t->opt.log, t->opt.log_ctx, fmt, ap);
    va_end(ap);
}

/* ---- the core's sink: datagrams to the socket, plaintext into pbufs ---- */

static uint8_t *sink_tx_slot(void *ctx, size_t cap)
{
    struct vole_tunnel *t = ctx;
    return vole_udp_tx_slot(t->udp, cap);
}

static void sink_tx_commit(void *ctx, const struct wg_endpoint *dst, size_t len)
{
    struct vole_tunnel *t = ctx;
    vole_udp_tx_commit(t->udp, dst, len);
}

static uint8_t *sink_rx_alloc(void *ctx, size_t len, void **handle)
{
    (void)ctx;
    return vole_wg_rx_alloc(len, handle);
}

static void sink_rx_deliver(void *ctx, struct wg_peer *peer, void *handle, size_t len)
{
    struct vole_tunnel *t = ctx;
    (void)peer;
    vole_wg_rx_deliver(t->stack, handle, len);
}

static void sink_rx_discard(void *ctx, void *handle)
{
    (void)ctx;
    vole_wg_rx_discard(handle);
}

static void sink_event(void *ctx, struct wg_peer *peer, enum wg_event ev)
{
    struct vole_tunnel *t = ctx;
    char ep[80];
    struct wg_peer_info info;

    if (!t->opt.verbose)
        return;
    wg_peer_get_info(peer, &info);
    vole_endpoint_format(ep, sizeof ep, &info.endpoint);
    switch (ev) {
    case WG_EV_HANDSHAKE_COMPLETE: logf_(t, "handshake with %s complete", ep); break;
    case WG_EV_ENDPOINT_CHANGED: logf_(t, "peer endpoint is now %s", ep); break;
    case WG_EV_HANDSHAKE_GAVE_UP: logf_(t, "no handshake with %s after 90 s; dropping queued packets", ep); break;
    case WG_EV_KEYS_ZEROED: logf_(t, "session keys with %s expired and were wiped", ep); break;
    case WG_EV_HANDSHAKE_SENT: break;
    }
}

/* ---- the stack's output: route by AllowedIPs, encrypt into the batch ---- */

static int stack_output(void *ctx, struct pbuf *p)
{
    struct vole_tunnel *t = ctx;
    struct wg_iov iov[VOLE_WG_MAX_IOV];
    struct wg_peer *peer;
    int n;

    if (p->len < 20)
        return ERR_VAL;
    peer = wg_device_route(t->dev, p->payload, p->len);
    if (!peer)
        return ERR_RTE;
    n = vole_pbuf_gather(p, iov, t->flat);
    return wg_device_send(t->dev, peer, iov, n, vole_now_ns()) == 0 ? ERR_OK : ERR_BUF;
}

/* ---- time ---- */

static void on_wg_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct vole_tunnel *t = w->data;
    (void)loop;
    (void)revents;
    t->armed_deadline = 0;
    wg_device_tick(t->dev, vole_now_ns());
}

/* Runs once per iteration, after packets were generated and before the UDP
 * flush: a timer set by this iteration's traffic is armed here, not per packet. */
static void on_rearm(struct ev_loop *loop, ev_prepare *w, int revents)
{
    struct vole_tunnel *t = w->data;
    uint64_t deadline = wg_device_next_deadline(t->dev), now;
    (void)revents;

    if (deadline == t->armed_deadline)
        return;
    ev_timer_stop(loop, &t->wg_timer);
    t->armed_deadline = deadline;
    if (deadline == UINT64_MAX)
        return;
    now = vole_now_ns();
    ev_timer_set(&t->wg_timer, deadline > now ? (double)(deadline - now) / 1e9 : 0.0, 0.0);
    ev_timer_start(loop, &t->wg_timer);
}

/* One socket carries STUN, disco and WireGuard (tailscale-wire.md §3.3). */
static void on_datagram(void *ctx, const struct wg_endpoint *src, uint8_t *buf, size_t len)
{
    struct vole_tunnel *t = ctx;

    switch (vole_classify(buf, len)) {
    case VOLE_PKT_STUN:
        if (t->opt.on_stun)
            t->opt.on_stun(t->opt.stun_ctx, src, buf, len);
        else
            t->stun_unclaimed++;
        return;
    case VOLE_PKT_DISCO:
        t->disco_dropped++;   /* disco comes with path discovery (issue #5) */
        return;
    case VOLE_PKT_WIREGUARD:
        wg_device_receive(t->dev, src, buf, len, vole_now_ns());
        return;
    }
}

/* ---- construction ---- */

static int resolve_endpoint(struct wg_endpoint *ep, const struct vole_conf_peer *cp, char *err, size_t errlen)
{
    struct addrinfo hints = { .ai_socktype = SOCK_DGRAM, .ai_flags = AI_ADDRCONFIG }, *res;
    char port[8];
    int rc;

    snprintf(port, sizeof port, "%u", cp->endpoint_port);
    rc = getaddrinfo(cp->endpoint_host, port, &hints, &res);
    if (rc == EAI_BADFLAGS || rc == EAI_NONAME) {
        hints.ai_flags = 0;   /* AI_ADDRCONFIG hides loopback-only families */
        rc = getaddrinfo(cp->endpoint_host, port, &hints, &res);
    }
    if (rc != 0) {
        snprintf(err, errlen, "peer endpoint %s: %s", cp->endpoint_host, gai_strerror(rc));
        return -1;
    }
    vole_sockaddr_to_endpoint(ep, res->ai_addr);
    freeaddrinfo(res);
    return 0;
}

static bool peer_is_low_order(const struct wg_peer *peer)
{
    struct wg_peer_info info;
    wg_peer_get_info(peer, &info);
    return info.low_order;
}

static int add_peers(struct vole_tunnel *t, const struct vole_conf *conf, char *err, size_t errlen)
{
    for (size_t i = 0; i < conf->n_peers; i++) {
        const struct vole_conf_peer *cp = &conf->peers[i];
        struct wg_peer_config pc = { .persistent_keepalive = cp->persistent_keepalive, .has_psk = cp->has_psk };
        struct wg_peer *peer;
        const char *why = NULL;

        memcpy(pc.public_key, cp->public_key, WG_KEY_LEN);
        memcpy(pc.psk, cp->psk, WG_KEY_LEN);
        if (cp->has_endpoint && resolve_endpoint(&pc.endpoint, cp, err, errlen) < 0)
            return -1;
        peer = wg_device_add_peer(t->dev, &pc, &why);
        if (!peer) {
            /* wg ignores a peer with our own key; vole says so and goes on. */
            logf_(t, "peer of line %u ignored: %s", cp->line, why);
            continue;
        }
        for (size_t j = 0; j < cp->n_allowed_ips; j++)
            wg_peer_add_allowed_ip(peer, cp->allowed_ips[j].family, cp->allowed_ips[j].addr,
                                   cp->allowed_ips[j].cidr);
        if (peer_is_low_order(peer))
            logf_(t, "peer of line %u has a low-order public key: it can never complete a handshake",
                  cp->line);
    }
    return 0;
}

static int open_udp(struct vole_tunnel *t, const struct vole_conf *conf, char *err, size_t errlen)
{
    uint16_t mtu = conf->mtu ? conf->mtu : VOLE_DEFAULT_MTU;
    struct vole_udp_config uc = {
        .port = conf->has_listen_port ? conf->listen_port : 0,
        /* Room for a whole tunnel packet plus WireGuard overhead. */
        .max_datagram = (size_t)mtu + WG_DATA_OVERHEAD + WG_PADDING_MULTIPLE > 2048
                            ? (size_t)mtu + WG_DATA_OVERHEAD + WG_PADDING_MULTIPLE : 2048,
    };

    t->udp = vole_udp_open(t->loop, &uc, on_datagram, t, err, errlen);
    if (!t->udp && uc.port && t->opt.ephemeral_port_fallback) {
        logf_(t, "%s; using a random port instead", err);
        uc.port = 0;
        t->udp = vole_udp_open(t->loop, &uc, on_datagram, t, err, errlen);
    }
    return t->udp ? 0 : -1;
}

static int open_stack(struct vole_tunnel *t, const struct vole_conf *conf, char *err, size_t errlen)
{
    struct vole_stack_addr addrs[16];
    struct vole_stack_ops ops = { .ctx = t, .output = stack_output };
    size_t n = 0;

    for (size_t i = 0; i < conf->n_addresses && n < 16; i++, n++) {
        addrs[n].family = conf->addresses[i].family;
        memcpy(addrs[n].addr, conf->addresses[i].addr, 16);
        addrs[n].prefix = conf->addresses[i].cidr;
    }
    t->stack = vole_stack_new(t->loop, conf->mtu ? conf->mtu : VOLE_DEFAULT_MTU, addrs, n, &ops, err, errlen);
    return t->stack ? 0 : -1;
}

struct vole_tunnel *vole_tunnel_new(struct ev_loop *loop, const struct vole_conf *conf,
                                    const struct vole_tunnel_options *opt, char *err, size_t errlen)
{
    struct vole_tunnel *t = calloc(1, sizeof *t);
    struct wg_sink sink = {
        .tx_slot = sink_tx_slot, .tx_commit = sink_tx_commit, .rx_alloc = sink_rx_alloc,
        .rx_deliver = sink_rx_deliver, .rx_discard = sink_rx_discard, .event = sink_event,
    };

    if (!t || !(t->flat = malloc(VOLE_WG_FLAT_LEN))) {
        snprintf(err, errlen, "out of memory");
        free(t);
        return NULL;
    }
    t->loop = loop;
    if (opt)
        t->opt = *opt;
    sink.ctx = t;
    t->dev = wg_device_new(conf->private_key, conf->mtu ? conf->mtu : VOLE_DEFAULT_MTU, &sink, vole_now_ns());
    if (!t->dev) {
        snprintf(err, errlen, "cannot initialise libsodium");
        goto fail;
    }
    wg_device_set_wall_offset(t->dev, vole_wall_offset_ns());
    if (add_peers(t, conf, err, errlen) < 0 || open_udp(t, conf, err, errlen) < 0 ||
        open_stack(t, conf, err, errlen) < 0)
        goto fail;

    ev_timer_init(&t->wg_timer, on_wg_timer, 0., 0.);
    t->wg_timer.data = t;
    ev_prepare_init(&t->rearm, on_rearm);
    t->rearm.data = t;
    ev_prepare_start(loop, &t->rearm);
    t->armed_deadline = 0;

    /* As the kernel does when persistent keepalive is configured: say hello now,
     * which also opens NAT mappings and starts the handshake. */
    for (struct wg_peer *p = wg_device_first_peer(t->dev); p; p = wg_peer_next(p)) {
        struct wg_peer_info info;
        wg_peer_get_info(p, &info);
        if (info.persistent_keepalive)
            wg_peer_connect(p, vole_now_ns());
    }
    return t;
fail:
    vole_tunnel_free(t);
    return NULL;
}

void vole_tunnel_free(struct vole_tunnel *t)
{
    if (!t)
        return;
    if (t->loop) {
        ev_timer_stop(t->loop, &t->wg_timer);
        ev_prepare_stop(t->loop, &t->rearm);
    }
    if (t->stack)
        vole_stack_free(t->stack);
    if (t->udp)
        vole_udp_close(t->udp);
    wg_device_free(t->dev);
    free(t->flat);
    free(t);
}

struct vole_stack *vole_tunnel_stack(struct vole_tunnel *t) { return t->stack; }
struct wg_device *vole_tunnel_device(struct vole_tunnel *t) { return t->dev; }
struct vole_udp *vole_tunnel_udp(struct vole_tunnel *t) { return t->udp; }
uint16_t vole_tunnel_listen_port(const struct vole_tunnel *t) { return vole_udp_local_port(t->udp); }

void vole_tunnel_log_stats(struct vole_tunnel *t)
{
    const struct vole_udp_stats *u = vole_udp_stats(t->udp);
    const struct wg_device_stats *d = wg_device_stats(t->dev);
    const struct { const char *name; uint64_t v; } drops[] = {
        { "short", d->rx_short }, { "unknown type", d->rx_unknown_type }, { "bad mac1", d->rx_bad_mac1 },
        { "cookie sent", d->rx_cookie_sent }, { "rate-limited", d->rx_ratelimited },
        { "bad handshake", d->rx_handshake_invalid }, { "bad cookie", d->rx_cookie_invalid },
        { "unknown index", d->rx_unknown_index }, { "expired key", d->rx_key_expired },
        { "decrypt failed", d->rx_decrypt_failed }, { "replay", d->rx_replay }, { "bad inner packet", d->rx_bad_inner },
        { "source not allowed", d->rx_not_allowed }, { "no buffer", d->rx_alloc_failed },
        { "no route (tx)", d->tx_no_route }, { "no endpoint (tx)", d->tx_no_endpoint },
        { "staged overflow (tx)", d->tx_staged_dropped }, { "no send slot (tx)", d->tx_slot_failed },
        { "too big (tx)", d->tx_too_big }, { "encrypt failed (tx)", d->tx_encrypt_failed },
    };

    logf_(t, "udp: rx %llu datagrams in %llu syscalls, tx %llu datagrams in %llu syscalls; "
             "tx errors %llu, tx dropped %llu, rx truncated %llu, rx errors %llu",
          (unsigned long long)u->rx_datagrams, (unsigned long long)u->rx_syscalls,
          (unsigned long long)u->tx_datagrams, (unsigned long long)u->tx_syscalls,
          (unsigned long long)u->tx_errors, (unsigned long long)u->tx_dropped,
          (unsigned long long)u->rx_dropped, (unsigned long long)u->rx_errors);
    logf_(t, "udp offload: GSO %s (%llu sends carrying %llu datagrams), GRO %s (%llu coalesced buffers)",
          u->gso ? "on" : "off", (unsigned long long)u->tx_gso_sends, (unsigned long long)u->tx_gso_datagrams,
          u->gro ? "on" : "off", (unsigned long long)u->rx_gro_buffers);
    if (t->stack) {
        struct vole_gro_stats g;
        unsigned long long in_merged;
        vole_stack_gro_stats(t->stack, &g);
        in_merged = (unsigned long long)g.merged + (unsigned long long)g.delivered;   /* each run's head too */
        logf_(t, "inner TCP GRO: %llu packets merged into %llu segments, %llu passed on alone",
              in_merged, (unsigned long long)g.delivered,
              (unsigned long long)g.passed);
    }
    if (t->stun_unclaimed || t->disco_dropped)
        logf_(t, "shared socket: %llu STUN messages nobody asked for, %llu disco messages dropped",
              (unsigned long long)t->stun_unclaimed, (unsigned long long)t->disco_dropped);
    for (size_t i = 0; i < sizeof drops / sizeof drops[0]; i++)
        if (drops[i].v)
            logf_(t, "wireguard drops, %s: %llu", drops[i].name, (unsigned long long)drops[i].v);
}
