/* wg-quick style config parser. Each line is copied into one bounded buffer
 * and parsed in place; every value goes straight into struct vole_conf, and
 * checks that need the whole file (PublicKey present, duplicate peers,
 * PrivateKey) run once at the end. */
#include "conf/wgconf.h"
#include "conf/file.h"
#include "conf/key.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sodium.h>

#define IPV6_MIN_MTU 1280
#define SHOWN_MAX    40   /* user text quoted in messages is cut to this */

enum section { SEC_NONE, SEC_INTERFACE, SEC_PEER };

enum key_id {
    K_PRIVATE_KEY, K_ADDRESS, K_LISTEN_PORT, K_MTU,
    K_DNS, K_TABLE, K_PRE_UP, K_POST_UP, K_PRE_DOWN, K_POST_DOWN, K_SAVE_CONFIG, K_FWMARK,
    K_PUBLIC_KEY, K_PRESHARED_KEY, K_ENDPOINT, K_ALLOWED_IPS, K_KEEPALIVE,
    N_KEYS
};

struct parser {
    struct vole_conf *c;
    const char *name;
    char *err;
    size_t errlen;
    unsigned line;
    enum section section;
    unsigned interface_line;   /* 0 until [Interface] is seen */
    unsigned mtu_line;
    unsigned seen[N_KEYS];     /* line each key of the current section was last set on */
    /* Allocated lengths of the arrays in *c, which only stores the used ones. */
    size_t addresses_cap, peers_cap, allowed_ips_cap, warnings_cap;
};

typedef int (*value_fn)(struct parser *p, char *value);

struct key_def {
    const char *name;
    value_fn parse;   /* NULL: a wg-quick key vole does not use (warning only) */
    enum section section;
    bool is_list;     /* repeats append rather than replace */
};

/* ---- messages ---- */

static void vformat_err(char *err, size_t errlen, const char *name, unsigned line,
                        const char *fmt, va_list ap)
{
    if (err == NULL || errlen == 0)
        return;
    int n = snprintf(err, errlen, "%s:%u: ", name, line);
    if (n >= 0 && (size_t)n < errlen)
        vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
}

static void format_err(char *err, size_t errlen, const char *name, unsigned line,
                       const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vformat_err(err, errlen, name, line, fmt, ap);
    va_end(ap);
}

/* Always returns -1 so callers can `return fail_at(...)`. */
static int fail_at(struct parser *p, unsigned line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vformat_err(p->err, p->errlen, p->name, line, fmt, ap);
    va_end(ap);
    return -1;
}

#define fail(p, ...) fail_at((p), (p)->line, __VA_ARGS__)

/* Copies user text for quoting in a message: cut short, and without control
 * or non-ASCII bytes that could garble a terminal. */
static const char *shown(char out[SHOWN_MAX + 4], const char *s)
{
    size_t i = 0;
    for (; s[i] != '\0' && i < SHOWN_MAX; i++)
        out[i] = isprint((unsigned char)s[i]) ? s[i] : '?';
    strcpy(out + i, s[i] != '\0' ? "..." : "");
    return out;
}

/* Makes room for element n of an array with *cap allocated. The old block is
 * wiped before it is freed because peers hold preshared keys. Returns the
 * (possibly new) array, or NULL with the old one untouched. */
static void *reserve(void *arr, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return arr;
    size_t new_cap = *cap != 0 ? *cap * 2 : 4;
    if (new_cap > SIZE_MAX / size)
        return NULL;
    void *fresh = calloc(new_cap, size);
    if (fresh == NULL)
        return NULL;
    if (arr != NULL) {
        memcpy(fresh, arr, n * size);
        sodium_memzero(arr, n * size);
        free(arr);
    }
    *cap = new_cap;
    return fresh;
}

