#include "derp/derpmap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf/file.h"

/* Where in the document a field lives, for error messages:
 * Regions["1"].Nodes[0]. */
struct where {
    char at[96];
    char *err;
    size_t errlen;
};

static int fail(const struct where *w, const char *field, const char *why)
{
    snprintf(w->err, w->errlen, "%s%s%s: %s", w->at, *w->at && *field ? "." : "", field, why);
    return -1;
}

/* Go's encoding/json: an exact key first, else any key equal ignoring case. */
static json_t *get(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    const char *k;
    json_t *x;

    if (v)
        return json_is_null(v) ? NULL : v;
    json_object_foreach(obj, k, x)
        if (strcasecmp(k, key) == 0)
            return json_is_null(x) ? NULL : x;
    return NULL;
}

/* Each getter leaves *out as is when the field is absent (or null, which Go
 * also skips); present returns whether it was there. */
static int get_string(const struct where *w, json_t *obj, const char *key, char *out, size_t cap, bool *present)
{
    json_t *v = get(obj, key);
    *present = v != NULL;
    if (!v)
        return 0;
    if (!json_is_string(v))
        return fail(w, key, "expected a string");
    if (json_string_length(v) >= cap || strlen(json_string_value(v)) != json_string_length(v))
        return fail(w, key, json_string_length(v) >= cap ? "too long" : "has a NUL byte");
    strcpy(out, json_string_value(v));
    return 0;
}

static int get_int(const struct where *w, json_t *obj, const char *key, long long lo, long long hi,
                   long long *out, bool *present)
{
    json_t *v = get(obj, key);
    *present = v != NULL;
    if (!v)
        return 0;
    if (!json_is_integer(v))
        return fail(w, key, "expected an integer");
    long long x = json_integer_value(v);
    if (x < lo || x > hi)
        return fail(w, key, "out of range");
    *out = x;
    return 0;
}

static int get_bool(const struct where *w, json_t *obj, const char *key, bool *out)
{
    json_t *v = get(obj, key);
    if (!v)
        return 0;
    if (!json_is_boolean(v))
        return fail(w, key, "expected true or false");
    *out = json_is_true(v);
    return 0;
}

/* ---- nodes -------------------------------------------------------------- */

static int node_strings(const struct where *w, json_t *o, struct derp_map_node *n)
{
    bool has_name, has_host, p;
    if (get_string(w, o, "Name", n->name, sizeof n->name, &has_name) < 0 ||
        get_string(w, o, "HostName", n->host_name, sizeof n->host_name, &has_host) < 0 ||
        get_string(w, o, "CertName", n->cert_name, sizeof n->cert_name, &p) < 0 ||
        get_string(w, o, "IPv4", n->ipv4, sizeof n->ipv4, &p) < 0 ||
        get_string(w, o, "IPv6", n->ipv6, sizeof n->ipv6, &p) < 0 ||
        get_string(w, o, "STUNTestIP", n->stun_test_ip, sizeof n->stun_test_ip, &p) < 0)
        return -1;
    if (!has_name || !*n->name)
        return fail(w, "Name", "missing");
    if (!has_host || !*n->host_name)
        return fail(w, "HostName", "missing");
    return 0;
}

static int node_numbers(const struct where *w, json_t *o, struct derp_map_node *n, long long region_id)
{
    long long rid = region_id, stun = 0, derp = 0;
    bool p;
    if (get_int(w, o, "RegionID", 0, DERP_MAP_MAX_REGION_ID, &rid, &p) < 0 ||
        get_int(w, o, "STUNPort", -1, 65535, &stun, &p) < 0 || get_int(w, o, "DERPPort", 0, 65535, &derp, &p) < 0)
        return -1;
    /* A node names its region too; an absent (or Go-zero) one inherits it. */
    if (rid != 0 && rid != region_id)
        return fail(w, "RegionID", "differs from its region's");
    n->region_id = region_id;
    n->stun_port = stun == 0 ? DERP_MAP_STUN_DEFAULT_PORT : (int)stun;
    n->derp_port = (int)derp;
    return 0;
}

