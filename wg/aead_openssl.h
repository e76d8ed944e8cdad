/* The ChaCha20-Poly1305 (RFC 8439) backend on OpenSSL 3's libcrypto, about
 * 1.6x libsodium's speed on 1.3 kB packets here (docs/BENCHMARKS.md). Built
 * whenever libcrypto is found (VOLE_HAVE_LIBCRYPTO). Same contract as
 * wg/aead_sodium.h, the same gathering too: one iov entry is encrypted
 * straight from it, several are gathered into out first (aead_openssl.c: the
 * numbers behind that). */
#ifndef VOLE_WG_AEAD_OPENSSL_H
#define VOLE_WG_AEAD_OPENSSL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wg/aead_sodium.h"
#include "wg/device.h"

struct evp_cipher_ctx_st;

struct wg_aead_openssl {
    /* Keyed once at init; each packet only sets the nonce. NULL: wiped. */
    struct evp_cipher_ctx_st *ctx;
};

/* False when libcrypto could not allocate or key the context. */
bool wg_aead_openssl_init(struct wg_aead_openssl *a, const uint8_t key[WG_KEY_LEN]);
/* Frees the context (libcrypto cleanses the key). A zeroed or wiped context is fine. */
void wg_aead_openssl_wipe(struct wg_aead_openssl *a);
bool wg_aead_openssl_seal(struct wg_aead_openssl *a, const uint8_t nonce[WG_AEAD_NONCE_LEN], const uint8_t *ad,
                          size_t adlen, const struct wg_iov *iov, int iovcnt, size_t pad_zeros, uint8_t *out);
/* out is written as the ciphertext is read, before the tag is checked. */
bool wg_aead_openssl_open(struct wg_aead_openssl *a, const uint8_t nonce[WG_AEAD_NONCE_LEN], const uint8_t *ad,
                          size_t adlen, const uint8_t *in, size_t len, uint8_t *out);

#endif
