/* The health rules of the netcheck's DERP report (diag/derp_health.h),
 * as Coder's derphealth applies them (coder-behaviour.md §3). */
#include "diag/derp_health.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *vole_health_severity_str(enum vole_health_severity s)
{
    switch (s) {
    case VOLE_HEALTH_OK: return "ok";
    case VOLE_HEALTH_WARNING: return "warning";
    case VOLE_HEALTH_ERROR: return "error";
    }
    return "error";
}

int vole_derp_health_init(struct vole_derp_health *h, const struct derp_map *map)
{
    memset(h, 0, sizeof *h);
    h->map = map;
    if (map->n_regions == 0)
        return 0;
    h->regions = calloc(map->n_regions, sizeof *h->regions);
    if (!h->regions)
        return -1;
    h->n_regions = map->n_regions;
    for (size_t i = 0; i < map->n_regions; i++) {
        struct vole_derp_region_health *r = &h->regions[i];
        r->region = &map->regions[i];
        r->n_nodes = r->region->n_nodes;
        r->nodes = r->n_nodes ? calloc(r->n_nodes, sizeof *r->nodes) : NULL;
        if (r->n_nodes && !r->nodes) {
            vole_derp_health_free(h);
            return -1;
        }
        for (size_t k = 0; k < r->n_nodes; k++) {
            r->nodes[k].node = &r->region->nodes[k];
            r->nodes[k].stun_enabled = r->region->nodes[k].stun_port != -1;
        }
    }
    return 0;
}

void vole_derp_health_free(struct vole_derp_health *h)
{
    for (size_t i = 0; h->regions && i < h->n_regions; i++)
        free(h->regions[i].nodes);
    free(h->regions);
    h->regions = NULL;
    h->n_regions = 0;
}

static void vappend(char (*lines)[VOLE_HEALTH_TEXT_MAX], size_t *n, size_t cap, const char *fmt, va_list ap)
{
    if (*n == cap)
        return;
    vsnprintf(lines[*n], VOLE_HEALTH_TEXT_MAX, fmt, ap);
    (*n)++;
}

void vole_derp_client_log(struct vole_derp_client_lines *c, bool is_err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (is_err)
        vappend(c->errs, &c->n_errs, VOLE_DERP_HEALTH_LINES, fmt, ap);
    else
        vappend(c->logs, &c->n_logs, VOLE_DERP_HEALTH_LINES, fmt, ap);
    va_end(ap);
}

void vole_derp_health_log(struct vole_derp_health *h, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vappend(h->logs, &h->n_logs, VOLE_DERP_HEALTH_NC_LOGS, fmt, ap);
    va_end(ap);
}

static void warn(struct vole_health_warnings *w, const char *code, const char *msg)
{
    if (w->n == VOLE_HEALTH_MAX_WARNINGS)
        return;
    w->w[w->n].code = code;
    snprintf(w->w[w->n].message, sizeof w->w[w->n].message, "%s", msg);
    w->n++;
}

static void warn_all(struct vole_health_warnings *to, const struct vole_health_warnings *from)
{
    for (size_t i = 0; i < from->n; i++)
        warn(to, from->w[i].code, from->w[i].message);
}

/* Unhealthy (error) when a relay cannot exchange messages, when it fell
 * back to WebSocket, or when its STUN test failed; WebSocket alone then
 * lowers the severity to a warning (EDERP01), as Coder does. */
void vole_derp_node_judge(struct vole_derp_node_health *n)
{
    bool stun_failed = n->stun_enabled && !n->can_stun;

    n->healthy = true;
    n->severity = VOLE_HEALTH_OK;
    n->warnings.n = 0;
    if (stun_failed && !n->stun_error[0])
        snprintf(n->stun_error, sizeof n->stun_error, "no STUN response");
    if ((!n->can_exchange_messages && !n->node->stun_only) || n->uses_websocket || stun_failed) {
        n->healthy = false;
        n->severity = VOLE_HEALTH_ERROR;
    }
    if (n->uses_websocket) {
        warn(&n->warnings, "EDERP01", VOLE_HEALTH_MSG_WEBSOCKET);
        n->severity = VOLE_HEALTH_WARNING;
    }
}

