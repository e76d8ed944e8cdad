/* WireGuard Hash / Mac / Hmac / Kdf. Sources of the expected values:
 * - C_init, H_init: shared/reference/performance.md §3.1 (boringtun KATs);
 * - HKDF chains: wireguard-go device/kdf_test.go;
 * - the rest: Python hashlib/hmac (test/unit/gen/blake2s_vectors.py), with
 *   message = 00 01 02 .. (i mod 256) and key = 00 01 .. of the given length. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test/unit/hex.h"

#include <stdio.h>
#include <string.h>

#include "wg/kdf.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define BUF_MAX 256

static const char CONSTRUCTION[] = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
static const char IDENTIFIER[] = "WireGuard v1 zx2c4 Jason@zx2c4.com";

static void seq(uint8_t *out, size_t len)
{
    for (size_t i = 0; i < len; i++)
        out[i] = (uint8_t)i;
}

static void assert_hex(const uint8_t *got, size_t len, const char *hex)
{
    uint8_t want[BUF_MAX];
    assert_int_equal(unhex(want, sizeof want, hex), len);
    assert_memory_equal(got, want, len);
}

static void test_hash_kats(void **state)
{
    uint8_t c[32], h[32];
    wg_hash(c, (const uint8_t *)CONSTRUCTION, strlen(CONSTRUCTION), NULL, 0);
    assert_hex(c, 32, "60e26daef327efc02ec335e2a025d2d016eb4206f87277f52d38d1988b78cd36");
    wg_hash(h, c, sizeof c, (const uint8_t *)IDENTIFIER, strlen(IDENTIFIER));
    assert_hex(h, 32, "2211b361081ac566691243db458ad5322d9c6c662293e8b70ee19c65ba079ef3");
    /* In place, as the handshake does: H = Hash(H || x). */
    memcpy(h, c, sizeof c);
    wg_hash(h, h, sizeof h, (const uint8_t *)IDENTIFIER, strlen(IDENTIFIER));
    assert_hex(h, 32, "2211b361081ac566691243db458ad5322d9c6c662293e8b70ee19c65ba079ef3");
}

static void test_hmac(void **state)
{
    static const struct { size_t keylen, msglen; const char *hex; } v[] = {
        { 0, 0, "eaf4bb25938f4d20e72656bbbc7a9bf63c0c18537333c35bdb67db1402661acd" },
        { 8, 10, "6bbc9d4f11868ae4dd946347ff72616bdbf5f87fe842c623d3aaed01e78733ee" },
        { 32, 1, "3c657ea8362eeb115466cc90a81a36d2994b7153729c01f50a19be2ca3cce643" },
        { 32, 33, "3d83dfea00d3d4b8c054cd14ae63867405c8e182c4034db1b2268d716c4642c3" },
        { 64, 64, "16b4112bb7a7d3d85ee3baf8649046691596c5adab68f93ab0ebb4d798b8444d" },
        { 65, 100, "4d894a9b0c1b7a406335539f60699f246e0a65bf63a2b24b18393b71e4adce5e" },
        { 100, 200, "c4c95271905c6f69c1dd7c6fbc0cb3735457a660ccc2c4370f28825e7abef5af" },
    };
    uint8_t buf[BUF_MAX], out[32];
    seq(buf, sizeof buf);
    for (size_t i = 0; i < COUNT(v); i++) {
        wg_hmac(out, buf, v[i].keylen, buf, v[i].msglen);
        assert_hex(out, 32, v[i].hex);
    }
}

static void test_mac(void **state)
{
    static const struct { size_t keylen, msglen; const char *hex; } v[] = {
        { 32, 0, "9536f9b267655743dee97b8a670f9f53" },
        { 32, 116, "072e94ffbfc684bd8ab2a1b9dade2fd5" },   /* mac1 span */
        { 16, 132, "b03d1196bdcfaad40f911db86b79ac7e" },   /* mac2: cookie key */
        { 1, 64, "2ba2b6488a75dba441264fb7e2aec115" },
        { 32, 65, "811ff8686d23a435ecbd0bdafcd27b1b" },
    };
    uint8_t buf[BUF_MAX], out[16 + 4];
    seq(buf, sizeof buf);
    for (size_t i = 0; i < COUNT(v); i++) {
        memset(out, 0xA5, sizeof out);
        wg_mac(out, buf, v[i].keylen, buf, v[i].msglen);
        assert_hex(out, 16, v[i].hex);
        for (size_t j = 16; j < sizeof out; j++)   /* exactly 16 bytes written */
            assert_int_equal(out[j], 0xA5);
    }
}

/* wireguard-go's vectors use keys that are not 32 bytes long, which wg_kdf
 * (fixed 32-byte chaining key) cannot take, so the chain is spelled out over
 * wg_hmac here; wg_kdf itself is checked in test_kdf_32 below. */
