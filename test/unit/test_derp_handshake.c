/* derp/ handshake (tailscale-wire.md §1.4) with fixed keys and nonces: the
 * ClientInfo (104-byte payload) and ServerInfo (53) frames byte for byte, the
 * boxes opened with libsodium directly, every way an open must fail (wrong
 * key, tampered or truncated box, bad JSON, no version), Go's JSON decoding
 * rules (case-insensitive keys, null, wrong types), and the key text forms. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test/unit/hex.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "derp/handshake.h"

/* The fixed inputs: client private key 10..2f, server private key 80..9f,
 * ClientInfo nonce c0..d7, ServerInfo nonce e0..f7. */
#define CLIENT_PUB_HEX "d89e3bad79437dbed9f843418304f460ff05c7fe81fe4a9577a804cb9367ff66"
#define SERVER_PUB_HEX "493e82fc74464a59268817623d2053c5eb8e2cc4a988b4fee179ec6b010d531d"

/* Computed once by derp_build_client_info / derp_build_server_info and
 * cross-checked outside vole: opened with X25519 from OpenSSL (Python's
 * cryptography) plus an XSalsa20-Poly1305 written from the spec, giving
 * {"version":2,"CanAckPings":true} and {"version":2}; and re-sealed with
 * PyNaCl's Box.encrypt to the same bytes. */
#define CLIENT_INFO_HEX                                                          \
    "0200000068" CLIENT_PUB_HEX "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7" \
    "af533071c858fc68324c3b868f2f8a8b"                                             \
    "88b96412a36adc080d31c8ea56ed8a224f043d0e8d070acfc22e65962c0ab63e"
#define SERVER_INFO_HEX                                                          \
    "0300000035e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7"                 \
    "3fb4921539c58cf4e42264927b387b1b" "bbea29061ef53a6ff2efba3cbb"

#define TYPICAL_JSON "{\"version\":2,\"CanAckPings\":true}"
#define MESH79 "0123456789012345678901234567890123456789012345678901234567890123456789012345678"

struct keys {
    struct derp_keypair client, server, other;
    uint8_t client_nonce[DERP_NONCE_LEN], server_nonce[DERP_NONCE_LEN];
};

static int setup(void **state)
{
    static struct keys k;
    uint8_t priv[DERP_KEY_LEN];
    for (int i = 0; i < DERP_KEY_LEN; i++)
        priv[i] = (uint8_t)(0x10 + i);
    derp_keypair_from_private(&k.client, priv);
    for (int i = 0; i < DERP_KEY_LEN; i++)
        priv[i] = (uint8_t)(0x80 + i);
    derp_keypair_from_private(&k.server, priv);
    for (int i = 0; i < DERP_KEY_LEN; i++)
        priv[i] = (uint8_t)(0x40 + i);
    derp_keypair_from_private(&k.other, priv);
    for (int i = 0; i < DERP_NONCE_LEN; i++) {
        k.client_nonce[i] = (uint8_t)(0xc0 + i);
        k.server_nonce[i] = (uint8_t)(0xe0 + i);
    }
    *state = &k;
    return sodium_init() < 0 ? -1 : 0;
}

static struct derp_frame frame_of(const uint8_t *w, size_t n)
{
    assert_true(n >= DERP_FRAME_HEADER_LEN);
    return (struct derp_frame){.type = w[0], .len = (uint32_t)(n - DERP_FRAME_HEADER_LEN),
                               .payload = w + DERP_FRAME_HEADER_LEN};
}

static size_t typical_client_info(const struct keys *k, uint8_t *out, size_t cap)
{
    const struct derp_client_info ci = {.version = 2, .can_ack_pings = true};
    return derp_build_client_info(out, cap, &k->client, k->server.pub, &ci, k->client_nonce);
}

/* A ClientInfo frame around any JSON, sealed here with libsodium directly. */
static size_t seal_client_json(const struct keys *k, const char *json, uint8_t *out, size_t cap)
{
    size_t jlen = strlen(json);
    size_t len = DERP_KEY_LEN + DERP_NONCE_LEN + crypto_box_MACBYTES + jlen;
    assert_true(DERP_FRAME_HEADER_LEN + len <= cap);
    derp_write_header(out, cap, DERP_FRAME_CLIENT_INFO, (uint32_t)len);
    memcpy(out + 5, k->client.pub, DERP_KEY_LEN);
    memcpy(out + 37, k->client_nonce, DERP_NONCE_LEN);
    assert_int_equal(crypto_box_easy(out + 61, (const uint8_t *)json, jlen, k->client_nonce, k->server.pub,
                                     k->client.priv), 0);
    return DERP_FRAME_HEADER_LEN + len;
}

