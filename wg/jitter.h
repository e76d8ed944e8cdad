/* A cheap per-device PRNG for the rekey timers' jitter. The jitter only
 * spreads handshakes out (the kernel draws it with get_random_u32_below); it
 * guards no secret, so it need not cost a getrandom syscall per data packet
 * the way randombytes_uniform did (wg_timers_data_sent draws it on the first
 * packet sent after every packet received). Seeded once from libsodium. */
#ifndef VOLE_WG_JITTER_H
#define VOLE_WG_JITTER_H

#include <stdint.h>

struct wg_jitter {
    uint64_t state;      /* splitmix64 */
};

void wg_jitter_seed(struct wg_jitter *j);
/* Uniform in [0, bound) for bound > 0 (multiply-shift: bias below bound / 2^32). */
uint32_t wg_jitter_below(struct wg_jitter *j, uint32_t bound);

#endif
