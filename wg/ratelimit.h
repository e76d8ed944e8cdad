/* Per-source handshake rate limit applied under load: 20 per second with a
 * burst of 5 per IPv4 address or IPv6 /64 (kernel ratelimiter.c). A fixed table,
 * so a flood of sources costs no memory: the oldest slot in a probe run is reused. */
#ifndef VOLE_WG_RATELIMIT_H
#define VOLE_WG_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "wg/endpoint.h"

#define WG_RATELIMIT_SLOTS 4096
#define WG_RATELIMIT_PER_SEC 20
#define WG_RATELIMIT_BURST 5

struct wg_ratelimit_slot {
    uint8_t key[9];        /* family, then 4 address bytes or the /64 */
    uint64_t last;         /* monotonic ns of the last update; 0 = free */
    uint64_t tokens;       /* in ns of credit */
};

struct wg_ratelimit {
    struct wg_ratelimit_slot slots[WG_RATELIMIT_SLOTS];
    uint8_t hash_key[16];
};

void wg_ratelimit_init(struct wg_ratelimit *r);
bool wg_ratelimit_allow(struct wg_ratelimit *r, const struct wg_endpoint *src, uint64_t now);

#endif
