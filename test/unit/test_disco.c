/* disco/: the message codec against tailscale-wire.md §3.1-3.2. Exact sizes,
 * a fixed-key fixed-nonce vector cross-checked with plain crypto_box (the
 * other side's keys, not the precomputed path), round trips of every type,
 * v4-mapped addresses, plaintexts built by hand for what vole's sealer never
 * sends (old pings, trailing bytes, odd CallMeMaybe lengths and versions),
 * every rejection, and a bounded random-mutation loop. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test/unit/endpoints.h"
#include "test/unit/hex.h"

#include <stdlib.h>
#include <string.h>

#include "disco/disco.h"

/* Fixed keys: A's private key is 01..20, B's is 41..60 (X25519 clamps). */
struct fx {
    struct disco_keypair a, b;
    struct disco_shared ab;   /* A's key for B */
    struct disco_shared ba;   /* B's key for A */
};

static const uint8_t NONCE[DISCO_NONCE_LEN] = {
    0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab,
    0xac, 0xad, 0xae, 0xaf, 0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7};
static const uint8_t TXID[DISCO_TXID_LEN] = {0x10, 0x11, 0x12, 0x13, 0x14, 0x15,
                                             0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b};
#define TXID_HEX "101112131415161718191a1b"
#define NODE_KEY_HEX "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
#define MAGIC_HEX "5453f09f92ac"

/* A's unpadded version-0 ping to B (TxID 10..1b, node key c0..df, nonce a0..b7),
 * as vole sealed it once; the test below re-derives it with crypto_box_easy. */
#define PING_VECTOR MAGIC_HEX \
    "07a37cbc142093c8b755dc1b10e86cb426374ad16aa853ed0bdfc0b2b86d1c7c" \
    "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7" \
    "95a111a945f7a7f42483e980538e5556" /* tag */ \
    "07d9d9932f8c9398fc165b87e94348fb1f05d3a09889107d6042d32de3854993fd304ade59cda26fe5aec600fdb7"

static void fx_init(struct fx *f)
{
    for (int i = 0; i < DISCO_KEY_LEN; i++) {
        f->a.priv[i] = (uint8_t)(0x01 + i);
        f->b.priv[i] = (uint8_t)(0x41 + i);
    }
    crypto_scalarmult_base(f->a.pub, f->a.priv);
    crypto_scalarmult_base(f->b.pub, f->b.priv);
    assert_int_equal(disco_shared_init(&f->ab, f->b.pub, f->a.priv), 0);
    assert_int_equal(disco_shared_init(&f->ba, f->a.pub, f->b.priv), 0);
}

static struct disco_msg ping_msg(void)
{
    struct disco_msg m = {.type = DISCO_PING, .has_node_key = true};
    memcpy(m.txid, TXID, DISCO_TXID_LEN);
    unhex(m.node_key, sizeof(m.node_key), NODE_KEY_HEX);
    return m;
}

static struct disco_msg pong_msg(struct wg_endpoint src)
{
    struct disco_msg m = {.type = DISCO_PONG, .src = src};
    memcpy(m.txid, TXID, DISCO_TXID_LEN);
    return m;
}

static struct disco_msg cmm_msg(size_t n)
{
    struct disco_msg m = {.type = DISCO_CALL_ME_MAYBE, .n_eps = n};
    for (size_t i = 0; i < n && i < DISCO_MAX_ENDPOINTS; i++)
        m.eps[i] = i % 2 ? ep6((uint8_t)i, (uint16_t)(40000 + i)) : ep4(198, 18, 0, (uint8_t)i, (uint16_t)(41641 + i));
    return m;
}

/* A packet from A to B around a hand-made plaintext, sealed with plain
 * crypto_box (B's public key, A's private key): independent of disco_seal. */
