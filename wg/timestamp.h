/* TAI64N timestamps carried in handshake initiations (replay protection). */
#ifndef VOLE_WG_TIMESTAMP_H
#define VOLE_WG_TIMESTAMP_H

#include <stdint.h>
#include "wg/messages.h"

/* unix_ns: wall-clock time since the epoch. The nanoseconds are rounded down
 * to a multiple of 2^24 ns (≈16.8 ms, the largest power of two below 1 s / 50)
 * so the timestamp does not leak timer precision (as the kernel does). */
void wg_tai64n(uint8_t out[WG_TIMESTAMP_LEN], uint64_t unix_ns);

/* Big-endian byte strings compare as numbers: >0 when a is later than b. */
int wg_tai64n_cmp(const uint8_t a[WG_TIMESTAMP_LEN], const uint8_t b[WG_TIMESTAMP_LEN]);

#endif
