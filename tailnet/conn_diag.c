/* What the data plane tells `vole ping` (tailnet/diag.h): per-peer disco
 * counts and handshake, the home region while it is connected, the last
 * STUN round as NetInfo, the DERP map. Reads only. */
#include "tailnet/conn_int.h"

#include <string.h>

#include "node/tunnel.h"

int vole_conn_peer_diag(const struct vole_conn *c, const uint8_t key[32], struct vole_conn_peer_diag *out)
{
    const struct conn_peer *p = conn_peer_by_key(c, key);
    struct wg_peer_info info;

    memset(out, 0, sizeof *out);
    if (!p || !p->active)
        return -1;
    out->disco = p->disco;
    out->path_mtu_wire = p->pmtu.family != 0 ? p->pmtu.ok_wire : 0;
    out->inner_mtu = p->inner_mtu;
    out->path_mtu_settled = disco_pmtu_settled(&p->pmtu);
    wg_peer_get_info(p->wg, &info);
    out->have_handshake = info.last_handshake_unix_ns != 0;
    out->handshake_unix_ns = info.last_handshake_unix_ns;
    return 0;
}

int32_t vole_conn_home_connected(const struct vole_conn *c)
{
    if (c->home == 0 || !c->has_map || !c->regions)
        return 0;
    for (size_t i = 0; i < c->map.n_regions; i++) {
        const struct conn_region *r = c->regions[i];
        if (r && r->id == c->home)
            return r->client && r->connected ? c->home : 0;
    }
    return 0;
}

static enum vole_ping_tristate tristate(enum stun_tristate t)
{
    return t == STUN_YES ? VOLE_PING_YES : t == STUN_NO ? VOLE_PING_NO : VOLE_PING_UNKNOWN;
}

bool vole_conn_netinfo(const struct vole_conn *c, struct vole_tailnet_netinfo *out)
{
    const struct stun_report *r = &c->netinfo;

    memset(out, 0, sizeof *out);
    if (!c->have_netinfo)
        return false;
    out->ni.udp = r->udp;
    out->ni.mapping_varies = tristate(r->mapping_varies_by_dest_ip);
    if (r->global_v4.family == 4)
        vole_endpoint_format(out->global_v4, sizeof out->global_v4, &r->global_v4);
    if (r->global_v6.family == 6)
        vole_endpoint_format(out->global_v6, sizeof out->global_v6, &r->global_v6);
    out->ni.global_v4 = out->global_v4;
    out->ni.global_v6 = out->global_v6;
    out->preferred_derp = c->home;
    return true;
}

const struct derp_map *vole_conn_derp_map(const struct vole_conn *c)
{
    return c->has_map ? &c->map : NULL;
}