static int open_json(const struct keys *k, const char *json, struct derp_client_info *ci)
{
    uint8_t w[1024];
    struct derp_frame f = frame_of(w, seal_client_json(k, json, w, sizeof(w)));
    uint8_t pub[DERP_KEY_LEN];
    return derp_open_client_info(&f, &k->server, pub, ci);
}

static void test_fixed_public_keys(void **state)
{
    const struct keys *k = *state;
    uint8_t want[DERP_KEY_LEN];
    unhex(want, sizeof(want), CLIENT_PUB_HEX);
    assert_memory_equal(k->client.pub, want, DERP_KEY_LEN);
    unhex(want, sizeof(want), SERVER_PUB_HEX);
    assert_memory_equal(k->server.pub, want, DERP_KEY_LEN);
}

static void test_client_info_bytes(void **state)
{
    const struct keys *k = *state;
    uint8_t out[256], want[256];
    size_t wlen = unhex(want, sizeof(want), CLIENT_INFO_HEX);
    assert_int_equal(wlen, 5 + 104);
    assert_int_equal(typical_client_info(k, out, sizeof(out)), wlen);
    assert_memory_equal(out, want, wlen);
    for (size_t cap = 0; cap < wlen; cap++)
        assert_int_equal(typical_client_info(k, out, cap), 0);
}

static void test_client_info_box_opens_with_libsodium(void **state)
{
    const struct keys *k = *state;
    uint8_t w[256], plain[128];
    size_t n = typical_client_info(k, w, sizeof(w));
    /* The server's view: box.Open(msgbox[24:], nonce=msgbox[:24], clientPub, serverPriv). */
    assert_int_equal(crypto_box_open_easy(plain, w + 61, n - 61, w + 37, w + 5, k->server.priv), 0);
    assert_int_equal(n - 61 - crypto_box_MACBYTES, strlen(TYPICAL_JSON));
    assert_memory_equal(plain, TYPICAL_JSON, strlen(TYPICAL_JSON));
    /* Each tampered byte of the box fails it. */
    for (size_t i = 61; i < n; i++) {
        w[i] ^= 0x01;
        assert_int_not_equal(crypto_box_open_easy(plain, w + 61, n - 61, w + 37, w + 5, k->server.priv), 0);
        w[i] ^= 0x01;
    }
}

static void test_client_info_open(void **state)
{
    const struct keys *k = *state;
    uint8_t w[256], pub[DERP_KEY_LEN];
    struct derp_frame f = frame_of(w, typical_client_info(k, w, sizeof(w)));
    struct derp_client_info ci;
    assert_int_equal(derp_open_client_info(&f, &k->server, pub, &ci), 0);
    assert_memory_equal(pub, k->client.pub, DERP_KEY_LEN);
    assert_int_equal(ci.version, 2);
    assert_true(ci.can_ack_pings);
    assert_false(ci.is_prober);
    assert_string_equal(ci.mesh_key, "");
}

static void test_client_info_open_failures(void **state)
{
    const struct keys *k = *state;
    uint8_t w[256], pub[DERP_KEY_LEN];
    size_t n = typical_client_info(k, w, sizeof(w));
    struct derp_frame f = frame_of(w, n);
    struct derp_client_info ci;

    assert_int_equal(derp_open_client_info(&f, &k->other, pub, &ci), -1);   /* not our key */
    /* Any byte: key, nonce, tag, ciphertext. (Not bit 0x80 of the key's last
     * byte: X25519 ignores bit 255, so that flip names the same key, in Go too.) */
    for (size_t i = DERP_FRAME_HEADER_LEN; i < n; i++) {
        w[i] ^= 0x01;
        assert_int_equal(derp_open_client_info(&f, &k->server, pub, &ci), -1);
        w[i] ^= 0x01;
    }
    for (uint32_t len = 0; len < f.len; len++) {   /* truncated anywhere */
        struct derp_frame t = f;
        t.len = len;
        assert_int_equal(derp_open_client_info(&t, &k->server, pub, &ci), -1);
    }
    struct derp_frame t = f;
    t.len = DERP_CLIENT_INFO_MAX + 1;   /* refused before a byte is read */
    assert_int_equal(derp_open_client_info(&t, &k->server, pub, &ci), -1);
    t = f;
    t.type = DERP_FRAME_SERVER_INFO;
    assert_int_equal(derp_open_client_info(&t, &k->server, pub, &ci), -1);
    assert_int_equal(derp_open_client_info(&f, &k->server, pub, &ci), 0);   /* untouched: still fine */
}