static size_t seal_raw(uint8_t *out, const struct fx *f, const uint8_t *plain, size_t plen)
{
    unhex(out, 6, MAGIC_HEX);
    memcpy(out + 6, f->a.pub, DISCO_KEY_LEN);
    memcpy(out + 38, NONCE, DISCO_NONCE_LEN);
    assert_int_equal(crypto_box_easy(out + 62, plain, plen, NONCE, f->b.pub, f->a.priv), 0);
    return 62 + 16 + plen;
}

static size_t seal_raw_hex(uint8_t *out, const struct fx *f, const char *plain_hex)
{
    uint8_t plain[2048];
    size_t plen = unhex(plain, sizeof(plain), plain_hex);
    return seal_raw(out, f, plain, plen);
}

/* Opens a packet from A as B would, with plain crypto_box_open_easy. */
static size_t open_raw(uint8_t *plain, const struct fx *f, const uint8_t *b, size_t len)
{
    assert_true(len >= 78);
    assert_int_equal(crypto_box_open_easy(plain, b + 62, len - 62, b + 38, f->a.pub, f->b.priv), 0);
    return len - 78;
}

/* ---- sizes ------------------------------------------------------------- */

static void test_sizes(void **state)
{
    struct fx f;
    fx_init(&f);
    uint8_t out[DISCO_MAX_PACKET];
    struct disco_msg m = ping_msg();
    assert_int_equal(disco_seal(out, sizeof(out), &m, false, f.a.pub, &f.ab, NULL), 124);
    assert_int_equal(DISCO_PING_LEN, 124);
    assert_int_equal(disco_seal(out, sizeof(out), &m, true, f.a.pub, &f.ab, NULL), 1310);
    m = pong_msg(ep4(203, 0, 113, 5, 41641));
    assert_int_equal(disco_seal(out, sizeof(out), &m, false, f.a.pub, &f.ab, NULL), 110);
    assert_int_equal(DISCO_PONG_LEN, 110);
    assert_int_equal(disco_seal(out, sizeof(out), &m, true, f.a.pub, &f.ab, NULL), 1310);
    assert_int_equal(DISCO_PADDED_LEN, 1310);
    const size_t ns[] = {0, 1, 2, 3, 10, DISCO_MAX_ENDPOINTS};
    for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
        m = cmm_msg(ns[i]);
        /* padded has no effect on CallMeMaybe */
        assert_int_equal(disco_seal(out, sizeof(out), &m, false, f.a.pub, &f.ab, NULL), 62 + 16 + 2 + 18 * ns[i]);
        assert_int_equal(disco_seal(out, sizeof(out), &m, true, f.a.pub, &f.ab, NULL), DISCO_CMM_LEN(ns[i]));
    }
    m = cmm_msg(DISCO_MAX_ENDPOINTS);
    m.n_eps = DISCO_MAX_ENDPOINTS + 1;
    assert_int_equal(disco_seal(out, sizeof(out), &m, false, f.a.pub, &f.ab, NULL), 0);
}

