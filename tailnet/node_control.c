/* The node's side of the coordinator conversation (docs/TAILNET.md): what
 * it sends on every connect and change, and where each server message goes. */
#include <stdio.h>
#include <string.h>

#include "derp/derpmap.h"
#include "tailnet/conn.h"
#include "tailnet/control.h"
#include "tailnet/node_int.h"

/* The text on_fatal gets for a 401 when the transport gave none. */
#define TN_REFUSED_TOKEN "server refused the token (401)"

/* 0 when written to the live session. */
static int send_msg(struct vole_tailnet *t, const struct coord_msg *m)
{
    if (!vole_control_connected(t->control))
        return -1;   /* everything is re-sent on the next connect */
    if (vole_control_send(t->control, m) < 0) {
        tn_vlogf(t, "coordinator: %s not sent", coord_msg_type_name(m->type));
        return -1;
    }
    return 0;
}

/* conn's key, disco key, home region and endpoints; the server's id and
 * addresses; our agent name. */
void tn_send_update_self(struct vole_tailnet *t)
{
    struct coord_msg m = { .type = COORD_MSG_UPDATE_SELF };
    int64_t id = t->self.id;
    bool has_v4 = t->self.has_v4, has_v6 = t->self.has_v6;
    uint8_t v4[4], v6[16];

    if (!t->conn)
        return;   /* conn reporting from inside vole_conn_new */
    memcpy(v4, t->self.v4, sizeof v4);
    memcpy(v6, t->self.v6, sizeof v6);
    vole_conn_self(t->conn, &t->self);
    t->self.id = id;
    t->self.has_v4 = has_v4;
    t->self.has_v6 = has_v6;
    memcpy(t->self.v4, v4, sizeof v4);
    memcpy(t->self.v6, v6, sizeof v6);
    snprintf(t->self.name, sizeof t->self.name, "%s", t->cfg.name ? t->cfg.name : "");
    if (!t->control)
        return;   /* called while the node is still being built */
    m.node = t->self;
    /* The checklist's "sent node": the current one, not some older one. */
    t->sent_node = send_msg(t, &m) == 0;
}

void tn_send_add_tunnel(struct vole_tailnet *t, const char *agent)
{
    struct coord_msg m = { .type = COORD_MSG_ADD_TUNNEL };

    if (!t->control)
        return;
    snprintf(m.agent, sizeof m.agent, "%s", agent);
    (void)send_msg(t, &m);
}

void tn_on_control_state(void *ctx, bool connected, bool permanent, const char *why)
{
    struct vole_tailnet *t = ctx;

    if (connected) {
        tn_vlogf(t, "coordinator: connected");
        t->was_connected = true;
        tn_send_update_self(t);
        for (size_t i = 0; i < t->n_tunnels; i++)
            tn_send_add_tunnel(t, t->tunnels[i]);
        return;
    }
    if (permanent) {
        tn_fatal(t, why && *why ? why : TN_REFUSED_TOKEN);
        return;
    }
    t->sent_node = false;
    /* A server that is down would otherwise log every backoff step. */
    if (t->was_connected || t->cfg.verbose)
        tn_logf(t, "%s", why);   /* control's words: what happened and when it retries */
    t->was_connected = false;
}

static void on_derp_map(struct vole_tailnet *t, const char *json)
{
    struct derp_map map = { 0 };
    char err[256];

    if (!json || derp_map_parse(json, strlen(json), &map, err, sizeof err) < 0) {
        tn_logf(t, "coordinator: bad DERP map: %s", json ? err : "empty");
        derp_map_free(&map);
        return;
    }
    if (vole_conn_set_derp_map(t->conn, &map, err, sizeof err) < 0)
        tn_logf(t, "coordinator: DERP map not used: %s", err);
    else
        tn_vlogf(t, "coordinator: DERP map with %zu regions", map.n_regions);
    derp_map_free(&map);
}

void tn_on_control_msg(void *ctx, const struct coord_msg *m)
{
    struct vole_tailnet *t = ctx;

    switch (m->type) {
    case COORD_MSG_DERP_MAP:
        on_derp_map(t, m->derp_map);
        break;
    case COORD_MSG_SELF:
        tn_on_self(t, m);
        break;
    case COORD_MSG_PEER_UPDATES:
        tn_on_peer_updates(t, m);
        break;
    case COORD_MSG_ERROR:
        tn_fatal(t, m->error);
        break;
    default:
        /* A node -> server message type from the server: ignore it, say so. */
        tn_logf(t, "coordinator: unexpected %s message ignored", coord_msg_type_name(m->type));
        break;
    }
}
