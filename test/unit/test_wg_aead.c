/* The WireGuard data AEAD (wg/aead.h) and its backends side by side: every
 * backend built into this binary must produce the same bytes as libsodium's
 * one-shot ChaCha20-Poly1305 for any iov split and padding, open the others'
 * output, and reject forgeries and wrong counters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "hex.h"
#include "wg/aead.h"
#include "wg/aead_sodium.h"
#ifdef VOLE_HAVE_LIBCRYPTO
#include "wg/aead_openssl.h"
#endif

#define MAX_PT 1600
#define MAX_PIECES 16

/* One backend behind a uniform face, so that each test loops over them all. */
struct backend {
    const char *name;
    void *ctx;
    size_t ctx_size;
    bool (*init)(void *ctx, const uint8_t *key);
    void (*wipe)(void *ctx);
    bool (*seal)(void *ctx, const uint8_t *nonce, const uint8_t *ad, size_t adlen, const struct wg_iov *iov,
                 int iovcnt, size_t pad, uint8_t *out);
    bool (*open)(void *ctx, const uint8_t *nonce, const uint8_t *ad, size_t adlen, const uint8_t *in, size_t len,
                 uint8_t *out);
};

static struct wg_aead_sodium sodium_ctx;
static bool s_init(void *c, const uint8_t *k) { return wg_aead_sodium_init(c, k); }
static void s_wipe(void *c) { wg_aead_sodium_wipe(c); }
static bool s_seal(void *c, const uint8_t *n, const uint8_t *ad, size_t adlen, const struct wg_iov *iov, int cnt,
                   size_t pad, uint8_t *out)
{
    return wg_aead_sodium_seal(c, n, ad, adlen, iov, cnt, pad, out);
}
static bool s_open(void *c, const uint8_t *n, const uint8_t *ad, size_t adlen, const uint8_t *in, size_t len,
                   uint8_t *out)
{
    return wg_aead_sodium_open(c, n, ad, adlen, in, len, out);
}

#ifdef VOLE_HAVE_LIBCRYPTO
static struct wg_aead_openssl openssl_ctx;
static bool o_init(void *c, const uint8_t *k) { return wg_aead_openssl_init(c, k); }
static void o_wipe(void *c) { wg_aead_openssl_wipe(c); }
static bool o_seal(void *c, const uint8_t *n, const uint8_t *ad, size_t adlen, const struct wg_iov *iov, int cnt,
                   size_t pad, uint8_t *out)
{
    return wg_aead_openssl_seal(c, n, ad, adlen, iov, cnt, pad, out);
}
static bool o_open(void *c, const uint8_t *n, const uint8_t *ad, size_t adlen, const uint8_t *in, size_t len,
                   uint8_t *out)
{
    return wg_aead_openssl_open(c, n, ad, adlen, in, len, out);
}
#endif

static struct backend backends[] = {
    { "sodium", &sodium_ctx, sizeof sodium_ctx, s_init, s_wipe, s_seal, s_open },
#ifdef VOLE_HAVE_LIBCRYPTO
    { "openssl", &openssl_ctx, sizeof openssl_ctx, o_init, o_wipe, o_seal, o_open },
#endif
};
#define N_BACKENDS (sizeof backends / sizeof backends[0])

static void init_all(const uint8_t key[WG_KEY_LEN])
{
    for (size_t b = 0; b < N_BACKENDS; b++)
        assert_true(backends[b].init(backends[b].ctx, key));
}

static void wipe_all(void)
{
    for (size_t b = 0; b < N_BACKENDS; b++)
        backends[b].wipe(backends[b].ctx);
}

/* Built here, independently of wg/aead.c: 32 zero bits || le64(counter). */
static void wg_nonce(uint8_t nonce[12], uint64_t counter)
{
    memset(nonce, 0, 12);
    for (int i = 0; i < 8; i++)
        nonce[4 + i] = (uint8_t)(counter >> (8 * i));
}

/* The reference: libsodium's one-shot API over the contiguous plaintext || zeros. */
static size_t reference_seal(const uint8_t key[WG_KEY_LEN], const uint8_t nonce[12], const uint8_t *pt, size_t len,
                             size_t pad, uint8_t *out)
{
    static uint8_t padded[MAX_PT + 64];
    unsigned long long clen;

    memcpy(padded, pt, len);
    memset(padded + len, 0, pad);
    assert_int_equal(crypto_aead_chacha20poly1305_ietf_encrypt(out, &clen, padded, len + pad, NULL, 0, NULL, nonce,
                                                               key),
                     0);
    return (size_t)clen;
}

