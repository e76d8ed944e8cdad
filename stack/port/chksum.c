/* lwIP's checksum routine (LWIP_CHKSUM, arch/cc.h), also used by
 * stack/tso.c: the one's-complement sum of RFC 1071, 8 bytes at a time.
 * Every byte vole's lwIP sends is summed once (issue #8's profile had
 * lwIP's 16-bit reference loop at 8-10 % of a sender's CPU).
 *
 * The sum of 16-bit words loaded in host order equals, in host order, the
 * sum of the big-endian words (RFC 1071 §2(B)), so the words are summed as
 * they lie in memory and the result is in memory order — what lwIP's
 * lwip_standard_chksum returns and its callers expect. */
#include <stdint.h>
#include <string.h>

#include "arch/cc.h"

static uint64_t add_carry(uint64_t acc, uint64_t v)
{
    acc += v;
    return acc + (acc < v);   /* end-around carry */
}

static uint16_t fold64(uint64_t a)
{
    a = (a & 0xFFFFFFFFu) + (a >> 32);
    a = (a & 0xFFFFFFFFu) + (a >> 32);
    a = (a & 0xFFFFu) + (a >> 16);
    a = (a & 0xFFFFu) + (a >> 16);
    return (uint16_t)a;
}

unsigned short vole_lwip_chksum(const void *data, int len)
{
    const uint8_t *b = data;
    size_t n = len > 0 ? (size_t)len : 0;
    uint64_t acc = 0, v8;
    uint16_t v2;
    uint8_t pair[2];

    /* Four independent words per round: the carries do not chain. */
    for (; n >= 32; b += 32, n -= 32) {
        uint64_t w[4];
        memcpy(w, b, 32);
        acc = add_carry(acc, w[0]);
        acc = add_carry(acc, w[1]);
        acc = add_carry(acc, w[2]);
        acc = add_carry(acc, w[3]);
    }
    for (; n >= 8; b += 8, n -= 8) {
        memcpy(&v8, b, 8);
        acc = add_carry(acc, v8);
    }
    for (; n >= 2; b += 2, n -= 2) {
        memcpy(&v2, b, 2);
        acc = add_carry(acc, v2);
    }
    if (n) {   /* an odd last byte is the first byte of a zero-padded word */
        pair[0] = b[0];
        pair[1] = 0;
        memcpy(&v2, pair, 2);
        acc = add_carry(acc, v2);
    }
    return fold64(acc);
}
