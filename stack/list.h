/* Intrusive doubly linked list: O(1) unlink of an entry from wherever it is,
 * which the dirty-pcb list and the per-stack splice registry both need (a
 * connection torn down mid-batch must leave the list without a scan). */
#ifndef VOLE_STACK_LIST_H
#define VOLE_STACK_LIST_H

#include <stdbool.h>
#include <stddef.h>

#define vole_container_of(ptr, type, member) \
    ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

struct vole_link {
    struct vole_link *next;
    struct vole_link **pprev;   /* NULL while not on a list */
};

static inline bool vole_link_linked(const struct vole_link *l)
{
    return l->pprev != NULL;
}

static inline void vole_link_push(struct vole_link **head, struct vole_link *l)
{
    l->next = *head;
    if (l->next)
        l->next->pprev = &l->next;
    l->pprev = head;
    *head = l;
}

static inline void vole_link_unlink(struct vole_link *l)
{
    if (!l->pprev)
        return;
    *l->pprev = l->next;
    if (l->next)
        l->next->pprev = l->pprev;
    l->next = NULL;
    l->pprev = NULL;
}

#endif
