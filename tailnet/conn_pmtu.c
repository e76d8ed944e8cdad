/* Path MTU discovery per peer (issue #7, disco/pmtu.h) and the tunnel MTU
 * it gives: discovery runs while the peer's path is DIRECT (restarted for a
 * new address), ticked from the disco timer, its probes sent as padded disco
 * pings to the direct address. The inner MTU toward the peer:
 *   DIRECT, a size confirmed: the discovered inner MTU, rounded down to a
 *     multiple of 16 (WireGuard pads to 16, so a packet of that size still
 *     fits the path once padded) and never above VOLE_TAILNET_MTU: vole does
 *     not raise the tunnel above 1280, whatever the path carries;
 *   DIRECT, nothing confirmed yet: the floor, 576 (the path pings that made
 *     the path direct are that size, so it is known to pass);
 *   DERP: VOLE_TAILNET_MTU.
 * Our SYNs are clamped to the MTU of a settled search only (1280 before),
 * so that the peer sends us packets that fit. Our own TCP needs no MSS
 * (issue #8): the stack builds large segments (TSO) and conn_max_packet
 * cuts them to the peer's inner MTU packet by packet, retransmissions
 * included, so a drop of the MTU applies at once; the peer's SYNs have
 * their MSS noted (the pieces respect it) and raised for lwIP.
 * A path that cannot carry the floor is given up (DERP). */
#include "tailnet/conn_int.h"

#include <stdio.h>
#include <string.h>

#include "node/tunnel.h"
#include "stack/ipfrag.h"
#include "stack/stack.h"
#include "lwip/opt.h"

static uint16_t fit_inner(uint16_t discovered)
{
    uint16_t m = (uint16_t)(discovered & ~15u);
    return m < VOLE_TAILNET_MTU ? m : VOLE_TAILNET_MTU;
}

static void start(struct vole_conn *c, struct conn_peer *p, const struct wg_endpoint *to, uint64_t now)
{
    char ep[64];
    disco_pmtu_start(&p->pmtu, to->family, now);
    p->pmtu_addr = *to;
    vole_endpoint_format(ep, sizeof ep, to);
    conn_logf(c, true, "peer %s: probing the path MTU to %s", p->name, ep);
}

/* Not even the floor passes: the direct path is given up for DERP. The
 * path pings are floor-sized too, so they will not bring it back unless the
 * floor passes again. */
static void give_up(struct vole_conn *c, struct conn_peer *p, struct vole_tailnet_path *cur)
{
    conn_logf(c, false, "peer %s: the direct path does not carry %u-byte packets; using DERP", p->name,
              DISCO_PMTU_INNER_FLOOR);
    c->st.pmtu_unusable++;
    disco_path_drop_best(&p->path);
    disco_pmtu_stop(&p->pmtu);
    memset(cur, 0, sizeof *cur);
    cur->kind = conn_peer_derp_region(p) != 0 ? VOLE_PATH_DERP : VOLE_PATH_NONE;
    cur->derp_region = conn_peer_derp_region(p);
}

void conn_pmtu_follow(struct vole_conn *c, struct conn_peer *p, struct vole_tailnet_path *cur, uint64_t now)
{
    if (cur->kind == VOLE_PATH_DIRECT) {
        if (p->pmtu.family == 0 || !wg_endpoint_equal(&p->pmtu_addr, &cur->direct))
            start(c, p, &cur->direct, now);
        else if (disco_pmtu_unusable(&p->pmtu))
            give_up(c, p, cur);
    } else if (p->pmtu.family != 0) {
        disco_pmtu_stop(&p->pmtu);
    }
    /* New connections' SYNs follow a settled search only: the ladder's
     * pongs come back smallest first, and a SYN in the unconfirmed window
     * (typical: the first connection starts with the path) must not be
     * clamped to the floor for its lifetime. Until then the peer's packets
     * over the path's size arrive as fragments. */
    p->syn_mtu = VOLE_TAILNET_MTU;
    if (cur->kind != VOLE_PATH_DIRECT) {
        p->inner_mtu = VOLE_TAILNET_MTU;
        return;
    }
    uint16_t found = disco_pmtu_inner_mtu(&p->pmtu);
    p->inner_mtu = found ? fit_inner(found) : DISCO_PMTU_INNER_FLOOR;
    cur->inner_mtu = found ? p->inner_mtu : 0;
    if (disco_pmtu_settled(&p->pmtu))
        p->syn_mtu = p->inner_mtu;
}

