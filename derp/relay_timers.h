/* A binary min-heap of deadlines, one per relay connection (its handshake
 * timeout, then its next keepalive). With 10,000 clients whose keepalives are
 * spread by jitter, derp_relay_tick runs ~170 times a second: each run must
 * cost O(log n) per due timer, not a scan of every client. */
#ifndef VOLE_DERP_RELAY_TIMERS_H
#define VOLE_DERP_RELAY_TIMERS_H

#include <stdint.h>

#define DERP_TIMER_NONE UINT32_MAX

/* Embedded in its owner; idx is its place in the heap (DERP_TIMER_NONE: not in it). */
struct derp_timer {
    uint64_t deadline;
    uint32_t idx;
};

struct derp_timers {
    struct derp_timer **heap;
    uint32_t n, cap;
};

void derp_timers_init(struct derp_timers *h);
void derp_timers_free(struct derp_timers *h);   /* the array only; timers belong to their owners */
/* Adds t with its deadline; 0, or -1 when out of memory. */
int derp_timers_add(struct derp_timers *h, struct derp_timer *t, uint64_t deadline);
void derp_timers_remove(struct derp_timers *h, struct derp_timer *t);
void derp_timers_move(struct derp_timers *h, struct derp_timer *t, uint64_t deadline);
/* The earliest timer, NULL when none. */
static inline struct derp_timer *derp_timers_first(const struct derp_timers *h)
{
    return h->n ? h->heap[0] : (struct derp_timer *)0;
}

#endif