static int parse_node(struct where *w, json_t *o, struct derp_map_node *n, long long region_id)
{
    if (!json_is_object(o))
        return fail(w, "", "expected an object");
    if (node_strings(w, o, n) < 0 || node_numbers(w, o, n, region_id) < 0 ||
        get_bool(w, o, "STUNOnly", &n->stun_only) < 0 ||
        get_bool(w, o, "InsecureForTests", &n->insecure_for_tests) < 0 ||
        get_bool(w, o, "ForceHTTP", &n->force_http) < 0 || get_bool(w, o, "CanPort80", &n->can_port80) < 0)
        return -1;
    return 0;
}

/* ---- regions ------------------------------------------------------------ */

static int parse_nodes(struct where *w, json_t *o, struct derp_map_region *r)
{
    json_t *nodes = get(o, "Nodes");
    if (!nodes)
        return 0;   /* Go accepts a region without nodes; it just has nothing to dial */
    if (!json_is_array(nodes))
        return fail(w, "Nodes", "expected an array");
    size_t count = json_array_size(nodes);
    r->nodes = count ? calloc(count, sizeof *r->nodes) : NULL;
    if (count && !r->nodes)
        return fail(w, "Nodes", "out of memory");
    size_t base = strlen(w->at);
    for (size_t i = 0; i < count; i++) {
        snprintf(w->at + base, sizeof w->at - base, ".Nodes[%zu]", i);
        if (parse_node(w, json_array_get(nodes, i), &r->nodes[i], r->region_id) < 0)
            return -1;
        r->n_nodes++;
    }
    w->at[base] = '\0';
    return 0;
}

static int parse_region(struct where *w, const char *key, json_t *o, struct derp_map_region *r)
{
    long long id = 0;
    bool p, has_id;
    char *end;

    errno = 0;
    long long key_id = strtoll(key, &end, 10);
    snprintf(w->at, sizeof w->at, "Regions[\"%.60s\"]", key);
    if (!*key || *end || errno || key_id <= 0 || key_id > DERP_MAP_MAX_REGION_ID)
        return fail(w, "", "the key is not a region ID (a positive integer)");
    if (!json_is_object(o))
        return fail(w, "", "expected an object");
    if (get_int(w, o, "RegionID", 1, DERP_MAP_MAX_REGION_ID, &id, &has_id) < 0)
        return -1;
    if (!has_id)
        return fail(w, "RegionID", "missing");
    if (id != key_id)
        return fail(w, "RegionID", "differs from the region's key");
    r->region_id = id;
    if (get_string(w, o, "RegionCode", r->code, sizeof r->code, &p) < 0 ||
        get_string(w, o, "RegionName", r->name, sizeof r->name, &p) < 0 ||
        get_bool(w, o, "EmbeddedRelay", &r->embedded_relay) < 0 || get_bool(w, o, "Avoid", &r->avoid) < 0)
        return -1;
    return parse_nodes(w, o, r);
}

static int by_region_id(const void *a, const void *b)
{
    long long x = ((const struct derp_map_region *)a)->region_id, y = ((const struct derp_map_region *)b)->region_id;
    return (x > y) - (x < y);
}

static int parse_regions(struct where *w, json_t *root, struct derp_map *m)
{
    json_t *regions = get(root, "Regions"), *o;
    const char *key;

    if (!regions)
        return fail(w, "Regions", "missing");
    if (!json_is_object(regions))
        return fail(w, "Regions", "expected an object keyed by region ID");
    size_t count = json_object_size(regions);
    m->regions = calloc(count ? count : 1, sizeof *m->regions);
    if (!m->regions)
        return fail(w, "Regions", "out of memory");
    json_object_foreach(regions, key, o) {
        if (m->n_regions == count)
            break;   /* cannot happen; keeps the bound visible */
        int rc = parse_region(w, key, o, &m->regions[m->n_regions]);
        m->n_regions++;   /* counted even when half-built, so that free frees its nodes */
        if (rc < 0)
            return -1;
    }
    if (m->n_regions > 1)
        qsort(m->regions, m->n_regions, sizeof *m->regions, by_region_id);
    return 0;
}

