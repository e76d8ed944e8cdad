/* Writing DERP maps (tailscale-wire.md §2) and building the one this server
 * publishes. Sans-IO: strings in, strings out; the caller serves them.
 *
 * The JSON is what Go's encoding/json makes of Coder's tailcfg structs, so
 * that a Go client and a byte-comparing test see the same document:
 *   - fields in struct declaration order;
 *   - map keys (Regions) sorted as strings, the way encoding/json sorts them:
 *     "1000" before "999";
 *   - fields tagged `omitempty` left out when zero/false/"", the others always
 *     written (listed at each writer below);
 *   - strings escaped as encoding/json does by default (HTML-safe). */
#include "derp/derpmap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- an append-only buffer ---------------------------------------------- */

/* Out-of-memory is sticky: appends after a failure do nothing, and the one
 * check at the end reports it, which keeps every writer below linear. */
struct buf {
    char *p;
    size_t len, cap;
    bool oom;
};

static void put_n(struct buf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (b->len + n + 1 > cap)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void put(struct buf *b, const char *s)
{
    put_n(b, s, strlen(s));
}

static void put_ll(struct buf *b, long long v)
{
    char num[24];
    int n = snprintf(num, sizeof num, "%lld", v);
    put_n(b, num, (size_t)n);
}

/* ---- strings, escaped as Go's encoding/json ------------------------------ */

/* One UTF-8 sequence at s (n bytes left): its code point and length, or -1
 * (length 1) where Go's utf8.DecodeRuneInString would see RuneError: bad
 * lead or continuation bytes, overlong forms, surrogates, > U+10FFFF. */
static long decode_utf8(const unsigned char *s, size_t n, size_t *used)
{
    static const long min_for_len[5] = {0, 0, 0x80, 0x800, 0x10000};
    size_t len = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc0 ? 2 : 1;
    long cp = len == 4 ? s[0] & 0x07 : len == 3 ? s[0] & 0x0f : s[0] & 0x1f;

    *used = 1;
    if (s[0] >= 0xf8 || (s[0] & 0xc0) == 0x80 || len > n)
        return -1;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return -1;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min_for_len[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return -1;
    *used = len;
    return cp;
}

/* Go writes \" \\ \n \r \t \b \f by name (\b and \f since Go 1.22), other
 * control bytes and the HTML-sensitive < > & as \u00XX, U+2028/U+2029 as
 * \u2028/\u2029 (they end lines in JavaScript), invalid UTF-8 as \ufffd. */
static const char *escape_byte(unsigned char c)
{
    switch (c) {
    case '"': return "\\\"";
    case '\\': return "\\\\";
    case '\n': return "\\n";
    case '\r': return "\\r";
    case '\t': return "\\t";
    case '\b': return "\\b";
    case '\f': return "\\f";
    default: return NULL;
    }
}

static void put_string(struct buf *b, const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t n = strlen(str), i = 0;

    put(b, "\"");
    while (i < n) {
        unsigned char c = s[i];
        const char *named = escape_byte(c);
        char u[8];
        if (named) {
            put(b, named);
            i++;
        } else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
            snprintf(u, sizeof u, "\\u%04x", c);
            put(b, u);
            i++;
        } else if (c < 0x80) {
            put_n(b, (const char *)&s[i], 1);
            i++;
        } else {
            size_t used;
            long cp = decode_utf8(&s[i], n - i, &used);
            if (cp < 0)
                put(b, "\\ufffd");
            else if (cp == 0x2028 || cp == 0x2029)
                put(b, cp == 0x2028 ? "\\u2028" : "\\u2029");
            else
                put_n(b, (const char *)&s[i], used);
            i += used;
        }
    }
    put(b, "\"");
}

/* ---- fields -------------------------------------------------------------- */

/* Every field after the first of an object is preceded by a comma; *first
 * tracks that, so omitted fields need no bookkeeping of their own. */
static void key(struct buf *b, bool *first, const char *name)
{
    put(b, *first ? "\"" : ",\"");
    *first = false;
    put(b, name);
    put(b, "\":");
}

static void field_str(struct buf *b, bool *first, const char *name, const char *v, bool omitempty)
{
    if (omitempty && !*v)
        return;
    key(b, first, name);
    put_string(b, v);
}

static void field_int(struct buf *b, bool *first, const char *name, long long v, bool omitempty)
{
    if (omitempty && v == 0)
        return;
    key(b, first, name);
    put_ll(b, v);
}

static void field_bool(struct buf *b, bool *first, const char *name, bool v, bool omitempty)
{
    if (omitempty && !v)
        return;
    key(b, first, name);
    put(b, v ? "true" : "false");
}

/* ---- the structs ----------------------------------------------------------- */

/* tailcfg.DERPNode: Name, RegionID and HostName have no omitempty; every
 * other field has. Go's field order, ForceHTTP being Coder's addition. */
static void put_node(struct buf *b, const struct derp_map_node *n)
{
    bool first = true;
    put(b, "{");
    field_str(b, &first, "Name", n->name, false);
    field_int(b, &first, "RegionID", n->region_id, false);
    field_str(b, &first, "HostName", n->host_name, false);
    field_str(b, &first, "CertName", n->cert_name, true);
    field_str(b, &first, "IPv4", n->ipv4, true);
    field_str(b, &first, "IPv6", n->ipv6, true);
    field_int(b, &first, "STUNPort", n->stun_port, true);
    field_bool(b, &first, "STUNOnly", n->stun_only, true);
    field_int(b, &first, "DERPPort", n->derp_port, true);
    field_bool(b, &first, "InsecureForTests", n->insecure_for_tests, true);
    field_bool(b, &first, "ForceHTTP", n->force_http, true);
    field_str(b, &first, "STUNTestIP", n->stun_test_ip, true);
    field_bool(b, &first, "CanPort80", n->can_port80, true);
    put(b, "}");
}

/* Coder's tailcfg.DERPRegion: EmbeddedRelay, RegionID, RegionCode,
 * RegionName and Nodes have no omitempty; Avoid has. Upstream's Latitude,
 * Longitude and NoMeasureNoHome are not in the struct, so always zero, so
 * never written. A region without nodes is a nil slice in Go: null. */
static void put_region(struct buf *b, const struct derp_map_region *r)
{
    bool first = true;
    put(b, "{");
    field_bool(b, &first, "EmbeddedRelay", r->embedded_relay, false);
    field_int(b, &first, "RegionID", r->region_id, false);
    field_str(b, &first, "RegionCode", r->code, false);
    field_str(b, &first, "RegionName", r->name, false);
    field_bool(b, &first, "Avoid", r->avoid, true);
    key(b, &first, "Nodes");
    if (!r->n_nodes) {
        put(b, "null");
    } else {
        put(b, "[");
        for (size_t i = 0; i < r->n_nodes; i++) {
            put(b, i ? "," : "");
            put_node(b, &r->nodes[i]);
        }
        put(b, "]");
    }
    put(b, "}");
}

/* A region with its map key, for sorting the keys as strings. */
struct keyed_region {
    char key[24];
    const struct derp_map_region *r;
};

static int by_key(const void *a, const void *b)
{
    return strcmp(((const struct keyed_region *)a)->key, ((const struct keyed_region *)b)->key);
}

static void put_regions(struct buf *b, const struct derp_map *m, struct keyed_region *keyed)
{
    for (size_t i = 0; i < m->n_regions; i++) {
        snprintf(keyed[i].key, sizeof keyed[i].key, "%lld", m->regions[i].region_id);
        keyed[i].r = &m->regions[i];
    }
    if (m->n_regions > 1)
        qsort(keyed, m->n_regions, sizeof *keyed, by_key);
    put(b, "{");
    for (size_t i = 0; i < m->n_regions; i++) {
        put(b, i ? ",\"" : "\"");
        put(b, keyed[i].key);
        put(b, "\":");
        put_region(b, keyed[i].r);
    }
    put(b, "}");
}

/* tailcfg.DERPMap: HomeParams (omitempty pointer; not kept by the reader, so
 * nil, so absent), Regions (no omitempty), omitDefaultRegions (omitempty,
 * and lower-case in its tag). */
char *derp_map_to_json(const struct derp_map *m)
{
    struct buf b = {0};
    struct keyed_region *keyed = calloc(m->n_regions ? m->n_regions : 1, sizeof *keyed);
    bool first = true;

    if (!keyed)
        return NULL;
    put(&b, "{");
    key(&b, &first, "Regions");
    put_regions(&b, m, keyed);
    field_bool(&b, &first, "omitDefaultRegions", m->omit_default_regions, true);
    put(&b, "}");
    free(keyed);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

/* ---- this server's map ------------------------------------------------------ */

#define SERVER_DEFAULT_REGION_ID 999   /* Coder's embedded relay region */
#define SERVER_DEFAULT_REGION_CODE "vole"

static const char *or_default(const char *s, const char *def)
{
    return s && *s ? s : def;
}

/* Copies s into a fixed field; false if it does not fit, so that a long
 * name is an error rather than a silently different map. */
static bool copy_field(char *dst, size_t cap, const char *s)
{
    size_t n = strlen(s);
    if (n >= cap)
        return false;
    memcpy(dst, s, n + 1);
    return true;
}

static int check_params(const struct derp_map_server_params *p, long long id, char *err, size_t errlen)
{
    if (id < 1 || id > DERP_MAP_MAX_REGION_ID) {
        snprintf(err, errlen, "region ID %lld: must be 1 to 2^53-1", id);
        return -1;
    }
    if (!p->host_name || !*p->host_name) {
        snprintf(err, errlen, "DERP map: the server's host name is missing");
        return -1;
    }
    if (p->derp_port < 0 || p->derp_port > 65535) {
        snprintf(err, errlen, "DERP port %d: must be 0 (the default) to 65535", p->derp_port);
        return -1;
    }
    for (size_t i = 0; i < p->n_stun; i++)
        if (p->stun[i].port < 1 || p->stun[i].port > 65535) {
            snprintf(err, errlen, "STUN port %d: must be 1 to 65535", p->stun[i].port);
            return -1;
        }
    return 0;
}

/* The relay node: Coder's embedded relay shape, "<id>b" with STUN off on it
 * (STUN is served by the STUN-only nodes, one per listener). */
static bool relay_node(struct derp_map_node *n, const struct derp_map_server_params *p, long long id)
{
    snprintf(n->name, sizeof n->name, "%lldb", id);
    n->region_id = id;
    n->stun_port = -1;
    n->derp_port = p->derp_port;
    n->force_http = p->force_http;
    n->insecure_for_tests = p->insecure_for_tests;
    return copy_field(n->host_name, sizeof n->host_name, p->host_name);
}

static bool stun_node(struct derp_map_node *n, const struct derp_map_server_params *p, long long id, size_t i)
{
    snprintf(n->name, sizeof n->name, "%lldstun%zu", id, i);
    n->region_id = id;
    n->stun_only = true;
    n->stun_port = p->stun[i].port;
    n->insecure_for_tests = p->insecure_for_tests;
    return copy_field(n->host_name, sizeof n->host_name, or_default(p->stun[i].host, p->host_name));
}

static int own_region(struct derp_map_region *r, const struct derp_map_server_params *p, long long id,
                      char *err, size_t errlen)
{
    r->region_id = id;
    r->embedded_relay = true;   /* clients reach it at the URL they used */
    r->nodes = calloc(1 + p->n_stun, sizeof *r->nodes);
    if (!r->nodes) {
        snprintf(err, errlen, "DERP map: out of memory");
        return -1;
    }
    bool ok = copy_field(r->code, sizeof r->code, or_default(p->region_code, SERVER_DEFAULT_REGION_CODE)) &&
              copy_field(r->name, sizeof r->name, or_default(p->region_name, p->host_name)) &&
              relay_node(&r->nodes[0], p, id);
    r->n_nodes = 1;
    for (size_t i = 0; ok && i < p->n_stun; i++, r->n_nodes++)
        ok = stun_node(&r->nodes[1 + i], p, id, i);
    if (!ok)
        snprintf(err, errlen, "DERP map: a region code, region name or host name is too long");
    return ok ? 0 : -1;
}

static int copy_region(struct derp_map_region *dst, const struct derp_map_region *src, char *err, size_t errlen)
{
    *dst = *src;
    dst->nodes = NULL;
    dst->n_nodes = 0;
    if (!src->n_nodes)
        return 0;
    dst->nodes = malloc(src->n_nodes * sizeof *dst->nodes);
    if (!dst->nodes) {
        snprintf(err, errlen, "DERP map: out of memory");
        return -1;
    }
    memcpy(dst->nodes, src->nodes, src->n_nodes * sizeof *dst->nodes);
    dst->n_nodes = src->n_nodes;
    return 0;
}

/* Copies the extra map's regions after this server's (out->regions[0]). */
static int merge_extra(struct derp_map *out, const struct derp_map *extra, char *err, size_t errlen)
{
    long long own = out->regions[0].region_id;
    for (size_t i = 0; i < extra->n_regions; i++) {
        const struct derp_map_region *r = &extra->regions[i];
        if (r->region_id == own) {
            snprintf(err, errlen,
                     "--derp-map: region %lld is this server's own region; give the server another --region-id",
                     own);
            return -1;
        }
        if (copy_region(&out->regions[out->n_regions], r, err, errlen) < 0)
            return -1;
        out->n_regions++;
    }
    out->omit_default_regions = extra->omit_default_regions;
    return 0;
}

/* Coder's block-direct: no node may be a STUN target, so no client learns a
 * reflexive address. Drops STUN-only nodes in place, keeping the order. */
static void block_direct(struct derp_map *m)
{
    for (size_t i = 0; i < m->n_regions; i++) {
        struct derp_map_region *r = &m->regions[i];
        size_t kept = 0;
        for (size_t j = 0; j < r->n_nodes; j++) {
            if (r->nodes[j].stun_only)
                continue;
            r->nodes[kept] = r->nodes[j];
            r->nodes[kept].stun_port = -1;
            kept++;
        }
        r->n_nodes = kept;
    }
}

static int by_region_id(const void *a, const void *b)
{
    long long x = ((const struct derp_map_region *)a)->region_id, y = ((const struct derp_map_region *)b)->region_id;
    return (x > y) - (x < y);
}

int derp_map_for_server(struct derp_map *out, const struct derp_map_server_params *p, char *err, size_t errlen)
{
    long long id = p->region_id ? p->region_id : SERVER_DEFAULT_REGION_ID;
    size_t n_extra = p->extra ? p->extra->n_regions : 0;

    memset(out, 0, sizeof *out);
    if (check_params(p, id, err, errlen) < 0)
        return -1;
    out->regions = calloc(1 + n_extra, sizeof *out->regions);
    if (!out->regions) {
        snprintf(err, errlen, "DERP map: out of memory");
        return -1;
    }
    int rc = own_region(&out->regions[0], p, id, err, errlen);
    out->n_regions = 1;   /* counted even when half-built, so that free frees its nodes */
    if (rc == 0 && p->extra)
        rc = merge_extra(out, p->extra, err, errlen);
    if (rc < 0) {
        derp_map_free(out);
        return -1;
    }
    /* The reader's invariant: regions sorted by ID. */
    qsort(out->regions, out->n_regions, sizeof *out->regions, by_region_id);
    if (p->block_direct)
        block_direct(out);
    return 0;
}
