/* The node's lifecycle and accessors: it owns one coordinator client, one
 * data plane and, once the server said who it is, one lwIP stack. */
#include "tailnet/node.h"
#include "io/logf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "conf/key.h"
#include "coord/tokens.h"
#include "tailnet/conn.h"
#include "tailnet/control.h"
#include "tailnet/node_int.h"

void tn_logf(const struct vole_tailnet *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vole_vlogf(t->cfg.log, t->cfg.log_ctx, fmt, ap);
    va_end(ap);
}

void tn_vlogf(const struct vole_tailnet *t, const char *fmt, ...)
{
    va_list ap;
    if (!t->cfg.verbose)
        return;
    va_start(ap, fmt);
    vole_vlogf(t->cfg.log, t->cfg.log_ctx, fmt, ap);
    va_end(ap);
}

void tn_fatal(struct vole_tailnet *t, const char *why)
{
    if (t->ops.on_fatal)
        t->ops.on_fatal(t->ops.ctx, why);
    else
        tn_logf(t, "error: %s", why);
}

/* The conn's "what vole_conn_self says changed": tell the server. */
static void on_self_changed(void *ctx)
{
    tn_send_update_self(ctx);
}

static char *dup_opt(const char *s, bool *oom)
{
    char *d;
    if (!s)
        return NULL;
    d = strdup(s);
    if (!d)
        *oom = true;
    return d;
}

/* The config's strings outlive the caller's. */
static int copy_config(struct vole_tailnet *t, const struct vole_tailnet_config *cfg, char *err, size_t errlen)
{
    bool oom = false;

    t->cfg = *cfg;
    t->url = dup_opt(cfg->url, &oom);
    t->token = dup_opt(cfg->token, &oom);
    t->name = dup_opt(cfg->name, &oom);
    t->ca_file = dup_opt(cfg->ca_file, &oom);
    t->cfg.url = t->url;
    t->cfg.token = t->token;
    t->cfg.name = t->name;
    t->cfg.ca_file = t->ca_file;
    t->cfg.private_key = NULL;   /* copied into t->private_key */
    if (oom) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

static int check_config(const struct vole_tailnet_config *cfg, char *err, size_t errlen)
{
    if (!cfg->url || !*cfg->url) {
        snprintf(err, errlen, "no server URL");
        return -1;
    }
    if (!cfg->token || !*cfg->token) {
        snprintf(err, errlen, "no token");
        return -1;
    }
    if (cfg->name && !coord_agent_name_valid(cfg->name)) {
        snprintf(err, errlen, "agent name \"%s\": use 1-63 of a-z, 0-9 and '-', not at either end", cfg->name);
        return -1;
    }
    return 0;
}

static int start_conn(struct vole_tailnet *t, char *err, size_t errlen)
{
    struct vole_conn_config cc = {
        .udp_port = t->cfg.udp_port,
        .server_url = t->cfg.url,
        .ca_file = t->cfg.ca_file,
        .insecure = t->cfg.insecure,
        .verbose = t->cfg.verbose,
        .block_endpoints = t->cfg.disable_direct,
        .log = t->cfg.log,
        .log_ctx = t->cfg.log_ctx,
    };
    struct vole_conn_ops co = { .ctx = t, .on_self_changed = on_self_changed, .on_path = tn_on_conn_path };

    memcpy(cc.private_key, t->private_key, sizeof cc.private_key);
    t->conn = vole_conn_new(t->loop, &cc, &co, err, errlen);
    sodium_memzero(cc.private_key, sizeof cc.private_key);
    if (!t->conn)
        return -1;
    vole_conn_self(t->conn, &t->self);
    if (t->cfg.name)
        snprintf(t->self.name, sizeof t->self.name, "%s", t->cfg.name);
    return 0;
}

static int start_control(struct vole_tailnet *t, char *err, size_t errlen)
{
    struct vole_control_config cc = {
        .url = t->cfg.url, .token = t->cfg.token, .ca_file = t->cfg.ca_file, .insecure = t->cfg.insecure,
    };
    struct vole_control_ops co = { .ctx = t, .on_state = tn_on_control_state, .on_msg = tn_on_control_msg };

    t->control = vole_control_new(t->loop, &cc, &co, err, errlen);
    return t->control ? 0 : -1;
}

struct vole_tailnet *vole_tailnet_new(struct ev_loop *loop, const struct vole_tailnet_config *cfg,
                                      const struct vole_tailnet_ops *ops, char *err, size_t errlen)
{
    struct vole_tailnet *t;

    if (check_config(cfg, err, errlen) < 0)
        return NULL;
    t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    t->loop = loop;
    if (ops)
        t->ops = *ops;
    if (cfg->private_key)
        memcpy(t->private_key, cfg->private_key, sizeof t->private_key);
    else
        vole_key_generate_private(t->private_key);
    /* The data plane first: the control client may connect (and want to
     * send update_self) as soon as the loop runs. */
    if (copy_config(t, cfg, err, errlen) < 0 || start_conn(t, err, errlen) < 0 ||
        start_control(t, err, errlen) < 0) {
        vole_tailnet_free(t);
        return NULL;
    }
    return t;
}

void vole_tailnet_free(struct vole_tailnet *t)
{
    if (!t)
        return;
    if (t->control)
        vole_control_free(t->control);
    tn_fetches_end(t, "the node is shutting down");
    tn_report_server_stop(t);
    tn_stack_free(t);
    if (t->conn)
        vole_conn_free(t->conn);
    tn_peers_free(t);
    free(t->url);
    free(t->token);
    free(t->name);
    free(t->ca_file);
    sodium_memzero(t->private_key, sizeof t->private_key);
    free(t);
}

int vole_tailnet_add_tunnel(struct vole_tailnet *t, const char *agent)
{
    if (!agent || !coord_agent_name_valid(agent))
        return -1;
    for (size_t i = 0; i < t->n_tunnels; i++)
        if (strcmp(t->tunnels[i], agent) == 0)
            return 0;
    if (t->n_tunnels == TN_MAX_TUNNELS)
        return -1;
    snprintf(t->tunnels[t->n_tunnels++], sizeof t->tunnels[0], "%s", agent);
    tn_send_add_tunnel(t, agent);
    return 0;
}

struct vole_stack *vole_tailnet_stack(struct vole_tailnet *t)
{
    return t->stack;
}

int vole_tailnet_peer_addr(const struct vole_tailnet *t, const char *name, ip_addr_t *out)
{
    const struct tn_peer *p = tn_peer_by_name(t, name);

    if (!p)
        return -1;
    if (p->node.has_v4) {
        uint32_t a;
        memcpy(&a, p->node.v4, 4);
        ip_addr_set_ip4_u32_val(*out, a);
        return 0;
    }
    if (p->node.has_v6) {
        uint32_t w[4];
        memcpy(w, p->node.v6, 16);
        IP_ADDR6(out, w[0], w[1], w[2], w[3]);
        return 0;
    }
    return -1;
}

void vole_tailnet_peer_path(const struct vole_tailnet *t, const char *name, struct vole_tailnet_path *out)
{
    const struct tn_peer *p = tn_peer_by_name(t, name);

    memset(out, 0, sizeof *out);
    out->kind = VOLE_PATH_NONE;
    if (p)
        vole_conn_peer_path(t->conn, p->node.key, out);
}

const struct coord_node *vole_tailnet_self(const struct vole_tailnet *t)
{
    return &t->self;
}

const char *vole_tailnet_control_error(const struct vole_tailnet *t)
{
    return t->control ? vole_control_last_error(t->control) : "";
}