static void test_seal_respects_capacity(void **state)
{
    struct fx f;
    fx_init(&f);
    uint8_t out[DISCO_PADDED_LEN + 1];
    struct disco_msg m = ping_msg();
    for (size_t cap = 0; cap < 124; cap++)
        assert_int_equal(disco_seal(out, cap, &m, false, f.a.pub, &f.ab, NULL), 0);
    assert_int_equal(disco_seal(out, 124, &m, false, f.a.pub, &f.ab, NULL), 124);
    assert_int_equal(disco_seal(out, 1309, &m, true, f.a.pub, &f.ab, NULL), 0);
    assert_int_equal(disco_seal(out, 1310, &m, true, f.a.pub, &f.ab, NULL), 1310);
    /* Nothing disco_open would refuse as too large is built. */
    m.padding = DISCO_MAX_PACKET;
    assert_int_equal(disco_seal(out, sizeof(out), &m, false, f.a.pub, &f.ab, NULL), 0);
    uint8_t *big = malloc(DISCO_MAX_PACKET + 64);
    assert_non_null(big);
    m.padding = DISCO_MAX_PACKET - 124;
    assert_int_equal(disco_seal(big, DISCO_MAX_PACKET + 64, &m, false, f.a.pub, &f.ab, NULL), DISCO_MAX_PACKET);
    struct disco_msg got;
    assert_int_equal(disco_open(big, DISCO_MAX_PACKET, &f.ba, &got), 0);
    assert_int_equal(got.padding, DISCO_MAX_PACKET - 124);
    m.padding++;
    assert_int_equal(disco_seal(big, DISCO_MAX_PACKET + 64, &m, false, f.a.pub, &f.ab, NULL), 0);
    free(big);
    /* unknown type, family-0 endpoint */
    m = ping_msg();
    m.type = (enum disco_type)4;
    assert_int_equal(disco_seal(out, sizeof(out), &m, false, f.a.pub, &f.ab, NULL), 0);
    m = pong_msg((struct wg_endpoint){0});
    assert_int_equal(disco_seal(out, sizeof(out), &m, false, f.a.pub, &f.ab, NULL), 0);
    m = cmm_msg(3);
    m.eps[2].family = 0;
    assert_int_equal(disco_seal(out, sizeof(out), &m, false, f.a.pub, &f.ab, NULL), 0);
}

/* ---- the fixed vector -------------------------------------------------- */

static void test_ping_vector(void **state)
{
    struct fx f;
    fx_init(&f);
    struct disco_msg m = ping_msg();
    uint8_t out[256], want[256], again[256], plain[256];
    size_t n = disco_seal(out, sizeof(out), &m, false, f.a.pub, &f.ab, NONCE);
    assert_int_equal(n, 124);
    assert_int_equal(unhex(want, sizeof(want), PING_VECTOR), 124);
    assert_memory_equal(out, want, 124);
    /* The layout of §3.1, sealed independently with plain crypto_box. */
    assert_int_equal(seal_raw_hex(again, &f, "0100" TXID_HEX NODE_KEY_HEX), 124);
    assert_memory_equal(out, again, 124);
    assert_memory_equal(out + 6, f.a.pub, 32);
    assert_memory_equal(out + 38, NONCE, 24);
    /* B opens it with A's public key and its own private key. */
    assert_int_equal(open_raw(plain, &f, out, n), 46);
    uint8_t pt[46];
    unhex(pt, sizeof(pt), "0100" TXID_HEX NODE_KEY_HEX);
    assert_memory_equal(plain, pt, 46);
    /* Any flipped byte of nonce, tag or ciphertext fails, both ways. */
    for (size_t i = 38; i < n; i++) {
        memcpy(again, out, n);
        again[i] ^= 0x01;
        assert_int_not_equal(crypto_box_open_easy(plain, again + 62, n - 62, again + 38, f.a.pub, f.b.priv), 0);
        struct disco_msg got;
        assert_int_equal(disco_open(again, n, &f.ba, &got), -1);
    }
    /* A random nonce differs from call to call. */
    size_t n1 = disco_seal(out, sizeof(out), &m, false, f.a.pub, &f.ab, NULL);
    size_t n2 = disco_seal(again, sizeof(again), &m, false, f.a.pub, &f.ab, NULL);
    assert_int_equal(n1, n2);
    assert_memory_not_equal(out + 38, again + 38, 24);
}