static void test_client_info_json_rules(void **state)
{
    const struct keys *k = *state;
    struct derp_client_info ci;
    /* Go matches keys case-insensitively and ignores unknown ones. */
    assert_int_equal(open_json(k, "{\"Version\":2,\"canackpings\":true,\"AppName\":\"x\",\"n\":[1,{}]}", &ci), 0);
    assert_int_equal(ci.version, 2);
    assert_true(ci.can_ack_pings);
    assert_int_equal(open_json(k, "{\"VERSION\":3,\"meshkey\":\"secret\",\"isprober\":true}", &ci), 0);
    assert_int_equal(ci.version, 3);
    assert_false(ci.can_ack_pings);
    assert_true(ci.is_prober);
    assert_string_equal(ci.mesh_key, "secret");
    assert_int_equal(open_json(k, " {\"version\":2} \n", &ci), 0);
    /* null leaves the field alone; the later of two spellings wins. */
    assert_int_equal(open_json(k, "{\"version\":2,\"Version\":null,\"CanAckPings\":null}", &ci), 0);
    assert_int_equal(ci.version, 2);
    assert_int_equal(open_json(k, "{\"version\":2,\"Version\":5}", &ci), 0);
    assert_int_equal(ci.version, 5);

    static const char *const bad[] = {
        "",  "{",  "{\"version\":2",  "not json",  "{\"version\":2}x",  "{\"version\":2}{}",
        "{}",                                  /* no version */
        "{\"CanAckPings\":true}",              /* no version */
        "{\"version\":null}",                  /* null is no version */
        "null",                                /* Go decodes nothing: no version */
        "[]",  "2",  "\"version\"",  "true",   /* not an object */
        "{\"version\":\"2\"}",  "{\"version\":2.0}",  "{\"version\":2e0}",  "{\"version\":true}",
        "{\"version\":4294967298}",            /* beyond int */
        "{\"version\":2,\"CanAckPings\":1}",  "{\"version\":2,\"IsProber\":\"true\"}",
        "{\"version\":2,\"meshKey\":7}",
        "{\"version\":2,\"meshKey\":\"" MESH79 "X\"}",   /* 80 bytes: no room for the NUL */
        "{\"version\":2,\"meshKey\":\"a\\u0000b\"}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&ci, 0x55, sizeof(ci));
        if (open_json(k, bad[i], &ci) != -1)
            fail_msg("accepted %s", bad[i]);
        assert_int_equal(ci.version, 0);   /* info is cleared on failure */
        assert_false(ci.can_ack_pings);
    }
    /* The longest mesh key that fits: 79 bytes. */
    assert_int_equal(open_json(k, "{\"version\":2,\"meshKey\":\"" MESH79 "\"}", &ci), 0);
    assert_int_equal(strlen(ci.mesh_key), 79);
}

static void test_client_info_all_fields(void **state)
{
    /* Field order as Coder's fork: version, meshKey, CanAckPings, IsProber. */
    const struct keys *k = *state;
    struct derp_client_info in = {.version = 2, .can_ack_pings = false, .is_prober = true};
    strcpy(in.mesh_key, "m\"k");
    uint8_t w[512], plain[256], pub[DERP_KEY_LEN];
    size_t n = derp_build_client_info(w, sizeof(w), &k->client, k->server.pub, &in, k->client_nonce);
    assert_true(n > 61 + crypto_box_MACBYTES);
    const char *want = "{\"version\":2,\"meshKey\":\"m\\\"k\",\"CanAckPings\":false,\"IsProber\":true}";
    assert_int_equal(crypto_box_open_easy(plain, w + 61, n - 61, w + 37, w + 5, k->server.priv), 0);
    assert_int_equal(n - 61 - crypto_box_MACBYTES, strlen(want));
    assert_memory_equal(plain, want, strlen(want));
    struct derp_frame f = frame_of(w, n);
    struct derp_client_info out;
    assert_int_equal(derp_open_client_info(&f, &k->server, pub, &out), 0);
    assert_int_equal(out.version, 2);
    assert_false(out.can_ack_pings);
    assert_true(out.is_prober);
    assert_string_equal(out.mesh_key, "m\"k");

    /* A mesh key with no NUL in its 80 bytes, or not UTF-8, is not written. */
    memset(in.mesh_key, 'a', sizeof(in.mesh_key));
    assert_int_equal(derp_build_client_info(w, sizeof(w), &k->client, k->server.pub, &in, NULL), 0);
    strcpy(in.mesh_key, "\xff");
    assert_int_equal(derp_build_client_info(w, sizeof(w), &k->client, k->server.pub, &in, NULL), 0);
}