static int warn_at(struct parser *p, unsigned line, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vformat_err(msg, sizeof(msg), p->name, line, fmt, ap);
    va_end(ap);

    struct vole_conf *c = p->c;
    char **w = reserve(c->warnings, &p->warnings_cap, c->n_warnings, sizeof(*w));
    char *copy = strdup(msg);
    if (w != NULL)
        c->warnings = w;
    if (w == NULL || copy == NULL) {
        free(copy);
        return fail(p, "out of memory");
    }
    c->warnings[c->n_warnings++] = copy;
    return 0;
}

/* ---- small value parsers ---- */

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

/* Decimal digits only (no sign, no spaces), within [min, max]. 0 or -1. */
static int parse_u16(const char *s, unsigned min, unsigned max, uint16_t *out)
{
    unsigned long v = 0;
    if (*s == '\0')
        return -1;
    for (; *s != '\0'; s++) {
        if (!isdigit((unsigned char)*s))
            return -1;
        v = v * 10 + (unsigned long)(*s - '0');
        if (v > max)   /* also stops overflow on long digit strings */
            return -1;
    }
    if (v < min)
        return -1;
    *out = (uint16_t)v;
    return 0;
}

int vole_cidr_parse(struct vole_cidr *out, const char *s)
{
    char addr[INET6_ADDRSTRLEN];
    const char *slash = strchr(s, '/');
    size_t addr_len = slash != NULL ? (size_t)(slash - s) : strlen(s);

    memset(out, 0, sizeof(*out));
    if (addr_len == 0 || addr_len >= sizeof(addr))
        return -1;
    memcpy(addr, s, addr_len);
    addr[addr_len] = '\0';

    /* inet_pton is strict: IPv4 needs all four decimal parts, no spaces. */
    int is_v6 = strchr(addr, ':') != NULL;
    if (inet_pton(is_v6 ? AF_INET6 : AF_INET, addr, out->addr) != 1)
        goto bad;
    out->family = is_v6 ? 6 : 4;
    unsigned max = is_v6 ? 128 : 32;
    uint16_t prefix = (uint16_t)max;
    if (slash != NULL && parse_u16(slash + 1, 0, max, &prefix) != 0)
        goto bad;
    out->cidr = (uint8_t)prefix;
    return 0;
bad:
    memset(out, 0, sizeof(*out));
    return -1;
}

/* Comma-separated CIDRs appended to *arr. An empty value adds nothing: wg
 * accepts "AllowedIPs =" for a peer that routes nothing. */
static int parse_cidr_list(struct parser *p, char *value, const char *key,
                           struct vole_cidr **arr, size_t *n, size_t *cap)
{
    if (*value == '\0')
        return 0;
    for (char *item = value, *next; item != NULL; item = next) {
        next = strchr(item, ',');
        if (next != NULL)
            *next++ = '\0';
        char *text = trim(item), buf[SHOWN_MAX + 4];
        struct vole_cidr cidr;
        if (vole_cidr_parse(&cidr, text) != 0)
            return fail(p, "%s: '%s' is not an address or CIDR such as 10.0.0.0/24 "
                        "or fd00::/64", key, shown(buf, text));
        struct vole_cidr *grown = reserve(*arr, cap, *n, sizeof(**arr));
        if (grown == NULL)
            return fail(p, "out of memory");
        *arr = grown;
        (*arr)[(*n)++] = cidr;
    }
    return 0;
}

/* A literal inside [brackets]: IPv6, optionally with a %zone (fe80::1%eth0). */
static int is_ipv6_literal(const char *host, size_t len)
{
    char addr[INET6_ADDRSTRLEN];
    uint8_t bin[16];
    const char *zone = memchr(host, '%', len);
    size_t addr_len = zone != NULL ? (size_t)(zone - host) : len;
    if (addr_len == 0 || addr_len >= sizeof(addr) || (zone != NULL && zone + 1 == host + len))
        return 0;
    for (const char *z = zone != NULL ? zone + 1 : host + len; z < host + len; z++)
        if (!isalnum((unsigned char)*z) && *z != '.' && *z != '-' && *z != '_')
            return 0;
    memcpy(addr, host, addr_len);
    addr[addr_len] = '\0';
    return inet_pton(AF_INET6, addr, bin) == 1;
}