static void test_padded_layout(void **state)
{
    struct fx f;
    fx_init(&f);
    uint8_t out[DISCO_PADDED_LEN], plain[DISCO_PADDED_LEN];
    struct disco_msg m = ping_msg();
    m.version = 0;
    m.padding = 7;   /* not used when padded */
    assert_int_equal(disco_seal(out, sizeof(out), &m, true, f.a.pub, &f.ab, NONCE), 1310);
    assert_int_equal(open_raw(plain, &f, out, 1310), 1232);
    uint8_t head[46];
    unhex(head, sizeof(head), "0101" TXID_HEX NODE_KEY_HEX);
    assert_memory_equal(plain, head, 46);
    for (size_t i = 46; i < 1232; i++)
        assert_int_equal(plain[i], 0);
    struct disco_msg got;
    assert_int_equal(disco_open(out, 1310, &f.ba, &got), 0);
    assert_int_equal(got.type, DISCO_PING);
    assert_int_equal(got.version, 1);
    assert_true(got.has_node_key);
    assert_int_equal(got.padding, 1230 - 44);

    m = pong_msg(ep4(203, 0, 113, 5, 41641));
    assert_int_equal(disco_seal(out, sizeof(out), &m, true, f.a.pub, &f.ab, NONCE), 1310);
    assert_int_equal(open_raw(plain, &f, out, 1310), 1232);
    uint8_t pong[32];
    unhex(pong, sizeof(pong), "0201" TXID_HEX "00000000000000000000ffffcb007105a2a9");
    assert_memory_equal(plain, pong, 32);
    for (size_t i = 32; i < 1232; i++)
        assert_int_equal(plain[i], 0);
    assert_int_equal(disco_open(out, 1310, &f.ba, &got), 0);
    assert_int_equal(got.type, DISCO_PONG);
    struct wg_endpoint want = ep4(203, 0, 113, 5, 41641);
    assert_true(wg_endpoint_equal(&got.src, &want));
}

/* ---- round trips ------------------------------------------------------- */

static void round_trip(const struct fx *f, const struct disco_msg *m, bool padded, struct disco_msg *got)
{
    uint8_t out[DISCO_MAX_PACKET];
    size_t n = disco_seal(out, sizeof(out), m, padded, f->a.pub, &f->ab, NULL);
    assert_true(n > 0);
    assert_true(disco_looks_like(out, n));
    assert_ptr_equal(disco_sender_key(out, n), out + 6);
    assert_memory_equal(disco_sender_key(out, n), f->a.pub, 32);
    assert_int_equal(disco_open(out, n, &f->ba, got), 0);
    assert_int_equal(got->type, m->type);
}

/* Issue #7: a pong padded to the size of the ping it answers (a path MTU
 * probe tests both directions); the padding comes back as such. */
static void test_pong_padding(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f);
    struct disco_msg m = pong_msg(ep4(203, 0, 113, 5, 41641)), got;
    uint8_t out[1500];
    m.padding = 1472 - DISCO_PONG_LEN;
    assert_int_equal(disco_seal(out, sizeof out, &m, false, f.a.pub, &f.ab, NULL), 1472);
    assert_int_equal(disco_open(out, 1472, &f.ba, &got), 0);
    assert_int_equal(got.type, DISCO_PONG);
    assert_int_equal(got.padding, 1472 - DISCO_PONG_LEN);
    assert_int_equal(got.src.port, 41641);
    assert_int_equal(disco_seal(out, 1471, &m, false, f.a.pub, &f.ab, NULL), 0);
    m.padding = DISCO_MAX_PACKET;
    assert_int_equal(disco_seal(out, sizeof out, &m, false, f.a.pub, &f.ab, NULL), 0);
}