static void test_kdf_chain_wireguard_go(void **state)
{
    static const struct { const char *key, *in, *t1, *t2, *t3; } v[] = {
        { "746573742d6b6579", "746573742d696e707574",
          "6f0e5ad38daba1bea8a0d213688736f19763239305e0f58aba697f9ffc41c633",
          "df1194df20802a4fe594cde27e92991c8cae66c366e8106aaa937a55fa371e8a",
          "fac6e2745a325f5dc5d11a5b165aad08b0ada28e7b4e666b7c077934a4d76c24" },
        { "776972656775617264", "776972656775617264",
          "491d43bbfdaa8750aaf535e334ecbfe5129967cd64635101c566d4caefda96e8",
          "1e71a379baefd8a79aa4662212fcafe19a23e2b609a3db7d6bcba8f560e3d25f",
          "31e1ae48bddfbe5de38f295e5452b1909a1b4e38e183926af3780b0c1e1f0160" },
        { "", "",
          "8387b46bf43eccfcf349552a095d8315c4055beb90208fb1be23b894bc2ed5d0",
          "58a0e5f6faefccf4807bff1f05fa8a9217945762040bcec2f4b4a62bdfe0e86e",
          "0ce6ea98ec548f8e281e93e32db65621c45eb18dc6f0a7ad94178610a2f7338e" },
    };
    for (size_t i = 0; i < COUNT(v); i++) {
        uint8_t key[32], in[32], t0[32], t[33];
        size_t klen = unhex(key, sizeof key, v[i].key);
        size_t ilen = unhex(in, sizeof in, v[i].in);
        wg_hmac(t0, key, klen, in, ilen);
        t[0] = 1;
        wg_hmac(t, t0, 32, t, 1);
        assert_hex(t, 32, v[i].t1);
        t[32] = 2;
        wg_hmac(t, t0, 32, t, 33);
        assert_hex(t, 32, v[i].t2);
        t[32] = 3;
        wg_hmac(t, t0, 32, t, 33);
        assert_hex(t, 32, v[i].t3);
    }
}

static const struct { uint8_t seed; size_t inlen; const char *t1, *t2, *t3; } KDF32[] = {
    { 0x00, 0, "7a38c34bf2b8738d7374ca77c44ecb309a11d2b2528304fa86052c365e722624",
      "1a17621f346abdc520746a9fb64d8eb03231d674fc15687537b0780fd9c060fd",
      "4eaf02809ac4b930ef63479de62275f1c55656e61f78a3cc653c18a2223d6c5f" },
    { 0x5a, 32, "b6c752e9ff044cc295b8c4dff6cc2e67abf6130c1905c5bf594379755d6b3a30",
      "3cae131aefdcac95a7123ef466d643e203f91b8dc687ade0566f156b0118e7c5",
      "213e446f1cdd9f8971690b10141fe7e71e61218837eb4b377768aa83cf6ee34f" },
    { 0xff, 100, "bab228966c012d16cf203dc4c79de782297432d068c4aa74e6db4ab4e677d4d9",
      "f7b271a9cd22580590bc1fcb17de87adee32fdd5d435b551c3d5553c2baf92f8",
      "d8059399c95aa581130434e889d23261fa4a9010b4b645215cc4cd6f4b8defaf" },
};

/* C = 00 01 .. 1f, each byte xored with seed. */
static void kdf_key(uint8_t c[32], uint8_t seed)
{
    seq(c, 32);
    for (int i = 0; i < 32; i++)
        c[i] ^= seed;
}

static void test_kdf_32(void **state)
{
    uint8_t in[BUF_MAX];
    seq(in, sizeof in);
    for (size_t i = 0; i < COUNT(KDF32); i++) {
        uint8_t c[32], t1[32], t2[32], t3[32];
        kdf_key(c, KDF32[i].seed);
        wg_kdf(t1, t2, t3, c, in, KDF32[i].inlen);
        assert_hex(t1, 32, KDF32[i].t1);
        assert_hex(t2, 32, KDF32[i].t2);
        assert_hex(t3, 32, KDF32[i].t3);
    }
}

/* Kdf1 / Kdf2 are prefixes of Kdf3 and leave nothing else written. */
static void test_kdf_partial(void **state)
{
    uint8_t in[BUF_MAX];
    seq(in, sizeof in);
    for (size_t i = 0; i < COUNT(KDF32); i++) {
        uint8_t c[32], t1[32], t2[32];
        kdf_key(c, KDF32[i].seed);
        wg_kdf(t1, NULL, NULL, c, in, KDF32[i].inlen);
        assert_hex(t1, 32, KDF32[i].t1);
        memset(t1, 0, sizeof t1);
        wg_kdf(t1, t2, NULL, c, in, KDF32[i].inlen);
        assert_hex(t1, 32, KDF32[i].t1);
        assert_hex(t2, 32, KDF32[i].t2);
    }
}

/* The handshake writes the new chaining key over the old: C = Kdf(C, x). */
static void test_kdf_in_place(void **state)
{
    uint8_t buf[BUF_MAX];
    for (size_t i = 0; i < COUNT(KDF32); i++) {
        uint8_t c[32], k[32], t3[32];
        seq(buf, sizeof buf);
        kdf_key(c, KDF32[i].seed);
        wg_kdf(c, k, t3, c, buf, KDF32[i].inlen);
        assert_hex(c, 32, KDF32[i].t1);
        assert_hex(k, 32, KDF32[i].t2);
        assert_hex(t3, 32, KDF32[i].t3);
        /* Output over the input, too (t2 written where input was). */
        kdf_key(c, KDF32[i].seed);
        wg_kdf(k, buf, NULL, c, buf, KDF32[i].inlen);
        assert_hex(k, 32, KDF32[i].t1);
        assert_hex(buf, 32, KDF32[i].t2);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_kats),
        cmocka_unit_test(test_hmac),
        cmocka_unit_test(test_mac),
        cmocka_unit_test(test_kdf_chain_wireguard_go),
        cmocka_unit_test(test_kdf_32),
        cmocka_unit_test(test_kdf_partial),
        cmocka_unit_test(test_kdf_in_place),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
