/* The WireGuard framing of the data AEAD over the backend chosen at build time. */
#include "wg/aead.h"

#include <string.h>

#ifdef VOLE_AEAD_OPENSSL
#define BACKEND_NAME "openssl"
#else
#define BACKEND_NAME "sodium"
#endif

/* 32 zero bits, then the little-endian counter (the whitepaper's nonce). */
static void data_nonce(uint8_t nonce[WG_AEAD_NONCE_LEN], uint64_t counter)
{
    memset(nonce, 0, 4);
    for (int i = 0; i < 8; i++)
        nonce[4 + i] = (uint8_t)(counter >> (8 * i));
}

#ifdef VOLE_AEAD_OPENSSL
bool wg_aead_init(struct wg_aead *a, const uint8_t key[WG_KEY_LEN])
{
    a->use_fallback = !wg_aead_openssl_init(&a->impl, key);
    return !a->use_fallback || wg_aead_sodium_init(&a->fallback, key);
}

void wg_aead_wipe(struct wg_aead *a)
{
    wg_aead_openssl_wipe(&a->impl);
    wg_aead_sodium_wipe(&a->fallback);
    a->use_fallback = false;
}

static bool seal_nonce(struct wg_aead *a, const uint8_t *nonce, const struct wg_iov *iov, int iovcnt,
                       size_t pad_zeros, uint8_t *out)
{
    if (a->use_fallback)
        return wg_aead_sodium_seal(&a->fallback, nonce, NULL, 0, iov, iovcnt, pad_zeros, out);
    return wg_aead_openssl_seal(&a->impl, nonce, NULL, 0, iov, iovcnt, pad_zeros, out);
}

static bool open_nonce(struct wg_aead *a, const uint8_t *nonce, const uint8_t *in, size_t len, uint8_t *out)
{
    if (a->use_fallback)
        return wg_aead_sodium_open(&a->fallback, nonce, NULL, 0, in, len, out);
    return wg_aead_openssl_open(&a->impl, nonce, NULL, 0, in, len, out);
}

const char *wg_aead_backend_of(const struct wg_aead *a)
{
    return a->use_fallback ? "sodium" : "openssl";
}
#else
bool wg_aead_init(struct wg_aead *a, const uint8_t key[WG_KEY_LEN])
{
    return wg_aead_sodium_init(&a->impl, key);
}

void wg_aead_wipe(struct wg_aead *a)
{
    wg_aead_sodium_wipe(&a->impl);
}

static bool seal_nonce(struct wg_aead *a, const uint8_t *nonce, const struct wg_iov *iov, int iovcnt,
                       size_t pad_zeros, uint8_t *out)
{
    return wg_aead_sodium_seal(&a->impl, nonce, NULL, 0, iov, iovcnt, pad_zeros, out);
}

static bool open_nonce(struct wg_aead *a, const uint8_t *nonce, const uint8_t *in, size_t len, uint8_t *out)
{
    return wg_aead_sodium_open(&a->impl, nonce, NULL, 0, in, len, out);
}

const char *wg_aead_backend_of(const struct wg_aead *a)
{
    (void)a;
    return "sodium";
}
#endif

bool wg_aead_seal(struct wg_aead *a, uint64_t counter, const struct wg_iov *iov, int iovcnt, size_t pad_zeros,
                  uint8_t *out)
{
    uint8_t nonce[WG_AEAD_NONCE_LEN];

    data_nonce(nonce, counter);
    return seal_nonce(a, nonce, iov, iovcnt, pad_zeros, out);
}

bool wg_aead_open(struct wg_aead *a, uint64_t counter, const uint8_t *in, size_t len, uint8_t *out)
{
    uint8_t nonce[WG_AEAD_NONCE_LEN];

    data_nonce(nonce, counter);
    return open_nonce(a, nonce, in, len, out);
}

const char *wg_aead_backend(void)
{
    return BACKEND_NAME;
}
