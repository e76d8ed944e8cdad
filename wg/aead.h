/* The bulk AEAD of WireGuard transport data (issue #8): ChaCha20-Poly1305 with
 * empty associated data and the nonce 0x00000000 || le64(counter), keyed once
 * per direction when a keypair is made. The backend is chosen at build time
 * (CMake VOLE_AEAD); the handshake and cookie AEADs stay on libsodium. */
#ifndef VOLE_WG_AEAD_H
#define VOLE_WG_AEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wg/device.h"
#ifdef VOLE_AEAD_OPENSSL
#include "wg/aead_openssl.h"
#else
#include "wg/aead_sodium.h"
#endif

/* One direction's key, ready for per-packet use: no allocation per packet.
 * An OpenSSL build falls back to libsodium per key when libcrypto cannot set
 * up ChaCha20-Poly1305 (a FIPS-only OpenSSL configuration has no such
 * cipher): the tunnel keeps working, a little slower. */
struct wg_aead {
#ifdef VOLE_AEAD_OPENSSL
    struct wg_aead_openssl impl;
    struct wg_aead_sodium fallback;
    bool use_fallback;
#else
    struct wg_aead_sodium impl;
#endif
};

/* False when the backend could not set up its context (out of memory): the
 * context then holds nothing to wipe, but wiping it is still fine. */
bool wg_aead_init(struct wg_aead *a, const uint8_t key[WG_KEY_LEN]);
/* Wipes the key and frees the backend's context. Idempotent; a zeroed struct is fine. */
void wg_aead_wipe(struct wg_aead *a);
/* Writes ChaCha20(iov... || pad_zeros zero bytes) || 16-byte tag to out: a
 * single entry without padding is read once, straight into out; anything else
 * is gathered into out and encrypted there (faster for both backends than
 * feeding the pieces one by one). out must not overlap the iov. False: out
 * holds nothing usable. */
bool wg_aead_seal(struct wg_aead *a, uint64_t counter, const struct wg_iov *iov, int iovcnt, size_t pad_zeros,
                  uint8_t *out);
/* in: ciphertext || tag, len >= 16. Writes len - 16 bytes to out, possibly
 * before the verdict: on false (forged, wrong counter, short) discard out. */
bool wg_aead_open(struct wg_aead *a, uint64_t counter, const uint8_t *in, size_t len, uint8_t *out);
/* "openssl" or "sodium": the backend this build's wg/ uses. */
const char *wg_aead_backend(void);
/* The backend a keyed context really uses ("sodium" after a fallback). */
const char *wg_aead_backend_of(const struct wg_aead *a);

#endif
