/* The WireGuard framing of the data AEAD over the backend chosen at build time. */
#include "wg/aead.h"

#include <string.h>

#ifdef VOLE_AEAD_OPENSSL
#define BACKEND(fn) wg_aead_openssl_##fn
#define BACKEND_NAME "openssl"
#else
#define BACKEND(fn) wg_aead_sodium_##fn
#define BACKEND_NAME "sodium"
#endif

/* 32 zero bits, then the little-endian counter (the whitepaper's nonce). */
static void data_nonce(uint8_t nonce[WG_AEAD_NONCE_LEN], uint64_t counter)
{
    memset(nonce, 0, 4);
    for (int i = 0; i < 8; i++)
        nonce[4 + i] = (uint8_t)(counter >> (8 * i));
}

bool wg_aead_init(struct wg_aead *a, const uint8_t key[WG_KEY_LEN])
{
    return BACKEND(init)(&a->impl, key);
}

void wg_aead_wipe(struct wg_aead *a)
{
    BACKEND(wipe)(&a->impl);
}

bool wg_aead_seal(struct wg_aead *a, uint64_t counter, const struct wg_iov *iov, int iovcnt, size_t pad_zeros,
                  uint8_t *out)
{
    uint8_t nonce[WG_AEAD_NONCE_LEN];

    data_nonce(nonce, counter);
    return BACKEND(seal)(&a->impl, nonce, NULL, 0, iov, iovcnt, pad_zeros, out);
}

bool wg_aead_open(struct wg_aead *a, uint64_t counter, const uint8_t *in, size_t len, uint8_t *out)
{
    uint8_t nonce[WG_AEAD_NONCE_LEN];

    data_nonce(nonce, counter);
    return BACKEND(open)(&a->impl, nonce, NULL, 0, in, len, out);
}

const char *wg_aead_backend(void)
{
    return BACKEND_NAME;
}
