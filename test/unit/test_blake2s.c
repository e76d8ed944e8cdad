/* BLAKE2s against RFC 7693 / blake2s-kat style vectors: message = 00 01 02 ..
 * (i mod 256), key = 00 01 .. of the given length. Expected digests come from
 * Python's hashlib.blake2s (test/unit/gen/blake2s_vectors.py), an
 * implementation independent of ours. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test/unit/hex.h"

#include <stdio.h>
#include <string.h>

#include "wg/blake2s.h"

struct vec {
    size_t len;
    const char *hex;
};

#define MSG_MAX 1000
#define SENTINEL 0xA5

static uint8_t msg[MSG_MAX];
static uint8_t key[WG_BLAKE2S_KEY_MAX];

static const struct vec UNKEYED[] = {
    { 0, "69217a3079908094e11121d042354a7c1f55b6482ca1a51e1b250dfd1ed0eef9" },
    { 1, "e34d74dbaf4ff4c6abd871cc220451d2ea2648846c7757fbaac82fe51ad64bea" },
    { 2, "ddad9ab15dac4549ba42f49d262496bef6c0bae1dd342a8808f8ea267c6e210c" },
    { 3, "e8f91c6ef232a041452ab0e149070cdd7dd1769e75b3a5921be37876c45c9900" },
    { 31, "aba4ad9b480b9df3d08ca5e87b0c2440d4e4ea21224c2eb42cbae469d089b931" },
    { 32, "05825607d7fdf2d82ef4c3c8c2aea961ad98d60edff7d018983e21204c0d93d1" },
    { 33, "a742f8b6af82d8a6ca2357c5f1cf91defbd066267d75c048b352366585025962" },
    { 63, "e57cb79487dd57902432b250733813bd96a84efce59f650fac26e6696aefafc3" },
    { 64, "56f34e8b96557e90c1f24b52d0c89d51086acf1b00f634cf1dde9233b8eaaa3e" },
    { 65, "1b53ee94aaf34e4b159d48de352c7f0661d0a40edff95a0b1639b4090e974472" },
    { 127, "f18417b39d617ab1c18fdf91ebd0fc6d5516bb34cf39364037bce81fa04cecb1" },
    { 128, "1fa877de67259d19863a2a34bcc6962a2b25fcbf5cbecd7ede8f1fa36688a796" },
    { 129, "5bd169e67c82c2c2e98ef7008bdf261f2ddf30b1c00f9e7f275bb3e8a28dc9a2" },
    { 255, "f03f5789d3336b80d002d59fdf918bdb775b00956ed5528e86aa994acb38fe2d" },
    { 256, "5fdeb59f681d975f52c8e69c5502e02a12a3afcc5836ba58f42784c439228781" },
    { 1000, "b5f9d7799111edafc9326fbf667be98140b5e20ce5e151793c59125bf654ac18" },
};

static const struct vec KEYED[] = {
    { 0, "48a8997da407876b3d79c0d92325ad3b89cbb754d86ab71aee047ad345fd2c49" },
    { 1, "40d15fee7c328830166ac3f918650f807e7e01e177258cdc0a39b11f598066f1" },
    { 2, "6bb71300644cd3991b26ccd4d274acd1adeab8b1d7914546c1198bbe9fc9d803" },
    { 3, "1d220dbe2ee134661fdf6d9e74b41704710556f2f6e5a091b227697445dbea6b" },
    { 31, "b6156f72d380ee9ea6acd190464f2307a5c179ef01fd71f99f2d0f7a57360aea" },
    { 32, "c03bc642b20959cbe133a0303e0c1abff3e31ec8e1a328ec8565c36decff5265" },
    { 33, "2c3e08176f760c6264c3a2cd66fec6c3d78de43fc192457b2a4a660a1e0eb22b" },
    { 63, "c65382513f07460da39833cb666c5ed82e61b9e998f4b0c4287cee56c3cc9bcd" },
    { 64, "8975b0577fd35566d750b362b0897a26c399136df07bababbde6203ff2954ed4" },
    { 65, "21fe0ceb0052be7fb0f004187cacd7de67fa6eb0938d927677f2398c132317a8" },
    { 127, "ddbfea75cc467882eb3483ce5e2e756a4f4701b76b445519e89f22d60fa86e06" },
    { 128, "0c311f38c35a4fb90d651c289d486856cd1413df9b0677f53ece2cd9e477c60a" },
    { 129, "46a73a8dd3e70f59d3942c01df599def783c9da82fd83222cd662b53dce7dbdf" },
    { 255, "3fb735061abc519dfe979e54c1ee5bfad0a9d858b3315bad34bde999efd724dd" },
    { 256, "5211d1aefc0025be7f85c06b3e14e0fc645ae12bd41746485ea6d8a364a2eaee" },
    { 1000, "5754feae2a6eefffae7d7c689f2405d1ec46c7e48a9c6187e71c5421a757b95d" },
};

static const struct vec UNKEYED16[] = {
    { 0, "64550d6ffe2c0a01a14aba1eade0200c" },
    { 1, "9f31f3ec588c6064a8e1f9051aeab90a" },
    { 2, "f52b4fc6be5ac0fe16b72622653eb56f" },
    { 3, "c41561edb251df8f3c9523524d60a707" },
    { 31, "5b7d0ccbf06c4ca454be26866c513cec" },
    { 32, "68b96e07fa73966ccefd87ccad489984" },
    { 33, "45149912910d47c800ff4e81b0950222" },
    { 63, "4006430a2d313751a9ece24fccb52de5" },
    { 64, "dc66ca8f03865801b0ffe06ed8a1a90e" },
    { 65, "399d3e92ccfcedcdde9bf4c2be14cf8c" },
    { 127, "5d3541be0ce9b6d8f9315862ac0198c5" },
    { 128, "7a3b3fa888b60095e7b305efcf3c3dbc" },
    { 129, "dd6146fb0f48a29aa4c813fe75d15941" },
    { 255, "b504e782a6ba7a75eca305c265cf3633" },
    { 256, "f34aabb6e38ab8c17272d90d82e9f56d" },
    { 1000, "0b94973a96dc199cfbc1ec1e06615c99" },
};

static const struct vec KEYED16[] = {
    { 0, "9536f9b267655743dee97b8a670f9f53" },
    { 1, "13bacfb85b48a1223c595f8c1e7e82cb" },
    { 2, "d47a9b1645e2feae501cd5fe44ce6333" },
    { 3, "1e2a79436a7796a3e9826bfedf07659f" },
    { 31, "d114cc11e7d5b33a360c45f18d4c7c6e" },
    { 32, "c43b5e836af88620a8a71b1652cb8640" },
    { 33, "9491c653e8867ed73c1b4ac6b5a9bb4d" },
    { 63, "ece382a8bd5018f1de5da44b72cea75b" },
    { 64, "f1efa90d2547036841ecd3627fafbc36" },
    { 65, "811ff8686d23a435ecbd0bdafcd27b1b" },
    { 127, "25887fab1422700d7fa3edc0b20206e2" },
    { 128, "8c09f698d03eaf88abf69f8147865ef6" },
    { 129, "5c363ae42a5bec26fbc5e996428d9bd7" },
    { 255, "cd075928ab7e6883e697fe7fd3ac43ee" },
    { 256, "d5a40ec316c751a63cd0d91157fa1ebb" },
    { 1000, "f69872b03760f95ddfb897eede223884" },
};

static const struct vec KEY1_OUT20[] = {
    { 0, "04c860e9f64bdd5e826b5f167f1cc7db4c7ae1d8" },
    { 1, "8a71ff78f882b9eed9bc297204c15f11c2940c5e" },
    { 2, "2e171123d1e2508404279ea677d19ce606b954cf" },
    { 3, "4946852a2020bdfd855e2f2d0a4f86ada43e6e9e" },
    { 31, "f9ef7a86fa34e3fe49a9b373a081e7b7d1ccfa8f" },
    { 32, "8a635fdbc507bf0f5075add005aaa83c6493da06" },
    { 33, "72608c5441e58e887a4427667ab540e06ee0b8ba" },
    { 63, "ddeb486dffabf28553ff81729a7a6d4e0ce7ac8e" },
    { 64, "9e0827581f4e302b28df04f3c7b94cb7c4b6f26a" },
    { 65, "12fa74c9fc04bc9a4f3c456450bd7ee7b7fea518" },
    { 127, "4439bd7cd5a1147c385346e79829395dd8a0b44c" },
    { 128, "6179765fa1755b54196e9f8196b18dfc8aeb5efc" },
    { 129, "02c14973a70cff65da48547c986548f42157b657" },
    { 255, "a26c867e66aa26134f12f95b5bdd057cbafe69bf" },
    { 256, "bed2985f728cb166af992d3f9c634f5ade8bce48" },
    { 1000, "f181eaf9de9a8ceb7b615a1ef533a4a12a179449" },
};

static const struct vec KEY16_OUT1[] = {
    { 0, "a6" },
    { 1, "d6" },
    { 2, "de" },
    { 3, "6b" },
    { 31, "4f" },
    { 32, "a5" },
    { 33, "c3" },
    { 63, "66" },
    { 64, "ef" },
    { 65, "05" },
    { 127, "0f" },
    { 128, "41" },
    { 129, "5c" },
    { 255, "3e" },
    { 256, "69" },
    { 1000, "cf" },
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static int setup(void **state)
{
    for (size_t i = 0; i < MSG_MAX; i++)
        msg[i] = (uint8_t)i;
    for (size_t i = 0; i < sizeof key; i++)
        key[i] = (uint8_t)i;
    return 0;
}

/* One-shot digest of every vector; bytes past outlen must stay untouched. */
static void check_table(const struct vec *v, size_t n, size_t outlen, size_t keylen)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t want[WG_BLAKE2S_OUT_MAX], got[WG_BLAKE2S_OUT_MAX + 8];
        assert_int_equal(unhex(want, sizeof want, v[i].hex), outlen);
        memset(got, SENTINEL, sizeof got);
        wg_blake2s(got, outlen, msg, v[i].len, keylen ? key : NULL, keylen);
        assert_memory_equal(got, want, outlen);
        for (size_t j = outlen; j < sizeof got; j++)
            assert_int_equal(got[j], SENTINEL);
    }
}

