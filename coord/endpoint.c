/* Endpoint strings ("ip:port", "[v6]:port") and the overlay ranges. */
#include "coord/node.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool coord_v6_in_overlay(const uint8_t v6[16])
{
    static const uint8_t pfx[6] = {0xfd, 0x7a, 0x11, 0x5c, 0xa1, 0xe0};
    return memcmp(v6, pfx, sizeof pfx) == 0;
}

bool coord_v4_in_overlay(const uint8_t v4[4])
{
    return v4[0] == 100 && (v4[1] & 0xc0) == 64;   /* 100.64.0.0/10 */
}

/* Decimal 1..65535 with no sign, spaces or leading zero. */
static int parse_port(const char *s, uint16_t *port)
{
    size_t n = strlen(s);
    if (n == 0 || n > 5 || s[0] == '0')
        return -1;
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v > 65535)
        return -1;
    *port = (uint16_t)v;
    return 0;
}

int coord_endpoint_parse(const char *s, struct coord_endpoint *ep)
{
    char host[COORD_ENDPOINT_STR];
    const char *colon = strrchr(s, ':');
    memset(ep, 0, sizeof *ep);
    if (!colon || strlen(s) >= sizeof host || parse_port(colon + 1, &ep->port) < 0)
        return -1;
    size_t hlen = (size_t)(colon - s);
    if (s[0] == '[') {   /* [v6]:port; the brackets are required for v6 */
        if (hlen < 3 || s[hlen - 1] != ']')
            return -1;
        memcpy(host, s + 1, hlen - 2);
        host[hlen - 2] = '\0';
        ep->family = 6;
        return inet_pton(AF_INET6, host, ep->ip) == 1 ? 0 : -1;
    }
    memcpy(host, s, hlen);
    host[hlen] = '\0';
    ep->family = 4;
    return inet_pton(AF_INET, host, ep->ip) == 1 ? 0 : -1;
}

void coord_endpoint_format(const struct coord_endpoint *ep, char out[COORD_ENDPOINT_STR])
{
    char host[INET6_ADDRSTRLEN];
    if (ep->family == 6) {
        inet_ntop(AF_INET6, ep->ip, host, sizeof host);
        snprintf(out, COORD_ENDPOINT_STR, "[%s]:%u", host, (unsigned)ep->port);
    } else {
        inet_ntop(AF_INET, ep->ip, host, sizeof host);
        snprintf(out, COORD_ENDPOINT_STR, "%s:%u", host, (unsigned)ep->port);
    }
}
