#include "wg/aead_sodium.h"

#include <sodium.h>
#include <string.h>

bool wg_aead_sodium_init(struct wg_aead_sodium *a, const uint8_t key[WG_KEY_LEN])
{
    memcpy(a->key, key, WG_KEY_LEN);
    return true;
}

void wg_aead_sodium_wipe(struct wg_aead_sodium *a)
{
    sodium_memzero(a->key, sizeof a->key);
}

bool wg_aead_sodium_seal(struct wg_aead_sodium *a, const uint8_t nonce[WG_AEAD_NONCE_LEN], const uint8_t *ad,
                         size_t adlen, const struct wg_iov *iov, int iovcnt, size_t pad_zeros, uint8_t *out)
{
    const uint8_t *m = out;
    size_t mlen = 0;

    if (iovcnt == 1 && pad_zeros == 0) {
        /* The common case: one pass, straight from the caller's buffer. */
        m = iov[0].base;
        mlen = iov[0].len;
    } else {
        /* libsodium has no streaming AEAD: gather, then encrypt in place. */
        for (int i = 0; i < iovcnt; i++) {
            memcpy(out + mlen, iov[i].base, iov[i].len);
            mlen += iov[i].len;
        }
        memset(out + mlen, 0, pad_zeros);
        mlen += pad_zeros;
    }
    return crypto_aead_chacha20poly1305_ietf_encrypt(out, NULL, m, mlen, ad, adlen, NULL, nonce, a->key) == 0;
}

bool wg_aead_sodium_open(struct wg_aead_sodium *a, const uint8_t nonce[WG_AEAD_NONCE_LEN], const uint8_t *ad,
                         size_t adlen, const uint8_t *in, size_t len, uint8_t *out)
{
    if (len < crypto_aead_chacha20poly1305_IETF_ABYTES)
        return false;
    return crypto_aead_chacha20poly1305_ietf_decrypt(out, NULL, NULL, in, len, ad, adlen, nonce, a->key) == 0;
}