/* Cuts len bytes into n pieces at random points (empty pieces included). */
static int random_split(const uint8_t *pt, size_t len, struct wg_iov *iov)
{
    int n = 1 + (int)randombytes_uniform(MAX_PIECES);
    size_t off = 0;

    for (int i = 0; i < n; i++) {
        size_t take = i == n - 1 ? len - off : randombytes_uniform((uint32_t)(len - off + 1));
        iov[i].base = pt + off;
        iov[i].len = take;
        off += take;
    }
    return n;
}

static void test_rfc8439_vector(void **state)
{
    static const char *key_hex = "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f";
    static const char *nonce_hex = "070000004041424344454647";
    static const char *ad_hex = "50515253c0c1c2c3c4c5c6c7";
    static const char *pt = "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the "
                            "future, sunscreen would be it.";
    static const char *ct_hex = "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca96712"
                                "82fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58"
                                "fab324e4fad675945585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116"
                                "1ae10b594f09e26a7e902ecbd0600691";
    uint8_t key[32], nonce[12], ad[12], expect[200], out[200], back[200];
    size_t ptlen = strlen(pt), ctlen;
    struct wg_iov iov[3];

    unhex(key, sizeof key, key_hex);
    unhex(nonce, sizeof nonce, nonce_hex);
    unhex(ad, sizeof ad, ad_hex);
    ctlen = unhex(expect, sizeof expect, ct_hex);
    assert_int_equal(ctlen, ptlen + 16);
    init_all(key);
    for (size_t b = 0; b < N_BACKENDS; b++) {
        /* Whole, then in three uneven pieces. */
        iov[0] = (struct wg_iov){ pt, ptlen };
        memset(out, 0, sizeof out);
        assert_true(backends[b].seal(backends[b].ctx, nonce, ad, sizeof ad, iov, 1, 0, out));
        assert_memory_equal(out, expect, ctlen);
        iov[0] = (struct wg_iov){ pt, 1 };
        iov[1] = (struct wg_iov){ pt + 1, 70 };
        iov[2] = (struct wg_iov){ pt + 71, ptlen - 71 };
        memset(out, 0, sizeof out);
        assert_true(backends[b].seal(backends[b].ctx, nonce, ad, sizeof ad, iov, 3, 0, out));
        assert_memory_equal(out, expect, ctlen);
        assert_true(backends[b].open(backends[b].ctx, nonce, ad, sizeof ad, expect, ctlen, back));
        assert_memory_equal(back, pt, ptlen);
        /* The associated data is authenticated. */
        ad[0] ^= 1;
        assert_false(backends[b].open(backends[b].ctx, nonce, ad, sizeof ad, expect, ctlen, back));
        ad[0] ^= 1;
    }
    wipe_all();
}

/* All backends against the reference and each other, on random shapes. */
static void test_backends_agree(void **state)
{
    static uint8_t pt[MAX_PT], ref[MAX_PT + 64 + 16], out[N_BACKENDS][MAX_PT + 64 + 16], back[MAX_PT + 64];
    uint8_t key[WG_KEY_LEN], nonce[12];
    struct wg_iov iov[MAX_PIECES];

    crypto_aead_chacha20poly1305_ietf_keygen(key);
    init_all(key);
    for (int round = 0; round < 400; round++) {
        size_t len = randombytes_uniform(1501);
        /* Mostly WireGuard's padding (< 16), sometimes more to cross chunk edges. */
        size_t pad = round % 8 == 7 ? randombytes_uniform(65) : randombytes_uniform(16);
        uint64_t counter = (uint64_t)randombytes_random() << 32 | randombytes_random();
        size_t ctlen;
        int n;

        randombytes_buf(pt, len);
        n = random_split(pt, len, iov);
        wg_nonce(nonce, counter);
        ctlen = reference_seal(key, nonce, pt, len, pad, ref);
        assert_int_equal(ctlen, len + pad + 16);
        for (size_t b = 0; b < N_BACKENDS; b++) {
            assert_true(backends[b].seal(backends[b].ctx, nonce, NULL, 0, iov, n, pad, out[b]));
            if (memcmp(out[b], ref, ctlen) != 0)
                fail_msg("%s: len %zu pad %zu pieces %d differs from libsodium", backends[b].name, len, pad, n);
        }
        for (size_t b = 0; b < N_BACKENDS; b++) {
            for (size_t other = 0; other < N_BACKENDS; other++) {
                assert_true(backends[b].open(backends[b].ctx, nonce, NULL, 0, out[other], ctlen, back));
                assert_memory_equal(back, pt, len);
                for (size_t i = len; i < len + pad; i++)
                    assert_int_equal(back[i], 0);
            }
        }
    }
    wipe_all();
}

