/* Big-endian readers and writers, and the Internet checksum (RFC 1071),
 * for packets the unit tests build or check by hand, independent of the
 * code under test. */
#ifndef VOLE_TEST_BYTES_H
#define VOLE_TEST_BYTES_H

#include <stddef.h>
#include <stdint.h>

static inline void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)(v >> 16));
    put16(p + 2, (uint16_t)v);
}

static inline uint16_t get16(const uint8_t *b) { return (uint16_t)(b[0] << 8 | b[1]); }
static inline uint32_t get32(const uint8_t *b) { return (uint32_t)get16(b) << 16 | get16(b + 2); }

/* The one's-complement sum of n bytes added to acc (not yet folded). */
static inline uint32_t sum_bytes(const uint8_t *b, size_t n, uint32_t acc)
{
    for (size_t i = 0; i + 1 < n; i += 2)
        acc += (uint32_t)(b[i] << 8 | b[i + 1]);
    if (n & 1)
        acc += (uint32_t)b[n - 1] << 8;
    return acc;
}

/* The checksum of a sum: folded to 16 bits and complemented. */
static inline uint16_t fold(uint32_t acc)
{
    while (acc >> 16)
        acc = (acc & 0xFFFF) + (acc >> 16);
    return (uint16_t)~acc;
}

#endif
