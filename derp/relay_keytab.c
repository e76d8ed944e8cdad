#include "derp/relay_keytab.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define TAG_USED 0x80000000u
#define FIRST_CAP 8u
#define MAX_CAP (1u << 30)   /* the slot index must fit below TAG_USED */

void derp_keytab_init(struct derp_keytab *t, uint32_t entry_size)
{
    memset(t, 0, sizeof *t);
    t->entry_size = entry_size;
}

void derp_keytab_free(struct derp_keytab *t)
{
    free(t->entries);
    free(t->tags);
    derp_keytab_init(t, t->entry_size);
}

/* The tag keeps 31 bits of the keyed hash: the home slot comes from it, so
 * growing and removing never rehash a key. */
static uint32_t key_tag(const uint8_t hk[DERP_KEYTAB_HASH_KEY_LEN], const uint8_t key[DERP_KEY_LEN])
{
    uint8_t h[crypto_shorthash_BYTES];

    crypto_shorthash(h, key, DERP_KEY_LEN, hk);
    return ((uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 24) | TAG_USED;
}

static uint8_t *entry_at(const struct derp_keytab *t, uint32_t i)
{
    return t->entries + (size_t)i * t->entry_size;
}

/* The slot holding key, or the empty slot where it would go. */
static uint32_t probe(const struct derp_keytab *t, uint32_t tag, const uint8_t key[DERP_KEY_LEN])
{
    uint32_t mask = t->cap - 1, i = tag & mask;

    while (t->tags[i] && !(t->tags[i] == tag && memcmp(entry_at(t, i), key, DERP_KEY_LEN) == 0))
        i = (i + 1) & mask;
    return i;
}

void *derp_keytab_find(const struct derp_keytab *t, const uint8_t hk[DERP_KEYTAB_HASH_KEY_LEN],
                       const uint8_t key[DERP_KEY_LEN])
{
    if (t->count == 0)
        return NULL;
    uint32_t i = probe(t, key_tag(hk, key), key);
    return t->tags[i] ? entry_at(t, i) : NULL;
}

int derp_keytab_rebuild(struct derp_keytab *t, uint32_t new_cap, bool (*keep)(void *ctx, const void *entry),
                        void *ctx)
{
    struct derp_keytab n = { .cap = new_cap, .entry_size = t->entry_size };

    n.entries = malloc((size_t)new_cap * t->entry_size);
    n.tags = calloc(new_cap, sizeof *n.tags);
    if (!n.entries || !n.tags) {
        free(n.entries);
        free(n.tags);
        return -1;
    }
    for (uint32_t i = 0; i < t->cap; i++) {
        const uint8_t *e = derp_keytab_slot(t, i);
        if (!e || (keep && !keep(ctx, e)))
            continue;
        uint32_t j = probe(&n, t->tags[i], e);
        n.tags[j] = t->tags[i];
        memcpy(entry_at(&n, j), e, t->entry_size);
        n.count++;
    }
    free(t->entries);
    free(t->tags);
    t->entries = n.entries;
    t->tags = n.tags;
    t->cap = n.cap;
    t->count = n.count;
    return 0;
}

/* Linear probing stays short below a load of 3/4. */
bool derp_keytab_full(const struct derp_keytab *t)
{
    return (uint64_t)(t->count + 1) * 4 > (uint64_t)t->cap * 3;
}

void *derp_keytab_insert(struct derp_keytab *t, const uint8_t hk[DERP_KEYTAB_HASH_KEY_LEN],
                         const uint8_t key[DERP_KEY_LEN], bool *fresh)
{
    uint32_t tag = key_tag(hk, key);

    *fresh = false;
    if (t->count) {
        uint32_t i = probe(t, tag, key);
        if (t->tags[i])
            return entry_at(t, i);
    }
    if (derp_keytab_full(t)) {
        uint32_t cap = t->cap ? t->cap * 2 : FIRST_CAP;
        if (cap > MAX_CAP || derp_keytab_rebuild(t, cap, NULL, NULL) < 0)
            return NULL;
    }
    uint32_t i = probe(t, tag, key);
    t->tags[i] = tag;
    memset(entry_at(t, i), 0, t->entry_size);
    memcpy(entry_at(t, i), key, DERP_KEY_LEN);
    t->count++;
    *fresh = true;
    return entry_at(t, i);
}

/* Is home cyclically within (hole, j]? Then the entry at j may not move to hole. */
static bool stays(uint32_t hole, uint32_t j, uint32_t home)
{
    if (hole < j)
        return home > hole && home <= j;
    return home > hole || home <= j;
}

/* Backward-shift deletion: no tombstones, so probe runs never rot. */
void derp_keytab_remove(struct derp_keytab *t, void *entry)
{
    uint32_t mask = t->cap - 1;
    uint32_t hole = (uint32_t)(((uint8_t *)entry - t->entries) / t->entry_size);

    for (uint32_t j = (hole + 1) & mask; t->tags[j]; j = (j + 1) & mask) {
        if (stays(hole, j, t->tags[j] & mask))
            continue;
        t->tags[hole] = t->tags[j];
        memcpy(entry_at(t, hole), entry_at(t, j), t->entry_size);
        hole = j;
    }
    t->tags[hole] = 0;
    t->count--;
}
