/* `vole netcheck` as Coder's JSON and as a table (diag/netcheck_coder.h). */
#include "diag/netcheck_coder.h"

#include <stdlib.h>
#include <string.h>

#include "diag/duration.h"
#include "diag/netcheck.h"

/* ---- JSON ---- */

json_t *vole_netcheck_coder_json(const struct vole_derp_health *h, json_t *interfaces)
{
    json_t *derp = vole_derp_health_json(h);
    if (!derp)
        return NULL;
    return json_pack("{s:o, s:O}", "derp", derp, "interfaces", interfaces ? interfaces : json_null());
}

char *vole_netcheck_coder_json_text(const struct vole_derp_health *h, json_t *interfaces)
{
    json_t *j = vole_netcheck_coder_json(h, interfaces);
    char *out;
    if (!j)
        return NULL;
    out = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(j);
    return out;
}

/* ---- the table ---- */

static const char *latency(char buf[VOLE_DURATION_STR_MAX], bool have, uint64_t ns)
{
    if (!have) {
        buf[0] = '\0';
        return buf;
    }
    return vole_netcheck_latency_str(buf, ns);
}

struct region_ref {
    const struct vole_derp_region_health *r;
};

/* Regions with a latency first, fastest first; then the rest, map order. */
static int by_latency(const void *a, const void *b)
{
    const struct vole_derp_region_health *x = ((const struct region_ref *)a)->r;
    const struct vole_derp_region_health *y = ((const struct region_ref *)b)->r;
    if (x->have_latency != y->have_latency)
        return x->have_latency ? -1 : 1;
    if (x->have_latency && x->latency_ns != y->latency_ns)
        return x->latency_ns < y->latency_ns ? -1 : 1;
    return x < y ? -1 : x > y;
}

/* As `tailscale netcheck`: "Nearest DERP", then "- code: latency (name)". */
static void print_latencies(FILE *f, const struct vole_derp_health *h)
{
    struct region_ref *order;
    char buf[VOLE_DURATION_STR_MAX];

    if (h->preferred_derp == 0) {
        fprintf(f, "\t* Nearest DERP: unknown (no response to latency probes)\n");
        return;
    }
    order = calloc(h->n_regions, sizeof *order);
    if (!order)
        return;
    for (size_t i = 0; i < h->n_regions; i++) {
        order[i].r = &h->regions[i];
        if (h->regions[i].region->region_id == h->preferred_derp)
            fprintf(f, "\t* Nearest DERP: %s\n", h->regions[i].region->name);
    }
    qsort(order, h->n_regions, sizeof *order, by_latency);
    fprintf(f, "\t* DERP latency:\n");
    for (size_t i = 0; i < h->n_regions; i++)
        fprintf(f, "\t\t- %3s: %-7s (%s)\n", order[i].r->region->code,
                latency(buf, order[i].r->have_latency, order[i].r->latency_ns), order[i].r->region->name);
    free(order);
}

static void print_warnings(FILE *f, const char *indent, const struct vole_health_warnings *w)
{
    for (size_t i = 0; i < w->n; i++)
        fprintf(f, "%s! %s: %s\n", indent, w->w[i].code, w->w[i].message);
}

static const char *first_err(const struct vole_derp_node_health *n)
{
    for (size_t i = 0; i < 2; i++)
        if (n->clients[i].n_errs)
            return n->clients[i].errs[0];
    return n->error[0] ? n->error : "no message arrived";
}

static void print_node(FILE *f, const struct vole_derp_node_health *n)
{
    char buf[VOLE_DURATION_STR_MAX];

    fprintf(f, "\t\t- %s (%s): %s", n->node->name, n->node->host_name, vole_health_severity_str(n->severity));
    if (n->node->stun_only)
        fprintf(f, "; STUN only");
    else if (n->can_exchange_messages)
        fprintf(f, "; messages: %s%s", vole_netcheck_latency_str(buf, n->round_trip_ns),
                n->uses_websocket ? " (WebSocket)" : "");
    else
        fprintf(f, "; messages: failed (%s)", first_err(n));
    if (!n->node->stun_only) {
        if (n->have_latency)
            fprintf(f, "; latency-check: %s", vole_netcheck_latency_str(buf, n->latency_ns));
        else
            fprintf(f, "; latency-check: failed (%s)", n->latency_error[0] ? n->latency_error : "no answer");
    }
    if (!n->stun_enabled)
        fprintf(f, "; STUN: disabled\n");
    else if (n->can_stun && n->path_mtu)
        fprintf(f, "; STUN: ok, path MTU %u\n", n->path_mtu);
    else if (n->can_stun)
        fprintf(f, "; STUN: ok\n");
    else
        fprintf(f, "; STUN: failed (%s)\n", n->stun_error);
}

static void print_region(FILE *f, const struct vole_derp_region_health *r)
{
    char buf[VOLE_DURATION_STR_MAX];

    fprintf(f, "\t* Region %lld %s (%s): %s", r->region->region_id, r->region->code, r->region->name,
            vole_health_severity_str(r->severity));
    if (r->have_latency)
        fprintf(f, ", latency %s", vole_netcheck_latency_str(buf, r->latency_ns));
    if (r->error[0])
        fprintf(f, ", %s", r->error);
    fputc('\n', f);
    for (size_t i = 0; i < r->n_nodes; i++)
        print_node(f, &r->nodes[i]);
}

static void print_derp(FILE *f, const struct vole_derp_health *h)
{
    fprintf(f, "\nDERP health: %s\n", vole_health_severity_str(h->severity));
    for (size_t i = 0; i < h->n_regions; i++)
        print_region(f, &h->regions[i]);
    if (h->n_regions == 0)
        fprintf(f, "\t* (the DERP map has no regions)\n");
    if (h->netcheck_err[0])
        fprintf(f, "\t* netcheck error: %s\n", h->netcheck_err);
    print_warnings(f, "\t", &h->warnings);
}

/* A string member, or "?" (the report came from elsewhere). */
static const char *text(const json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v ? v : "?";
}

static void print_iface(FILE *f, const json_t *i)
{
    const json_t *addrs = json_object_get(i, "addresses"), *a;
    size_t k;

    fprintf(f, "\t* %s: MTU %lld", text(i, "name"),
            (long long)json_integer_value(json_object_get(i, "mtu")));
    json_array_foreach(addrs, k, a)
        fprintf(f, "%s%s", k == 0 ? ", " : " ", json_string_value(a) ? json_string_value(a) : "?");
    fputc('\n', f);
}

static void print_ifaces(FILE *f, const json_t *j)
{
    const json_t *list, *w, *i;
    size_t k;

    if (!j) {
        fprintf(f, "\nInterfaces: unknown (could not be read)\n");
        return;
    }
    fprintf(f, "\nInterfaces: %s\n", text(j, "severity"));
    list = json_object_get(j, "interfaces");
    json_array_foreach(list, k, i)
        print_iface(f, i);
    json_array_foreach(json_object_get(j, "warnings"), k, w)
        fprintf(f, "\t! %s: %s\n", text(w, "code"),
                text(w, "message"));
}

void vole_netcheck_coder_print(FILE *f, const struct vole_derp_health *h, const json_t *interfaces)
{
    static const struct stun_report none;
    struct vole_netcheck_report rep = { .stun = h->stun ? h->stun : &none, .os_has_ipv6 = h->os_has_ipv6 };

    vole_netcheck_print_head(f, &rep);
    print_latencies(f, h);
    if (rep.stun->n_servers)
        vole_netcheck_print_servers(f, &rep);
    print_derp(f, h);
    print_ifaces(f, interfaces);
}
