/* The server's overlay address allocator. Each node key gets one IPv6 in
 * fd7a:115c:a1e0::/48 (as Coder) and one IPv4 in 100.64.0.0/10, derived from
 * a hash of the key, so a node that reconnects (or a restarted server) gives
 * it the same addresses whenever the hashed slot is still free.
 *
 * The IPv4 is the hash's slot, moved forward (linear probing, wrapping) past
 * addresses already assigned and ones that look special (x.x.x.0, x.x.x.255,
 * 100.100.100.0/24 which Tailscale keeps for its own services). The IPv6
 * carries 48 more hash bits and then the IPv4 itself:
 *   fd7a:115c:a1e0:HHHH:HHHH:HHHH:6440:0102  for 100.64.1.2
 * so it is unique exactly when the IPv4 is. */
#ifndef VOLE_COORD_ADDRS_H
#define VOLE_COORD_ADDRS_H

#include <stddef.h>
#include <stdint.h>

#define COORD_ADDRS_MAX_NODES (1u << 20)   /* a quarter of the usable IPv4 space */

struct coord_addr_slot;   /* addrs.c */

struct coord_addrs {
    uint8_t *taken;                  /* bitmap over the 2^22 IPv4 offsets */
    struct coord_addr_slot *slots;   /* open addressing by node key */
    size_t cap;                      /* slots: a power of two >= 2 * max_nodes */
    size_t max_nodes, n;
};

/* 0, or -1 on allocation failure or max_nodes of 0 or over the bound. */
int coord_addrs_init(struct coord_addrs *a, size_t max_nodes);
void coord_addrs_free(struct coord_addrs *a);

/* The key's addresses: the ones it already holds, or new ones. 0, or -1
 * when max_nodes keys hold addresses. Idempotent: the caller that lets one
 * key connect twice counts the connections itself. */
int coord_addrs_assign(struct coord_addrs *a, const uint8_t key[32], uint8_t v6[16], uint8_t v4[4]);
/* 0, or -1 when the key holds no addresses. */
int coord_addrs_release(struct coord_addrs *a, const uint8_t key[32]);
/* 0 with the key's addresses, or -1 when it holds none. */
int coord_addrs_lookup(const struct coord_addrs *a, const uint8_t key[32], uint8_t v6[16], uint8_t v4[4]);

#endif