int derp_map_parse(const char *json, size_t len, struct derp_map *m, char *err, size_t errlen)
{
    struct where w = {.at = "", .err = err, .errlen = errlen};
    json_error_t jerr;

    memset(m, 0, sizeof *m);
    json_t *root = json_loadb(json, len, 0, &jerr);
    if (!root) {
        snprintf(err, errlen, "not JSON: line %d column %d: %s", jerr.line, jerr.column, jerr.text);
        return -1;
    }
    int rc = -1;
    if (!json_is_object(root))
        fail(&w, "", "the DERP map must be a JSON object");
    else if (parse_regions(&w, root, m) == 0) {
        *w.at = '\0';
        rc = get_bool(&w, root, "omitDefaultRegions", &m->omit_default_regions);
    }
    json_decref(root);
    if (rc < 0)
        derp_map_free(m);
    return rc;
}

/* A DERP map with a few hundred regions is well under a megabyte. */
#define DERP_MAP_FILE_MAX (16u << 20)

int derp_map_load(const char *path, struct derp_map *m, char *err, size_t errlen)
{
    size_t len;
    int errnum;
    char inner[256], *text;

    memset(m, 0, sizeof *m);
    switch (vole_file_read(path, DERP_MAP_FILE_MAX, &text, &len, &errnum)) {
    case VOLE_FILE_OK: break;
    case VOLE_FILE_OPEN: snprintf(err, errlen, "%s: %s", path, strerror(errnum)); return -1;
    case VOLE_FILE_READ: snprintf(err, errlen, "%s: read error", path); return -1;
    case VOLE_FILE_TOO_LARGE: snprintf(err, errlen, "%s: too large", path); return -1;
    default: snprintf(err, errlen, "%s: out of memory", path); return -1;
    }
    int rc = derp_map_parse(text, len, m, inner, sizeof inner);
    vole_file_free(text, len);
    if (rc < 0)
        snprintf(err, errlen, "%s: %s", path, inner);
    return rc;
}

void derp_map_free(struct derp_map *m)
{
    for (size_t i = 0; i < m->n_regions; i++)
        free(m->regions[i].nodes);
    free(m->regions);
    memset(m, 0, sizeof *m);
}

const struct derp_map_region *derp_map_region(const struct derp_map *m, long long region_id)
{
    for (size_t i = 0; i < m->n_regions; i++)
        if (m->regions[i].region_id == region_id)
            return &m->regions[i];
    return NULL;
}

/* ---- dialing ------------------------------------------------------------ */

static bool is_ipv4(const char *s)
{
    struct in_addr a;
    return inet_pton(AF_INET, s, &a) == 1;
}

int derp_map_node_url(const struct derp_map_node *n, char *out, size_t cap)
{
    const char *scheme = n->force_http ? "http" : "https";
    int def = n->force_http ? 80 : 443;
    int port = n->derp_port ? n->derp_port : def;
    /* "none" and other non-addresses in IPv4 disable v4: then the name. */
    const char *host = is_ipv4(n->ipv4) ? n->ipv4 : n->host_name;
    bool v6 = strchr(host, ':') != NULL;
    int w = port == def ? snprintf(out, cap, "%s://%s%s%s/derp", scheme, v6 ? "[" : "", host, v6 ? "]" : "")
                        : snprintf(out, cap, "%s://%s%s%s:%d/derp", scheme, v6 ? "[" : "", host, v6 ? "]" : "", port);
    return w < 0 || (size_t)w >= cap ? -1 : 0;
}

const char *derp_map_node_tls_name(const struct derp_map_node *n)
{
    return *n->cert_name ? n->cert_name : n->host_name;
}

const struct derp_map_node *derp_map_next_derp_node(const struct derp_map_region *r, size_t *idx)
{
    while (*idx < r->n_nodes) {
        const struct derp_map_node *n = &r->nodes[(*idx)++];
        if (!n->stun_only)
            return n;
    }
    return NULL;
}

bool derp_map_has_stun(const struct derp_map *m)
{
    for (size_t r = 0; r < m->n_regions; r++)
        for (size_t n = 0; n < m->regions[r].n_nodes; n++)
            if (m->regions[r].nodes[n].stun_port >= 0)
                return true;
    return false;
}
