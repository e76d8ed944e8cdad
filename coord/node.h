/* A node's info as the coordinator exchanges it, in Coder's legacy JSON
 * names (coder-behaviour.md §4, proto coder.tailnet.v2.Node), and its codec.
 *
 *   {"id": 7, "key": "nodekey:<64 hex>", "disco": "discokey:<64 hex>",
 *    "preferred_derp": 999, "addresses": ["fd7a:115c:a1e0:...:x/128", "100.64.1.2/32"],
 *    "allowed_ips": [same as addresses], "endpoints": ["192.0.2.1:41641", "[2001:db8::1]:41641"],
 *    "name": "dev"}
 *
 * Coder fields not carried (derp_latency, derp_forced_websockets, as_of) are
 * ignored on input like any unknown field. "name" is vole's own: Coder names
 * peers by UUID, vole's agents by name. */
#ifndef VOLE_COORD_NODE_H
#define VOLE_COORD_NODE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define COORD_KEY_LEN        32
#define COORD_MAX_ENDPOINTS  32
#define COORD_NODE_NAME_MAX  63
#define COORD_ENDPOINT_STR   56   /* "[" INET6_ADDRSTRLEN "]:65535" fits */
#define COORD_PREFIX_STR     52   /* INET6_ADDRSTRLEN + "/128" fits */

struct coord_endpoint {
    uint8_t family;      /* 4 or 6 */
    uint8_t ip[16];      /* IPv4 in the first 4 bytes */
    uint16_t port;       /* 1..65535 */
};

struct coord_node {
    int64_t id;                          /* [id] server-assigned, >= 0; 0: none yet */
    uint8_t key[COORD_KEY_LEN];          /* [key] "nodekey:<hex>": WireGuard public key */
    uint8_t disco[COORD_KEY_LEN];        /* [disco] "discokey:<hex>" */
    int32_t preferred_derp;              /* [preferred_derp] home region; 0: none yet */
    bool has_v6, has_v4;                 /* [addresses], [allowed_ips] */
    uint8_t v6[16];                      /* in fd7a:115c:a1e0::/48, as a /128 */
    uint8_t v4[4];                       /* in 100.64.0.0/10, as a /32 */
    struct coord_endpoint endpoints[COORD_MAX_ENDPOINTS];   /* [endpoints] */
    size_t n_endpoints;
    char name[COORD_NODE_NAME_MAX + 1];  /* vole: agent name, "" for clients */
};

/* Overlay ranges (as Coder: tailnet's fd7a:115c:a1e0::/48; Tailscale's CGNAT v4). */
bool coord_v6_in_overlay(const uint8_t v6[16]);
bool coord_v4_in_overlay(const uint8_t v4[4]);

/* "ip:port" or "[v6]:port"; 0 or -1. */
int coord_endpoint_parse(const char *s, struct coord_endpoint *ep);
void coord_endpoint_format(const struct coord_endpoint *ep, char out[COORD_ENDPOINT_STR]);

/* The node as a JSON object (new reference, NULL on allocation failure),
 * fields in the order of the example above. */
json_t *coord_node_to_json(const struct coord_node *n);
/* 0, or -1 with err naming the field, e.g. `node.endpoints[3]: not ip:port`.
 * where prefixes the field names. "key" and "disco" are required; the rest
 * default to zero/empty. */
int coord_node_from_json(json_t *obj, const char *where, struct coord_node *n, char *err, size_t errlen);

/* Convenience for one node as a whole document: a malloc'd compact string. */
char *coord_node_encode(const struct coord_node *n);
int coord_node_decode(const char *json, size_t len, struct coord_node *n, char *err, size_t errlen);

#endif
