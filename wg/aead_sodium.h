/* The ChaCha20-Poly1305 (RFC 8439) backend on libsodium: always built, the
 * fallback of wg/aead.h when OpenSSL's libcrypto is absent. */
#ifndef VOLE_WG_AEAD_SODIUM_H
#define VOLE_WG_AEAD_SODIUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wg/device.h"

#define WG_AEAD_NONCE_LEN 12

struct wg_aead_sodium {
    uint8_t key[WG_KEY_LEN];
};

/* Never fails (the key is only copied); bool to match the other backend. */
bool wg_aead_sodium_init(struct wg_aead_sodium *a, const uint8_t key[WG_KEY_LEN]);
/* Wipes the key. A zeroed or already wiped context is fine. */
void wg_aead_sodium_wipe(struct wg_aead_sodium *a);
/* out = ChaCha20(iov... || pad_zeros zero bytes) || tag, ad authenticated.
 * One entry and no padding encrypt out of place from it; anything else is
 * gathered into out first and encrypted there in place. out must not overlap
 * the iov. */
bool wg_aead_sodium_seal(struct wg_aead_sodium *a, const uint8_t nonce[WG_AEAD_NONCE_LEN], const uint8_t *ad,
                         size_t adlen, const struct wg_iov *iov, int iovcnt, size_t pad_zeros, uint8_t *out);
/* in holds ciphertext || tag (len >= 16); out receives len - 16 bytes.
 * False on a bad tag (out is then unspecified) or len < 16. */
bool wg_aead_sodium_open(struct wg_aead_sodium *a, const uint8_t nonce[WG_AEAD_NONCE_LEN], const uint8_t *ad,
                         size_t adlen, const uint8_t *in, size_t len, uint8_t *out);

#endif
