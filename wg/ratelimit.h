/* Per-source token bucket, keyed by IPv4 address or IPv6 /64. Each instance
 * has its own rate and burst: WireGuard handshakes under load use the kernel's
 * 20 per second with a burst of 5 (ratelimiter.c); the STUN server uses its
 * own. A fixed table, so a flood of sources costs no memory: the oldest slot
 * in a probe run is reused. */
#ifndef VOLE_WG_RATELIMIT_H
#define VOLE_WG_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "wg/endpoint.h"

#define WG_RATELIMIT_SLOTS 4096
/* The handshake limits, passed by wg/device.c. */
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
    uint64_t packet_cost;  /* ns of credit one packet takes: 1 s / per_sec */
    uint64_t token_max;    /* packet_cost * burst */
};

/* per_sec and burst are at least 1 (0 is taken as 1). libsodium must be
 * initialised (the hash key comes from randombytes). */
void wg_ratelimit_init(struct wg_ratelimit *r, uint32_t per_sec, uint32_t burst);
bool wg_ratelimit_allow(struct wg_ratelimit *r, const struct wg_endpoint *src, uint64_t now);

#endif
