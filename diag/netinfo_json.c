/* tailcfg.NetInfo as Coder's agent serves it (coder-behaviour.md §1.8):
 * Go's field names, in the struct's order, the fields vole measures filled
 * and the rest at Go's zero values, so that Coder's decoder reads it. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "diag/agent_report.h"
#include "io/logf.h"

#define GLOBAL_MAX 64

static void put(json_t *obj, const char *key, json_t *v, bool *ok)
{
    if (!v || json_object_set_new(obj, key, v) < 0)
        *ok = false;
}

/* opt.Bool: true, false, or null when unknown. */
static json_t *opt_bool(enum vole_ping_tristate t)
{
    return t == VOLE_PING_UNKNOWN ? json_null() : json_boolean(t == VOLE_PING_YES);
}

json_t *vole_netinfo_json(const struct vole_ping_netinfo *n, long long preferred_derp)
{
    static const char *const unknown_opt_bools[] = {
        "HairPinning", "WorkingIPv6", "OSHasIPv6", "WorkingUDP", "WorkingICMPv4",
    };
    static const char *const unmeasured_bools[] = { "IPv6", "IPv4", "IPv6CanSend", "IPv4CanSend", "ICMPv4" };
    json_t *o = json_object();
    bool ok = o != NULL;

    if (!ok)
        return NULL;
    put(o, "MappingVariesByDestIP", opt_bool(n->mapping_varies), &ok);
    for (size_t i = 0; i < sizeof unknown_opt_bools / sizeof *unknown_opt_bools; i++)
        put(o, unknown_opt_bools[i], json_null(), &ok);
    put(o, "HavePortMap", json_false(), &ok);
    put(o, "UPnP", json_null(), &ok);
    put(o, "PMP", json_null(), &ok);
    put(o, "PCP", json_null(), &ok);
    put(o, "PreferredDERP", json_integer(preferred_derp), &ok);
    put(o, "LinkType", json_string(""), &ok);
    put(o, "DERPLatency", json_object(), &ok);
    put(o, "DERPLatencyV4", json_object(), &ok);
    put(o, "DERPLatencyV6", json_object(), &ok);
    put(o, "UDP", json_boolean(n->udp), &ok);
    for (size_t i = 0; i < sizeof unmeasured_bools / sizeof *unmeasured_bools; i++)
        put(o, unmeasured_bools[i], json_false(), &ok);
    put(o, "GlobalV4", json_string(n->global_v4 ? n->global_v4 : ""), &ok);
    put(o, "GlobalV6", json_string(n->global_v6 ? n->global_v6 : ""), &ok);
    put(o, "CaptivePortal", json_null(), &ok);
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* Missing or null is Go's zero value, "". */
static int read_global(const json_t *j, const char *key, char out[GLOBAL_MAX], char *err, size_t errlen)
{
    const json_t *v = json_object_get(j, key);

    out[0] = '\0';
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return vole_errf(err, errlen, "%s: not a string", key);
    size_t len = json_string_length(v);
    if (len >= GLOBAL_MAX || strlen(json_string_value(v)) != len)
        return vole_errf(err, errlen, "%s: longer than %d bytes or holding a NUL", key, GLOBAL_MAX - 1);
    memcpy(out, json_string_value(v), len + 1);
    return 0;
}

static int read_fields(const json_t *j, struct vole_ping_netinfo *n, long long *preferred_derp, char v4[64],
                       char v6[64], char *err, size_t errlen)
{
    const json_t *udp = json_object_get(j, "UDP"), *mv = json_object_get(j, "MappingVariesByDestIP");
    const json_t *pd = json_object_get(j, "PreferredDERP");

    if (!json_is_object(j))
        return vole_errf(err, errlen, "not an object");
    if (udp && !json_is_boolean(udp))
        return vole_errf(err, errlen, "UDP: not a boolean");
    n->udp = json_is_true(udp);
    if (mv && !json_is_boolean(mv) && !json_is_null(mv))
        return vole_errf(err, errlen, "MappingVariesByDestIP: not a boolean or null");
    n->mapping_varies = json_is_true(mv) ? VOLE_PING_YES : json_is_false(mv) ? VOLE_PING_NO : VOLE_PING_UNKNOWN;
    if (pd && !json_is_integer(pd))
        return vole_errf(err, errlen, "PreferredDERP: not an integer");
    *preferred_derp = pd ? json_integer_value(pd) : 0;
    if (read_global(j, "GlobalV4", v4, err, errlen) < 0 || read_global(j, "GlobalV6", v6, err, errlen) < 0)
        return -1;
    n->global_v4 = v4;
    n->global_v6 = v6;
    return 0;
}

int vole_netinfo_from_json(const json_t *j, struct vole_ping_netinfo *n, long long *preferred_derp, char v4[64],
                           char v6[64], char *err, size_t errlen)
{
    memset(n, 0, sizeof *n);
    *preferred_derp = 0;
    v4[0] = v6[0] = '\0';
    if (read_fields(j, n, preferred_derp, v4, v6, err, errlen) == 0)
        return 0;
    memset(n, 0, sizeof *n);
    *preferred_derp = 0;
    return -1;
}
