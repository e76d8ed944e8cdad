/* The agent's report (healthsdk.AgentNetcheckReport plus vole's
 * "vole_disco"), encoded by the agent and decoded by `vole ping`. The body
 * comes from the other end of the tunnel: it is bounded and every field
 * is checked, and an error names the field. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag/agent_report.h"
#include "io/logf.h"

static void put(json_t *obj, const char *key, json_t *v, bool *ok)
{
    if (!v || json_object_set_new(obj, key, v) < 0)
        *ok = false;
}

static json_t *disco_json(const struct vole_ping_disco_counts *c)
{
    return json_pack("{s:I, s:I, s:I}", "pings_sent", (json_int_t)c->pings_sent, "pongs_received",
                     (json_int_t)c->pongs_received, "peer_pings_received", (json_int_t)c->peer_pings_received);
}

/* Coder's agent always says "ok" with no warnings: the interface warnings
 * live in "interfaces". Without interfaces the field is left out, so that
 * the reader can tell "none known" from "none up". */
char *vole_agent_report_json(const struct vole_agent_report *r)
{
    json_t *o = json_object();
    bool ok = o != NULL;
    char *text = NULL;

    if (!ok)
        return NULL;
    put(o, "severity", json_string("ok"), &ok);
    put(o, "warnings", json_array(), &ok);
    put(o, "dismissed", json_false(), &ok);
    put(o, "net_info", r->have_netinfo ? vole_netinfo_json(&r->netinfo, r->preferred_derp) : json_null(), &ok);
    if (r->have_ifaces)
        put(o, "interfaces", vole_ifaces_report_json(&r->ifaces), &ok);
    if (r->have_disco)
        put(o, "vole_disco", disco_json(&r->disco), &ok);
    if (ok)
        text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(o);
    return text;
}

/* ---- decoding ------------------------------------------------------------------ */

static int read_count(const json_t *o, const char *key, uint32_t *out, char *err, size_t errlen)
{
    const json_t *v = json_object_get(o, key);

    if (!json_is_integer(v))
        return vole_errf(err, errlen, "agent report: vole_disco.%s: %s", key, v ? "not an integer" : "missing");
    if (json_integer_value(v) < 0 || json_integer_value(v) > UINT32_MAX)
        return vole_errf(err, errlen, "agent report: vole_disco.%s: out of range", key);
    *out = (uint32_t)json_integer_value(v);
    return 0;
}

static int read_disco(const json_t *v, struct vole_agent_report *out, char *err, size_t errlen)
{
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_object(v))
        return vole_errf(err, errlen, "agent report: vole_disco: not an object");
    if (read_count(v, "pings_sent", &out->disco.pings_sent, err, errlen) < 0 ||
        read_count(v, "pongs_received", &out->disco.pongs_received, err, errlen) < 0 ||
        read_count(v, "peer_pings_received", &out->disco.peer_pings_received, err, errlen) < 0)
        return -1;
    out->have_disco = true;
    return 0;
}

static int read_netinfo(const json_t *v, struct vole_agent_report *out, char *err, size_t errlen)
{
    char why[192];

    if (!v || json_is_null(v))
        return 0;
    if (vole_netinfo_from_json(v, &out->netinfo, &out->preferred_derp, out->global_v4, out->global_v6, why,
                               sizeof why) < 0)
        return vole_errf(err, errlen, "agent report: net_info%s%s", json_is_object(v) ? "." : ": ", why);
    out->have_netinfo = true;
    return 0;
}

static int read_ifaces(const json_t *v, struct vole_agent_report *out, char *err, size_t errlen)
{
    char why[192];

    if (!v || json_is_null(v))
        return 0;
    if (vole_ifaces_from_report_json(v, &out->ifaces, why, sizeof why) < 0)
        return vole_errf(err, errlen, "agent report: interfaces%s%s", json_is_object(v) ? "." : ": ", why);
    out->have_ifaces = true;
    return 0;
}

static int read_body(const char *body, size_t len, struct vole_agent_report *out, char *err, size_t errlen)
{
    json_error_t jerr;
    int rc = -1;

    if (len > VOLE_AGENT_REPORT_MAX)
        return vole_errf(err, errlen, "agent report: %zu bytes, more than %d", len, VOLE_AGENT_REPORT_MAX);
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return vole_errf(err, errlen, "agent report: not JSON: %s (line %d, column %d)", jerr.text, jerr.line,
                    jerr.column);
    if (!json_is_object(root))
        vole_errf(err, errlen, "agent report: not an object");
    else if (read_netinfo(json_object_get(root, "net_info"), out, err, errlen) == 0 &&
             read_ifaces(json_object_get(root, "interfaces"), out, err, errlen) == 0 &&
             read_disco(json_object_get(root, "vole_disco"), out, err, errlen) == 0)
        rc = 0;
    json_decref(root);
    return rc;
}

int vole_agent_report_parse(const char *body, size_t len, struct vole_agent_report *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (read_body(body, len, out, err, errlen) == 0)
        return 0;
    memset(out, 0, sizeof *out);
    return -1;
}

void vole_agent_report_side(const struct vole_agent_report *r, struct vole_ping_side *side)
{
    memset(side, 0, sizeof *side);
    if (r->have_ifaces)
        vole_ifaces_side(&r->ifaces, side);
    side->netinfo = r->have_netinfo ? &r->netinfo : NULL;
    side->have_disco_counts = r->have_disco;
    side->disco = r->disco;
}