static void test_empty_known(void **state)
{
    static const uint8_t want[32] = {
        0x69, 0x21, 0x7a, 0x30, 0x79, 0x90, 0x80, 0x94, 0xe1, 0x11, 0x21, 0xd0, 0x42, 0x35, 0x4a, 0x7c,
        0x1f, 0x55, 0xb6, 0x48, 0x2c, 0xa1, 0xa5, 0x1e, 0x1b, 0x25, 0x0d, 0xfd, 0x1e, 0xd0, 0xee, 0xf9,
    };
    uint8_t got[32];
    wg_blake2s(got, sizeof got, NULL, 0, NULL, 0);
    assert_memory_equal(got, want, sizeof want);
}

static void test_unkeyed(void **state)
{
    check_table(UNKEYED, COUNT(UNKEYED), 32, 0);
}

static void test_keyed(void **state)
{
    check_table(KEYED, COUNT(KEYED), 32, 32);
}

static void test_outlen16(void **state)
{
    check_table(UNKEYED16, COUNT(UNKEYED16), 16, 0);
    check_table(KEYED16, COUNT(KEYED16), 16, 32);
}

/* Short keys and unusual output lengths exercise the parameter block. */
static void test_odd_params(void **state)
{
    check_table(KEY1_OUT20, COUNT(KEY1_OUT20), 20, 1);
    check_table(KEY16_OUT1, COUNT(KEY16_OUT1), 1, 16);
}