/* DNS name or IPv4 literal. Resolution happens later, so only the characters
 * are checked here. */
static int is_host_name(const char *host, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)host[i]) && host[i] != '.' && host[i] != '-' && host[i] != '_')
            return 0;
    return len > 0;
}

/* "host:port" or "[v6]:port" into peer; NULL, or what is wrong. */
static const char *parse_endpoint(struct vole_conf_peer *peer, const char *v)
{
    const char *host, *port;
    size_t len;
    if (v[0] == '[') {
        const char *close = strchr(v, ']');
        if (close == NULL || close[1] != ':')
            return "Endpoint must be host:port or [IPv6]:port";
        host = v + 1;
        len = (size_t)(close - host);
        port = close + 2;
        if (!is_ipv6_literal(host, len))
            return "Endpoint in [brackets] must be an IPv6 address";
    } else {
        const char *colon = strrchr(v, ':');
        if (colon == NULL)
            return "Endpoint must be host:port or [IPv6]:port";
        host = v;
        len = (size_t)(colon - v);
        port = colon + 1;
        /* "fd00::1:51820" is ambiguous; wg-quick users write [fd00::1]:51820. */
        if (memchr(host, ':', len) != NULL)
            return "an IPv6 Endpoint needs brackets: [address]:port";
        if (!is_host_name(host, len))
            return "Endpoint host must be a DNS name or an IPv4 address";
    }
    if (len >= sizeof(peer->endpoint_host))
        return "Endpoint host is longer than 255 characters";
    if (parse_u16(port, 1, 65535, &peer->endpoint_port) != 0)
        return "Endpoint port must be a number from 1 to 65535";
    memcpy(peer->endpoint_host, host, len);
    peer->endpoint_host[len] = '\0';
    peer->has_endpoint = true;
    return NULL;
}

/* ---- key handlers: value is trimmed and may be modified ---- */

static struct vole_conf_peer *current_peer(struct parser *p)
{
    return &p->c->peers[p->c->n_peers - 1];
}

static int parse_key_value(struct parser *p, uint8_t out[32], const char *value,
                           const char *key)
{
    /* The value is a secret (or looks like one): never quote it. */
    if (vole_key_from_base64(out, value) != 0)
        return fail(p, "%s is not a valid key: expected 44 base64 characters "
                    "as printed by wg genkey/wg pubkey", key);
    return 0;
}

static int on_private_key(struct parser *p, char *value)
{
    p->c->has_private_key = true;
    return parse_key_value(p, p->c->private_key, value, "PrivateKey");
}

static int on_address(struct parser *p, char *value)
{
    struct vole_conf *c = p->c;
    return parse_cidr_list(p, value, "Address", &c->addresses, &c->n_addresses,
                           &p->addresses_cap);
}

static int on_listen_port(struct parser *p, char *value)
{
    if (parse_u16(value, 0, 65535, &p->c->listen_port) != 0)
        return fail(p, "ListenPort must be a number from 0 to 65535");
    p->c->has_listen_port = true;
    return 0;
}

static int on_mtu(struct parser *p, char *value)
{
    if (parse_u16(value, 576, 65535, &p->c->mtu) != 0)
        return fail(p, "MTU must be a number from 576 to 65535");
    p->mtu_line = p->line;
    return 0;
}

static int on_public_key(struct parser *p, char *value)
{
    return parse_key_value(p, current_peer(p)->public_key, value, "PublicKey");
}

static int on_preshared_key(struct parser *p, char *value)
{
    current_peer(p)->has_psk = true;
    return parse_key_value(p, current_peer(p)->psk, value, "PresharedKey");
}

static int on_endpoint(struct parser *p, char *value)
{
    const char *why = parse_endpoint(current_peer(p), value);
    return why != NULL ? fail(p, "%s", why) : 0;
}

static int on_allowed_ips(struct parser *p, char *value)
{
    struct vole_conf_peer *peer = current_peer(p);
    return parse_cidr_list(p, value, "AllowedIPs", &peer->allowed_ips,
                           &peer->n_allowed_ips, &p->allowed_ips_cap);
}

