/* healthsdk.InterfacesReport to and from JSON (coder-behaviour.md §1.4,
 * §1.8), plus vole's "default_route_interface". Decoding reads a report
 * another host sent, so every field is type-checked and every count bounded. */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag/ifaces.h"
#include "io/logf.h"

#define MTU_MESSAGE_MAX (IF_NAMESIZE + 160)

/* ---- encoding ------------------------------------------------------------- */

/* Takes v's reference; clears *ok when v is NULL or the set fails. */
static void put(json_t *obj, const char *key, json_t *v, bool *ok)
{
    if (!v || json_object_set_new(obj, key, v) < 0)
        *ok = false;
}

static void push(json_t *arr, json_t *v, bool *ok)
{
    if (!v || json_array_append_new(arr, v) < 0)
        *ok = false;
}

static json_t *address_json(const struct vole_ping_ifaddr *a)
{
    char ip[INET6_ADDRSTRLEN], text[INET6_ADDRSTRLEN + 8];

    if (!inet_ntop(a->family == 4 ? AF_INET : AF_INET6, a->addr, ip, sizeof ip))
        return json_string("");
    snprintf(text, sizeof text, "%s/%u", ip, (unsigned)a->prefix_len);
    return json_string(text);
}

static json_t *iface_json(const struct vole_ping_iface *it)
{
    json_t *o = json_object(), *addrs = json_array();
    bool ok = o && addrs;

    for (size_t k = 0; ok && k < it->n_addrs; k++)
        push(addrs, address_json(&it->addrs[k]), &ok);
    if (ok) {
        put(o, "name", json_string(it->name ? it->name : ""), &ok);
        put(o, "mtu", json_integer(it->mtu), &ok);
        put(o, "addresses", addrs, &ok);
        addrs = NULL;
    }
    json_decref(addrs);
    if (!ok)
        json_decref(o);
    return ok ? o : NULL;
}

static json_t *warning_json(const struct vole_ping_iface *it)
{
    char msg[MTU_MESSAGE_MAX];

    vole_ifaces_mtu_message(msg, sizeof msg, it->name, it->mtu);
    return json_pack("{s:s, s:s}", "code", "EIF01", "message", msg);
}

json_t *vole_ifaces_report_json(const struct vole_ifaces *x)
{
    json_t *o = json_object(), *warnings = json_array(), *list = json_array();
    bool ok = o && warnings && list;

    for (size_t i = 0; ok && i < x->n; i++) {
        const struct vole_ping_iface *it = &x->ifaces[i];
        if (!vole_ping_iface_counts(it))
            continue;
        push(list, iface_json(it), &ok);
        if (vole_ping_iface_mtu_low(it))
            push(warnings, warning_json(it), &ok);
    }
    if (ok) {
        put(o, "severity", json_string(json_array_size(warnings) ? "warning" : "ok"), &ok);
        put(o, "warnings", warnings, &ok);
        put(o, "dismissed", json_false(), &ok);
        put(o, "interfaces", list, &ok);
        put(o, "default_route_interface", json_string(x->default_route), &ok);
        warnings = list = NULL;
    }
    json_decref(warnings);
    json_decref(list);
    if (!ok)
        json_decref(o);
    return ok ? o : NULL;
}

/* ---- decoding ---------------------------------------------------------------- */

/* "ip/len" as Go's net.IPNet prints it; the host bits are kept. */
static bool parse_address(const char *s, struct vole_ping_ifaddr *a)
{
    char host[INET6_ADDRSTRLEN], *end;
    const char *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : 0;

    memset(a, 0, sizeof *a);
    if (!slash || n == 0 || n >= sizeof host || slash[1] < '0' || slash[1] > '9')
        return false;
    memcpy(host, s, n);
    host[n] = '\0';
    a->family = strchr(host, ':') ? 6 : 4;
    errno = 0;
    long len = strtol(slash + 1, &end, 10);
    if (*end || errno || len < 0 || len > (a->family == 4 ? 32 : 128))
        return false;
    a->prefix_len = (uint8_t)len;
    return inet_pton(a->family == 4 ? AF_INET : AF_INET6, host, a->addr) == 1;
}

