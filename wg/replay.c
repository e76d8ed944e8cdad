#include "wg/replay.h"

#include <string.h>

#include "wg/messages.h"

#define WORDS     (WG_REPLAY_BITS / 64)
#define WORD_MASK ((uint64_t)WORDS - 1)

_Static_assert((WORDS & (WORDS - 1)) == 0, "the ring index is taken with a mask");

void wg_replay_init(struct wg_replay *r)
{
    memset(r, 0, sizeof(*r));
}

/* Moving the top of the window forward: the words between the old top word
 * (exclusive) and the new one (inclusive) now stand for counters never seen,
 * so clear them. A jump of a whole ring or more clears every word. */
static void advance(struct wg_replay *r, uint64_t top)
{
    uint64_t old_word = r->greatest >> 6;
    uint64_t gap = (top >> 6) - old_word;
    if (gap > WORDS)
        gap = WORDS;
    for (uint64_t i = 1; i <= gap; i++)
        r->bitmap[(old_word + i) & WORD_MASK] = 0;
    r->greatest = top;
}

bool wg_replay_check(struct wg_replay *r, uint64_t counter)
{
    if (counter >= WG_REJECT_AFTER_MESSAGES)
        return false;
    /* Work in the shifted space n = counter + 1 (see struct comment); it
     * cannot overflow because of the check above. */
    uint64_t n = counter + 1;
    if (n + WG_REPLAY_WINDOW < r->greatest)
        return false;   /* older than the window remembers */
    if (n > r->greatest)
        advance(r, n);
    uint64_t *word = &r->bitmap[(n >> 6) & WORD_MASK];
    uint64_t bit = 1ull << (n & 63);
    if (*word & bit)
        return false;   /* duplicate */
    *word |= bit;
    return true;
}
