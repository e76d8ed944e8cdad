/* AWS's ip-ranges.json: the IPv4 and IPv6 prefix lists, and containment. */
#include "diag/aws_ranges.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/file.h"

/* "a.b.c.d/n" or "v6/n" in the family wanted; host bits cleared, since
 * Coder's netip.ParsePrefix keeps them but Contains ignores them. */
static bool parse_prefix(const char *s, uint8_t family, struct vole_ip_prefix *p)
{
    char host[64], *end;
    const char *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : 0;
    int max = family == 4 ? 32 : 128;
    long len;

    if (!slash || n == 0 || n >= sizeof host || slash[1] < '0' || slash[1] > '9')
        return false;
    memcpy(host, s, n);
    host[n] = '\0';
    errno = 0;
    len = strtol(slash + 1, &end, 10);
    if (*end != '\0' || errno || len < 0 || len > max)
        return false;
    memset(p, 0, sizeof *p);
    if (inet_pton(family == 4 ? AF_INET : AF_INET6, host, p->addr) != 1)
        return false;
    p->family = family;
    p->len = (uint8_t)len;
    for (int bit = (int)len; bit < max; bit++)
        p->addr[bit / 8] &= (uint8_t)~(0x80u >> (bit % 8));
    return true;
}

static bool prefix_contains(const struct vole_ip_prefix *p, uint8_t family, const uint8_t *addr)
{
    int full = p->len / 8, rest = p->len % 8;

    if (p->family != family || memcmp(p->addr, addr, (size_t)full) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xffu << (8 - rest));
    return (addr[full] & mask) == p->addr[full];
}

/* One list: obj[list][i][field], each a prefix of the family. */
static int read_list(json_t *root, const char *list, const char *field, uint8_t family,
                     struct vole_aws_ranges *r, char *err, size_t errlen)
{
    json_t *arr = json_object_get(root, list), *item;
    size_t i;

    if (!json_is_array(arr)) {
        snprintf(err, errlen, "%s: missing, or not a list", list);
        return -1;
    }
    struct vole_ip_prefix *grown = realloc(r->prefixes, (r->n_prefixes + json_array_size(arr) + 1) * sizeof *grown);
    if (!grown) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    r->prefixes = grown;
    json_array_foreach(arr, i, item) {
        json_t *v = json_object_get(item, field);
        const char *s = json_string_value(v);
        if (!s) {
            snprintf(err, errlen, "%s[%zu].%s: missing, or not a string", list, i, field);
            return -1;
        }
        if (!parse_prefix(s, family, &r->prefixes[r->n_prefixes])) {
            snprintf(err, errlen, "%s[%zu].%s: \"%.80s\" is not an IPv%d prefix", list, i, field, s, family);
            return -1;
        }
        r->n_prefixes++;
    }
    return 0;
}

int vole_aws_ranges_parse(const char *json, size_t len, struct vole_aws_ranges *r, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *root = json_loadb(json, len, 0, &jerr);
    int rc = -1;

    memset(r, 0, sizeof *r);
    if (!root) {
        snprintf(err, errlen, "not JSON: %s (line %d, column %d)", jerr.text, jerr.line, jerr.column);
        return -1;
    }
    if (!json_is_object(root))
        snprintf(err, errlen, "not a JSON object");
    else if (read_list(root, "prefixes", "ip_prefix", 4, r, err, errlen) == 0 &&
             read_list(root, "ipv6_prefixes", "ipv6_prefix", 6, r, err, errlen) == 0)
        rc = 0;
    json_decref(root);
    if (rc < 0)
        vole_aws_ranges_free(r);
    return rc;
}

/* ip-ranges.json is about 2 MB today; 64 MB is far beyond any real one. */
#define AWS_FILE_MAX ((size_t)64 << 20)

int vole_aws_ranges_load(const char *path, struct vole_aws_ranges *r, char *err, size_t errlen)
{
    char inner[256], *buf;
    size_t len;
    int errnum, rc;

    memset(r, 0, sizeof *r);
    switch (vole_file_read(path, AWS_FILE_MAX, &buf, &len, &errnum)) {
    case VOLE_FILE_OK: break;
    case VOLE_FILE_OPEN: snprintf(err, errlen, "%s: %s", path, strerror(errnum)); return -1;
    case VOLE_FILE_READ: snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errnum)); return -1;
    case VOLE_FILE_TOO_LARGE: snprintf(err, errlen, "%s: larger than 64 MB, not an ip-ranges file", path); return -1;
    default: snprintf(err, errlen, "%s: out of memory", path); return -1;
    }
    rc = vole_aws_ranges_parse(buf, len, r, inner, sizeof inner);
    if (rc < 0)
        snprintf(err, errlen, "%s: %s", path, inner);
    vole_file_free(buf, len);
    return rc;
}

void vole_aws_ranges_free(struct vole_aws_ranges *r)
{
    free(r->prefixes);
    r->prefixes = NULL;
    r->n_prefixes = 0;
}

bool vole_aws_ranges_contains(const struct vole_aws_ranges *r, const char *ip_maybe_port)
{
    uint8_t family, addr[16];

    if (!r || !vole_ip_parse_loose(ip_maybe_port, &family, addr))
        return false;
    if (vole_ip_is_loopback(family, addr) || vole_ip_is_link_local(family, addr) ||
        vole_ip_is_private(family, addr))
        return false;
    for (size_t i = 0; i < r->n_prefixes; i++)
        if (prefix_contains(&r->prefixes[i], family, addr))
            return true;
    return false;
}
