/* WireGuard's hash constructions over BLAKE2s (WireGuard paper §5.4;
 * shared/reference/performance.md §3.1). All outputs may alias any input:
 * the handshake updates its chaining key and hash in place. */
#ifndef VOLE_WG_KDF_H
#define VOLE_WG_KDF_H

#include <stddef.h>
#include <stdint.h>

/* Hash(a || b) = BLAKE2s-256; b may be NULL with blen 0. */
void wg_hash(uint8_t out[32], const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);

/* Mac(key, in) = keyed BLAKE2s with a 16-byte output; keylen 1..32. */
void wg_mac(uint8_t out[16], const uint8_t *key, size_t keylen, const uint8_t *in, size_t len);

/* Hmac(key, in) = RFC 2104 HMAC over BLAKE2s-256 (block 64). Not keyed BLAKE2s. */
void wg_hmac(uint8_t out[32], const uint8_t *key, size_t keylen, const uint8_t *in, size_t len);

/* Kdf_n(C, input): T0 = Hmac(C, input), t1 = Hmac(T0, 0x1),
 * t2 = Hmac(T0, t1||0x2), t3 = Hmac(T0, t2||0x3). t2/t3 may be NULL. */
void wg_kdf(uint8_t t1[32], uint8_t t2[32], uint8_t t3[32], const uint8_t c[32],
            const uint8_t *in, size_t inlen);

#endif
