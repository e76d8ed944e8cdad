/* wg/aead.h when libcrypto cannot give ChaCha20-Poly1305: an OpenSSL
 * configuration that admits FIPS-approved algorithms only (as a system in
 * FIPS mode has) must not stop WireGuard sessions. Each key falls back to
 * libsodium, and the bytes are WireGuard's all the same. A process of its
 * own: OPENSSL_CONF is read once, at libcrypto's first use. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "wg/aead.h"

static char conf_path[] = "/tmp/vole-test-fips-XXXXXX";

static void test_keys_fall_back_and_interoperate(void **state)
{
    uint8_t key[WG_KEY_LEN], nonce[12] = { 0 }, pt[300], ct[sizeof pt + 16], ref[sizeof ct], back[sizeof pt];
    struct wg_iov iov = { .base = pt, .len = sizeof pt };
    unsigned long long ref_len;
    struct wg_aead a;
    (void)state;

    randombytes_buf(key, sizeof key);
    randombytes_buf(pt, sizeof pt);
    assert_true(wg_aead_init(&a, key));
    /* An OpenSSL build had to fall back; a libsodium build is libsodium. */
    assert_string_equal(wg_aead_backend_of(&a), "sodium");
    assert_true(wg_aead_seal(&a, 7, &iov, 1, 0, ct));
    nonce[4] = 7;   /* 32 zero bits, then le64(counter) */
    assert_int_equal(crypto_aead_chacha20poly1305_ietf_encrypt(ref, &ref_len, pt, sizeof pt, NULL, 0, NULL, nonce,
                                                               key),
                     0);
    assert_int_equal(ref_len, sizeof ct);
    assert_memory_equal(ct, ref, sizeof ct);
    assert_true(wg_aead_open(&a, 7, ct, sizeof ct, back));
    assert_memory_equal(back, pt, sizeof pt);
    ct[5] ^= 1;
    assert_false(wg_aead_open(&a, 7, ct, sizeof ct, back));
    wg_aead_wipe(&a);
}

int main(void)
{
    static const char fips_only[] = "openssl_conf = openssl_init\n"
                                    "[openssl_init]\n"
                                    "alg_section = evp_properties\n"
                                    "[evp_properties]\n"
                                    "default_properties = fips=yes\n";
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_keys_fall_back_and_interoperate) };
    int fd = mkstemp(conf_path), rc;

    if (fd < 0 || write(fd, fips_only, sizeof fips_only - 1) != (ssize_t)(sizeof fips_only - 1) ||
        sodium_init() < 0) {
        perror("fips-only OpenSSL configuration");
        return 1;
    }
    close(fd);
    setenv("OPENSSL_CONF", conf_path, 1);
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    unlink(conf_path);
    return rc;
}
