/* conf/key: base64 form of WireGuard keys, generation and X25519 public keys,
 * checked against keys made by Debian's wireguard-tools. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "conf/key.h"

/* Generated once with `wg genkey | tee priv | wg pubkey` (wireguard-tools 1.0.20210914). */
static const char *const WG_PRIV_1 = "aIS/2RfbYKZ3kN2wd1udLsuEBxPx14wI2aMFUBGaV38=";
static const char *const WG_PUB_1  = "T5hMiGAcEsvwgqf1UZpdYJ1aptIb526mYPcqszTTtyc=";
static const char *const WG_PRIV_2 = "EPFx/tqugY6YeNZsAy4i2D4bSJ4rTrnTrwXr7fuGkEA=";
static const char *const WG_PUB_2  = "wrEJhjoM4FzgQsEpI3foKjbtCclx1uwGkVRsoKHAyUc=";
/* 32 bytes of 0xff, not clamped, and the same key clamped: `wg pubkey` gives
 * the same public key for both because X25519 clamps the scalar itself. */
static const char *const ALL_FF      = "//////////////////////////////////////////8=";
static const char *const ALL_FF_CLMP = "+P///////////////////////////////////////38=";
static const char *const ALL_FF_PUB  = "hHwNLDdSNPNl5mCVUYejc1oPdhPRYJ06ak2MU66qWiI=";

static void assert_public_of(const char *priv_b64, const char *pub_b64)
{
    uint8_t priv[32], pub[32];
    char out[VOLE_KEY_B64_LEN];
    assert_int_equal(vole_key_from_base64(priv, priv_b64), 0);
    vole_key_public(pub, priv);
    vole_key_to_base64(out, pub);
    assert_string_equal(out, pub_b64);
}

static void test_known_pairs_match_wg(void **state)
{
    assert_public_of(WG_PRIV_1, WG_PUB_1);
    assert_public_of(WG_PRIV_2, WG_PUB_2);
}

static void test_unclamped_private_key_matches_wg(void **state)
{
    assert_public_of(ALL_FF, ALL_FF_PUB);
    assert_public_of(ALL_FF_CLMP, ALL_FF_PUB);
}

static void test_roundtrip(void **state)
{
    uint8_t key[32], back[32];
    char b64[VOLE_KEY_B64_LEN];
    for (int i = 0; i < 200; i++) {
        for (int j = 0; j < 32; j++)
            key[j] = (uint8_t)(i * 37 + j * 11 + (i ^ j));
        vole_key_to_base64(b64, key);
        assert_int_equal(strlen(b64), 44);
        assert_int_equal(b64[43], '=');
        assert_int_equal(vole_key_from_base64(back, b64), 0);
        assert_memory_equal(back, key, 32);
    }
}

static void test_text_roundtrip_of_wg_keys(void **state)
{
    const char *keys[] = { WG_PRIV_1, WG_PUB_1, WG_PRIV_2, WG_PUB_2, ALL_FF };
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        uint8_t bin[32];
        char out[VOLE_KEY_B64_LEN];
        assert_int_equal(vole_key_from_base64(bin, keys[i]), 0);
        vole_key_to_base64(out, bin);
        assert_string_equal(out, keys[i]);
    }
}

static void test_zero_key(void **state)
{
    uint8_t zero[32] = { 0 };
    char out[VOLE_KEY_B64_LEN];
    vole_key_to_base64(out, zero);
    assert_string_equal(out, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
}

/* Each variant must be rejected and leave the output zeroed. */
static void assert_rejected(const char *s)
{
    uint8_t out[32];
    static const uint8_t zero[32];
    memset(out, 0xa5, sizeof(out));
    assert_int_equal(vole_key_from_base64(out, s), -1);
    assert_memory_equal(out, zero, 32);
}

static void test_rejects_wrong_lengths(void **state)
{
    char s[64];
    assert_rejected("");
    /* 43 chars: one symbol short. */
    strcpy(s, WG_PRIV_1);
    memmove(s + 41, s + 42, 3);
    assert_int_equal(strlen(s), 43);
    assert_rejected(s);
    /* 45 chars: one extra symbol, before or after the padding. */
    strcpy(s, WG_PRIV_1);
    strcat(s, "A");
    assert_rejected(s);
    strcpy(s, "A");
    strcat(s, WG_PRIV_1);
    assert_rejected(s);
    /* The function is strict; trimming is the caller's job. */
    strcpy(s, WG_PRIV_1);
    strcat(s, "\n");
    assert_rejected(s);
    strcpy(s, " ");
    strcat(s, WG_PRIV_1);
    assert_rejected(s);
    /* A whole extra group, and a key of 33 bytes without padding. */
    strcpy(s, WG_PRIV_1);
    strcat(s, "AAAA");
    assert_rejected(s);
    assert_rejected("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
}

/* Bytes >= 0x80 matter: libsodium 1.0.18 decodes them as symbols, wg does not. */
static void test_rejects_bad_chars(void **state)
{
    const char bad[] = { '!', '-', '_', ' ', '.', '\t', '=', '*', '\x80', '\xc0', '\xff' };
    for (size_t i = 0; i < sizeof(bad); i++) {
        for (size_t pos = 0; pos < 43; pos += 7) {
            char s[VOLE_KEY_B64_LEN];
            strcpy(s, WG_PUB_1);
            s[pos] = bad[i];
            assert_rejected(s);
        }
    }
}

static void test_rejects_noncanonical_padding(void **state)
{
    char s[VOLE_KEY_B64_LEN];
    /* The last symbol carries 4 bits of the key and 2 unused bits that must
     * be zero: '8' (60) is fine in ALL_FF, '9' (61) sets an unused bit. */
    strcpy(s, ALL_FF);
    s[42] = '9';
    assert_rejected(s);
    /* Padding replaced by a symbol. */
    strcpy(s, ALL_FF);
    s[43] = 'A';
    assert_rejected(s);
}

static void test_generate_is_clamped_and_random(void **state)
{
    uint8_t prev[32] = { 0 };
    for (int i = 0; i < 64; i++) {
        uint8_t k[32];
        vole_key_generate_private(k);
        assert_int_equal(k[0] & 7, 0);
        assert_int_equal(k[31] & 0x80, 0);
        assert_int_equal(k[31] & 0x40, 0x40);
        assert_memory_not_equal(k, prev, 32);
        memcpy(prev, k, 32);
    }
}

static void test_generated_key_text_roundtrips(void **state)
{
    uint8_t priv[32], back[32], pub1[32], pub2[32];
    char b64[VOLE_KEY_B64_LEN];
    vole_key_generate_private(priv);
    vole_key_to_base64(b64, priv);
    assert_int_equal(vole_key_from_base64(back, b64), 0);
    assert_memory_equal(back, priv, 32);
    vole_key_public(pub1, priv);
    vole_key_public(pub2, back);
    assert_memory_equal(pub1, pub2, 32);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_pairs_match_wg),
        cmocka_unit_test(test_unclamped_private_key_matches_wg),
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_text_roundtrip_of_wg_keys),
        cmocka_unit_test(test_zero_key),
        cmocka_unit_test(test_rejects_wrong_lengths),
        cmocka_unit_test(test_rejects_bad_chars),
        cmocka_unit_test(test_rejects_noncanonical_padding),
        cmocka_unit_test(test_generate_is_clamped_and_random),
        cmocka_unit_test(test_generated_key_text_roundtrips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