static void test_client_info_random_nonce(void **state)
{
    const struct keys *k = *state;
    const struct derp_client_info in = {.version = 2, .can_ack_pings = true};
    uint8_t a[256], b[256], pub[DERP_KEY_LEN];
    size_t na = derp_build_client_info(a, sizeof(a), &k->client, k->server.pub, &in, NULL);
    size_t nb = derp_build_client_info(b, sizeof(b), &k->client, k->server.pub, &in, NULL);
    assert_int_equal(na, 109);
    assert_int_equal(nb, 109);
    assert_memory_not_equal(a + 37, b + 37, DERP_NONCE_LEN);
    struct derp_frame f = frame_of(b, nb);
    struct derp_client_info out;
    assert_int_equal(derp_open_client_info(&f, &k->server, pub, &out), 0);
}

static void test_server_info_bytes_and_open(void **state)
{
    const struct keys *k = *state;
    const struct derp_server_info in = {.version = 2};
    uint8_t out[128], want[128], plain[64];
    size_t wlen = unhex(want, sizeof(want), SERVER_INFO_HEX);
    assert_int_equal(wlen, 5 + 53);
    assert_int_equal(derp_build_server_info(out, sizeof(out), &k->server, k->client.pub, &in, k->server_nonce), wlen);
    assert_memory_equal(out, want, wlen);
    for (size_t cap = 0; cap < wlen; cap++)
        assert_int_equal(derp_build_server_info(out, cap, &k->server, k->client.pub, &in, k->server_nonce), 0);
    assert_int_equal(crypto_box_open_easy(plain, out + 29, wlen - 29, out + 5, k->server.pub, k->client.priv), 0);
    assert_memory_equal(plain, "{\"version\":2}", 13);

    struct derp_frame f = frame_of(out, wlen);
    struct derp_server_info got;
    assert_int_equal(derp_open_server_info(&f, &k->client, k->server.pub, &got), 0);
    assert_int_equal(got.version, 2);
    assert_int_equal(got.token_bucket_bytes_per_second, 0);
    assert_int_equal(got.token_bucket_bytes_burst, 0);
}

static void test_server_info_open_failures(void **state)
{
    const struct keys *k = *state;
    const struct derp_server_info in = {.version = 2};
    uint8_t w[128];
    size_t n = derp_build_server_info(w, sizeof(w), &k->server, k->client.pub, &in, k->server_nonce);
    struct derp_frame f = frame_of(w, n);
    struct derp_server_info got;
    assert_int_equal(derp_open_server_info(&f, &k->other, k->server.pub, &got), -1);   /* wrong client key */
    assert_int_equal(derp_open_server_info(&f, &k->client, k->other.pub, &got), -1);   /* wrong server key */
    for (size_t i = DERP_FRAME_HEADER_LEN; i < n; i++) {
        w[i] ^= 0x04;
        assert_int_equal(derp_open_server_info(&f, &k->client, k->server.pub, &got), -1);
        w[i] ^= 0x04;
    }
    for (uint32_t len = 0; len < f.len; len++) {
        struct derp_frame t = f;
        t.len = len;
        assert_int_equal(derp_open_server_info(&t, &k->client, k->server.pub, &got), -1);
    }
    struct derp_frame t = f;
    t.len = DERP_MAX_INFO_LEN + 1;
    assert_int_equal(derp_open_server_info(&t, &k->client, k->server.pub, &got), -1);
    t = f;
    t.type = DERP_FRAME_CLIENT_INFO;
    assert_int_equal(derp_open_server_info(&t, &k->client, k->server.pub, &got), -1);
}

