/* `vole forward --tcp [BIND:]LPORT:RPORT`: the two ports are the last two
 * colon-separated fields, so an IPv6 BIND (in brackets) may hold colons. */
#include <stdio.h>
#include <string.h>

#include "tailnet/node.h"

/* Digits only (no sign, no spaces, no "0x"), at most 5 of them. */
static int parse_port(const char *s, size_t len, unsigned min, const char *what, uint16_t *out,
                      char *err, size_t errlen)
{
    unsigned v = 0;

    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9' || i >= 5) {
            v = 1u << 20;
            break;
        }
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (len == 0 || v < min || v > 65535) {
        snprintf(err, errlen, "%s port \"%.*s\": not %u..65535", what, (int)(len > 16 ? 16 : len), s, min);
        return -1;
    }
    *out = (uint16_t)v;
    return 0;
}

static int parse_bind(const char *s, size_t len, struct vole_tailnet_tcp_spec *out, char *err, size_t errlen)
{
    if (len > 0 && s[0] == '[') {
        if (len < 2 || s[len - 1] != ']') {
            snprintf(err, errlen, "bind address \"%.*s\": a '[' without its ']'", (int)len, s);
            return -1;
        }
        s++;
        len -= 2;
    } else if (memchr(s, ':', len) || memchr(s, ']', len)) {
        snprintf(err, errlen, "bind address \"%.*s\": IPv6 addresses go in brackets", (int)len, s);
        return -1;
    }
    if (len >= sizeof out->bind) {
        snprintf(err, errlen, "bind address too long");
        return -1;
    }
    out->has_bind = true;
    memcpy(out->bind, s, len);
    out->bind[len] = '\0';
    return 0;
}

int vole_tailnet_tcp_spec_parse(const char *text, struct vole_tailnet_tcp_spec *out, char *err, size_t errlen)
{
    const char *last, *mid = NULL;

    memset(out, 0, sizeof *out);
    last = strrchr(text, ':');
    if (!last) {
        snprintf(err, errlen, "\"%s\": want [BIND:]LPORT:RPORT", text);
        return -1;
    }
    for (const char *c = last; c-- > text;) {
        if (*c == ':') {
            mid = c;
            break;
        }
    }
    if (parse_port(last + 1, strlen(last + 1), 1, "remote", &out->rport, err, errlen) < 0)
        return -1;
    if (!mid)
        return parse_port(text, (size_t)(last - text), 0, "local", &out->lport, err, errlen);
    if (parse_port(mid + 1, (size_t)(last - mid - 1), 0, "local", &out->lport, err, errlen) < 0)
        return -1;
    return parse_bind(text, (size_t)(mid - text), out, err, errlen);
}
