/* The netcheck run (diag/netcheck_run.h): per node the exchange and the
 * HTTP latency, the STUN phase, the overall deadline, and the verdict. */
#include "diag/netcheck_run_int.h"

#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "diag/netcheck_http.h"

void nc_logf(struct vole_netcheck_run *r, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    if (!r->cfg.log)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    r->cfg.log(r->cfg.log_ctx, msg);
}

bool vole_netcheck_os_has_ipv6(void)
{
    struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
    int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    bool ok = fd >= 0 && bind(fd, (const struct sockaddr *)&sa, sizeof sa) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

/* ---- the end ---- */

static void on_fire(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct vole_netcheck_run *r = w->data;
    r->done_fn(r->done_ctx, r);   /* may free r */
}

static void http_stop(struct nc_node *n, const char *why)
{
    if (n->http_done)
        return;
    vole_nc_http_free(n->http);
    n->http = NULL;
    n->http_done = true;
    if (why)
        snprintf(n->h->latency_error, sizeof n->h->latency_error, "%s", why);
}

static bool all_done(const struct vole_netcheck_run *r)
{
    for (size_t i = 0; i < r->n_nodes; i++)
        if (!r->nodes[i].exchange_done || !r->nodes[i].http_done)
            return false;
    return r->stun.done;
}

static void finish(struct vole_netcheck_run *r)
{
    r->done = true;
    ev_timer_stop(r->loop, &r->total);
    vole_derp_health_judge(&r->h);
    ev_timer_init(&r->fire, on_fire, 0., 0.);
    r->fire.data = r;
    ev_timer_start(r->loop, &r->fire);
}

void nc_check_done(struct vole_netcheck_run *r)
{
    if (!r->done && all_done(r))
        finish(r);
}

/* 30 s: whatever still runs is cut short and reported as such. */
static void on_total(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct vole_netcheck_run *r = w->data;

    nc_logf(r, "overall timeout: stopping what still runs");
    for (size_t i = 0; i < r->n_nodes; i++) {
        nc_exchange_stop(&r->nodes[i], "the netcheck's overall timeout");
        http_stop(&r->nodes[i], "the netcheck's overall timeout");
    }
    nc_stun_stop(r);
    if (!r->h.netcheck_err[0] && !r->stun.done)
        snprintf(r->h.netcheck_err, sizeof r->h.netcheck_err, "the STUN phase did not finish in time");
    if (!r->done)
        finish(r);
}

/* ---- the HTTP latency ---- */

static void on_latency(void *ctx, const struct vole_nc_http_result *res)
{
    struct nc_node *n = ctx;
    struct vole_derp_node_health *h = n->h;
    char why[VOLE_HEALTH_TEXT_MAX];

    if (res->error)
        snprintf(why, sizeof why, "%s", res->error);
    else if (res->status < 200 || res->status > 299)
        snprintf(why, sizeof why, "HTTP %d", res->status);
    else {
        why[0] = '\0';
        h->have_latency = true;
        h->latency_ns = res->first_byte_ns;
    }
    nc_logf(n->run, "node %s: latency-check: %s", h->node->name, why[0] ? why : "answered");
    http_stop(n, why[0] ? why : NULL);
    nc_check_done(n->run);
}

static void start_latency(struct nc_node *n)
{
    struct vole_netcheck_run *r = n->run;
    const struct derp_map_node *node = n->h->node;
    struct vole_nc_http_config hc = {
        .ca_file = r->cfg.ca_file, .insecure = r->cfg.insecure || node->insecure_for_tests,
        .timeout = r->cfg.node_timeout,
    };
    char url[1100], err[VOLE_HEALTH_TEXT_MAX];

    snprintf(url, sizeof url, "%s/latency-check", n->derp_url);
    hc.url = url;
    if (!n->region->embedded_relay || !r->cfg.url)
        hc.tls_server_name = derp_map_node_tls_name(node);
    n->http = vole_nc_http_get(r->loop, &hc, on_latency, n, err, sizeof err);
    if (!n->http)
        http_stop(n, err);
}

/* ---- the nodes ---- */

/* The embedded region at the URL the user gave (as tailnet/conn_derp.c),
 * any other node at its own URL (derp_map_node_url). */
static int node_url(const struct vole_netcheck_run *r, struct nc_node *n)
{
    if (n->region->embedded_relay && r->cfg.url && r->cfg.url[0]) {
        size_t len = strlen(r->cfg.url);
        while (len > 0 && r->cfg.url[len - 1] == '/')
            len--;
        snprintf(n->derp_url, sizeof n->derp_url, "%.*s/derp", (int)len, r->cfg.url);
        return 0;
    }
    return derp_map_node_url(n->h->node, n->derp_url, sizeof n->derp_url);
}

static void start_node(struct vole_netcheck_run *r, struct nc_node *n)
{
    char err[VOLE_HEALTH_TEXT_MAX];

    if (n->h->node->stun_only) {
        n->exchange_done = n->http_done = true;
        return;
    }
    if (node_url(r, n) < 0) {
        snprintf(n->h->error, sizeof n->h->error, "the node's URL is too long");
        n->exchange_done = true;
        http_stop(n, n->h->error);
        return;
    }
    n->register_keys = n->region->embedded_relay && r->cfg.url && r->cfg.token && r->cfg.token[0];
    start_latency(n);
    if (nc_exchange_start(n, err, sizeof err) < 0) {
        snprintf(n->h->error, sizeof n->h->error, "%s", err);
        n->exchange_done = true;
    }
}

static int make_nodes(struct vole_netcheck_run *r)
{
    size_t total = 0, k = 0;

    for (size_t i = 0; i < r->h.n_regions; i++)
        total += r->h.regions[i].n_nodes;
    if (total == 0)
        return 0;
    r->nodes = calloc(total, sizeof *r->nodes);
    if (!r->nodes)
        return -1;
    r->n_nodes = total;
    for (size_t i = 0; i < r->h.n_regions; i++)
        for (size_t j = 0; j < r->h.regions[i].n_nodes; j++, k++) {
            r->nodes[k].run = r;
            r->nodes[k].h = &r->h.regions[i].nodes[j];
            r->nodes[k].region = r->h.regions[i].region;
        }
    return 0;
}

struct vole_netcheck_run *vole_netcheck_run_start(struct ev_loop *loop, const struct vole_netcheck_run_config *cfg,
                                                  vole_netcheck_done_fn done, void *ctx, char *err, size_t errlen)
{
    struct vole_netcheck_run *r = calloc(1, sizeof *r);

    if (!r || vole_derp_health_init(&r->h, cfg->map) < 0 || make_nodes(r) < 0) {
        snprintf(err, errlen, "out of memory");
        vole_netcheck_run_free(r);
        return NULL;
    }
    r->loop = loop;
    r->cfg = *cfg;
    if (r->cfg.node_timeout <= 0)
        r->cfg.node_timeout = VOLE_NETCHECK_NODE_TIMEOUT;
    if (r->cfg.total_timeout <= 0)
        r->cfg.total_timeout = VOLE_NETCHECK_TOTAL_TIMEOUT;
    r->done_fn = done;
    r->done_ctx = ctx;
    r->h.os_has_ipv6 = vole_netcheck_os_has_ipv6();
    ev_timer_init(&r->total, on_total, r->cfg.total_timeout, 0.);
    r->total.data = r;
    ev_timer_start(loop, &r->total);
    if (nc_stun_start(r, err, errlen) < 0) {
        vole_netcheck_run_free(r);
        return NULL;
    }
    for (size_t i = 0; i < r->n_nodes; i++)
        start_node(r, &r->nodes[i]);
    nc_check_done(r);   /* a map without nodes */
    return r;
}

const struct vole_derp_health *vole_netcheck_run_report(const struct vole_netcheck_run *r)
{
    return &r->h;
}

bool vole_netcheck_run_done(const struct vole_netcheck_run *r)
{
    return r->done;
}

void vole_netcheck_run_free(struct vole_netcheck_run *r)
{
    if (!r)
        return;
    if (r->loop) {
        for (size_t i = 0; i < r->n_nodes; i++) {
            nc_exchange_stop(&r->nodes[i], NULL);
            http_stop(&r->nodes[i], NULL);
        }
        nc_stun_stop(r);
        ev_timer_stop(r->loop, &r->total);
        ev_timer_stop(r->loop, &r->fire);
    }
    free(r->stun.nodes);
    free(r->nodes);
    vole_derp_health_free(&r->h);
    free(r);
}
