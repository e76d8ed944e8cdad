/* AllowedIPs as a path-compressed binary trie, one per family.
 *
 * Each node holds a prefix (key masked to cidr). A child's prefix extends its
 * parent's and sits under child[b], b being the child's bit at position
 * parent->cidr, so cidr strictly grows along every path: a lookup visits at
 * most bits+1 nodes and compares each address bit about once. Nodes with
 * peer == NULL are pure branch points created where two prefixes diverge;
 * removal collapses them again once they no longer branch. */
#include "wg/allowedips.h"

#include <stdlib.h>
#include <string.h>

struct wg_aip_node {
    struct wg_aip_node *child[2];
    void *peer;          /* NULL: a branch point, not a prefix of its own */
    uint8_t key[16];     /* network order, bits past cidr zero */
    uint8_t cidr;
};

/* Address width in bits, 0 for an unknown family. */
static unsigned family_bits(int family)
{
    return family == 4 ? 32 : family == 6 ? 128 : 0;
}

static struct wg_aip_node **root_slot(struct wg_allowedips *t, int family)
{
    return family == 4 ? &t->root4 : &t->root6;
}

static unsigned bit_at(const uint8_t *a, unsigned i)
{
    return (unsigned)(a[i >> 3] >> (7 - (i & 7))) & 1u;
}

/* Leading bits a and b share, at most limit, given that the first `from`
 * bits are already known equal (so a lookup never rescans them). */
static unsigned common_bits(const uint8_t *a, const uint8_t *b, unsigned from,
                            unsigned limit)
{
    for (unsigned i = from >> 3; i * 8 < limit; i++) {
        unsigned x = a[i] ^ b[i];
        if (x) {
            unsigned n = i * 8 + (unsigned)__builtin_clz(x) - 24;
            return n < limit ? n : limit;
        }
    }
    return limit;
}

static void mask_copy(uint8_t out[16], const uint8_t *addr, unsigned cidr)
{
    memset(out, 0, 16);
    memcpy(out, addr, cidr / 8);
    if (cidr % 8)
        out[cidr / 8] = addr[cidr / 8] & (uint8_t)(0xffu << (8 - cidr % 8));
}

static struct wg_aip_node *node_new(const uint8_t *key, unsigned cidr, void *peer)
{
    struct wg_aip_node *n = calloc(1, sizeof(*n));
    if (!n)
        return NULL;
    mask_copy(n->key, key, cidr);
    n->cidr = (uint8_t)cidr;
    n->peer = peer;
    return n;
}

static void free_tree(struct wg_aip_node *n)
{
    if (!n)
        return;
    free_tree(n->child[0]);
    free_tree(n->child[1]);
    free(n);
}

void wg_allowedips_init(struct wg_allowedips *t)
{
    t->root4 = NULL;
    t->root6 = NULL;
}

void wg_allowedips_free(struct wg_allowedips *t)
{
    free_tree(t->root4);
    free_tree(t->root6);
    wg_allowedips_init(t);
}

/* The new prefix (key, cidr) splits off from *slot at bit `common`: either it
 * contains *slot (common == cidr) and becomes its parent, or the two diverge
 * and a branch point for their shared prefix is put above both. */
static int splice(struct wg_aip_node **slot, const uint8_t *key, unsigned cidr,
                  unsigned common, void *peer)
{
    struct wg_aip_node *old = *slot;
    struct wg_aip_node *fresh = node_new(key, cidr, peer);
    if (!fresh)
        return -1;
    if (common == cidr) {
        fresh->child[bit_at(old->key, cidr)] = old;
        *slot = fresh;
        return 0;
    }
    struct wg_aip_node *fork = node_new(key, common, NULL);
    if (!fork) {
        free(fresh);
        return -1;
    }
    fork->child[bit_at(key, common)] = fresh;
    fork->child[bit_at(old->key, common)] = old;
    *slot = fork;
    return 0;
}