static void test_round_trips(void **state)
{
    struct fx f;
    fx_init(&f);
    struct disco_msg got;
    for (int padded = 0; padded < 2; padded++) {
        struct disco_msg m = ping_msg();
        m.padding = padded ? 0 : 100;
        round_trip(&f, &m, padded, &got);
        assert_memory_equal(got.txid, TXID, 12);
        assert_true(got.has_node_key);
        assert_memory_equal(got.node_key, m.node_key, 32);
        assert_int_equal(got.version, padded ? 1 : 0);
        assert_int_equal(got.padding, padded ? 1186 : 100);

        const struct wg_endpoint srcs[] = {ep4(203, 0, 113, 5, 41641), ep6(9, 1), ep4(0, 0, 0, 0, 0),
                                           ep6(0xff, 65535)};
        for (size_t i = 0; i < sizeof(srcs) / sizeof(srcs[0]); i++) {
            m = pong_msg(srcs[i]);
            round_trip(&f, &m, padded, &got);
            assert_memory_equal(got.txid, TXID, 12);
            assert_true(wg_endpoint_equal(&got.src, &srcs[i]));
            assert_memory_equal(got.src.addr, srcs[i].addr, 16);   /* IPv4: the rest zero */
        }
    }
    const size_t ns[] = {1, 2, 5, DISCO_MAX_ENDPOINTS};
    for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
        struct disco_msg m = cmm_msg(ns[i]);
        round_trip(&f, &m, true, &got);
        assert_int_equal(got.version, 0);
        assert_int_equal(got.n_eps, ns[i]);
        for (size_t j = 0; j < ns[i]; j++)
            assert_true(wg_endpoint_equal(&got.eps[j], &m.eps[j]));
    }
    /* An empty CallMeMaybe seals (2-byte plaintext) and opens as an empty list. */
    struct disco_msg m = cmm_msg(0);
    round_trip(&f, &m, false, &got);
    assert_int_equal(got.n_eps, 0);
    /* Old-style ping, no node key, version passed through. */
    m = ping_msg();
    m.has_node_key = false;
    m.version = 0;
    round_trip(&f, &m, false, &got);
    assert_false(got.has_node_key);
    assert_int_equal(got.padding, 0);
}

static void test_v4_mapped(void **state)
{
    struct fx f;
    fx_init(&f);
    uint8_t out[512], plain[512];
    /* IPv4 goes out as ::ffff:a.b.c.d, port big-endian. */
    struct disco_msg m = cmm_msg(0);
    m.n_eps = 2;
    m.eps[0] = ep4(198, 18, 0, 1, 41641);
    m.eps[1] = ep6(1, 0x1234);
    size_t n = disco_seal(out, sizeof(out), &m, false, f.a.pub, &f.ab, NONCE);
    assert_int_equal(open_raw(plain, &f, out, n), 2 + 36);
    uint8_t want[38];
    unhex(want, sizeof(want), "0300" "00000000000000000000ffffc6120001a2a9"
                              "20010db8000000000000000000000001" "1234");
    assert_memory_equal(plain, want, 38);
    /* A family-6 v4-mapped endpoint goes out the same and comes back as IPv4. */
    struct wg_endpoint mapped = {.family = 6, .port = 7, .addr = {[10] = 0xff, [11] = 0xff, 10, 0, 0, 1}};
    m = pong_msg(mapped);
    struct disco_msg got;
    round_trip(&f, &m, false, &got);
    struct wg_endpoint v4 = ep4(10, 0, 0, 1, 7);
    assert_true(wg_endpoint_equal(&got.src, &v4));
    /* Near misses of the prefix stay IPv6. */
    n = seal_raw_hex(out, &f, "0200" TXID_HEX "00000000000000000000fffec6120001a2a9");
    assert_int_equal(disco_open(out, n, &f.ba, &got), 0);
    assert_int_equal(got.src.family, 6);
    assert_int_equal(got.src.addr[11], 0xfe);
    n = seal_raw_hex(out, &f, "0200" TXID_HEX "00000000000000000001ffffc6120001a2a9");
    assert_int_equal(disco_open(out, n, &f.ba, &got), 0);
    assert_int_equal(got.src.family, 6);
}

/* ---- hand-made plaintexts ---------------------------------------------- */

