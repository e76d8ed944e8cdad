#include "wg/jitter.h"

#include <sodium.h>

void wg_jitter_seed(struct wg_jitter *j)
{
    randombytes_buf(&j->state, sizeof j->state);
}

uint32_t wg_jitter_below(struct wg_jitter *j, uint32_t bound)
{
    uint64_t z = (j->state += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (uint32_t)(((z >> 32) * (uint64_t)bound) >> 32);
}
