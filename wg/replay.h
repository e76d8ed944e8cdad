/* Receive-side replay window for data-message counters: an RFC 6479-style
 * bitmap ring with the Linux kernel's semantics (performance.md §3.5). */
#ifndef VOLE_WG_REPLAY_H
#define VOLE_WG_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

#define WG_REPLAY_BITS 8192
/* One word of the ring is always the partially-filled "current" word, so only
 * BITS - 64 counters behind the greatest are guaranteed to be remembered. */
#define WG_REPLAY_WINDOW (WG_REPLAY_BITS - 64)

struct wg_replay {
    /* One more than the greatest counter accepted so far; 0 means none yet.
     * The +1 lets a zeroed struct mean "empty" while counter 0 stays valid. */
    uint64_t greatest;
    uint64_t bitmap[WG_REPLAY_BITS / 64];   /* bit (n+1) % BITS set: n seen */
};

void wg_replay_init(struct wg_replay *r);

/* Called only after AEAD authentication succeeded (a forged counter must not
 * move the window). Returns true and records the counter if it is new and
 * inside the window; false for a duplicate, a counter too old for the window,
 * or counter >= WG_REJECT_AFTER_MESSAGES. */
bool wg_replay_check(struct wg_replay *r, uint64_t counter);

#endif