/* A name that fits IF_NAMESIZE; "" allowed only when empty_ok. */
static int read_name(const json_t *v, const char *what, bool empty_ok, char out[IF_NAMESIZE], char *err,
                     size_t errlen)
{
    if (!json_is_string(v))
        return vole_errf(err, errlen, "%s: %s", what, v ? "not a string" : "missing");
    size_t len = json_string_length(v);
    if ((!empty_ok && len == 0) || len >= IF_NAMESIZE || strlen(json_string_value(v)) != len)
        return vole_errf(err, errlen, "%s: not an interface name (1 to %d bytes, no NUL)", what, IF_NAMESIZE - 1);
    memcpy(out, json_string_value(v), len + 1);
    return 0;
}

static int read_addrs(const json_t *arr, size_t i, struct vole_ifaces *out, char *err, size_t errlen)
{
    struct vole_ping_iface *it = &out->ifaces[i];
    size_t k;
    json_t *v;

    it->addrs = &out->addrs[out->n_addrs];
    if (!arr || json_is_null(arr))
        return 0;
    if (!json_is_array(arr))
        return vole_errf(err, errlen, "interfaces[%zu].addresses: not an array", i);
    if (json_array_size(arr) > VOLE_IFACES_MAX_ADDRS - out->n_addrs)
        return vole_errf(err, errlen, "interfaces[%zu].addresses: more than %d addresses in all", i, VOLE_IFACES_MAX_ADDRS);
    json_array_foreach (arr, k, v) {
        if (!json_is_string(v))
            return vole_errf(err, errlen, "interfaces[%zu].addresses[%zu]: not a string", i, k);
        if (!parse_address(json_string_value(v), &out->addrs[out->n_addrs]))
            return vole_errf(err, errlen, "interfaces[%zu].addresses[%zu]: \"%.64s\" is not an address/prefix length", i,
                        k, json_string_value(v));
        out->n_addrs++;
        it->n_addrs++;
    }
    return 0;
}

static int read_iface(const json_t *o, size_t i, struct vole_ifaces *out, char *err, size_t errlen)
{
    char what[48];
    const json_t *mtu = json_object_get(o, "mtu");

    if (!json_is_object(o))
        return vole_errf(err, errlen, "interfaces[%zu]: not an object", i);
    snprintf(what, sizeof what, "interfaces[%zu].name", i);
    if (read_name(json_object_get(o, "name"), what, false, out->names[i], err, errlen) < 0)
        return -1;
    if (!json_is_integer(mtu))
        return vole_errf(err, errlen, "interfaces[%zu].mtu: %s", i, mtu ? "not an integer" : "missing");
    if (json_integer_value(mtu) < INT_MIN || json_integer_value(mtu) > INT_MAX)
        return vole_errf(err, errlen, "interfaces[%zu].mtu: out of range", i);
    /* A report lists only interfaces that are up. */
    out->ifaces[i] = (struct vole_ping_iface){ .name = out->names[i], .mtu = (int)json_integer_value(mtu), .up = true };
    return read_addrs(json_object_get(o, "addresses"), i, out, err, errlen);
}

static int read_report(const json_t *j, struct vole_ifaces *out, char *err, size_t errlen)
{
    const json_t *list, *route, *v;
    size_t i;

    if (!json_is_object(j))
        return vole_errf(err, errlen, "not an object");
    list = json_object_get(j, "interfaces");
    if (list && !json_is_null(list) && !json_is_array(list))
        return vole_errf(err, errlen, "interfaces: not an array");
    if (json_array_size(list) > VOLE_IFACES_MAX)
        return vole_errf(err, errlen, "interfaces: %zu entries, more than %d", json_array_size(list), VOLE_IFACES_MAX);
    json_array_foreach (list, i, v) {
        if (read_iface(v, i, out, err, errlen) < 0)
            return -1;
        out->n++;
    }
    route = json_object_get(j, "default_route_interface");
    if (route && !json_is_null(route))
        return read_name(route, "default_route_interface", true, out->default_route, err, errlen);
    return 0;
}

int vole_ifaces_from_report_json(const json_t *j, struct vole_ifaces *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (read_report(j, out, err, errlen) == 0)
        return 0;
    memset(out, 0, sizeof *out);
    return -1;
}
