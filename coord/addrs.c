/* The overlay address allocator (addrs.h). */
#include "coord/addrs.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define V4_BITS 22                      /* 100.64.0.0/10 */
#define V4_SPACE (1u << V4_BITS)

struct coord_addr_slot {
    bool used;
    uint8_t key[32];
    size_t home;                        /* the slot the key hashes to */
    uint32_t off;                       /* IPv4 offset in 100.64.0.0/10 */
    uint8_t v6mid[6];                   /* the IPv6's hash bits */
};

/* Everything derived from a key comes from one keyed hash, so the addresses
 * do not reveal the key and differ from any other use of it. */
struct derived {
    size_t home;
    uint32_t off;
    uint8_t v6mid[6];
};

static void derive(const struct coord_addrs *a, const uint8_t key[32], struct derived *d)
{
    static const char domain[] = "vole coord addrs v1";
    uint8_t h[32];
    crypto_generichash(h, sizeof h, key, 32, (const unsigned char *)domain, sizeof domain - 1);
    uint64_t x = 0;
    for (int i = 0; i < 8; i++)
        x = x << 8 | h[i];
    d->home = (size_t)x & (a->cap - 1);
    d->off = ((uint32_t)h[8] << 16 | (uint32_t)h[9] << 8 | h[10]) & (V4_SPACE - 1);
    memcpy(d->v6mid, h + 16, sizeof d->v6mid);
}

static void v4_of(uint32_t off, uint8_t v4[4])
{
    v4[0] = 100;
    v4[1] = (uint8_t)(64 | off >> 16);
    v4[2] = (uint8_t)(off >> 8);
    v4[3] = (uint8_t)off;
}

/* Addresses people and software read as special. */
static bool v4_reserved(uint32_t off)
{
    uint8_t b[4];
    v4_of(off, b);
    return b[3] == 0 || b[3] == 255 || (b[1] == 100 && b[2] == 100);
}

static bool taken(const struct coord_addrs *a, uint32_t off)
{
    return a->taken[off >> 3] & (1u << (off & 7));
}

static void set_taken(struct coord_addrs *a, uint32_t off, bool on)
{
    if (on)
        a->taken[off >> 3] |= (uint8_t)(1u << (off & 7));
    else
        a->taken[off >> 3] &= (uint8_t)~(1u << (off & 7));
}

static void fill(const struct coord_addr_slot *s, uint8_t v6[16], uint8_t v4[4])
{
    static const uint8_t pfx[6] = {0xfd, 0x7a, 0x11, 0x5c, 0xa1, 0xe0};
    v4_of(s->off, v4);
    memcpy(v6, pfx, 6);
    memcpy(v6 + 6, s->v6mid, 6);
    v4_of(s->off, v6 + 12);
}

int coord_addrs_init(struct coord_addrs *a, size_t max_nodes)
{
    memset(a, 0, sizeof *a);
    if (max_nodes == 0 || max_nodes > COORD_ADDRS_MAX_NODES)
        return -1;
    a->cap = 1;
    while (a->cap < 2 * max_nodes)   /* at most half full: short probes */
        a->cap <<= 1;
    a->max_nodes = max_nodes;
    a->taken = calloc(V4_SPACE / 8, 1);
    a->slots = calloc(a->cap, sizeof *a->slots);
    if (!a->taken || !a->slots) {
        coord_addrs_free(a);
        return -1;
    }
    return 0;
}

void coord_addrs_free(struct coord_addrs *a)
{
    free(a->taken);
    free(a->slots);
    memset(a, 0, sizeof *a);
}

/* The key's slot, or the empty slot where it would go. */
static size_t find(const struct coord_addrs *a, const uint8_t key[32], size_t home)
{
    size_t i = home;
    while (a->slots[i].used && memcmp(a->slots[i].key, key, 32) != 0)
        i = (i + 1) & (a->cap - 1);
    return i;
}

int coord_addrs_lookup(const struct coord_addrs *a, const uint8_t key[32], uint8_t v6[16], uint8_t v4[4])
{
    struct derived d;
    if (!a->slots)
        return -1;
    derive(a, key, &d);
    const struct coord_addr_slot *s = &a->slots[find(a, key, d.home)];
    if (!s->used)
        return -1;
    fill(s, v6, v4);
    return 0;
}

int coord_addrs_assign(struct coord_addrs *a, const uint8_t key[32], uint8_t v6[16], uint8_t v4[4])
{
    struct derived d;
    if (!a->slots)
        return -1;
    derive(a, key, &d);
    struct coord_addr_slot *s = &a->slots[find(a, key, d.home)];
    if (!s->used) {
        if (a->n >= a->max_nodes)
            return -1;
        /* Terminates: max_nodes is far below the free IPv4 offsets. */
        while (taken(a, d.off) || v4_reserved(d.off))
            d.off = (d.off + 1) & (V4_SPACE - 1);
        *s = (struct coord_addr_slot){.used = true, .home = d.home, .off = d.off};
        memcpy(s->key, key, 32);
        memcpy(s->v6mid, d.v6mid, sizeof d.v6mid);
        set_taken(a, d.off, true);
        a->n++;
    }
    fill(s, v6, v4);
    return 0;
}

/* Whether slot j's key, which hashes to home, may move back to the hole at i
 * without leaving the probe path from home to j (Knuth's algorithm R). */
static bool may_fill_hole(size_t i, size_t j, size_t home)
{
    if (i <= j)
        return home <= i || home > j;
    return home <= i && home > j;
}

int coord_addrs_release(struct coord_addrs *a, const uint8_t key[32])
{
    struct derived d;
    if (!a->slots)
        return -1;
    derive(a, key, &d);
    size_t i = find(a, key, d.home);
    if (!a->slots[i].used)
        return -1;
    set_taken(a, a->slots[i].off, false);
    a->n--;
    /* Backward-shift deletion keeps every remaining key reachable without
     * tombstones. */
    for (size_t j = (i + 1) & (a->cap - 1); a->slots[j].used; j = (j + 1) & (a->cap - 1)) {
        if (may_fill_hole(i, j, a->slots[j].home)) {
            a->slots[i] = a->slots[j];
            i = j;
        }
    }
    memset(&a->slots[i], 0, sizeof a->slots[i]);
    return 0;
}
