/* The node JSON codec (node.h); field names are Coder's legacy JSON ones. */
#include "coord/node.h"

#include <arpa/inet.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord/jsonf.h"

#define MAX_ADDRESSES 2   /* one IPv6 and one IPv4, as the server assigns */

static json_t *key_json(const char *prefix, const uint8_t key[COORD_KEY_LEN])
{
    char s[16 + 2 * COORD_KEY_LEN + 1];
    size_t plen = (size_t)snprintf(s, sizeof s, "%s", prefix);
    sodium_bin2hex(s + plen, sizeof s - plen, key, COORD_KEY_LEN);
    return json_string(s);
}

/* Coder sends addresses as prefixes: a /128 and a /32. */
static json_t *addresses_json(const struct coord_node *n)
{
    json_t *a = json_array();
    char ip[INET6_ADDRSTRLEN], s[COORD_PREFIX_STR];
    if (n->has_v6) {
        inet_ntop(AF_INET6, n->v6, ip, sizeof ip);
        snprintf(s, sizeof s, "%s/128", ip);
        json_array_append_new(a, json_string(s));
    }
    if (n->has_v4) {
        inet_ntop(AF_INET, n->v4, ip, sizeof ip);
        snprintf(s, sizeof s, "%s/32", ip);
        json_array_append_new(a, json_string(s));
    }
    return a;
}

static json_t *endpoints_json(const struct coord_node *n)
{
    json_t *a = json_array();
    char s[COORD_ENDPOINT_STR];
    for (size_t i = 0; i < n->n_endpoints && i < COORD_MAX_ENDPOINTS; i++) {
        coord_endpoint_format(&n->endpoints[i], s);
        json_array_append_new(a, json_string(s));
    }
    return a;
}

json_t *coord_node_to_json(const struct coord_node *n)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "id", json_integer(n->id));
    json_object_set_new(o, "key", key_json("nodekey:", n->key));
    json_object_set_new(o, "disco", key_json("discokey:", n->disco));
    json_object_set_new(o, "preferred_derp", json_integer(n->preferred_derp));
    json_object_set_new(o, "addresses", addresses_json(n));
    /* allowed_ips: the same prefixes, as Coder sends them. */
    json_object_set_new(o, "allowed_ips", addresses_json(n));
    json_object_set_new(o, "endpoints", endpoints_json(n));
    json_object_set_new(o, "name", json_string(n->name));
    /* A failed allocation anywhere above leaves a field out. */
    if (json_object_size(o) != 8) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* One "addresses" entry: the /128 in fd7a:115c:a1e0::/48 or the /32 in
 * 100.64.0.0/10, each at most once. */
static int parse_address(const struct jf *c, const char *field, const char *s, struct coord_node *n)
{
    char ip[COORD_PREFIX_STR];
    const char *slash = strchr(s, '/');
    if (!slash || (size_t)(slash - s) >= sizeof ip)
        return jf_fail(c, field, "not an address/bits prefix");
    memcpy(ip, s, (size_t)(slash - s));
    ip[slash - s] = '\0';
    uint8_t b[16];
    if (strcmp(slash, "/128") == 0 && inet_pton(AF_INET6, ip, b) == 1) {
        if (!coord_v6_in_overlay(b) || n->has_v6)
            return jf_fail(c, field, n->has_v6 ? "a second IPv6 address" : "not in fd7a:115c:a1e0::/48");
        memcpy(n->v6, b, 16);
        n->has_v6 = true;
        return 0;
    }
    if (strcmp(slash, "/32") == 0 && inet_pton(AF_INET, ip, b) == 1) {
        if (!coord_v4_in_overlay(b) || n->has_v4)
            return jf_fail(c, field, n->has_v4 ? "a second IPv4 address" : "not in 100.64.0.0/10");
        memcpy(n->v4, b, 4);
        n->has_v4 = true;
        return 0;
    }
    return jf_fail(c, field, "not an IPv6 /128 or IPv4 /32 prefix");
}

static int parse_addresses(const struct jf *c, json_t *obj, struct coord_node *n)
{
    json_t *arr, *v;
    size_t i;
    if (jf_array(c, obj, "addresses", false, MAX_ADDRESSES, &arr) < 0)
        return -1;
    json_array_foreach(arr, i, v) {
        char field[48];
        snprintf(field, sizeof field, "addresses[%zu]", i);
        if (!json_is_string(v))
            return jf_fail(c, field, "not a string");
        if (parse_address(c, field, json_string_value(v), n) < 0)
            return -1;
    }
    return 0;
}

static int parse_endpoints(const struct jf *c, json_t *obj, struct coord_node *n)
{
    json_t *arr, *v;
    size_t i;
    if (jf_array(c, obj, "endpoints", false, COORD_MAX_ENDPOINTS, &arr) < 0)
        return -1;
    json_array_foreach(arr, i, v) {
        char field[48];
        snprintf(field, sizeof field, "endpoints[%zu]", i);
        if (!json_is_string(v))
            return jf_fail(c, field, "not a string");
        if (coord_endpoint_parse(json_string_value(v), &n->endpoints[i]) < 0)
            return jf_fail(c, field, "not ip:port or [ipv6]:port");
        n->n_endpoints = i + 1;
    }
    return 0;
}

int coord_node_from_json(json_t *obj, const char *where, struct coord_node *n, char *err, size_t errlen)
{
    struct jf c = {where, err, errlen};
    long long id = 0, derp = 0;
    memset(n, 0, sizeof *n);
    if (!json_is_object(obj))
        return jf_fail(&c, "", "not an object");
    /* "allowed_ips" is read as Coder's duplicate of "addresses": ignored. */
    if (jf_int(&c, obj, "id", false, 0, INT64_MAX, &id) < 0 ||
        jf_key(&c, obj, "key", "nodekey:", n->key) < 0 ||
        jf_key(&c, obj, "disco", "discokey:", n->disco) < 0 ||
        jf_int(&c, obj, "preferred_derp", false, 0, INT32_MAX, &derp) < 0 ||
        parse_addresses(&c, obj, n) < 0 || parse_endpoints(&c, obj, n) < 0 ||
        jf_string(&c, obj, "name", false, n->name, sizeof n->name) < 0) {
        memset(n, 0, sizeof *n);
        return -1;
    }
    n->id = id;
    n->preferred_derp = (int32_t)derp;
    return 0;
}

char *coord_node_encode(const struct coord_node *n)
{
    json_t *o = coord_node_to_json(n);
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    return s;
}

int coord_node_decode(const char *json, size_t len, struct coord_node *n, char *err, size_t errlen)
{
    json_error_t je;
    memset(n, 0, sizeof *n);
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        snprintf(err, errlen, "not JSON: %s (line %d, column %d)", je.text, je.line, je.column);
        return -1;
    }
    int rc = coord_node_from_json(root, "node", n, err, errlen);
    json_decref(root);
    return rc;
}