static void test_old_ping_and_versions(void **state)
{
    struct fx f;
    fx_init(&f);
    uint8_t out[512];
    struct disco_msg got;
    /* ≤1.16: TxID only. */
    size_t n = seal_raw_hex(out, &f, "0100" TXID_HEX);
    assert_int_equal(disco_open(out, n, &f.ba, &got), 0);
    assert_int_equal(got.type, DISCO_PING);
    assert_memory_equal(got.txid, TXID, 12);
    assert_false(got.has_node_key);
    assert_int_equal(got.padding, 0);
    /* 31 bytes after the TxID are not a node key. */
    n = seal_raw_hex(out, &f, "0100" TXID_HEX "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcddde");
    assert_int_equal(disco_open(out, n, &f.ba, &got), 0);
    assert_false(got.has_node_key);
    assert_int_equal(got.padding, 31);
    /* The ping/pong version byte is ignored (only reported). */
    n = seal_raw_hex(out, &f, "01ff" TXID_HEX NODE_KEY_HEX);
    assert_int_equal(disco_open(out, n, &f.ba, &got), 0);
    assert_true(got.has_node_key);
    assert_int_equal(got.version, 0xff);
    n = seal_raw_hex(out, &f, "0207" TXID_HEX "20010db80000000000000000000000090001");
    assert_int_equal(disco_open(out, n, &f.ba, &got), 0);
    struct wg_endpoint want = ep6(9, 1);
    assert_true(wg_endpoint_equal(&got.src, &want));
}

static void test_trailing_bytes(void **state)
{
    struct fx f;
    fx_init(&f);
    uint8_t out[512];
    struct disco_msg got;
    size_t n = seal_raw_hex(out, &f, "0100" TXID_HEX NODE_KEY_HEX "0000deadbeef");
    assert_int_equal(disco_open(out, n, &f.ba, &got), 0);
    assert_true(got.has_node_key);
    assert_int_equal(got.padding, 6);
    n = seal_raw_hex(out, &f, "0200" TXID_HEX "00000000000000000000ffffcb007105a2a9" "0102030405");
    assert_int_equal(disco_open(out, n, &f.ba, &got), 0);
    struct wg_endpoint want = ep4(203, 0, 113, 5, 41641);
    assert_true(wg_endpoint_equal(&got.src, &want));
}

static void test_call_me_maybe_empty(void **state)
{
    struct fx f;
    fx_init(&f);
    uint8_t out[512];
    struct disco_msg got;
#define EP_A "00000000000000000000ffffc6120001a2a9"
#define EP_B "20010db80000000000000000000000010001"
    size_t n = seal_raw_hex(out, &f, "0300" EP_A EP_B);
    assert_int_equal(disco_open(out, n, &f.ba, &got), 0);
    assert_int_equal(got.n_eps, 2);
    const char *empty[] = {
        "0301" EP_A EP_B,   /* version 1 */
        "03ff" EP_A,        /* any other version */
        "0300",             /* no endpoints */
        "0300" EP_A "00",   /* 19 bytes */
        "0300" EP_A EP_B "0000",
        "0300" "00000000000000000000ffffc6120001a2",   /* 17 bytes */
    };
    for (size_t i = 0; i < sizeof(empty) / sizeof(empty[0]); i++) {
        n = seal_raw_hex(out, &f, empty[i]);
        assert_int_equal(disco_open(out, n, &f.ba, &got), 0);
        assert_int_equal(got.type, DISCO_CALL_ME_MAYBE);
        assert_int_equal(got.n_eps, 0);
    }
    /* More than DISCO_MAX_ENDPOINTS: the first 64 are kept. */
    uint8_t plain[2 + 18 * 70] = {3, 0};
    for (size_t i = 0; i < 70; i++) {
        struct wg_endpoint e = ep6((uint8_t)i, (uint16_t)i);
        memcpy(plain + 2 + 18 * i, e.addr, 16);
        plain[2 + 18 * i + 17] = (uint8_t)i;
    }
    uint8_t big[sizeof(plain) + 78];
    n = seal_raw(big, &f, plain, sizeof(plain));
    assert_int_equal(disco_open(big, n, &f.ba, &got), 0);
    assert_int_equal(got.n_eps, DISCO_MAX_ENDPOINTS);
    struct wg_endpoint last = ep6(63, 63);
    assert_true(wg_endpoint_equal(&got.eps[63], &last));
}

/* ---- rejections -------------------------------------------------------- */

