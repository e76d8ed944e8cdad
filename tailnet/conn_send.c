/* The WireGuard core's sink and the stack's output. WireGuard encrypts
 * straight into a UDP send slot; at commit the destination decides: a peer's
 * placeholder goes where disco/path.h says (the slot committed to the real
 * UDP address, and/or its bytes copied to the peer's DERP region; DERP only
 * leaves the slot uncommitted, which abandons it), anything else (a cookie
 * reply to a real source) is committed as it is. No allocation per packet.
 * Issue #7: an inner packet longer than the peer's inner MTU (conn_pmtu.c)
 * is split into IP fragments (the peer's lwIP reassembles), and our TCP
 * SYNs have their MSS clamped to that MTU, so that the peer's segments need
 * no fragments. Issue #8: our own TCP segments are large and cut by the
 * stack (stack/tso.h) to conn_max_packet, so TCP never needs fragments; the
 * peer's SYNs have their MSS noted and raised for lwIP (conn_raise_syn). */
#include "tailnet/conn_int.h"

#include "io/udp.h"
#include "node/tunnel.h"
#include "node/wgio.h"
#include "stack/ipfrag.h"
#include "stack/stack.h"

static uint8_t *sink_tx_slot(void *ctx, size_t cap)
{
    struct vole_conn *c = ctx;
    c->slot = vole_udp_tx_slot(c->udp, cap);
    return c->slot;
}

static void sink_tx_commit(void *ctx, const struct wg_endpoint *dst, size_t len)
{
    struct vole_conn *c = ctx;
    struct conn_peer *p = conn_peer_by_placeholder(c, dst);
    struct disco_path_route route;
    struct disco_path_out out;
    uint64_t now;

    if (!p) {
        vole_udp_tx_commit(c->udp, dst, len);
        return;
    }
    if (!p->active) {
        c->st.drop_tx_peer_gone++;
        return;
    }
    now = vole_now_ns();
    c->last_active = now;
    disco_path_send(&p->path, now, &route, &out);
    /* DERP copies the bytes first: the slot stays valid until the flush, but
     * the pings below take new slots. */
    if (route.derp && conn_derp_send(c, conn_peer_derp_region(p), p->key, c->slot, len) == 0)
        c->st.derp_wg_tx++;
    if (route.udp && conn_test_link_passes(c, len)) {
        vole_udp_tx_commit(c->udp, &route.udp_addr, len);
        c->st.udp_wg_tx++;
    }
    c->slot = NULL;
    conn_disco_act(c, p, &out);
    conn_peer_update_path(c, p, now);
}

static uint8_t *sink_rx_alloc(void *ctx, size_t len, void **handle)
{
    struct vole_conn *c = ctx;
    if (!c->stack) {
        c->st.drop_rx_no_stack++;
        return NULL;
    }
    return vole_wg_rx_alloc(len, handle);
}

static void sink_rx_deliver(void *ctx, struct wg_peer *peer, void *handle, size_t len)
{
    struct vole_conn *c = ctx;
    struct pbuf *p = handle;
    /* The peer's SYN: what it advertises bounds the pieces we cut. */
    if (p->len >= len && conn_pkt_is_syn(p->payload, len))
        conn_raise_syn(wg_peer_user(peer), p->payload, len);
    vole_wg_rx_deliver(c->stack, handle, len);
}

static void sink_rx_discard(void *ctx, void *handle)
{
    (void)ctx;
    vole_wg_rx_discard(handle);
}

static void sink_event(void *ctx, struct wg_peer *wp, enum wg_event ev)
{
    struct vole_conn *c = ctx;
    struct conn_peer *p = wg_peer_user(wp);
    const char *name = p ? p->name : "?";

    switch (ev) {
    case WG_EV_HANDSHAKE_COMPLETE: conn_logf(c, true, "peer %s: handshake complete", name); break;
    case WG_EV_HANDSHAKE_GAVE_UP: conn_logf(c, true, "peer %s: no handshake after 90 s", name); break;
    case WG_EV_KEYS_ZEROED: conn_logf(c, true, "peer %s: session keys expired", name); break;
    case WG_EV_ENDPOINT_CHANGED:
    case WG_EV_HANDSHAKE_SENT: break;
    }
}

