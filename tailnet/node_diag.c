/* The node's diagnostics (tailnet/diag.h): the CLI ping and the checklist
 * facts by peer name, on top of the data plane's (tailnet/conn.h) and what
 * the coordinator said. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tailnet/conn.h"
#include "tailnet/diag.h"
#include "tailnet/node_int.h"

int vole_tailnet_ping(struct vole_tailnet *t, const char *name, vole_tailnet_pong_fn fn, void *ctx, char *err,
                      size_t errlen)
{
    const struct tn_peer *p = name ? tn_peer_by_name(t, name) : NULL;

    if (!p) {
        snprintf(err, errlen, "no such peer");
        return -1;
    }
    if (!fn) {
        snprintf(err, errlen, "no callback");
        return -1;
    }
    return vole_conn_ping(t->conn, p->node.key, fn, ctx, err, errlen);
}

void vole_tailnet_ping_cancel(struct vole_tailnet *t, int id)
{
    vole_conn_ping_cancel(t->conn, id);
}

static uint64_t wall_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int vole_tailnet_peer_diag(const struct vole_tailnet *t, const char *name, struct vole_tailnet_peer_diag *out)
{
    const struct tn_peer *p = name ? tn_peer_by_name(t, name) : NULL;
    struct vole_conn_peer_diag cd;

    memset(out, 0, sizeof *out);
    out->preferred_derp = vole_conn_home_connected(t->conn);
    out->sent_node = t->sent_node;
    if (!p)
        return -1;
    out->received_node = true;
    out->peer_preferred_derp = p->node.preferred_derp;
    for (size_t i = 0; i < p->node.n_endpoints && i < COORD_MAX_ENDPOINTS; i++)
        coord_endpoint_format(&p->node.endpoints[i], out->peer_endpoints[out->n_peer_endpoints++]);
    if (vole_conn_peer_diag(t->conn, p->node.key, &cd) == 0) {
        uint64_t now = wall_now_ns();
        out->have_handshake = cd.have_handshake;
        out->handshake_age_ns = cd.have_handshake && now > cd.handshake_unix_ns ? now - cd.handshake_unix_ns : 0;
        out->disco = cd.disco;
        out->path_mtu_wire = cd.path_mtu_wire;
        out->inner_mtu = cd.inner_mtu;
        out->path_mtu_settled = cd.path_mtu_settled;
    }
    return 0;
}

bool vole_tailnet_netinfo(const struct vole_tailnet *t, struct vole_tailnet_netinfo *out)
{
    return vole_conn_netinfo(t->conn, out);
}

const struct derp_map *vole_tailnet_derp_map(const struct vole_tailnet *t)
{
    return vole_conn_derp_map(t->conn);
}

bool vole_tailnet_server_blocks_direct(const struct vole_tailnet *t)
{
    return t->server_blocks;
}