/* One node: its severity. Several: one unhealthy node is a warning
 * (EDERP02), more is unhealthy with the worst severity. Node warnings
 * are repeated on the region. The latency is the best node's. */
void vole_derp_region_judge(struct vole_derp_region_health *r)
{
    size_t unhealthy = 0;

    r->healthy = true;
    r->severity = VOLE_HEALTH_OK;
    r->warnings.n = 0;
    r->have_latency = false;
    for (size_t i = 0; i < r->n_nodes; i++) {
        struct vole_derp_node_health *n = &r->nodes[i];
        vole_derp_node_judge(n);
        unhealthy += !n->healthy;
        warn_all(&r->warnings, &n->warnings);
        if (n->have_latency && (!r->have_latency || n->latency_ns < r->latency_ns)) {
            r->have_latency = true;
            r->latency_ns = n->latency_ns;
        }
    }
    if (r->n_nodes == 1) {
        r->healthy = r->nodes[0].healthy;
        r->severity = r->nodes[0].severity;
    } else if (unhealthy == 1) {
        r->severity = VOLE_HEALTH_WARNING;
        warn(&r->warnings, "EDERP02", VOLE_HEALTH_MSG_ONE_NODE_UNHEALTHY);
    } else if (unhealthy > 1) {
        r->healthy = false;
        for (size_t i = 0; i < r->n_nodes; i++)
            if (r->nodes[i].severity > r->severity)
                r->severity = r->nodes[i].severity;
    }
    if (r->error[0]) {   /* the region could not even be tried */
        r->healthy = false;
        r->severity = VOLE_HEALTH_ERROR;
    }
}

static void stun_counts(const struct vole_derp_health *h, size_t *enabled, size_t *capable)
{
    *enabled = *capable = 0;
    for (size_t i = 0; i < h->n_regions; i++)
        for (size_t k = 0; k < h->regions[i].n_nodes; k++) {
            *enabled += h->regions[i].nodes[k].stun_enabled;
            *capable += h->regions[i].nodes[k].can_stun;
        }
}

/* The lowest HTTP latency; ties go to the map's (lower) region. */
static long long preferred(const struct vole_derp_health *h)
{
    const struct vole_derp_region_health *best = NULL;
    for (size_t i = 0; i < h->n_regions; i++) {
        const struct vole_derp_region_health *r = &h->regions[i];
        if (r->have_latency && (!best || r->latency_ns < best->latency_ns))
            best = r;
    }
    return best ? best->region->region_id : 0;
}

void vole_derp_health_judge(struct vole_derp_health *h)
{
    size_t enabled, capable;

    h->healthy = true;
    h->severity = VOLE_HEALTH_OK;
    h->warnings.n = 0;
    for (size_t i = 0; i < h->n_regions; i++) {
        vole_derp_region_judge(&h->regions[i]);
        h->healthy &= h->regions[i].healthy;
        warn_all(&h->warnings, &h->regions[i].warnings);
    }
    if (h->stun && h->stun->mapping_varies_by_dest_ip == STUN_YES)
        warn(&h->warnings, "ESTUN02", VOLE_HEALTH_MSG_MAPPING_VARIES);
    stun_counts(h, &enabled, &capable);
    if (capable == 0 && enabled > 0) {
        h->severity = VOLE_HEALTH_WARNING;
        warn(&h->warnings, "ESTUN01", VOLE_HEALTH_MSG_NO_STUN);
    }
    for (size_t i = 0; i < h->n_regions; i++)
        if (h->regions[i].severity > h->severity)
            h->severity = h->regions[i].severity;
    h->preferred_derp = preferred(h);
}
