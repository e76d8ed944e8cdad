/* Cryptokey routing (AllowedIPs): longest-prefix match from an inner IP
 * address to a peer, for IPv4 and IPv6. Send side: destination -> peer.
 * Receive side: the source must map back to the peer it came from (§3.7). */
#ifndef VOLE_WG_ALLOWEDIPS_H
#define VOLE_WG_ALLOWEDIPS_H

#include <stddef.h>
#include <stdint.h>

/* A path-compressed binary trie node; private to allowedips.c. */
struct wg_aip_node;

/* The two families live in separate tries so 0.0.0.0/0 never matches IPv6. */
struct wg_allowedips {
    struct wg_aip_node *root4;
    struct wg_aip_node *root6;
};

void wg_allowedips_init(struct wg_allowedips *t);
void wg_allowedips_free(struct wg_allowedips *t);

/* family is 4 or 6; addr in network order (4 or 16 bytes); host bits beyond
 * cidr are ignored (masked). Inserting an existing prefix replaces its peer
 * (as wg does). Returns 0, or -1 on bad family/cidr, NULL peer or out of
 * memory (the table is unchanged then). */
int wg_allowedips_insert(struct wg_allowedips *t, int family, const uint8_t *addr,
                         uint8_t cidr, void *peer);
void wg_allowedips_remove_by_peer(struct wg_allowedips *t, void *peer);

/* The peer of the longest prefix containing addr, or NULL. No allocation;
 * at most one node per prefix length is visited. */
void *wg_allowedips_lookup(const struct wg_allowedips *t, int family, const uint8_t *addr);

/* Look up an IP packet's destination (for sending) or source (for the
 * receive-side check); NULL if the packet is too short or not IPv4/IPv6 or no
 * prefix matches. */
void *wg_allowedips_lookup_dst(const struct wg_allowedips *t, const uint8_t *pkt, size_t len);
void *wg_allowedips_lookup_src(const struct wg_allowedips *t, const uint8_t *pkt, size_t len);

/* Walk the prefixes of one peer (for `show`-style listings), IPv4 first, each
 * family in address order. addr is masked to cidr. */
typedef void (*wg_allowedips_walk_fn)(void *ctx, int family, const uint8_t *addr, uint8_t cidr);
void wg_allowedips_walk_peer(const struct wg_allowedips *t, void *peer,
                             wg_allowedips_walk_fn fn, void *ctx);

#endif
