/* BLAKE2s per RFC 7693 §3 (compression), §2.5 (parameter block) and
 * Appendix C/D (buffering: the last block is held back until final so it can
 * be flagged as last). */
#include "wg/blake2s.h"

#include <stdlib.h>
#include <string.h>
#include <sodium.h>

static const uint32_t IV[8] = {
    0x6A09E667u, 0xBB67AE85u, 0x3C6EF372u, 0xA54FF53Au,
    0x510E527Fu, 0x9B05688Cu, 0x1F83D9ABu, 0x5BE0CD19u,
};

/* Message word schedule, RFC 7693 §2.7; BLAKE2s uses the first 10 rows. */
static const uint8_t SIGMA[10][16] = {
    { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 },
    { 14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3 },
    { 11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4 },
    { 7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8 },
    { 9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13 },
    { 2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9 },
    { 12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11 },
    { 13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10 },
    { 6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5 },
    { 10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0 },
};

static inline uint32_t rotr32(uint32_t x, unsigned n)
{
    return (x >> n) | (x << (32 - n));
}

/* memcpy keeps the load alignment-safe; compilers turn it into one mov. */
static inline uint32_t load32_le(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap32(v);
#endif
    return v;
}

static inline void store32_le(uint8_t *p, uint32_t v)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap32(v);
#endif
    memcpy(p, &v, sizeof v);
}

/* The mixing function G (RFC 7693 §3.1) with BLAKE2s rotations 16/12/8/7. */
#define G(a, b, c, d, x, y)                    \
    do {                                       \
        (a) = (a) + (b) + (x); (d) = rotr32((d) ^ (a), 16); \
        (c) = (c) + (d);       (b) = rotr32((b) ^ (c), 12); \
        (a) = (a) + (b) + (y); (d) = rotr32((d) ^ (a), 8);  \
        (c) = (c) + (d);       (b) = rotr32((b) ^ (c), 7);  \
    } while (0)

/* One round with a constant r, so SIGMA lookups fold to fixed indices. */
#define ROUND(r)                                                      \
    do {                                                              \
        const uint8_t *z = SIGMA[(r)];                                  \
        G(v[0], v[4], v[8],  v[12], m[z[0]],  m[z[1]]);               \
        G(v[1], v[5], v[9],  v[13], m[z[2]],  m[z[3]]);               \
        G(v[2], v[6], v[10], v[14], m[z[4]],  m[z[5]]);               \
        G(v[3], v[7], v[11], v[15], m[z[6]],  m[z[7]]);               \
        G(v[0], v[5], v[10], v[15], m[z[8]],  m[z[9]]);               \
        G(v[1], v[6], v[11], v[12], m[z[10]], m[z[11]]);              \
        G(v[2], v[7], v[8],  v[13], m[z[12]], m[z[13]]);              \
        G(v[3], v[4], v[9],  v[14], m[z[14]], m[z[15]]);              \
    } while (0)

/* Compression F (RFC 7693 §3.2). The caller has already advanced t. */
static void compress(struct wg_blake2s *s, const uint8_t block[64])
{
    uint32_t m[16], v[16];

    for (int i = 0; i < 16; i++)
        m[i] = load32_le(block + (size_t)4 * i);
    for (int i = 0; i < 8; i++) {
        v[i] = s->h[i];
        v[i + 8] = IV[i];
    }
    v[12] ^= s->t[0];
    v[13] ^= s->t[1];
    v[14] ^= s->f[0];
    v[15] ^= s->f[1];

    ROUND(0); ROUND(1); ROUND(2); ROUND(3); ROUND(4);
    ROUND(5); ROUND(6); ROUND(7); ROUND(8); ROUND(9);

    for (int i = 0; i < 8; i++)
        s->h[i] ^= v[i] ^ v[i + 8];
    /* The message words may be secret (key block, handshake secrets). */
    sodium_memzero(m, sizeof m);
    sodium_memzero(v, sizeof v);
}

static void add_counter(struct wg_blake2s *s, uint32_t inc)
{
    s->t[0] += inc;
    if (s->t[0] < inc)
        s->t[1]++;
}

/* Parameter block (RFC 7693 §2.5): digest length, key length, fanout 1,
 * depth 1; all other fields zero for sequential, unsalted hashing. */
static void init_param(struct wg_blake2s *s, size_t outlen, size_t keylen)
{
    if (outlen < 1 || outlen > WG_BLAKE2S_OUT_MAX || keylen > WG_BLAKE2S_KEY_MAX)
        abort();
    memset(s, 0, sizeof *s);
    memcpy(s->h, IV, sizeof s->h);
    s->h[0] ^= 0x01010000u ^ ((uint32_t)keylen << 8) ^ (uint32_t)outlen;
    s->outlen = outlen;
}

void wg_blake2s_init(struct wg_blake2s *s, size_t outlen)
{
    init_param(s, outlen, 0);
}

void wg_blake2s_init_key(struct wg_blake2s *s, size_t outlen, const uint8_t *key, size_t keylen)
{
    if (key == NULL || keylen < 1)
        abort();
    init_param(s, outlen, keylen);
    /* The key, zero-padded, is the first block. It stays buffered so that a
     * keyed hash of the empty message finalizes it as the last block. */
    memcpy(s->buf, key, keylen);
    s->buflen = WG_BLAKE2S_BLOCK_LEN;
}

void wg_blake2s_update(struct wg_blake2s *s, const uint8_t *in, size_t len)
{
    if (len == 0)
        return;
    size_t room = WG_BLAKE2S_BLOCK_LEN - s->buflen;
    if (len <= room) {
        memcpy(s->buf + s->buflen, in, len);
        s->buflen += len;
        return;
    }
    /* More input follows, so the buffered block is not the last one. */
    memcpy(s->buf + s->buflen, in, room);
    add_counter(s, WG_BLAKE2S_BLOCK_LEN);
    compress(s, s->buf);
    in += room;
    len -= room;
    /* Strictly greater: hold back a full final block for wg_blake2s_final. */
    while (len > WG_BLAKE2S_BLOCK_LEN) {
        add_counter(s, WG_BLAKE2S_BLOCK_LEN);
        compress(s, in);
        in += WG_BLAKE2S_BLOCK_LEN;
        len -= WG_BLAKE2S_BLOCK_LEN;
    }
    memcpy(s->buf, in, len);
    s->buflen = len;
}

void wg_blake2s_final(struct wg_blake2s *s, uint8_t *out)
{
    uint8_t digest[WG_BLAKE2S_OUT_MAX];

    add_counter(s, (uint32_t)s->buflen);
    memset(s->buf + s->buflen, 0, WG_BLAKE2S_BLOCK_LEN - s->buflen);
    s->f[0] = 0xFFFFFFFFu;
    compress(s, s->buf);
    for (int i = 0; i < 8; i++)
        store32_le(digest + (size_t)4 * i, s->h[i]);
    memcpy(out, digest, s->outlen);
    sodium_memzero(digest, sizeof digest);
    sodium_memzero(s, sizeof *s);
}

void wg_blake2s(uint8_t *out, size_t outlen, const uint8_t *in, size_t inlen,
                const uint8_t *key, size_t keylen)
{
    struct wg_blake2s s;

    if (keylen > 0)
        wg_blake2s_init_key(&s, outlen, key, keylen);
    else
        wg_blake2s_init(&s, outlen);
    wg_blake2s_update(&s, in, inlen);
    wg_blake2s_final(&s, out);
}