uint64_t conn_pmtu_next_deadline(const struct conn_peer *p)
{
    return disco_pmtu_next_deadline(&p->pmtu);
}

static void log_event(struct vole_conn *c, const struct conn_peer *p, const struct disco_pmtu_event *ev)
{
    if (ev->wire == 0)
        return;
    if (ev->black_hole) {
        c->st.pmtu_black_holes++;
        conn_logf(c, false, "peer %s: path MTU black hole at %u bytes, MTU back to %u", p->name, ev->wire,
                  disco_pmtu_inner_mtu(&p->pmtu) ? fit_inner(disco_pmtu_inner_mtu(&p->pmtu)) : 0);
        return;
    }
    conn_logf(c, true, "peer %s: path MTU probe %u bytes: %s", p->name, ev->wire,
              ev->confirmed ? "ok" : ev->failed ? "no answer, given up" : "no answer");
}

void conn_pmtu_tick(struct vole_conn *c, struct conn_peer *p, uint64_t now)
{
    struct disco_pmtu_out out;
    struct disco_pmtu_event ev;
    bool active = p->path.last_send != 0 && now - p->path.last_send <= DISCO_PATH_SESSION_ACTIVE;

    if (disco_pmtu_next_deadline(&p->pmtu) > now)
        return;
    disco_pmtu_tick(&p->pmtu, now, active, &out, &ev);
    log_event(c, p, &ev);
    for (size_t i = 0; i < out.n; i++)
        conn_disco_probe(c, p, out.probes[i].txid, &p->pmtu_addr, out.probes[i].udp_payload);
}

bool conn_pmtu_on_pong(struct vole_conn *c, struct conn_peer *p, const uint8_t txid[DISCO_TXID_LEN], uint64_t now)
{
    struct disco_pmtu_event ev = { 0 };
    if (!disco_pmtu_on_pong(&p->pmtu, txid, now, &ev))
        return false;
    c->st.pmtu_pongs++;
    log_event(c, p, &ev);
    return true;
}

bool conn_test_link_passes(struct vole_conn *c, size_t len)
{
    if (c->test_max_udp == 0 || len <= c->test_max_udp)
        return true;
    c->st.drop_test_link++;
    return false;
}

void vole_conn_test_limit_udp(struct vole_conn *c, size_t max_payload) { c->test_max_udp = max_payload; }

bool conn_pkt_is_syn(const uint8_t *b, size_t len)
{
    size_t off;
    if (len < 1)
        return false;
    if (b[0] >> 4 == 4) {
        off = (size_t)(b[0] & 15) * 4;
        /* TCP, neither MF nor a fragment offset. */
        if (len < 20 || b[9] != 6 || (b[6] & 0x3f) != 0 || b[7] != 0)
            return false;
    } else if (b[0] >> 4 == 6) {
        off = 40;
        if (len < 40 || b[6] != 6)
            return false;
    } else {
        return false;
    }
    return len >= off + 14 && (b[off + 13] & 0x02) != 0;
}

void conn_clamp_syn(struct vole_conn *c, const struct conn_peer *p, uint8_t *pkt, size_t len)
{
    uint8_t family = pkt[0] >> 4 == 6 ? 6 : 4;
    uint16_t mtu = p ? p->syn_mtu : VOLE_TAILNET_MTU;
    if (vole_tcp_clamp_mss(pkt, len, vole_mss_for_mtu(family, mtu)))
        c->st.mss_clamped++;
}

void conn_raise_syn(struct conn_peer *p, uint8_t *pkt, size_t len)
{
    uint16_t mss = 0;
    uint16_t *noted;

    if (!vole_tcp_set_mss(pkt, len, TCP_MSS, &mss))
        return;   /* no MSS option: lwIP assumes 536 for it, and TSO never cuts */
    if (!p)
        return;
    noted = pkt[0] >> 4 == 6 ? &p->peer_mss6 : &p->peer_mss4;
    if (mss && (*noted == 0 || mss < *noted))
        *noted = mss;
}