static int on_keepalive(struct parser *p, char *value)
{
    uint16_t *secs = &current_peer(p)->persistent_keepalive;
    if (strcasecmp(value, "off") == 0) {
        *secs = 0;
        return 0;
    }
    if (parse_u16(value, 0, 65535, secs) != 0)
        return fail(p, "PersistentKeepalive must be 'off' or seconds from 0 to 65535");
    return 0;
}

static const struct key_def keys[N_KEYS] = {
    [K_PRIVATE_KEY]   = { "PrivateKey", on_private_key, SEC_INTERFACE, false },
    [K_ADDRESS]       = { "Address", on_address, SEC_INTERFACE, true },
    [K_LISTEN_PORT]   = { "ListenPort", on_listen_port, SEC_INTERFACE, false },
    [K_MTU]           = { "MTU", on_mtu, SEC_INTERFACE, false },
    [K_DNS]           = { "DNS", NULL, SEC_INTERFACE, true },
    [K_TABLE]         = { "Table", NULL, SEC_INTERFACE, true },
    [K_PRE_UP]        = { "PreUp", NULL, SEC_INTERFACE, true },
    [K_POST_UP]       = { "PostUp", NULL, SEC_INTERFACE, true },
    [K_PRE_DOWN]      = { "PreDown", NULL, SEC_INTERFACE, true },
    [K_POST_DOWN]     = { "PostDown", NULL, SEC_INTERFACE, true },
    [K_SAVE_CONFIG]   = { "SaveConfig", NULL, SEC_INTERFACE, true },
    [K_FWMARK]        = { "FwMark", NULL, SEC_INTERFACE, true },
    [K_PUBLIC_KEY]    = { "PublicKey", on_public_key, SEC_PEER, false },
    [K_PRESHARED_KEY] = { "PresharedKey", on_preshared_key, SEC_PEER, false },
    [K_ENDPOINT]      = { "Endpoint", on_endpoint, SEC_PEER, false },
    [K_ALLOWED_IPS]   = { "AllowedIPs", on_allowed_ips, SEC_PEER, true },
    [K_KEEPALIVE]     = { "PersistentKeepalive", on_keepalive, SEC_PEER, false },
};

static const char *section_name(enum section s)
{
    return s == SEC_INTERFACE ? "[Interface]" : "[Peer]";
}

/* ---- lines ---- */

static int find_key(const char *name)
{
    for (int i = 0; i < N_KEYS; i++)
        if (strcasecmp(name, keys[i].name) == 0)
            return i;
    return -1;
}

static int parse_assignment(struct parser *p, char *s)
{
    char *eq = strchr(s, '=');
    if (eq == NULL)
        return fail(p, "expected 'Key = Value' or a [Section] header");
    *eq = '\0';
    char *name = trim(s), *value = trim(eq + 1), buf[SHOWN_MAX + 4];
    int id = find_key(name);

    if (p->section == SEC_NONE)
        return fail(p, "'%s' is outside a section; put it under [Interface] or [Peer]",
                    shown(buf, name));
    if (id < 0)
        return fail(p, "unknown key '%s' in %s", shown(buf, name), section_name(p->section));
    const struct key_def *k = &keys[id];
    if (k->section != p->section)
        return fail(p, "%s belongs in %s, not in %s", k->name, section_name(k->section),
                    section_name(p->section));
    if (k->parse == NULL)
        return warn_at(p, p->line, "%s is not used by vole; ignored", k->name);
    /* wg setconf lets a repeated key win silently; say so instead. */
    if (!k->is_list && p->seen[id] != 0 &&
        warn_at(p, p->line, "%s repeated; this value replaces the one on line %u",
                k->name, p->seen[id]) != 0)
        return -1;
    p->seen[id] = p->line;
    return k->parse(p, value);
}

