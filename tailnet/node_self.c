/* "self" from the server: the node's id and overlay addresses, and whether
 * endpoints are withheld. The lwIP stack is made the first time and again
 * only if the addresses change (the server keeps them stable per key). */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "stack/stack.h"
#include "tailnet/conn.h"
#include "tailnet/node_int.h"

/* The overlay prefixes (coord/node.h), so that lwIP sees every peer as on
 * the tunnel's link; stack/forward.c binds its pcbs to the netif anyway. */
#define TN_V4_PREFIX 10
#define TN_V6_PREFIX 48

static int stack_output(void *ctx, struct pbuf *p)
{
    struct vole_tailnet *t = ctx;
    return vole_conn_output(t->conn, p);
}

void tn_stack_free(struct vole_tailnet *t)
{
    if (!t->stack)
        return;
    tn_fetches_end(t, "the node's addresses changed");
    tn_report_server_stop(t);
    if (t->conn)
        vole_conn_attach_stack(t->conn, NULL);
    vole_stack_free(t->stack);
    t->stack = NULL;
}

static size_t stack_addrs(const struct coord_node *n, struct vole_stack_addr a[2])
{
    size_t k = 0;

    if (n->has_v4) {
        a[k] = (struct vole_stack_addr){ .family = 4, .prefix = TN_V4_PREFIX };
        memcpy(a[k++].addr, n->v4, 4);
    }
    if (n->has_v6) {
        a[k] = (struct vole_stack_addr){ .family = 6, .prefix = TN_V6_PREFIX };
        memcpy(a[k++].addr, n->v6, 16);
    }
    return k;
}

static int make_stack(struct vole_tailnet *t, const struct coord_node *n, char *err, size_t errlen)
{
    struct vole_stack_addr a[2];
    struct vole_stack_ops ops = { .ctx = t, .output = stack_output };
    size_t k = stack_addrs(n, a);
    char why[200];

    if (k == 0) {
        snprintf(err, errlen, "the server gave this node no overlay address");
        return -1;
    }
    t->stack = vole_stack_new(t->loop, VOLE_TAILNET_MTU, a, k, &ops, why, sizeof why);
    if (!t->stack) {
        snprintf(err, errlen, "cannot make the TCP/IP stack: %s", why);
        return -1;
    }
    vole_conn_attach_stack(t->conn, t->stack);
    return 0;
}

static bool same_addrs(const struct coord_node *a, const struct coord_node *b)
{
    return a->has_v4 == b->has_v4 && a->has_v6 == b->has_v6 &&
           (!a->has_v4 || memcmp(a->v4, b->v4, 4) == 0) && (!a->has_v6 || memcmp(a->v6, b->v6, 16) == 0);
}

static void log_registered(const struct vole_tailnet *t, const struct coord_node *n)
{
    char v4[INET_ADDRSTRLEN] = "", v6[INET6_ADDRSTRLEN] = "";
    char who[TN_PEER_NAME_MAX];

    if (n->has_v4)
        inet_ntop(AF_INET, n->v4, v4, sizeof v4);
    if (n->has_v6)
        inet_ntop(AF_INET6, n->v6, v6, sizeof v6);
    if (t->cfg.name) {
        tn_logf(t, "registered as %s, addresses %s%s%s", t->cfg.name, v4, *v4 && *v6 ? " " : "", v6);
        return;
    }
    snprintf(who, sizeof who, "client-%lld", (long long)n->id);
    tn_vlogf(t, "registered as %s, addresses %s%s%s", who, v4, *v4 && *v6 ? " " : "", v6);
}

void tn_on_self(struct vole_tailnet *t, const struct coord_msg *m)
{
    const struct coord_node *n = &m->node;
    bool new_addrs = !t->stack || !same_addrs(&t->self, n);
    bool is_new = new_addrs || !t->have_self || t->self.id != n->id;
    char err[256];

    t->server_blocks = m->block_endpoints;
    vole_conn_set_block_endpoints(t->conn, m->block_endpoints);
    t->self.id = n->id;
    t->self.has_v4 = n->has_v4;
    t->self.has_v6 = n->has_v6;
    memcpy(t->self.v4, n->v4, 4);
    memcpy(t->self.v6, n->v6, 16);
    t->have_self = true;
    if (is_new)
        log_registered(t, n);
    if (!new_addrs)
        return;
    if (t->stack && t->ops.on_stack_gone)
        t->ops.on_stack_gone(t->ops.ctx, t->stack);
    tn_stack_free(t);
    if (make_stack(t, n, err, sizeof err) < 0) {
        tn_fatal(t, err);
        return;
    }
    tn_report_server_start(t);
    if (t->ops.on_ready)
        t->ops.on_ready(t->ops.ctx, &t->self);
}
