/* node/classify: the shared-socket demux of tailscale-wire.md §3.3. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test/unit/hex.h"

#include <string.h>

#include "node/classify.h"
#include "stun/stun.h"
#include "wg/messages.h"

static const uint8_t TXID[STUN_TXID_LEN] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
static const uint8_t DISCO_MAGIC[6] = {0x54, 0x53, 0xF0, 0x9F, 0x92, 0xAC};   /* "TS💬" */
static const uint8_t COOKIE[4] = {0x21, 0x12, 0xA4, 0x42};

static void test_stun(void **state)
{
    uint8_t b[STUN_REQUEST_LEN];
    stun_build_request(b, TXID);
    assert_int_equal(vole_classify(b, sizeof(b)), VOLE_PKT_STUN);

    uint8_t r[64];
    size_t n = unhex(r, sizeof(r), "0101000c2112a442000102030405060708090a0b00200008000183bbea12d547");
    assert_int_equal(vole_classify(r, n), VOLE_PKT_STUN);
    /* A bare 20-byte header is enough; the parsers judge the rest. */
    assert_int_equal(vole_classify(r, STUN_HEADER_LEN), VOLE_PKT_STUN);
    assert_int_equal(vole_classify(r, STUN_HEADER_LEN - 1), VOLE_PKT_WIREGUARD);
}

/* Without the cookie it is not STUN to the demux (Tailscale's rule too), so
 * RFC 3489 clients are not served on the shared socket. */
static void test_classic_stun_is_not_stun(void **state)
{
    uint8_t b[32];
    size_t n = unhex(b, sizeof(b), "0001000801550d12ca0bbc561e0c2a287bd79e580003000400000000");
    assert_int_equal(vole_classify(b, n), VOLE_PKT_WIREGUARD);
}

static void test_disco(void **state)
{
    uint8_t b[1310];
    memset(b, 0xAB, sizeof(b));
    memcpy(b, DISCO_MAGIC, sizeof(DISCO_MAGIC));
    assert_int_equal(vole_classify(b, sizeof(b)), VOLE_PKT_DISCO);   /* Coder's padded ping */
    assert_int_equal(vole_classify(b, 110), VOLE_PKT_DISCO);         /* unpadded pong */
    assert_int_equal(vole_classify(b, 62), VOLE_PKT_DISCO);
    assert_int_equal(vole_classify(b, 38), VOLE_PKT_DISCO);          /* magic + sender key */
    assert_int_equal(vole_classify(b, 37), VOLE_PKT_WIREGUARD);
    b[5] ^= 1;
    assert_int_equal(vole_classify(b, sizeof(b)), VOLE_PKT_WIREGUARD);
}

static void wg_message(uint8_t *b, size_t len, uint8_t type)
{
    memset(b, 0x5A, len);
    b[0] = type;
    b[1] = b[2] = b[3] = 0;
}

static void test_wireguard_types(void **state)
{
    uint8_t b[256];
    wg_message(b, WG_INITIATION_LEN, WG_MSG_INITIATION);
    assert_int_equal(vole_classify(b, WG_INITIATION_LEN), VOLE_PKT_WIREGUARD);
    wg_message(b, WG_RESPONSE_LEN, WG_MSG_RESPONSE);
    assert_int_equal(vole_classify(b, WG_RESPONSE_LEN), VOLE_PKT_WIREGUARD);
    wg_message(b, WG_COOKIE_REPLY_LEN, WG_MSG_COOKIE);
    assert_int_equal(vole_classify(b, WG_COOKIE_REPLY_LEN), VOLE_PKT_WIREGUARD);
    wg_message(b, WG_DATA_OVERHEAD, WG_MSG_DATA);   /* a keepalive */
    assert_int_equal(vole_classify(b, WG_DATA_OVERHEAD), VOLE_PKT_WIREGUARD);
}

/* A WireGuard index that reads as the magic cookie: stun_is says yes, but
 * WireGuard's second byte is 0 and no STUN method has it so. */
static void test_wireguard_index_like_cookie(void **state)
{
    uint8_t b[256];
    static const uint8_t types[] = {WG_MSG_INITIATION, WG_MSG_RESPONSE, WG_MSG_COOKIE, WG_MSG_DATA};
    for (size_t i = 0; i < sizeof(types); i++) {
        wg_message(b, sizeof(b), types[i]);
        memcpy(b + 4, COOKIE, sizeof(COOKIE));
        assert_true(stun_is(b, 64));
        assert_int_equal(vole_classify(b, 64), VOLE_PKT_WIREGUARD);
    }
}

static void test_short_and_garbage(void **state)
{
    uint8_t b[64] = {0};
    assert_int_equal(vole_classify(b, 0), VOLE_PKT_WIREGUARD);
    assert_int_equal(vole_classify(NULL, 0), VOLE_PKT_WIREGUARD);
    assert_int_equal(vole_classify(b, 1), VOLE_PKT_WIREGUARD);
    assert_int_equal(vole_classify(b, sizeof(b)), VOLE_PKT_WIREGUARD);
    memcpy(b, DISCO_MAGIC, sizeof(DISCO_MAGIC));   /* the magic alone is too short */
    assert_int_equal(vole_classify(b, 6), VOLE_PKT_WIREGUARD);
    for (size_t i = 0; i < sizeof(b); i++)
        b[i] = (uint8_t)(i * 37 + 11);
    assert_int_equal(vole_classify(b, sizeof(b)), VOLE_PKT_WIREGUARD);
    memset(b, 0xff, sizeof(b));
    assert_int_equal(vole_classify(b, sizeof(b)), VOLE_PKT_WIREGUARD);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stun),
        cmocka_unit_test(test_classic_stun_is_not_stun),
        cmocka_unit_test(test_disco),
        cmocka_unit_test(test_wireguard_types),
        cmocka_unit_test(test_wireguard_index_like_cookie),
        cmocka_unit_test(test_short_and_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