/* A ServerInfo frame around any JSON. */
static int open_server_json(const struct keys *k, const char *json, struct derp_server_info *si)
{
    uint8_t w[512];
    size_t jlen = strlen(json);
    size_t len = DERP_NONCE_LEN + crypto_box_MACBYTES + jlen;
    derp_write_header(w, sizeof(w), DERP_FRAME_SERVER_INFO, (uint32_t)len);
    memcpy(w + 5, k->server_nonce, DERP_NONCE_LEN);
    assert_int_equal(crypto_box_easy(w + 29, (const uint8_t *)json, jlen, k->server_nonce, k->client.pub,
                                     k->server.priv), 0);
    struct derp_frame f = frame_of(w, DERP_FRAME_HEADER_LEN + len);
    return derp_open_server_info(&f, &k->client, k->server.pub, si);
}

static void test_server_info_token_bucket(void **state)
{
    const struct keys *k = *state;
    const struct derp_server_info in = {.version = 2, .token_bucket_bytes_per_second = 1000000,
                                        .token_bucket_bytes_burst = 2000000};
    uint8_t w[256], plain[128];
    size_t n = derp_build_server_info(w, sizeof(w), &k->server, k->client.pub, &in, k->server_nonce);
    const char *want = "{\"version\":2,\"TokenBucketBytesPerSecond\":1000000,\"TokenBucketBytesBurst\":2000000}";
    assert_int_equal(n, 5 + 24 + 16 + strlen(want));
    assert_int_equal(crypto_box_open_easy(plain, w + 29, n - 29, w + 5, k->server.pub, k->client.priv), 0);
    assert_memory_equal(plain, want, strlen(want));
    struct derp_server_info got;
    struct derp_frame f = frame_of(w, n);
    assert_int_equal(derp_open_server_info(&f, &k->client, k->server.pub, &got), 0);
    assert_int_equal(got.token_bucket_bytes_per_second, 1000000);
    assert_int_equal(got.token_bucket_bytes_burst, 2000000);

    /* Go omits a zero version: absent reads as 0, and is fine. */
    assert_int_equal(open_server_json(k, "{}", &got), 0);
    assert_int_equal(got.version, 0);
    assert_int_equal(open_server_json(k, "{\"VERSION\":2,\"tokenbucketbytesburst\":5}", &got), 0);
    assert_int_equal(got.version, 2);
    assert_int_equal(got.token_bucket_bytes_burst, 5);
    assert_int_equal(open_server_json(k, "{\"version\":2,\"TokenBucketBytesPerSecond\":-1}", &got), -1);
    assert_int_equal(open_server_json(k, "{\"version\":2,\"TokenBucketBytesBurst\":1.5}", &got), -1);
    assert_int_equal(open_server_json(k, "{\"version\":\"2\"}", &got), -1);
    assert_int_equal(open_server_json(k, "[2]", &got), -1);
    assert_int_equal(open_server_json(k, "", &got), -1);
    const struct derp_server_info huge = {.version = 2, .token_bucket_bytes_burst = UINT64_MAX};
    assert_int_equal(derp_build_server_info(w, sizeof(w), &k->server, k->client.pub, &huge, NULL), 0);
}

static void test_handshake_through_reader(void **state)
{
    /* The server's first bytes and the client's answer, through a reader with
     * the server's handshake cap, one byte at a time. */
    const struct keys *k = *state;
    uint8_t stream[256];
    size_t n = derp_write_server_key(stream, sizeof(stream), k->server.pub);
    n += typical_client_info(k, stream + n, sizeof(stream) - n);
    struct derp_reader r;
    derp_reader_init(&r, DERP_CLIENT_INFO_MAX);
    int frames = 0;
    for (size_t i = 0; i < n; i++) {
        size_t used;
        struct derp_frame f;
        if (derp_reader_next(&r, stream + i, 1, &used, &f) != DERP_READ_FRAME)
            continue;
        uint8_t key[DERP_KEY_LEN];
        struct derp_client_info ci;
        if (frames++ == 0) {
            assert_int_equal(derp_parse_server_key(&f, key), 0);
            assert_memory_equal(key, k->server.pub, DERP_KEY_LEN);
        } else {
            assert_int_equal(derp_open_client_info(&f, &k->server, key, &ci), 0);
            assert_memory_equal(key, k->client.pub, DERP_KEY_LEN);
        }
    }
    assert_int_equal(frames, 2);
    derp_reader_free(&r);
}