const struct wg_sink conn_wg_sink = {
    .tx_slot = sink_tx_slot, .tx_commit = sink_tx_commit, .rx_alloc = sink_rx_alloc,
    .rx_deliver = sink_rx_deliver, .rx_discard = sink_rx_discard, .event = sink_event,
};

struct frag_ctx {
    struct vole_conn *c;
    struct wg_peer *peer;
    uint64_t now;
    int failed;
};

static void send_fragment(void *ctx, const uint8_t *pkt, size_t len)
{
    struct frag_ctx *f = ctx;
    struct wg_iov iov = { .base = pkt, .len = len };
    if (wg_device_send(f->c->dev, f->peer, &iov, 1, f->now) != 0)
        f->failed++;
    f->c->st.tx_fragments++;
}

/* The slow path: the packet flattened, its SYN clamped, split if too long. */
static int send_fitted(struct vole_conn *c, struct wg_peer *peer, struct pbuf *p, uint16_t mtu)
{
    struct frag_ctx f = { .c = c, .peer = peer, .now = vole_now_ns() };
    size_t len = pbuf_copy_partial(p, c->flat, p->tot_len, 0);
    struct wg_iov iov = { .base = c->flat, .len = len };

    if (conn_pkt_is_syn(c->flat, len))
        conn_clamp_syn(c, wg_peer_user(peer), c->flat, len);
    if (len <= mtu)
        return wg_device_send(c->dev, peer, &iov, 1, f.now) == 0 ? ERR_OK : ERR_BUF;
    c->frag_id++;
    if (vole_ip_fragment(c->flat, len, mtu, c->frag_id, send_fragment, &f) < 0) {
        c->st.drop_tx_unfragmentable++;
        return ERR_VAL;
    }
    c->st.tx_fragmented++;
    return f.failed ? ERR_BUF : ERR_OK;
}

int vole_conn_output(struct vole_conn *c, struct pbuf *p)
{
    struct wg_iov iov[VOLE_WG_MAX_IOV];
    struct wg_peer *peer;
    const struct conn_peer *cp;
    uint16_t mtu;
    int n;

    if (p->len < 20)
        return ERR_VAL;
    peer = wg_device_route(c->dev, p->payload, p->len);
    if (!peer)
        return ERR_RTE;
    cp = wg_peer_user(peer);
    mtu = cp ? cp->inner_mtu : VOLE_TAILNET_MTU;
    if (p->tot_len > mtu || conn_pkt_is_syn(p->payload, p->len))
        return send_fitted(c, peer, p, mtu);
    n = vole_pbuf_gather(p, iov, c->flat);
    return wg_device_send(c->dev, peer, iov, n, vole_now_ns()) == 0 ? ERR_OK : ERR_BUF;
}

uint16_t conn_max_packet(void *ctx, const struct pbuf *pkt)
{
    struct vole_conn *c = ctx;
    const struct wg_peer *peer;
    const struct conn_peer *cp;
    uint16_t mtu, mss;
    uint8_t family;

    if (pkt->len < 20 || !(peer = wg_device_route(c->dev, pkt->payload, pkt->len)) || !(cp = wg_peer_user(peer)))
        return VOLE_TAILNET_MTU;   /* vole_conn_output refuses or fits it */
    family = ((const uint8_t *)pkt->payload)[0] >> 4 == 6 ? 6 : 4;
    mss = family == 6 ? cp->peer_mss6 : cp->peer_mss4;
    mtu = cp->inner_mtu;
    /* A piece carries at most MSS bytes after headers without options, so
     * with options it stays under what the peer advertised (RFC 9293 3.7.1). */
    if (mss && mss < vole_mss_for_mtu(family, mtu))
        mtu = (uint16_t)(mss + (family == 6 ? 60 : 40));
    return mtu;
}