/* Checks that need a section to be complete. */
static int end_section(struct parser *p)
{
    if (p->section == SEC_PEER && p->seen[K_PUBLIC_KEY] == 0)
        return fail_at(p, current_peer(p)->line, "[Peer] has no PublicKey");
    return 0;
}

static int begin_section(struct parser *p, enum section s)
{
    if (s == SEC_INTERFACE && p->interface_line != 0)
        return fail(p, "second [Interface] section; the first is on line %u",
                    p->interface_line);
    if (s == SEC_PEER) {
        struct vole_conf *c = p->c;
        struct vole_conf_peer *grown = reserve(c->peers, &p->peers_cap, c->n_peers,
                                               sizeof(*grown));
        if (grown == NULL)
            return fail(p, "out of memory");
        c->peers = grown;
        memset(&c->peers[c->n_peers], 0, sizeof(*grown));
        c->peers[c->n_peers++].line = p->line;
        p->allowed_ips_cap = 0;
    } else {
        p->interface_line = p->line;
    }
    p->section = s;
    memset(p->seen, 0, sizeof(p->seen));
    return 0;
}

static int parse_section(struct parser *p, char *s)
{
    size_t n = strlen(s);
    char buf[SHOWN_MAX + 4];
    if (n < 2 || s[n - 1] != ']')
        return fail(p, "malformed section header; expected [Interface] or [Peer]");
    s[n - 1] = '\0';
    char *name = trim(s + 1);
    enum section next;
    if (strcasecmp(name, "Interface") == 0)
        next = SEC_INTERFACE;
    else if (strcasecmp(name, "Peer") == 0)
        next = SEC_PEER;
    else
        return fail(p, "unknown section [%s]; expected [Interface] or [Peer]",
                    shown(buf, name));
    if (end_section(p) != 0)
        return -1;
    return begin_section(p, next);
}

static int parse_line(struct parser *p, char *line)
{
    char *hash = strchr(line, '#');
    if (hash != NULL)
        *hash = '\0';
    char *s = trim(line);
    if (*s == '\0')
        return 0;
    if (*s == '[')
        return parse_section(p, s);
    return parse_assignment(p, s);
}

/* line: scratch of VOLE_CONF_LINE_MAX + 1 bytes, so no line is ever parsed
 * in the caller's (const) text. */
static int parse_lines(struct parser *p, const char *text, size_t len, char *line)
{
    static const char bom[] = "\xEF\xBB\xBF";   /* some Windows editors add it */
    size_t pos = len >= 3 && memcmp(text, bom, 3) == 0 ? 3 : 0;

    while (pos < len) {
        if (p->line == UINT_MAX)
            return fail(p, "too many lines");
        p->line++;
        const char *start = text + pos;
        const char *nl = memchr(start, '\n', len - pos);
        size_t n = nl != NULL ? (size_t)(nl - start) : len - pos;
        pos += n + (nl != NULL);
        if (n > 0 && start[n - 1] == '\r')   /* CRLF line ends */
            n--;
        if (n > VOLE_CONF_LINE_MAX)
            return fail(p, "line is longer than %d characters", VOLE_CONF_LINE_MAX);
        if (memchr(start, '\0', n) != NULL)
            return fail(p, "line contains a NUL byte");
        memcpy(line, start, n);
        line[n] = '\0';
        if (parse_line(p, line) != 0)
            return -1;
    }
    return 0;
}

/* ---- whole-file checks ---- */

static int peer_cmp(const void *a, const void *b)
{
    const struct vole_conf_peer *x = *(const struct vole_conf_peer *const *)a;
    const struct vole_conf_peer *y = *(const struct vole_conf_peer *const *)b;
    int d = memcmp(x->public_key, y->public_key, sizeof(x->public_key));
    return d != 0 ? d : (x->line > y->line) - (x->line < y->line);
}

/* Sorting keeps this O(n log n) for configs with many peers. Reports the
 * first peer in file order whose key an earlier peer already has. */
