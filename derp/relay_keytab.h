/* An open-addressing hash table keyed by 32-byte node keys, for the relay's
 * clients table and each client's "sent to" set. Entries are stored inline
 * (fixed size, the key first). Node keys are chosen by clients, who can grind
 * them, so slots come from a keyed hash (SipHash, crypto_shorthash) with the
 * relay's random key: nobody can aim many keys at one probe run. */
#ifndef VOLE_DERP_RELAY_KEYTAB_H
#define VOLE_DERP_RELAY_KEYTAB_H

#include <stdbool.h>
#include <stdint.h>

#include "derp/frame.h"

#define DERP_KEYTAB_HASH_KEY_LEN 16   /* crypto_shorthash_KEYBYTES */

struct derp_keytab {
    uint8_t *entries;     /* cap * entry_size bytes; each entry starts with its key */
    uint32_t *tags;       /* per slot: 0 empty, else hash bits with the top bit set */
    uint32_t cap, count;  /* cap: 0 (nothing allocated yet) or a power of two */
    uint32_t entry_size;
};

/* Allocates nothing: an empty table costs its 24 bytes only. */
void derp_keytab_init(struct derp_keytab *t, uint32_t entry_size);
void derp_keytab_free(struct derp_keytab *t);

void *derp_keytab_find(const struct derp_keytab *t, const uint8_t hk[DERP_KEYTAB_HASH_KEY_LEN],
                       const uint8_t key[DERP_KEY_LEN]);
/* The entry for key, created (zeroed but for the key) when missing, *fresh
 * says which. NULL when out of memory. Entry pointers stay valid until the
 * next insert or remove. */
void *derp_keytab_insert(struct derp_keytab *t, const uint8_t hk[DERP_KEYTAB_HASH_KEY_LEN],
                         const uint8_t key[DERP_KEY_LEN], bool *fresh);
/* entry: a pointer that find or insert returned. */
void derp_keytab_remove(struct derp_keytab *t, void *entry);
/* Would the next insert of a new key grow the table? */
bool derp_keytab_full(const struct derp_keytab *t);
/* Moves the entries for which keep() says true (all when keep is NULL) into
 * cap slots (a power of two, more than the kept entries). Not to be called
 * while iterating. 0, or -1 when out of memory (the table unchanged). */
int derp_keytab_rebuild(struct derp_keytab *t, uint32_t cap, bool (*keep)(void *ctx, const void *entry), void *ctx);

/* Iteration: slot i in [0, cap) holds an entry or NULL. */
static inline void *derp_keytab_slot(const struct derp_keytab *t, uint32_t i)
{
    return t->tags[i] ? t->entries + (size_t)i * t->entry_size : (void *)0;
}

#endif