/* Feeds msg[0..len) in fixed-size chunks with empty updates in between. */
static void hash_chunked(uint8_t *out, size_t outlen, size_t keylen, size_t len, size_t chunk)
{
    struct wg_blake2s s;
    if (keylen)
        wg_blake2s_init_key(&s, outlen, key, keylen);
    else
        wg_blake2s_init(&s, outlen);
    for (size_t off = 0; off < len; off += chunk) {
        size_t n = len - off < chunk ? len - off : chunk;
        wg_blake2s_update(&s, msg + off, n);
        wg_blake2s_update(&s, msg + off + n, 0);
    }
    wg_blake2s_final(&s, out);
}

static const struct vec *find(const struct vec *v, size_t n, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (v[i].len == len)
            return &v[i];
    fail_msg("no vector of length %zu", len);
    return NULL;
}

static void test_incremental(void **state)
{
    static const size_t chunks[] = { 1, 3, 7, 13, 31, 63, 64, 65, 127, 200 };
    const struct { const struct vec *v; size_t outlen, keylen; } cases[] = {
        { find(UNKEYED, COUNT(UNKEYED), 1000), 32, 0 },
        { find(UNKEYED, COUNT(UNKEYED), 255), 32, 0 },
        { find(KEYED, COUNT(KEYED), 1000), 32, 32 },
        { find(KEYED, COUNT(KEYED), 256), 32, 32 },
        { find(KEYED16, COUNT(KEYED16), 65), 16, 32 },
    };
    for (size_t c = 0; c < COUNT(cases); c++) {
        uint8_t want[32];
        assert_int_equal(unhex(want, sizeof want, cases[c].v->hex), cases[c].outlen);
        for (size_t k = 0; k < COUNT(chunks); k++) {
            uint8_t got[32];
            memset(got, 0, sizeof got);
            hash_chunked(got, cases[c].outlen, cases[c].keylen, cases[c].v->len, chunks[k]);
            assert_memory_equal(got, want, cases[c].outlen);
        }
    }
}

static void test_final_wipes_state(void **state)
{
    struct wg_blake2s s, zero;
    uint8_t out[32];
    memset(&zero, 0, sizeof zero);
    wg_blake2s_init_key(&s, 32, key, 32);
    wg_blake2s_update(&s, msg, 100);
    wg_blake2s_final(&s, out);
    assert_memory_equal(&s, &zero, sizeof s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_known),
        cmocka_unit_test(test_unkeyed),
        cmocka_unit_test(test_keyed),
        cmocka_unit_test(test_outlen16),
        cmocka_unit_test(test_odd_params),
        cmocka_unit_test(test_incremental),
        cmocka_unit_test(test_final_wipes_state),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
