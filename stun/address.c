#include "stun/address.h"

#include <string.h>

#define FAMILY_IPV4 0x01
#define FAMILY_IPV6 0x02

static const uint8_t v4_mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

size_t stun_address_value_len(const struct wg_endpoint *ep)
{
    size_t n = wg_endpoint_addr_len(ep);
    return n == 0 ? 0 : 4 + n;
}

/* XORing with a zero key is the plain form, so one loop serves both. */
static uint8_t key_byte(const uint8_t *xor_key, size_t i)
{
    return xor_key != NULL ? xor_key[i] : 0;
}

void stun_address_encode(uint8_t *value, const struct wg_endpoint *ep, const uint8_t *xor_key)
{
    size_t n = wg_endpoint_addr_len(ep);
    value[0] = 0;
    value[1] = n == 4 ? FAMILY_IPV4 : FAMILY_IPV6;
    /* The port is XORed with the cookie's top 16 bits, the first key bytes. */
    stun_put16(value + 2, ep->port);
    value[2] ^= key_byte(xor_key, 0);
    value[3] ^= key_byte(xor_key, 1);
    for (size_t i = 0; i < n; i++)
        value[4 + i] = ep->addr[i] ^ key_byte(xor_key, i);
}

/* Servers on dual-stack sockets report IPv4 clients as ::ffff:a.b.c.d. */
static void unmap_v4(struct wg_endpoint *ep)
{
    if (ep->family != 6 || memcmp(ep->addr, v4_mapped_prefix, sizeof(v4_mapped_prefix)) != 0)
        return;
    memmove(ep->addr, ep->addr + 12, 4);
    memset(ep->addr + 4, 0, 12);
    ep->family = 4;
}

enum stun_status stun_address_decode(const struct stun_attr *a, const uint8_t *xor_key,
                                     struct wg_endpoint *ep)
{
    /* The first value byte is reserved and ignored on receipt. */
    size_t n = a->len == 8 ? 4 : a->len == 20 ? 16 : 0;
    if (n == 0 || a->value[1] != (n == 4 ? FAMILY_IPV4 : FAMILY_IPV6))
        return STUN_ERR_BAD_LENGTH;
    memset(ep, 0, sizeof(*ep));
    ep->family = n == 4 ? 4 : 6;
    ep->port = stun_get16(a->value + 2) ^
               (uint16_t)(key_byte(xor_key, 0) << 8 | key_byte(xor_key, 1));
    for (size_t i = 0; i < n; i++)
        ep->addr[i] = a->value[4 + i] ^ key_byte(xor_key, i);
    unmap_v4(ep);
    return STUN_OK;
}