int wg_allowedips_insert(struct wg_allowedips *t, int family, const uint8_t *addr,
                         uint8_t cidr, void *peer)
{
    unsigned bits = family_bits(family);
    if (!bits || cidr > bits || !peer)
        return -1;
    uint8_t key[16];
    mask_copy(key, addr, cidr);
    struct wg_aip_node **slot = root_slot(t, family);
    while (*slot) {
        struct wg_aip_node *n = *slot;
        unsigned limit = cidr < n->cidr ? cidr : n->cidr;
        unsigned common = common_bits(key, n->key, 0, limit);
        if (common < n->cidr)
            return splice(slot, key, cidr, common, peer);
        if (n->cidr == cidr) {
            n->peer = peer;   /* same prefix: the newest owner wins */
            return 0;
        }
        slot = &n->child[bit_at(key, n->cidr)];
    }
    *slot = node_new(key, cidr, peer);
    return *slot ? 0 : -1;
}

/* Post-order, so children are settled before deciding whether n still earns
 * its place. Returns what should now hang where n did. */
static struct wg_aip_node *prune(struct wg_aip_node *n, const void *peer)
{
    if (!n)
        return NULL;
    n->child[0] = prune(n->child[0], peer);
    n->child[1] = prune(n->child[1], peer);
    if (n->peer == peer)
        n->peer = NULL;
    if (n->peer || (n->child[0] && n->child[1]))
        return n;
    /* An ownerless node with at most one child adds nothing to lookups; its
     * child's bit at the parent's cidr is unchanged, so it takes n's slot. */
    struct wg_aip_node *only = n->child[0] ? n->child[0] : n->child[1];
    free(n);
    return only;
}

void wg_allowedips_remove_by_peer(struct wg_allowedips *t, void *peer)
{
    if (!peer)
        return;
    t->root4 = prune(t->root4, peer);
    t->root6 = prune(t->root6, peer);
}

void *wg_allowedips_lookup(const struct wg_allowedips *t, int family, const uint8_t *addr)
{
    unsigned bits = family_bits(family);
    if (!bits)
        return NULL;
    const struct wg_aip_node *n = family == 4 ? t->root4 : t->root6;
    unsigned known = 0;   /* leading bits of addr already matched */
    void *best = NULL;
    while (n && common_bits(n->key, addr, known, n->cidr) == n->cidr) {
        if (n->peer)
            best = n->peer;
        if (n->cidr == bits)
            break;
        known = n->cidr;
        n = n->child[bit_at(addr, known)];
    }
    return best;
}

/* off4/off6: where the wanted address sits in an IPv4/IPv6 header. */
static void *lookup_pkt(const struct wg_allowedips *t, const uint8_t *pkt, size_t len,
                        size_t off4, size_t off6)
{
    if (len < 1)
        return NULL;
    switch (pkt[0] >> 4) {
    case 4:
        return len >= 20 ? wg_allowedips_lookup(t, 4, pkt + off4) : NULL;
    case 6:
        return len >= 40 ? wg_allowedips_lookup(t, 6, pkt + off6) : NULL;
    default:
        return NULL;
    }
}

void *wg_allowedips_lookup_dst(const struct wg_allowedips *t, const uint8_t *pkt, size_t len)
{
    return lookup_pkt(t, pkt, len, 16, 24);
}

void *wg_allowedips_lookup_src(const struct wg_allowedips *t, const uint8_t *pkt, size_t len)
{
    return lookup_pkt(t, pkt, len, 12, 8);
}

static void walk(const struct wg_aip_node *n, const void *peer, int family,
                 wg_allowedips_walk_fn fn, void *ctx)
{
    if (!n)
        return;
    if (n->peer == peer)
        fn(ctx, family, n->key, n->cidr);
    walk(n->child[0], peer, family, fn, ctx);
    walk(n->child[1], peer, family, fn, ctx);
}

void wg_allowedips_walk_peer(const struct wg_allowedips *t, void *peer,
                             wg_allowedips_walk_fn fn, void *ctx)
{
    if (!peer)
        return;   /* NULL would match the branch points */
    walk(t->root4, peer, 4, fn, ctx);
    walk(t->root6, peer, 6, fn, ctx);
}
