/* Local session indices: the 32-bit receiver index in every message names either
 * a handshake in progress or an established keypair of one peer. */
#ifndef VOLE_WG_INDEX_H
#define VOLE_WG_INDEX_H

#include <stdint.h>

enum wg_index_kind { WG_INDEX_HANDSHAKE = 1, WG_INDEX_KEYPAIR = 2 };

struct wg_index_entry {
    uint32_t index;
    enum wg_index_kind kind;
    void *ptr;                         /* struct wg_handshake * or struct wg_keypair * */
    struct wg_index_entry *next;       /* bucket chain */
};

#define WG_INDEX_BUCKETS 1024          /* power of two; a node has a few peers x 3 slots */

struct wg_index_table {
    struct wg_index_entry *buckets[WG_INDEX_BUCKETS];
};

/* Picks a fresh random index not in use, links e under it. */
void wg_index_insert(struct wg_index_table *t, struct wg_index_entry *e, enum wg_index_kind kind, void *ptr);
void wg_index_remove(struct wg_index_table *t, struct wg_index_entry *e);
/* Moves the index from old to new_entry (handshake -> keypair keeps the index). */
void wg_index_replace(struct wg_index_table *t, struct wg_index_entry *old, struct wg_index_entry *new_entry,
                      enum wg_index_kind kind, void *ptr);
struct wg_index_entry *wg_index_lookup(const struct wg_index_table *t, uint32_t index);

#endif
