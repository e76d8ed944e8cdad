/* DERP maps in Tailscale's JSON form (tailscale-wire.md §2; tailcfg.DERPMap,
 * with Coder's ForceHTTP and EmbeddedRelay): reading, the URL a client dials
 * for a node, and a region's DERP nodes in priority order. */
#ifndef VOLE_DERP_DERPMAP_H
#define VOLE_DERP_DERPMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DERP_MAP_STUN_DEFAULT_PORT 3478
#define DERP_MAP_MAX_REGION_ID 9007199254740991LL   /* 2^53 - 1, as the reference says */

struct derp_map_node {
    char name[64];               /* "1a", "999b": unique, not a host name */
    long long region_id;
    char host_name[256];
    char cert_name[256];         /* "" : check the certificate against host_name */
    char ipv4[64];               /* "" : use DNS; "none" or any non-IP: no IPv4 */
    char ipv6[64];
    int stun_port;               /* JSON 0 (or absent) is 3478 here; -1: no STUN */
    bool stun_only;              /* a STUN server, not a DERP relay */
    int derp_port;               /* 0: the scheme's default (443, or 80 with force_http) */
    bool insecure_for_tests;
    bool force_http;             /* [CODER] plain http:// */
    bool can_port80;
    char stun_test_ip[64];
};

struct derp_map_region {
    long long region_id;
    char code[64];
    char name[128];
    bool embedded_relay;         /* [CODER] */
    bool avoid;
    struct derp_map_node *nodes; /* in the file's order, which is the priority order */
    size_t n_nodes;
};

struct derp_map {
    struct derp_map_region *regions;   /* sorted by region_id */
    size_t n_regions;
    bool omit_default_regions;
};

/* 0, or -1 with err naming the offending place, e.g.
 * `Regions["1"].Nodes[0].HostName: missing`. Unknown fields are ignored and
 * keys match case-insensitively, as Go's encoding/json does. On error m is
 * left empty (derp_map_free is still safe). */
/* Any node with STUN (STUNPort >= 0): Coder's DERPMap.HasSTUN. */
bool derp_map_has_stun(const struct derp_map *m);

int derp_map_parse(const char *json, size_t len, struct derp_map *m, char *err, size_t errlen);
int derp_map_load(const char *path, struct derp_map *m, char *err, size_t errlen);
void derp_map_free(struct derp_map *m);

const struct derp_map_region *derp_map_region(const struct derp_map *m, long long region_id);

/* The DERP URL of a node, as Coder's client builds it: IPv4 as the host when
 * it is an address, else HostName; http when ForceHTTP; the port appended
 * unless it is the scheme's default; path /derp. 0, or -1 if cap is short. */
int derp_map_node_url(const struct derp_map_node *n, char *out, size_t cap);
/* The name the TLS certificate must carry: CertName, else HostName (the URL's
 * host may be an address). */
const char *derp_map_node_tls_name(const struct derp_map_node *n);

/* A region's DERP nodes in order, skipping STUNOnly ones. Start with *idx = 0;
 * NULL at the end. */
const struct derp_map_node *derp_map_next_derp_node(const struct derp_map_region *r, size_t *idx);

/* ---- writing (derp/derpmap_write.c) ------------------------------------- */

/* The map as Coder's server sends it: compact JSON, keys in tailcfg's field
 * order, Regions keyed by the decimal ID in Go's (string) key order, fields
 * tagged omitempty left out when zero, strings escaped as Go's encoding/json
 * does (<, >, & as \u003c...). No trailing newline. A stun_port of 3478 is
 * written as such (the reader turns an absent one into 3478, so both mean
 * the same). malloc'd; NULL only when out of memory. */
char *derp_map_to_json(const struct derp_map *m);

/* One STUN listener of this server, as a STUN-only node. */
struct derp_map_stun_addr {
    const char *host;   /* NULL or "": the server's host_name */
    int port;           /* 1..65535 */
};

struct derp_map_server_params {
    long long region_id;        /* 0: 999, Coder's embedded relay ID */
    const char *region_code;    /* NULL or "": "vole" */
    const char *region_name;    /* NULL or "": host_name */
    const char *host_name;      /* required: the name clients reach the server by */
    int derp_port;              /* 0: the scheme's default */
    bool force_http;            /* plain http:// (no TLS) */
    bool insecure_for_tests;
    const struct derp_map_stun_addr *stun;   /* one STUN-only node each, in order */
    size_t n_stun;
    /* --block-direct-connections: every node of the result (extra ones too)
     * gets STUNPort -1 and STUN-only nodes are dropped, as Coder does. */
    bool block_direct;
    const struct derp_map *extra;   /* NULL, or more regions (--derp-map FILE); copied */
};

/* Builds *out: this server's region (EmbeddedRelay, node "<id>b" with
 * STUNPort -1, then "<id>stun<i>" STUN-only nodes) plus a copy of p->extra.
 * 0, or -1 with err saying why (bad parameter, a region ID of the extra map
 * equal to this server's); *out is empty then. Free with derp_map_free. */
int derp_map_for_server(struct derp_map *out, const struct derp_map_server_params *p, char *err, size_t errlen);

#endif
