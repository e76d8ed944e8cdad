#include "wg/index.h"

#include <sodium.h>
#include <stddef.h>

static struct wg_index_entry **bucket(struct wg_index_table *t, uint32_t index)
{
    /* Indices are random, so their low bits are a fine hash. */
    return &t->buckets[index & (WG_INDEX_BUCKETS - 1)];
}

struct wg_index_entry *wg_index_lookup(const struct wg_index_table *t, uint32_t index)
{
    struct wg_index_entry *e = t->buckets[index & (WG_INDEX_BUCKETS - 1)];
    while (e && e->index != index)
        e = e->next;
    return e;
}

static void link_entry(struct wg_index_table *t, struct wg_index_entry *e)
{
    struct wg_index_entry **b = bucket(t, e->index);
    e->next = *b;
    *b = e;
}

void wg_index_insert(struct wg_index_table *t, struct wg_index_entry *e, enum wg_index_kind kind, void *ptr)
{
    do {
        e->index = randombytes_random();
    } while (wg_index_lookup(t, e->index) != NULL);
    e->kind = kind;
    e->ptr = ptr;
    link_entry(t, e);
}

void wg_index_remove(struct wg_index_table *t, struct wg_index_entry *e)
{
    for (struct wg_index_entry **p = bucket(t, e->index); *p; p = &(*p)->next) {
        if (*p == e) {
            *p = e->next;
            e->next = NULL;
            return;
        }
    }
}

void wg_index_replace(struct wg_index_table *t, struct wg_index_entry *old, struct wg_index_entry *new_entry,
                      enum wg_index_kind kind, void *ptr)
{
    wg_index_remove(t, old);
    new_entry->index = old->index;
    new_entry->kind = kind;
    new_entry->ptr = ptr;
    link_entry(t, new_entry);
}
