/* Listen addresses of `vole server` (server_int.h): numeric literals only,
 * so the address printed and put in the DERP map is exactly the one bound. */
#include "server/server_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *take_host(const char *h, size_t n, bool v6, struct srv_addr *out)
{
    uint8_t bin[16];

    if (n >= sizeof out->host)
        return v6 ? "address is not an IPv6 literal" : "address is not an IPv4 literal";
    memcpy(out->host, h, n);
    out->host[n] = '\0';
    if ((!v6 && (n == 0 || !strcmp(out->host, "*"))) || (v6 && !strcmp(out->host, "::"))) {
        out->host[0] = '\0';
        return NULL;
    }
    if (inet_pton(v6 ? AF_INET6 : AF_INET, out->host, bin) == 1)
        return NULL;
    return v6 ? "address is not an IPv6 literal"
              : "address is not an IPv4 literal (IPv6 goes in brackets; no host names)";
}

const char *srv_addr_parse(const char *spec, struct srv_addr *out)
{
    const char *port, *why;
    char *end;
    long n;

    memset(out, 0, sizeof *out);
    if (spec[0] == '[') {
        const char *close = strchr(spec, ']');
        if (!close || close[1] != ':')
            return "want [IPv6]:PORT, e.g. [::1]:8080";
        port = close + 2;
        why = take_host(spec + 1, (size_t)(close - spec - 1), true, out);
    } else {
        const char *colon = strrchr(spec, ':');
        if (!colon)
            return "want ADDR:PORT, e.g. :8080 or 127.0.0.1:8080";
        if (memchr(spec, ':', (size_t)(colon - spec)))
            return "an IPv6 address needs brackets, e.g. [::1]:8080";
        port = colon + 1;
        why = take_host(spec, (size_t)(colon - spec), false, out);
    }
    if (why)
        return why;
    n = strtol(port, &end, 10);
    if (*port < '0' || *port > '9' || *end || n > 65535)
        return "port is not a number from 0 to 65535";
    out->port = (uint16_t)n;
    return NULL;
}

void srv_addr_format(const struct srv_addr *a, uint16_t port, char out[SRV_ADDR_TEXT])
{
    if (!a->host[0])
        snprintf(out, SRV_ADDR_TEXT, "*:%u", port);
    else if (strchr(a->host, ':'))
        snprintf(out, SRV_ADDR_TEXT, "[%s]:%u", a->host, port);
    else
        snprintf(out, SRV_ADDR_TEXT, "%s:%u", a->host, port);
}
