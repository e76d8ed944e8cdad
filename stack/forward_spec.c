/* Parsing -L [BIND:]LPORT:HOST:PORT and -R OPORT:HOST:PORT. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "stack/forward.h"

#define VOLE_SPEC_MAX_FIELDS 4

struct spec_field {
    const char *start;
    size_t len;
    bool bracketed;
};

/* Splits at ':' outside brackets. A bracketed field must be the whole field.
 * Returns the field count, or -1 with err set. */
static int split_fields(const char *spec, struct spec_field *f,
                        char *err, size_t errlen)
{
    const char *p = spec;
    int n = 0;

    for (;;) {
        if (n == VOLE_SPEC_MAX_FIELDS) {
            snprintf(err, errlen, "too many ':' (put IPv6 addresses in [brackets])");
            return -1;
        }
        f[n].bracketed = *p == '[';
        if (f[n].bracketed) {
            const char *close = strchr(p, ']');
            if (!close) {
                snprintf(err, errlen, "missing ']' after '['");
                return -1;
            }
            f[n].start = p + 1;
            f[n].len = (size_t)(close - p - 1);
            p = close + 1;
            if (*p != ':' && *p != '\0') {
                snprintf(err, errlen, "expected ':' after ']'");
                return -1;
            }
        } else {
            f[n].start = p;
            f[n].len = strcspn(p, ":");
            p += f[n].len;
        }
        n++;
        if (*p == '\0')
            return n;
        p++;   /* the ':' */
    }
}

static int parse_port(const struct spec_field *f, const char *what, uint16_t *out,
                      char *err, size_t errlen)
{
    unsigned long v = 0;

    if (f->bracketed || f->len == 0 || f->len > 5)
        goto bad;
    for (size_t i = 0; i < f->len; i++) {
        if (f->start[i] < '0' || f->start[i] > '9')
            goto bad;
        v = v * 10 + (unsigned long)(f->start[i] - '0');
    }
    if (v < 1 || v > 65535)
        goto bad;
    *out = (uint16_t)v;
    return 0;
bad:
    snprintf(err, errlen, "%s '%.*s' is not a port number 1..65535", what,
             (int)f->len, f->start);
    return -1;
}

static int copy_host(const struct spec_field *f, const char *what, bool allow_empty,
                     char *out, char *err, size_t errlen)
{
    if ((!f->len && !allow_empty) || f->len >= VOLE_FORWARD_HOST_MAX) {
        snprintf(err, errlen, "%s '%.*s' is empty or too long", what,
                 (int)f->len, f->start);
        return -1;
    }
    memcpy(out, f->start, f->len);
    out[f->len] = '\0';
    return 0;
}

/* The -L destination is reached inside the tunnel, where there is no DNS. */
static int parse_tunnel_addr(const char *host, ip_addr_t *dst, char *err, size_t errlen)
{
    struct in_addr a4;
    struct in6_addr a6;

    if (inet_pton(AF_INET, host, &a4) == 1) {
        ip_addr_set_ip4_u32_val(*dst, a4.s_addr);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &a6) == 1) {
        memcpy(ip_2_ip6(dst)->addr, a6.s6_addr, 16);
        ip6_addr_clear_zone(ip_2_ip6(dst));
        IP_SET_TYPE_VAL(*dst, IPADDR_TYPE_V6);
        return 0;
    }
    snprintf(err, errlen, "destination '%s' must be an IP address inside the tunnel "
             "(there is no DNS there)", host);
    return -1;
}

static int parse_local(const char *spec, const struct spec_field *f, int n,
                       struct vole_forward_spec *out, char *err, size_t errlen)
{
    int i = 0;

    if (n != 3 && n != 4) {
        snprintf(err, errlen, "expected [BIND:]LPORT:HOST:PORT, got '%s'", spec);
        return -1;
    }
    if (n == 4) {
        out->has_bind = true;
        if (copy_host(&f[0], "bind address", true, out->bind, err, errlen) < 0)
            return -1;
        if (!strcmp(out->bind, "*"))
            out->bind[0] = '\0';
        i = 1;
    }
    if (parse_port(&f[i], "listen port", &out->listen_port, err, errlen) < 0 ||
        copy_host(&f[i + 1], "destination", false, out->host, err, errlen) < 0 ||
        parse_port(&f[i + 2], "destination port", &out->port, err, errlen) < 0)
        return -1;
    return parse_tunnel_addr(out->host, &out->dst, err, errlen);
}

static int parse_remote(const char *spec, const struct spec_field *f, int n,
                        struct vole_forward_spec *out, char *err, size_t errlen)
{
    if (n != 3) {
        snprintf(err, errlen, "expected OPORT:HOST:PORT, got '%s'", spec);
        return -1;
    }
    if (parse_port(&f[0], "overlay port", &out->listen_port, err, errlen) < 0 ||
        copy_host(&f[1], "destination", false, out->host, err, errlen) < 0 ||
        parse_port(&f[2], "destination port", &out->port, err, errlen) < 0)
        return -1;
    return 0;
}

int vole_forward_spec_parse(const char *spec, bool local, struct vole_forward_spec *out,
                            char *err, size_t errlen)
{
    struct spec_field f[VOLE_SPEC_MAX_FIELDS];
    int n;

    memset(out, 0, sizeof *out);
    out->local = local;
    if (!spec || !*spec) {
        snprintf(err, errlen, "empty forwarding spec");
        return -1;
    }
    n = split_fields(spec, f, err, errlen);
    if (n < 0)
        return -1;
    return local ? parse_local(spec, f, n, out, err, errlen)
                 : parse_remote(spec, f, n, out, err, errlen);
}