static int check_duplicate_peers(struct parser *p)
{
    struct vole_conf *c = p->c;
    if (c->n_peers < 2)
        return 0;
    const struct vole_conf_peer **order = calloc(c->n_peers, sizeof(struct vole_conf_peer *));
    if (order == NULL)
        return fail_at(p, 0, "out of memory");
    for (size_t i = 0; i < c->n_peers; i++)
        order[i] = &c->peers[i];
    qsort((void *)order, c->n_peers, sizeof(struct vole_conf_peer *), peer_cmp);
    const struct vole_conf_peer *dup = NULL, *first = NULL;
    for (size_t i = 1; i < c->n_peers; i++)
        if (memcmp(order[i - 1]->public_key, order[i]->public_key, 32) == 0 &&
            (dup == NULL || order[i]->line < dup->line)) {
            dup = order[i];
            first = order[i - 1];
        }
    free(order);
    if (dup != NULL)
        return fail_at(p, dup->line, "[Peer] has the same PublicKey as the [Peer] on line %u",
                       first->line);
    return 0;
}

static int has_ipv6_address(const struct vole_conf *c)
{
    for (size_t i = 0; i < c->n_addresses; i++)
        if (c->addresses[i].family == 6)
            return 1;
    return 0;
}

static int finish(struct parser *p)
{
    if (end_section(p) != 0)
        return -1;
    if (p->interface_line == 0)
        return fail_at(p, 0, "no [Interface] section with a PrivateKey");
    if (!p->c->has_private_key)
        return fail_at(p, p->interface_line, "[Interface] has no PrivateKey");
    if (check_duplicate_peers(p) != 0)
        return -1;
    if (p->c->mtu != 0 && p->c->mtu < IPV6_MIN_MTU && has_ipv6_address(p->c))
        return warn_at(p, p->mtu_line, "MTU %u is below %u, the minimum for IPv6, "
                       "but an IPv6 Address is configured", p->c->mtu, IPV6_MIN_MTU);
    return 0;
}

static int parse_buffer(struct vole_conf *c, const char *text, size_t len,
                        const char *name, char *err, size_t errlen)
{
    struct parser p = { .c = c, .name = name, .err = err, .errlen = errlen };
    char line[VOLE_CONF_LINE_MAX + 1];

    memset(c, 0, sizeof(*c));
    int rc = parse_lines(&p, text, len, line);
    if (rc == 0)
        rc = finish(&p);
    sodium_memzero(line, sizeof(line));
    if (rc != 0)
        vole_conf_free(c);
    return rc;
}

/* ---- entry points ---- */

int vole_conf_parse_string(struct vole_conf *c, const char *text, const char *name,
                           char *err, size_t errlen)
{
    return parse_buffer(c, text, strlen(text), name != NULL ? name : "(string)", err, errlen);
}

int vole_conf_parse_file(struct vole_conf *c, const char *path, char *err, size_t errlen)
{
    char *buf;
    size_t len;
    int errnum;
    enum vole_file_status st = vole_file_read(path, VOLE_CONF_FILE_MAX, &buf, &len, &errnum);

    int rc = -1;
    memset(c, 0, sizeof(*c));
    if (st == VOLE_FILE_TOO_LARGE)
        format_err(err, errlen, path, 0, "file is larger than %u bytes", VOLE_CONF_FILE_MAX);
    else if (st != VOLE_FILE_OK)
        format_err(err, errlen, path, 0, "cannot read: %s", strerror(st == VOLE_FILE_NO_MEMORY ? ENOMEM : errnum));
    else
        rc = parse_buffer(c, buf, len, path, err, errlen);
    vole_file_free(buf, len);
    return rc;
}

void vole_conf_free(struct vole_conf *c)
{
    for (size_t i = 0; i < c->n_peers; i++)
        free(c->peers[i].allowed_ips);
    if (c->peers != NULL)
        sodium_memzero(c->peers, c->n_peers * sizeof(*c->peers));
    free(c->peers);
    free(c->addresses);
    for (size_t i = 0; i < c->n_warnings; i++)
        free(c->warnings[i]);
    free(c->warnings);
    sodium_memzero(c, sizeof(*c));
}
