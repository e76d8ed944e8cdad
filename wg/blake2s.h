/* BLAKE2s (RFC 7693): the hash under WireGuard's Hash, Mac and Hmac.
 * Sans-IO, no allocation. Contract violations (outlen outside 1..32, keylen
 * outside 1..32 for a keyed init) abort(): a silent wrong digest or an
 * out-of-bounds write would be worse on a handshake path. */
#ifndef VOLE_WG_BLAKE2S_H
#define VOLE_WG_BLAKE2S_H

#include <stddef.h>
#include <stdint.h>

#define WG_BLAKE2S_BLOCK_LEN  64
#define WG_BLAKE2S_OUT_MAX    32
#define WG_BLAKE2S_KEY_MAX    32

struct wg_blake2s {
    uint32_t h[8];      /* chained state */
    uint32_t t[2];      /* byte counter, low word first */
    uint32_t f[2];      /* finalization flags */
    uint8_t buf[64];    /* pending input; always holds the last block until final */
    size_t buflen;
    size_t outlen;
};

void wg_blake2s_init(struct wg_blake2s *s, size_t outlen);
/* keylen 1..32 */
void wg_blake2s_init_key(struct wg_blake2s *s, size_t outlen, const uint8_t *key, size_t keylen);
void wg_blake2s_update(struct wg_blake2s *s, const uint8_t *in, size_t len);
/* Writes s->outlen bytes, then wipes the state with sodium_memzero. */
void wg_blake2s_final(struct wg_blake2s *s, uint8_t *out);

/* One-shot; key may be NULL with keylen 0 for the unkeyed hash. */
void wg_blake2s(uint8_t *out, size_t outlen, const uint8_t *in, size_t inlen,
                const uint8_t *key, size_t keylen);

#endif