static void test_rejections(void **state)
{
    struct fx f;
    fx_init(&f);
    uint8_t out[512], bad[512] = {0};
    struct disco_msg got, m = ping_msg();
    size_t n = disco_seal(out, sizeof(out), &m, false, f.a.pub, &f.ab, NONCE);
    assert_int_equal(n, 124);
    /* A third key C cannot open what A sealed for B. */
    struct disco_keypair c;
    disco_keypair_generate(&c);
    struct disco_shared ca;
    assert_int_equal(disco_shared_init(&ca, f.a.pub, c.priv), 0);
    assert_int_equal(disco_open(out, n, &ca, &got), -1);
    /* The box key is symmetric: A's own key for B opens it too. */
    assert_int_equal(disco_open(out, n, &f.ab, &got), 0);
    /* Short: every truncation fails. */
    for (size_t len = 0; len < n; len++)
        assert_int_equal(disco_open(out, len, &f.ba, &got), -1);
    /* Bad magic: each of the 6 bytes. */
    for (size_t i = 0; i < 6; i++) {
        memcpy(bad, out, n);
        bad[i] ^= 0x20;
        assert_false(disco_looks_like(bad, n));
        assert_null(disco_sender_key(bad, n));
        assert_int_equal(disco_open(bad, n, &f.ba, &got), -1);
    }
    /* The sender key is not authenticated by the box (the caller picks the
     * shared key by it), so changing it alone still opens. */
    memcpy(bad, out, n);
    bad[6] ^= 1;
    assert_int_equal(disco_open(bad, n, &f.ba, &got), 0);
    /* Plaintexts the parser refuses. */
    const char *refused[] = {
        "",                                           /* no header */
        "01",                                         /* one byte */
        "0100" "101112131415161718191a",              /* ping: 11-byte TxID */
        "0200" TXID_HEX "00000000000000000000ffffcb007105a2",   /* pong: 29 bytes */
        "0000" TXID_HEX, "0400" TXID_HEX, "0900", "ff00",       /* unknown types */
    };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        n = seal_raw_hex(bad, &f, refused[i]);
        assert_int_equal(disco_open(bad, n, &f.ba, &got), -1);
    }
    /* Too large to read. */
    uint8_t *big = calloc(1, DISCO_MAX_PACKET + 1);
    assert_non_null(big);
    memcpy(big, out, 62);
    assert_int_equal(disco_open(big, DISCO_MAX_PACKET + 1, &f.ba, &got), -1);
    free(big);
}

static void test_keys(void **state)
{
    struct fx f;
    fx_init(&f);
    /* Both sides derive the same box key. */
    assert_memory_equal(f.ab.k, f.ba.k, sizeof(f.ab.k));
    struct disco_keypair k1, k2;
    disco_keypair_generate(&k1);
    disco_keypair_generate(&k2);
    assert_memory_not_equal(k1.priv, k2.priv, 32);
    uint8_t pub[32];
    crypto_scalarmult_base(pub, k1.priv);
    assert_memory_equal(pub, k1.pub, 32);
    /* A low-order peer key is refused, and the result seals and opens nothing. */
    struct disco_shared s;
    uint8_t zero[32] = {0}, out[256];
    assert_int_equal(disco_shared_init(&s, zero, k1.priv), -1);
    assert_false(s.ok);
    struct disco_msg m = ping_msg(), got;
    assert_int_equal(disco_seal(out, sizeof(out), &m, false, k1.pub, &s, NULL), 0);
    size_t n = disco_seal(out, sizeof(out), &m, false, f.a.pub, &f.ab, NULL);
    assert_int_equal(disco_open(out, n, &s, &got), -1);
    disco_shared_clear(&f.ba);
    assert_int_equal(disco_open(out, n, &f.ba, &got), -1);
    /* looks_like: 62 bytes with the magic, nothing shorter. */
    assert_true(disco_looks_like(out, 62));
    assert_false(disco_looks_like(out, 61));
    assert_null(disco_sender_key(out, 61));
    assert_false(disco_looks_like(out, 0));
}

