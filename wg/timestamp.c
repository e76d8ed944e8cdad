#include "wg/timestamp.h"

#include <string.h>

#define TAI64_EPOCH 0x400000000000000aull   /* 2^62 + 10 leap seconds */
#define NSEC_ROUND_MASK (~((1u << 24) - 1u))

void wg_tai64n(uint8_t out[WG_TIMESTAMP_LEN], uint64_t unix_ns)
{
    uint64_t sec = TAI64_EPOCH + unix_ns / 1000000000ull;
    uint32_t nsec = (uint32_t)(unix_ns % 1000000000ull) & NSEC_ROUND_MASK;
    for (int i = 0; i < 8; i++)
        out[i] = (uint8_t)(sec >> (56 - 8 * i));
    for (int i = 0; i < 4; i++)
        out[8 + i] = (uint8_t)(nsec >> (24 - 8 * i));
}

int wg_tai64n_cmp(const uint8_t a[WG_TIMESTAMP_LEN], const uint8_t b[WG_TIMESTAMP_LEN])
{
    return memcmp(a, b, WG_TIMESTAMP_LEN);
}
