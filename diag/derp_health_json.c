/* The netcheck's DERP report as JSON (diag/derp_health.h): Coder's
 * healthsdk.DERPHealthReport with tailscale's netcheck.Report inside. The
 * region and node objects are the DERP map's own JSON (derp_map_to_json),
 * so they carry exactly the fields a map carries. */
#include "diag/derp_health.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag/duration.h"
#include "node/tunnel.h"

#define EP_STR_MAX 64

static json_t *str_or_null(const char *s)
{
    return s[0] ? json_string(s) : json_null();
}

static json_t *warnings_json(const struct vole_health_warnings *w)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < w->n; i++)
        json_array_append_new(a, json_pack("{s:s, s:s}", "code", w->w[i].code, "message", w->w[i].message));
    return a;
}

static json_t *lines_json(const char (*lines)[VOLE_HEALTH_TEXT_MAX], size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_string(lines[i]));
    return a;
}

/* [][]string: one list per client, as Coder's two derphttp clients. */
static json_t *clients_json(const struct vole_derp_node_health *n, bool errs)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < 2; i++) {
        const struct vole_derp_client_lines *c = &n->clients[i];
        json_array_append_new(a, errs ? lines_json(c->errs, c->n_errs) : lines_json(c->logs, c->n_logs));
    }
    return a;
}

static json_t *stun_json(const struct vole_derp_node_health *n)
{
    /* PathMTU is vole's: the largest padded STUN probe the node answered. */
    return json_pack("{s:b, s:b, s:o, s:o}", "Enabled", n->stun_enabled, "CanSTUN", n->can_stun, "Error",
                     str_or_null(n->stun_error), "PathMTU",
                     n->path_mtu ? json_integer((json_int_t)n->path_mtu) : json_null());
}

static json_t *node_json(const struct vole_derp_node_health *n, json_t *node_map)
{
    char rtt[VOLE_DURATION_STR_MAX] = "";
    json_t *o;

    if (n->can_exchange_messages)
        vole_duration_format(rtt, (int64_t)n->round_trip_ns);
    o = json_pack("{s:b, s:s, s:o, s:O}", "healthy", n->healthy, "severity", vole_health_severity_str(n->severity),
                  "warnings", warnings_json(&n->warnings), "node", node_map ? node_map : json_null());
    if (!o)
        return NULL;
    /* derp.ServerInfoMessage: vole's DERP client does not keep the server's
     * token bucket, which vole's server does not send anyway. */
    json_object_set_new(o, "node_info", json_pack("{s:i, s:i}", "TokenBucketBytesPerSecond", 0,
                                                  "TokenBucketBytesBurst", 0));
    json_object_set_new(o, "can_exchange_messages", json_boolean(n->can_exchange_messages));
    json_object_set_new(o, "round_trip_ping", json_string(rtt));
    json_object_set_new(o, "round_trip_ping_ms",
                        json_integer(n->can_exchange_messages ? (json_int_t)(n->round_trip_ns / 1000000) : 0));
    json_object_set_new(o, "uses_websocket", json_boolean(n->uses_websocket));
    json_object_set_new(o, "client_logs", clients_json(n, false));
    json_object_set_new(o, "client_errs", clients_json(n, true));
    json_object_set_new(o, "error", str_or_null(n->error));
    json_object_set_new(o, "stun", stun_json(n));
    return o;
}

static json_t *region_json(const struct vole_derp_region_health *r, json_t *region_map)
{
    json_t *nodes = json_array(), *map_nodes = region_map ? json_object_get(region_map, "Nodes") : NULL;
    for (size_t i = 0; nodes && i < r->n_nodes; i++)
        json_array_append_new(nodes, node_json(&r->nodes[i], json_array_get(map_nodes, i)));
    return json_pack("{s:b, s:s, s:o, s:o, s:O, s:o}", "healthy", r->healthy, "severity",
                     vole_health_severity_str(r->severity), "warnings", warnings_json(&r->warnings), "error",
                     str_or_null(r->error), "region", region_map ? region_map : json_null(), "node_reports",
                     nodes ? nodes : json_null());
}

