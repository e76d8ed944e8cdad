#include "derp/relay_timers.h"

#include <stdlib.h>

void derp_timers_init(struct derp_timers *h)
{
    h->heap = NULL;
    h->n = h->cap = 0;
}

void derp_timers_free(struct derp_timers *h)
{
    free(h->heap);
    derp_timers_init(h);
}

static void place(struct derp_timers *h, struct derp_timer *t, uint32_t i)
{
    h->heap[i] = t;
    t->idx = i;
}

static void sift_up(struct derp_timers *h, uint32_t i)
{
    struct derp_timer *t = h->heap[i];

    while (i > 0 && h->heap[(i - 1) / 2]->deadline > t->deadline) {
        place(h, h->heap[(i - 1) / 2], i);
        i = (i - 1) / 2;
    }
    place(h, t, i);
}

static void sift_down(struct derp_timers *h, uint32_t i)
{
    struct derp_timer *t = h->heap[i];

    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && h->heap[c + 1]->deadline < h->heap[c]->deadline)
            c++;
        if (h->heap[c]->deadline >= t->deadline)
            break;
        place(h, h->heap[c], i);
        i = c;
    }
    place(h, t, i);
}

int derp_timers_add(struct derp_timers *h, struct derp_timer *t, uint64_t deadline)
{
    if (h->n == h->cap) {
        uint32_t cap = h->cap ? h->cap * 2 : 64;
        struct derp_timer **heap = realloc(h->heap, (size_t)cap * sizeof(struct derp_timer *));
        if (!heap)
            return -1;
        h->heap = heap;
        h->cap = cap;
    }
    t->deadline = deadline;
    place(h, t, h->n++);
    sift_up(h, t->idx);
    return 0;
}

void derp_timers_remove(struct derp_timers *h, struct derp_timer *t)
{
    uint32_t i = t->idx;

    if (i == DERP_TIMER_NONE)
        return;
    t->idx = DERP_TIMER_NONE;
    if (i == --h->n)
        return;
    /* The last element fills the hole and may belong above or below it. */
    struct derp_timer *last = h->heap[h->n];
    place(h, last, i);
    sift_up(h, i);
    sift_down(h, last->idx);
}

void derp_timers_move(struct derp_timers *h, struct derp_timer *t, uint64_t deadline)
{
    t->deadline = deadline;
    sift_up(h, t->idx);
    sift_down(h, t->idx);
}
