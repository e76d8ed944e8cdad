/* A UDP endpoint as the sans-IO core sees it: address bytes and a port, no
 * sockaddr. io/ converts to and from the socket API. */
#ifndef VOLE_WG_ENDPOINT_H
#define VOLE_WG_ENDPOINT_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

struct wg_endpoint {
    uint8_t family;     /* 0: none, 4: IPv4, 6: IPv6 */
    uint8_t addr[16];   /* network order; IPv4 in the first 4 bytes */
    uint16_t port;      /* host order */
};

static inline size_t wg_endpoint_addr_len(const struct wg_endpoint *ep)
{
    return ep->family == 4 ? 4 : ep->family == 6 ? 16 : 0;
}

static inline bool wg_endpoint_equal(const struct wg_endpoint *a, const struct wg_endpoint *b)
{
    return a->family == b->family && a->port == b->port &&
           memcmp(a->addr, b->addr, wg_endpoint_addr_len(a)) == 0;
}

#endif