static const struct vole_derp_region_health *region_by_key(const struct vole_derp_health *h, const char *key)
{
    char id[24];
    for (size_t i = 0; i < h->n_regions; i++) {
        snprintf(id, sizeof id, "%lld", h->regions[i].region->region_id);
        if (strcmp(id, key) == 0)
            return &h->regions[i];
    }
    return NULL;
}

/* map[int]*DERPRegionReport: keys in the map JSON's order, which is Go's. */
static json_t *regions_json(const struct vole_derp_health *h, json_t *map_regions)
{
    json_t *o = json_object(), *v;
    const char *key;

    json_object_foreach(map_regions, key, v) {
        const struct vole_derp_region_health *r = region_by_key(h, key);
        if (r)
            json_object_set_new(o, key, region_json(r, v));
    }
    return o;
}

static json_t *map_json(const struct derp_map *m)
{
    char *text = derp_map_to_json(m);
    json_t *j = text ? json_loads(text, 0, NULL) : NULL;
    free(text);
    return j;
}

json_t *vole_derp_health_json(const struct vole_derp_health *h)
{
    json_t *map = map_json(h->map), *o;

    if (!map)
        return NULL;
    o = json_pack("{s:b, s:s, s:o, s:b, s:o, s:o, s:o, s:o}", "healthy", h->healthy, "severity",
                  vole_health_severity_str(h->severity), "warnings", warnings_json(&h->warnings), "dismissed", 0,
                  "regions", regions_json(h, json_object_get(map, "Regions")), "netcheck", vole_derp_netcheck_json(h),
                  "netcheck_err", str_or_null(h->netcheck_err), "netcheck_logs", lines_json(h->logs, h->n_logs));
    json_decref(map);
    return o;
}

/* ---- netcheck.Report ---- */

static json_t *tristate(enum stun_tristate t)
{
    return t == STUN_UNKNOWN ? json_null() : json_boolean(t == STUN_YES);
}

static json_t *global(const struct wg_endpoint *ep)
{
    char buf[EP_STR_MAX] = "";
    if (ep->family)
        vole_endpoint_format(buf, sizeof buf, ep);
    return json_string(buf);
}

/* {regionID: nanoseconds}, Go's key order (strings). v4 only: latency is
 * measured over HTTP(S), whose family is the connection's; vole records it
 * once per region, as RegionLatency and RegionV4Latency. */
static json_t *latencies(const struct vole_derp_health *h, json_t *map_regions)
{
    json_t *o = json_object(), *v;
    const char *key;

    json_object_foreach(map_regions, key, v) {
        const struct vole_derp_region_health *r = region_by_key(h, key);
        if (r && r->have_latency)
            json_object_set_new(o, key, json_integer((json_int_t)r->latency_ns));
    }
    return o;
}

json_t *vole_derp_netcheck_json(const struct vole_derp_health *h)
{
    static const struct stun_report none;
    const struct stun_report *s = h->stun ? h->stun : &none;
    json_t *map = map_json(h->map), *regions, *o;

    if (!map)
        return NULL;
    regions = json_object_get(map, "Regions");
    o = json_pack("{s:b, s:b, s:b, s:b, s:b, s:b, s:b, s:o, s:n, s:n, s:n, s:n, s:I, s:o, s:o, s:o, s:o, s:o, s:n}",
                  "UDP", s->udp, "IPv6", s->ipv6, "IPv4", s->ipv4, "IPv6CanSend", s->ipv6_can_send, "IPv4CanSend",
                  s->ipv4_can_send, "OSHasIPv6", h->os_has_ipv6, "ICMPv4", 0, "MappingVariesByDestIP",
                  tristate(s->mapping_varies_by_dest_ip), "HairPinning", "UPnP", "PMP", "PCP", "PreferredDERP",
                  (json_int_t)h->preferred_derp, "RegionLatency", latencies(h, regions), "RegionV4Latency",
                  latencies(h, regions), "RegionV6Latency", json_object(), "GlobalV4", global(&s->global_v4),
                  "GlobalV6", global(&s->global_v6), "CaptivePortal");
    json_decref(map);
    return o;
}
