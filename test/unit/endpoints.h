/* Endpoints for the unit tests: IPv4 a.b.c.d:port and 2001:db8::last:port. */
#ifndef VOLE_TEST_ENDPOINTS_H
#define VOLE_TEST_ENDPOINTS_H

#include "wg/endpoint.h"

static inline struct wg_endpoint ep4(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port)
{
    struct wg_endpoint e = { .family = 4, .port = port };
    e.addr[0] = a, e.addr[1] = b, e.addr[2] = c, e.addr[3] = d;
    return e;
}

static inline struct wg_endpoint ep6(uint8_t last, uint16_t port)
{
    struct wg_endpoint e = { .family = 6, .port = port };
    e.addr[0] = 0x20, e.addr[1] = 0x01, e.addr[2] = 0x0d, e.addr[3] = 0xb8;
    e.addr[15] = last;
    return e;
}

#endif