static void test_key_hex(void **state)
{
    const struct keys *k = *state;
    char hex[2 * DERP_KEY_LEN + 1], nk[DERP_NODEKEY_TEXT_LEN], buf[128];
    uint8_t key[DERP_KEY_LEN];
    derp_key_hex(hex, k->client.pub);
    assert_string_equal(hex, CLIENT_PUB_HEX);
    derp_key_nodekey(nk, k->client.pub);
    assert_string_equal(nk, "nodekey:" CLIENT_PUB_HEX);
    assert_int_equal(derp_key_from_hex(key, hex), 0);
    assert_memory_equal(key, k->client.pub, DERP_KEY_LEN);
    memset(key, 0, sizeof(key));
    assert_int_equal(derp_key_from_hex(key, nk), 0);
    assert_memory_equal(key, k->client.pub, DERP_KEY_LEN);
    assert_int_equal(derp_key_from_hex(key, "D89E3BAD79437DBED9F843418304F460FF05C7FE81FE4A9577A804CB9367FF66"), 0);
    assert_memory_equal(key, k->client.pub, DERP_KEY_LEN);

    static const char *const bad[] = {
        "", "nodekey:", CLIENT_PUB_HEX "0", "nodekey:" CLIENT_PUB_HEX "0", CLIENT_PUB_HEX " ", " " CLIENT_PUB_HEX,
        "discokey:" CLIENT_PUB_HEX, "NODEKEY:" CLIENT_PUB_HEX, "nodekey:nodekey:" CLIENT_PUB_HEX,
        "g89e3bad79437dbed9f843418304f460ff05c7fe81fe4a9577a804cb9367ff66",
        "d89e3bad79437dbed9f843418304f460ff05c7fe81fe4a9577a804cb9367ff6",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(key, 0xee, sizeof(key));
        if (derp_key_from_hex(key, bad[i]) != -1)
            fail_msg("accepted '%s'", bad[i]);
        assert_memory_equal(key, (uint8_t[DERP_KEY_LEN]){0}, DERP_KEY_LEN);   /* zeroed on failure */
    }
    /* 63 hex digits followed by a non-hex byte at position 63. */
    snprintf(buf, sizeof(buf), "%.63sz", CLIENT_PUB_HEX);
    assert_int_equal(derp_key_from_hex(key, buf), -1);
}

static void test_keypair(void **state)
{
    struct derp_keypair a, b;
    derp_keypair_generate(&a);
    derp_keypair_generate(&b);
    assert_memory_not_equal(a.priv, b.priv, DERP_KEY_LEN);
    assert_int_equal(a.priv[0] & 7, 0);   /* clamped, as Go's key.NewNode */
    assert_int_equal(a.priv[31] & 0xc0, 0x40);
    uint8_t pub[DERP_KEY_LEN];
    assert_int_equal(crypto_scalarmult_base(pub, a.priv), 0);
    assert_memory_equal(pub, a.pub, DERP_KEY_LEN);
    derp_keypair_from_private(&b, a.priv);
    assert_memory_equal(b.pub, a.pub, DERP_KEY_LEN);
    derp_keypair_from_private(&a, a.priv);   /* in place */
    assert_memory_equal(a.pub, b.pub, DERP_KEY_LEN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixed_public_keys),
        cmocka_unit_test(test_client_info_bytes),
        cmocka_unit_test(test_client_info_box_opens_with_libsodium),
        cmocka_unit_test(test_client_info_open),
        cmocka_unit_test(test_client_info_open_failures),
        cmocka_unit_test(test_client_info_json_rules),
        cmocka_unit_test(test_client_info_all_fields),
        cmocka_unit_test(test_client_info_random_nonce),
        cmocka_unit_test(test_server_info_bytes_and_open),
        cmocka_unit_test(test_server_info_open_failures),
        cmocka_unit_test(test_server_info_token_bucket),
        cmocka_unit_test(test_handshake_through_reader),
        cmocka_unit_test(test_key_hex),
        cmocka_unit_test(test_keypair),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