/* ---- random mutations ---------------------------------------------------- */

static uint64_t next_rand(uint64_t *s)
{
    /* xorshift64: fixed seed, so a failure reproduces. */
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void mutate(uint8_t *b, size_t *len, size_t cap, uint64_t *rng)
{
    unsigned rounds = 1 + next_rand(rng) % 4;
    for (unsigned r = 0; r < rounds; r++) {
        uint64_t x = next_rand(rng);
        size_t at = *len ? (size_t)(x >> 8) % *len : 0;
        switch (x % 4) {
        case 0: if (*len) b[at] = (uint8_t)(x >> 40); break;                 /* a byte */
        case 1: if (*len) b[at] ^= (uint8_t)(1u << (x >> 40) % 8); break;   /* a bit */
        case 2: *len = (size_t)(x >> 16) % (*len + 1); break;               /* truncate */
        default: while (*len < cap && (x >>= 1) & 1) b[(*len)++] = (uint8_t)x;   /* append */
        }
    }
}

static void check_accepted(const struct disco_msg *m)
{
    assert_true(m->type >= DISCO_PING && m->type <= DISCO_CALL_ME_MAYBE);
    assert_true(m->n_eps <= DISCO_MAX_ENDPOINTS);
    if (m->type == DISCO_PONG)
        assert_true(m->src.family == 4 || m->src.family == 6);
    for (size_t i = 0; i < m->n_eps; i++)
        assert_true(m->eps[i].family == 4 || m->eps[i].family == 6);
}

/* Mutates both the sealed packet (which must then fail, bar the unauthenticated
 * sender key) and the plaintext, re-sealed so the parser sees it. */
static void test_random_mutations(void **state)
{
    struct fx f;
    fx_init(&f);
    struct disco_msg seeds[] = {ping_msg(), pong_msg(ep4(203, 0, 113, 5, 41641)), cmm_msg(3), cmm_msg(0)};
    uint64_t rng = 0xd15c0d15c0123457ull;
    unsigned opened = 0, parsed = 0;
    for (unsigned i = 0; i < 20000; i++) {
        uint8_t pkt[DISCO_PADDED_LEN + 64], plain[DISCO_PADDED_LEN + 64];
        const struct disco_msg *s = &seeds[i % 4];
        size_t n = disco_seal(pkt, sizeof(pkt), s, i % 8 < 4, f.a.pub, &f.ab, NULL);
        assert_true(n > 0);
        size_t pn = open_raw(plain, &f, pkt, n);
        mutate(pkt, &n, sizeof(pkt), &rng);
        /* Exact-size heap copies, so ASan sees any read past the end. */
        uint8_t *b = malloc(n ? n : 1);
        assert_non_null(b);
        memcpy(b, pkt, n);
        struct disco_msg got;
        if (disco_open(b, n, &f.ba, &got) == 0) {
            check_accepted(&got);
            opened++;
        }
        free(b);
        mutate(plain, &pn, sizeof(plain) - 78, &rng);
        n = seal_raw(pkt, &f, plain, pn);
        if (disco_open(pkt, n, &f.ba, &got) == 0) {
            check_accepted(&got);
            parsed++;
        }
    }
    /* Only mutations of the sender key (or none that stuck) open; many plaintexts parse. */
    assert_true(opened < 20000 / 4);
    assert_true(parsed > 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_seal_respects_capacity),
        cmocka_unit_test(test_ping_vector),
        cmocka_unit_test(test_padded_layout),
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_pong_padding),
        cmocka_unit_test(test_v4_mapped),
        cmocka_unit_test(test_old_ping_and_versions),
        cmocka_unit_test(test_trailing_bytes),
        cmocka_unit_test(test_call_me_maybe_empty),
        cmocka_unit_test(test_rejections),
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_random_mutations),
    };
    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
