#include "wg/kdf.h"

#include <string.h>
#include <sodium.h>

#include "wg/blake2s.h"

#define HASH_LEN  32
#define BLOCK_LEN WG_BLAKE2S_BLOCK_LEN

void wg_hash(uint8_t out[32], const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    struct wg_blake2s s;

    wg_blake2s_init(&s, HASH_LEN);
    wg_blake2s_update(&s, a, alen);
    wg_blake2s_update(&s, b, blen);
    wg_blake2s_final(&s, out);   /* out is written last, so it may alias a or b */
}

void wg_mac(uint8_t out[16], const uint8_t *key, size_t keylen, const uint8_t *in, size_t len)
{
    wg_blake2s(out, 16, in, len, key, keylen);
}

/* One HMAC pass: BLAKE2s-256((K ^ pad) || msg). */
static void hmac_pass(uint8_t out[HASH_LEN], const uint8_t k[BLOCK_LEN], uint8_t pad,
                      const uint8_t *msg, size_t len)
{
    uint8_t block[BLOCK_LEN];
    struct wg_blake2s s;

    for (int i = 0; i < BLOCK_LEN; i++)
        block[i] = k[i] ^ pad;
    wg_blake2s_init(&s, HASH_LEN);
    wg_blake2s_update(&s, block, sizeof block);
    wg_blake2s_update(&s, msg, len);
    wg_blake2s_final(&s, out);
    sodium_memzero(block, sizeof block);
}

void wg_hmac(uint8_t out[32], const uint8_t *key, size_t keylen, const uint8_t *in, size_t len)
{
    uint8_t k[BLOCK_LEN] = { 0 };
    uint8_t inner[HASH_LEN];

    /* RFC 2104: keys longer than the block are hashed first. */
    if (keylen > BLOCK_LEN)
        wg_blake2s(k, HASH_LEN, key, keylen, NULL, 0);
    else if (keylen > 0)
        memcpy(k, key, keylen);
    hmac_pass(inner, k, 0x36, in, len);
    hmac_pass(out, k, 0x5c, inner, sizeof inner);   /* key/in already consumed */
    sodium_memzero(k, sizeof k);
    sodium_memzero(inner, sizeof inner);
}

void wg_kdf(uint8_t t1[32], uint8_t t2[32], uint8_t t3[32], const uint8_t c[32],
            const uint8_t *in, size_t inlen)
{
    uint8_t t0[HASH_LEN];
    uint8_t t[3][HASH_LEN + 1];   /* t_i || i+2, ready to feed the next round */

    wg_hmac(t0, c, HASH_LEN, in, inlen);
    /* Everything below reads only locals, so outputs may alias c or in. */
    t[0][0] = 0x1;
    wg_hmac(t[0], t0, HASH_LEN, t[0], 1);
    int n = t3 ? 3 : t2 ? 2 : 1;
    for (int i = 1; i < n; i++) {
        t[i - 1][HASH_LEN] = (uint8_t)(i + 1);
        wg_hmac(t[i], t0, HASH_LEN, t[i - 1], HASH_LEN + 1);
    }
    memcpy(t1, t[0], HASH_LEN);
    if (t2)
        memcpy(t2, t[1], HASH_LEN);
    if (t3)
        memcpy(t3, t[2], HASH_LEN);
    sodium_memzero(t0, sizeof t0);
    sodium_memzero(t, sizeof t);
}
