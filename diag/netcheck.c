#include "diag/netcheck.h"

#include <stdlib.h>
#include <string.h>

#include "node/tunnel.h"

#define EP_STR_MAX 64   /* "[ffff:...:ffff]:65535" with room to spare */

/* Go's Duration.Round: to the nearest multiple of m, halves away from zero. */
static uint64_t round_to(uint64_t ns, uint64_t m)
{
    return (ns + m / 2) / m * m;
}

const char *vole_netcheck_latency_str(char buf[VOLE_DURATION_STR_MAX], uint64_t ns)
{
    uint64_t r = ns >= 1000000 ? round_to(ns, 100000) : round_to(ns, 1000);
    return vole_duration_format(buf, (int64_t)r);
}

/* "timed out", "send failed", "bad response (not a binding response)". */
static void server_error(char *buf, size_t len, const struct stun_server_result *s)
{
    if (s->error == STUN_PROBE_BAD_RESPONSE)
        snprintf(buf, len, "%s (%s)", stun_probe_error_str(s->error), stun_status_str(s->bad_status));
    else
        snprintf(buf, len, "%s", stun_probe_error_str(s->error));
}

/* ---- text ---- */

static void print_ipv4(FILE *f, const struct stun_report *s)
{
    char ep[EP_STR_MAX];
    if (s->global_v4.family) {
        vole_endpoint_format(ep, sizeof ep, &s->global_v4);
        fprintf(f, "\t* IPv4: yes, %s\n", ep);
    } else {
        fprintf(f, "\t* IPv4: (no addr found)\n");
    }
}

static void print_ipv6(FILE *f, const struct stun_report *s, bool os_has_ipv6)
{
    char ep[EP_STR_MAX];
    if (s->global_v6.family) {
        vole_endpoint_format(ep, sizeof ep, &s->global_v6);
        fprintf(f, "\t* IPv6: yes, %s\n", ep);
    } else if (s->ipv6) {
        fprintf(f, "\t* IPv6: (no addr found)\n");
    } else if (os_has_ipv6) {
        fprintf(f, "\t* IPv6: no, but OS has support\n");
    } else {
        fprintf(f, "\t* IPv6: no, unavailable in OS\n");
    }
}

/* Tailscale prints its opt.Bool with %v, so "unknown" is an empty value. */
static const char *tristate_text(enum stun_tristate t)
{
    return t == STUN_YES ? "true" : t == STUN_NO ? "false" : "";
}

/* The name as typed, plus the address when the name was a DNS name (or
 * spelled differently), since one name can stand for several servers. */
static void print_server_label(FILE *f, const struct stun_server_result *s)
{
    char ep[EP_STR_MAX];
    vole_endpoint_format(ep, sizeof ep, &s->server);
    if (strcmp(ep, s->name) == 0 || s->name[0] == '\0')
        fprintf(f, "\t\t- %s: ", ep);
    else
        fprintf(f, "\t\t- %s (%s): ", s->name, ep);
}

static void print_server(FILE *f, const struct stun_server_result *s)
{
    char dur[VOLE_DURATION_STR_MAX], ep[EP_STR_MAX], err[96];
    print_server_label(f, s);
    if (s->answered) {
        vole_endpoint_format(ep, sizeof ep, &s->mapped);
        fprintf(f, "%s (mapped %s)", vole_netcheck_latency_str(dur, s->latency_ns), ep);
        if (s->path_mtu)
            fprintf(f, ", path MTU %u", s->path_mtu);
        fprintf(f, "\n");
    } else {
        server_error(err, sizeof err, s);
        fprintf(f, "%s\n", err);
    }
}

void vole_netcheck_print_head(FILE *f, const struct vole_netcheck_report *r)
{
    const struct stun_report *s = r->stun;
    fprintf(f, "Report:\n");
    fprintf(f, "\t* UDP: %s\n", s->udp ? "true" : "false");
    print_ipv4(f, s);
    print_ipv6(f, s, r->os_has_ipv6);
    fprintf(f, "\t* MappingVariesByDestIP: %s\n", tristate_text(s->mapping_varies_by_dest_ip));
}

void vole_netcheck_print_servers(FILE *f, const struct vole_netcheck_report *r)
{
    const struct stun_report *s = r->stun;
    fprintf(f, "\t* STUN servers:\n");
    for (size_t i = 0; i < s->n_servers; i++)
        print_server(f, &s->servers[i]);
}

void vole_netcheck_print(FILE *f, const struct vole_netcheck_report *r)
{
    vole_netcheck_print_head(f, r);
    vole_netcheck_print_servers(f, r);
}

/* ---- JSON ---- */

/* Tailscale marshals a missing GlobalV4/GlobalV6 as "". */
static json_t *json_global(const struct wg_endpoint *ep)
{
    char buf[EP_STR_MAX] = "";
    if (ep->family)
        vole_endpoint_format(buf, sizeof buf, ep);
    return json_string(buf);
}

/* opt.Bool: true, false, or null when unknown. */
static json_t *json_tristate(enum stun_tristate t)
{
    return t == STUN_UNKNOWN ? json_null() : json_boolean(t == STUN_YES);
}

static json_t *json_server(const struct stun_server_result *s)
{
    char addr[EP_STR_MAX], mapped[EP_STR_MAX], err[96];
    vole_endpoint_format(addr, sizeof addr, &s->server);
    if (s->answered)
        vole_endpoint_format(mapped, sizeof mapped, &s->mapped);
    server_error(err, sizeof err, s);
    /* Whole microseconds: enough for a LAN, and no binary-fraction noise. */
    uint64_t us = (s->latency_ns + 500) / 1000;
    double ms = (double)us / 1000.0;
    return json_pack("{s:s, s:s, s:o, s:o, s:o}", "server", s->name, "address", addr,
                     "latency_ms", s->answered ? json_real(ms) : json_null(),
                     "mapped", s->answered ? json_string(mapped) : json_null(),
                     "error", s->answered ? json_null() : json_string(err));
}

static json_t *json_servers(const struct stun_report *s)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < s->n_servers; i++) {
        if (json_array_append_new(a, json_server(&s->servers[i])) < 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

/* Field names and order follow Tailscale's net/netcheck Report (the object
 * `tailscale netcheck --format=json` prints and `coder netcheck` nests as
 * "netcheck"), limited to what a STUN phase determines. "STUN" is vole's
 * own: the per-server results behind those determinations. */
json_t *vole_netcheck_json(const struct vole_netcheck_report *r)
{
    const struct stun_report *s = r->stun;
    return json_pack("{s:b, s:b, s:b, s:b, s:b, s:b, s:o, s:o, s:o, s:o}",
                     "UDP", s->udp, "IPv6", s->ipv6, "IPv4", s->ipv4,
                     "IPv6CanSend", s->ipv6_can_send, "IPv4CanSend", s->ipv4_can_send,
                     "OSHasIPv6", r->os_has_ipv6,
                     "MappingVariesByDestIP", json_tristate(s->mapping_varies_by_dest_ip),
                     "GlobalV4", json_global(&s->global_v4), "GlobalV6", json_global(&s->global_v6),
                     "STUN", json_servers(s));
}

char *vole_netcheck_json_text(const struct vole_netcheck_report *r)
{
    json_t *j = vole_netcheck_json(r);
    char *out;
    if (!j)
        return NULL;
    out = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12));
    json_decref(j);
    return out;
}