static void test_forgeries_rejected(void **state)
{
    static uint8_t pt[1500], ct[1500 + 16], back[1500];
    uint8_t key[WG_KEY_LEN], nonce[12], other_key[WG_KEY_LEN];
    struct wg_iov iov[MAX_PIECES];

    crypto_aead_chacha20poly1305_ietf_keygen(key);
    crypto_aead_chacha20poly1305_ietf_keygen(other_key);
    for (int round = 0; round < 200; round++) {
        size_t len = randombytes_uniform(1501), ctlen = len + 16, bit;
        uint64_t counter = randombytes_random();
        int n;

        randombytes_buf(pt, len);
        n = random_split(pt, len, iov);
        wg_nonce(nonce, counter);
        init_all(key);
        for (size_t b = 0; b < N_BACKENDS; b++) {
            void *c = backends[b].ctx;
            assert_true(backends[b].seal(c, nonce, NULL, 0, iov, n, 0, ct));
            /* One flipped bit anywhere: ciphertext or tag. */
            bit = randombytes_uniform((uint32_t)ctlen * 8);
            ct[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            assert_false(backends[b].open(c, nonce, NULL, 0, ct, ctlen, back));
            ct[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            /* A flipped bit in the tag, explicitly. */
            ct[len + randombytes_uniform(16)] ^= 0x80;
            assert_false(backends[b].open(c, nonce, NULL, 0, ct, ctlen, back));
            assert_true(backends[b].seal(c, nonce, NULL, 0, iov, n, 0, ct));
            /* A wrong counter. */
            wg_nonce(nonce, counter + 1 + randombytes_uniform(1000));
            assert_false(backends[b].open(c, nonce, NULL, 0, ct, ctlen, back));
            wg_nonce(nonce, counter);
            /* Shorter than a tag, and truncated. */
            assert_false(backends[b].open(c, nonce, NULL, 0, ct, 15, back));
            assert_false(backends[b].open(c, nonce, NULL, 0, ct, ctlen - 1, back));
            /* The genuine article still opens after all those failures. */
            assert_true(backends[b].open(c, nonce, NULL, 0, ct, ctlen, back));
            assert_memory_equal(back, pt, len);
        }
        wipe_all();
        /* A different key. */
        init_all(other_key);
        for (size_t b = 0; b < N_BACKENDS; b++)
            assert_false(backends[b].open(backends[b].ctx, nonce, NULL, 0, ct, ctlen, back));
        wipe_all();
    }
}

/* wg/aead.h (the backend this build chose) with WireGuard's nonce, against
 * the libsodium one-shot reference and with a wrong counter. */
static void test_wg_framing(void **state)
{
    static uint8_t pt[1500], ref[1500 + 16 + 16], out[1500 + 16 + 16], back[1500 + 16];
    uint8_t key[WG_KEY_LEN], nonce[12];
    struct wg_iov iov[MAX_PIECES];
    struct wg_aead a;

    crypto_aead_chacha20poly1305_ietf_keygen(key);
    assert_true(wg_aead_init(&a, key));
    for (int round = 0; round < 100; round++) {
        size_t len = randombytes_uniform(1501), pad = randombytes_uniform(16), ctlen = len + pad + 16;
        uint64_t counter = round == 0 ? 0 : round == 1 ? UINT64_MAX : (uint64_t)randombytes_random() << 20;
        int n;

        randombytes_buf(pt, len);
        n = random_split(pt, len, iov);
        wg_nonce(nonce, counter);
        reference_seal(key, nonce, pt, len, pad, ref);
        assert_true(wg_aead_seal(&a, counter, iov, n, pad, out));
        assert_memory_equal(out, ref, ctlen);
        assert_true(wg_aead_open(&a, counter, out, ctlen, back));
        assert_memory_equal(back, pt, len);
        assert_false(wg_aead_open(&a, counter ^ 1, out, ctlen, back));
        assert_false(wg_aead_open(&a, counter, out, 15, back));
    }
    wg_aead_wipe(&a);
    wg_aead_wipe(&a);   /* idempotent */
    assert_true(strcmp(wg_aead_backend(), "openssl") == 0 || strcmp(wg_aead_backend(), "sodium") == 0);
}

/* A zeroed context (a keypair whose init failed half way) wipes cleanly. */
static void test_wipe_zeroed(void **state)
{
    struct wg_aead a;

    memset(&a, 0, sizeof a);
    wg_aead_wipe(&a);
    for (size_t b = 0; b < N_BACKENDS; b++) {
        memset(backends[b].ctx, 0, backends[b].ctx_size);
        backends[b].wipe(backends[b].ctx);
        backends[b].wipe(backends[b].ctx);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc8439_vector),
        cmocka_unit_test(test_backends_agree),
        cmocka_unit_test(test_forgeries_rejected),
        cmocka_unit_test(test_wg_framing),
        cmocka_unit_test(test_wipe_zeroed),
    };
    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
