/* stun/: the codec against tailscale-wire.md §4.1's vectors, hand-built
 * messages (RFC 8489, RFC 5389's 0x8020, RFC 3489 classic), requests captured
 * from stun-client, every malformed shape we could think of, and a bounded
 * random-mutation loop that must only ever return errors. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test/unit/bytes.h"
#include "test/unit/hex.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "node/classify.h"
#include "stun/stun.h"

/* tailscale-wire.md §4.1: the request for TxID 00..0b, and derper's answer
 * for 203.0.113.5:41641. */
#define REQ_VECTOR  "000100142112a442000102030405060708090a0b802200087461696c6e6f6465802800048aabad90"
#define RESP_VECTOR "0101000c2112a442000102030405060708090a0b00200008000183bbea12d547"

/* stun-client 0.97 (RFC 3489): its first request (CHANGE-REQUEST flags 0) and
 * its change-IP test (flags 4), captured from `stun 127.0.0.1:PORT`. */
#define CLASSIC_REQ        "0001000801550d12ca0bbc561e0c2a287bd79e580003000400000000"
#define CLASSIC_REQ_CHANGE "0001000802ed527cf96cd53075a3486f504284610003000400000004"

/* coturn 4.6.1's answer to stun_build_request(TxID 30..3b) from 127.0.0.1:48540:
 * XOR-MAPPED-ADDRESS, SOFTWARE "Coturn-4.6.1 'Gorst'", and a FINGERPRINT
 * computed by another implementation. */
#define COTURN_RESP "0101002c2112a442303132333435363738393a3b" "002000080001" "9c8e" "5e12a443" \
                    "80220014436f7475726e2d342e362e312027476f7273742780280004e14d3ac4"


static const uint8_t TXID[STUN_TXID_LEN] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};

/* ---- helpers ---------------------------------------------------------- */

static struct wg_endpoint ep(const char *addr, uint16_t port)
{
    struct wg_endpoint e = {.port = port};
    e.family = strchr(addr, ':') ? 6 : 4;
    assert_int_equal(inet_pton(e.family == 6 ? AF_INET6 : AF_INET, addr, e.addr), 1);
    return e;
}

static void assert_ep(const struct wg_endpoint *got, const char *addr, uint16_t port)
{
    struct wg_endpoint want = ep(addr, port);
    if (!wg_endpoint_equal(got, &want))
        fail_msg("endpoint: family %u port %u, want %s port %u", got->family, got->port, addr, port);
}

static void assert_bytes(const uint8_t *got, size_t len, const char *hex)
{
    uint8_t want[256];
    size_t n = unhex(want, sizeof(want), hex);
    assert_int_equal(len, n);
    assert_memory_equal(got, want, n);
}

/* A message built by hand, independent of the codec's writer. */
struct msg {
    uint8_t b[512];
    size_t len;
};

static void m_start(struct msg *m, uint16_t type, const uint8_t txid[STUN_TXID_LEN])
{
    memset(m, 0, sizeof(*m));
    put16(m->b, type);
    put32(m->b + 4, STUN_MAGIC_COOKIE);
    memcpy(m->b + 8, txid, STUN_TXID_LEN);
    m->len = STUN_HEADER_LEN;
}

/* Appends a TLV with zero padding and keeps the header length current. */
static void m_attr(struct msg *m, uint16_t type, const void *value, size_t len)
{
    put16(m->b + m->len, type);
    put16(m->b + m->len + 2, (uint16_t)len);
    if (len > 0)
        memcpy(m->b + m->len + 4, value, len);
    m->len += 4 + ((len + 3) & ~(size_t)3);
    put16(m->b + 2, (uint16_t)(m->len - STUN_HEADER_LEN));
}

static void m_attr_hex(struct msg *m, uint16_t type, const char *hex)
{
    uint8_t v[128];
    size_t n = unhex(v, sizeof(v), hex);
    m_attr(m, type, v, n);
}

static void m_fingerprint(struct msg *m)
{
    size_t at = m->len;
    uint8_t zero[4] = {0};
    m_attr(m, 0x8028, zero, 4);
    put32(m->b + at + 4, (uint32_t)crc32(0L, m->b, (uInt)at) ^ 0x5354554Eu);
}

static struct msg from_hex(const char *hex)
{
    struct msg m;
    memset(&m, 0, sizeof(m));
    m.len = unhex(m.b, sizeof(m.b), hex);
    return m;
}

static enum stun_status parse_resp(const struct msg *m, struct wg_endpoint *mapped)
{
    uint8_t txid[STUN_TXID_LEN];
    return stun_parse_response(m->b, m->len, txid, mapped);
}

static enum stun_status parse_req(const struct msg *m, struct stun_request *req)
{
    return stun_parse_request(m->b, m->len, req);
}

/* ---- the reference vectors -------------------------------------------- */

static void test_request_vector(void **state)
{
    uint8_t out[STUN_REQUEST_LEN];
    stun_build_request(out, TXID);
    assert_bytes(out, sizeof(out), REQ_VECTOR);
    assert_true(stun_is(out, sizeof(out)));
}

static void test_response_vector(void **state)
{
    struct stun_request req;
    struct msg m = from_hex(REQ_VECTOR);
    assert_int_equal(parse_req(&m, &req), STUN_OK);
    struct wg_endpoint mapped = ep("203.0.113.5", 41641);
    uint8_t out[STUN_MAX_RESPONSE];
    size_t n = stun_build_success(out, sizeof(out), &req, &mapped);
    assert_bytes(out, n, RESP_VECTOR);

    uint8_t txid[STUN_TXID_LEN];
    struct wg_endpoint got;
    assert_int_equal(stun_parse_response(out, n, txid, &got), STUN_OK);
    assert_memory_equal(txid, TXID, STUN_TXID_LEN);
    assert_ep(&got, "203.0.113.5", 41641);
}

static void test_coturn_response(void **state)
{
    struct msg m = from_hex(COTURN_RESP);
    uint8_t txid[STUN_TXID_LEN], want[STUN_TXID_LEN];
    for (size_t i = 0; i < sizeof(want); i++)
        want[i] = (uint8_t)(0x30 + i);
    struct wg_endpoint got;
    assert_int_equal(stun_parse_response(m.b, m.len, txid, &got), STUN_OK);
    assert_memory_equal(txid, want, STUN_TXID_LEN);
    assert_ep(&got, "127.0.0.1", 48540);
    m.b[40] ^= 1;   /* inside SOFTWARE: only the fingerprint notices */
    assert_int_equal(stun_parse_response(m.b, m.len, txid, &got), STUN_ERR_BAD_FINGERPRINT);
}

static void test_request_round_trip(void **state)
{
    uint8_t txid[STUN_TXID_LEN];
    for (size_t i = 0; i < sizeof(txid); i++)
        txid[i] = (uint8_t)(0xA0 + i);
    uint8_t out[STUN_REQUEST_LEN];
    stun_build_request(out, txid);
    struct stun_request req;
    assert_int_equal(stun_parse_request(out, sizeof(out), &req), STUN_OK);
    assert_false(req.classic);
    assert_memory_equal(req.txid, txid, STUN_TXID_LEN);
    assert_true(req.has_software);
    assert_true(req.software_is_tailnode);
    assert_true(req.has_fingerprint);
    assert_int_equal(req.n_unknown, 0);
    assert_int_equal(req.change_flags, 0);
}

static void test_request_other_software(void **state)
{
    struct msg m;
    m_start(&m, 0x0001, TXID);
    m_attr(&m, 0x8022, "tailnodes", 9);
    struct stun_request req;
    assert_int_equal(parse_req(&m, &req), STUN_OK);
    assert_true(req.has_software);
    assert_false(req.software_is_tailnode);
    assert_false(req.has_fingerprint);

    m_start(&m, 0x0001, TXID);   /* a bare request, as public STUN clients send */
    assert_int_equal(parse_req(&m, &req), STUN_OK);
    assert_false(req.has_software);
}

/* ---- addresses -------------------------------------------------------- */

static void test_ipv6_xor_mapped(void **state)
{
    struct stun_request req;
    struct msg m = from_hex(REQ_VECTOR);
    assert_int_equal(parse_req(&m, &req), STUN_OK);
    struct wg_endpoint mapped = ep("2001:db8::1:2", 3478);
    uint8_t out[STUN_MAX_RESPONSE];
    size_t n = stun_build_success(out, sizeof(out), &req, &mapped);
    /* Port 0x0d96 ^ 0x2112; address ^ (cookie ‖ txid), worked by hand. */
    assert_bytes(out, n, "010100182112a442000102030405060708090a0b"
                         "0020001400022c84" "0113a9fa000102030405060708080a09");
    struct wg_endpoint got;
    uint8_t txid[STUN_TXID_LEN];
    assert_int_equal(stun_parse_response(out, n, txid, &got), STUN_OK);
    assert_ep(&got, "2001:db8::1:2", 3478);
}

static void test_v4_mapped_is_unmapped(void **state)
{
    struct stun_request req;
    struct msg m = from_hex(REQ_VECTOR);
    assert_int_equal(parse_req(&m, &req), STUN_OK);
    /* The builder encodes what it is given: a dual-stack socket's view. */
    struct wg_endpoint mapped = ep("::ffff:198.51.100.7", 1234);
    struct msg resp;
    resp.len = stun_build_success(resp.b, sizeof(resp.b), &req, &mapped);
    assert_int_equal(resp.len, 44);
    struct wg_endpoint got;
    assert_int_equal(parse_resp(&resp, &got), STUN_OK);
    assert_int_equal(got.family, 4);
    assert_ep(&got, "198.51.100.7", 1234);
}

static void test_mapped_address_fallback(void **state)
{
    struct msg m;
    m_start(&m, 0x0101, TXID);
    m_attr_hex(&m, 0x0001, "0001" "0009" "c0000209");   /* 192.0.2.9:9, not XORed */
    struct wg_endpoint got;
    assert_int_equal(parse_resp(&m, &got), STUN_OK);
    assert_ep(&got, "192.0.2.9", 9);

    m_start(&m, 0x0101, TXID);   /* IPv6 MAPPED-ADDRESS */
    m_attr_hex(&m, 0x0001, "0002" "0d96" "20010db8000000000000000000010002");
    assert_int_equal(parse_resp(&m, &got), STUN_OK);
    assert_ep(&got, "2001:db8::1:2", 3478);
}

static void test_xor_alt_fallback_and_preference(void **state)
{
    struct msg m;
    struct wg_endpoint got;
    /* 0x8020 is XORed like 0x0020; here it carries the vector's address. */
    m_start(&m, 0x0101, TXID);
    m_attr_hex(&m, 0x0001, "0001" "0009" "c0000209");
    m_attr_hex(&m, 0x8020, "000183bbea12d547");
    assert_int_equal(parse_resp(&m, &got), STUN_OK);
    assert_ep(&got, "203.0.113.5", 41641);

    /* XOR-MAPPED-ADDRESS wins over both, wherever it sits. */
    m_attr_hex(&m, 0x0020, "0001" "2113" "e721c043");   /* 198.51.100.1:1 */
    assert_int_equal(parse_resp(&m, &got), STUN_OK);
    assert_ep(&got, "198.51.100.1", 1);

    /* Only the first of duplicates counts. */
    m_start(&m, 0x0101, TXID);
    m_attr_hex(&m, 0x0020, "0001" "2113" "e721c043");
    m_attr_hex(&m, 0x0020, "000183bbea12d547");
    assert_int_equal(parse_resp(&m, &got), STUN_OK);
    assert_ep(&got, "198.51.100.1", 1);
}

/* ---- classic RFC 3489 ------------------------------------------------- */

static void test_classic_request(void **state)
{
    struct msg m = from_hex(CLASSIC_REQ);
    struct stun_request req;
    assert_false(stun_is(m.b, m.len));   /* no cookie: the socket demux passes it on */
    assert_int_equal(parse_req(&m, &req), STUN_OK);
    assert_true(req.classic);
    assert_memory_equal(req.txid, m.b + 4, 16);
    assert_false(req.has_software);
    assert_false(req.has_fingerprint);
    assert_int_equal(req.change_flags, 0);

    struct wg_endpoint mapped = ep("192.0.2.1", 54321);
    uint8_t out[STUN_MAX_RESPONSE];
    size_t n = stun_build_success(out, sizeof(out), &req, &mapped);
    /* MAPPED-ADDRESS only, the 16-byte id echoed where the cookie would be. */
    assert_bytes(out, n, "0101000c" "01550d12ca0bbc561e0c2a287bd79e58"
                         "00010008" "0001d431" "c0000201");
    /* A client parser wants a cookie, so this is not a modern response. */
    uint8_t txid[STUN_TXID_LEN];
    struct wg_endpoint got;
    assert_int_equal(stun_parse_response(out, n, txid, &got), STUN_ERR_NOT_STUN);
}

static void test_classic_change_request_gets_420(void **state)
{
    struct msg m = from_hex(CLASSIC_REQ_CHANGE);
    struct stun_request req;
    assert_int_equal(parse_req(&m, &req), STUN_ERR_UNKNOWN_REQUIRED);
    assert_true(req.classic);
    assert_int_equal(req.change_flags, STUN_CHANGE_IP);
    assert_int_equal(req.n_unknown, 1);
    assert_int_equal(req.unknown[0], 0x0003);

    uint8_t out[STUN_MAX_RESPONSE];
    size_t n = stun_build_error_420(out, sizeof(out), &req);
    /* RFC 3489: an empty reason (a multiple of 4), the odd list with a
     * repeat counted in its length. */
    assert_bytes(out, n, "01110010" "02ed527cf96cd53075a3486f50428461"
                         "00090004" "00000414"
                         "000a0004" "00030003");
}

/* ---- 420 and unknown attributes --------------------------------------- */

static void test_unknown_required_gets_420(void **state)
{
    struct msg m;
    m_start(&m, 0x0001, TXID);
    m_attr_hex(&m, 0x7777, "deadbeef");
    m_attr(&m, 0x8022, "tailnode", 8);
    m_fingerprint(&m);
    struct stun_request req;
    assert_int_equal(parse_req(&m, &req), STUN_ERR_UNKNOWN_REQUIRED);
    assert_false(req.classic);
    assert_memory_equal(req.txid, TXID, STUN_TXID_LEN);
    assert_true(req.software_is_tailnode);
    assert_true(req.has_fingerprint);
    assert_int_equal(req.n_unknown, 1);
    assert_int_equal(req.unknown[0], 0x7777);

    uint8_t out[STUN_MAX_RESPONSE];
    size_t n = stun_build_error_420(out, sizeof(out), &req);
    /* RFC 8489: lengths count only the value; padding is zeros; the reason
     * phrase is empty, so the error stays small. */
    assert_bytes(out, n, "01110010" "2112a442000102030405060708090a0b"
                         "00090004" "00000414"
                         "000a0002" "77770000");
    assert_true(stun_is(out, n));
}

static void test_unknown_list_is_capped_and_deduplicated(void **state)
{
    struct msg m;
    m_start(&m, 0x0001, TXID);
    static const uint16_t types[] = {0x0002, 0x0026, 0x0002, 0x0027, 0x0024, 0x0025};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        m_attr(&m, types[i], NULL, 0);
    struct stun_request req;
    assert_int_equal(parse_req(&m, &req), STUN_ERR_UNKNOWN_REQUIRED);
    assert_int_equal(req.n_unknown, 4);
    assert_int_equal(req.unknown[0], 0x0002);
    assert_int_equal(req.unknown[1], 0x0026);
    assert_int_equal(req.unknown[2], 0x0027);
    assert_int_equal(req.unknown[3], 0x0024);

    uint8_t out[STUN_MAX_RESPONSE];
    size_t n = stun_build_error_420(out, sizeof(out), &req);
    assert_int_equal(n, 20 + 8 + 12);
    assert_true(n <= STUN_MAX_RESPONSE);
    assert_bytes(out + 28, 12, "000a0008" "0002002600270024");

    req.classic = true;   /* even count: no repeat needed in RFC 3489 either */
    n = stun_build_error_420(out, sizeof(out), &req);
    assert_int_equal(n, 40);
    assert_bytes(out + 28, 12, "000a0008" "0002002600270024");
}

static void test_known_and_optional_attributes_pass(void **state)
{
    struct msg m;
    m_start(&m, 0x0001, TXID);
    m_attr_hex(&m, 0x8050, "0102030405");           /* unknown optional: skipped */
    m_attr(&m, 0x0006, "user", 4);                  /* USERNAME: known, ignored */
    m_attr_hex(&m, 0x0003, "00000000");             /* CHANGE-REQUEST, no change */
    m_attr(&m, 0x8022, "tailnode", 8);
    m_fingerprint(&m);
    struct stun_request req;
    assert_int_equal(parse_req(&m, &req), STUN_OK);
    assert_true(req.software_is_tailnode);
    assert_true(req.has_fingerprint);

    struct wg_endpoint got;
    m_start(&m, 0x0101, TXID);
    m_attr_hex(&m, 0x802b, "0001" "0d96" "c0000202");   /* RESPONSE-ORIGIN */
    m_attr(&m, 0x8022, "coturn", 6);
    m_attr_hex(&m, 0x0020, "000183bbea12d547");
    m_fingerprint(&m);
    assert_int_equal(parse_resp(&m, &got), STUN_OK);
    assert_ep(&got, "203.0.113.5", 41641);
}

static void test_after_message_integrity_ignored(void **state)
{
    uint8_t hmac[20] = {0};
    struct msg m;
    m_start(&m, 0x0001, TXID);
    m_attr(&m, 0x0006, "user", 4);
    m_attr(&m, 0x0008, hmac, sizeof(hmac));
    m_attr_hex(&m, 0x7777, "00000000");   /* after MESSAGE-INTEGRITY: ignored */
    m_fingerprint(&m);
    struct stun_request req;
    assert_int_equal(parse_req(&m, &req), STUN_OK);
    assert_true(req.has_fingerprint);
}

static void test_unknown_required_in_response(void **state)
{
    struct msg m;
    m_start(&m, 0x0101, TXID);
    m_attr_hex(&m, 0x0020, "000183bbea12d547");
    m_attr_hex(&m, 0x7777, "00000000");
    struct wg_endpoint got;
    assert_int_equal(parse_resp(&m, &got), STUN_ERR_UNKNOWN_REQUIRED);
    assert_int_equal(got.family, 0);

    /* RFC 3489 servers add SOURCE-ADDRESS and CHANGED-ADDRESS: known. */
    m_start(&m, 0x0101, TXID);
    m_attr_hex(&m, 0x0001, "0001" "0009" "c0000209");
    m_attr_hex(&m, 0x0004, "0001" "0d96" "c0000202");
    m_attr_hex(&m, 0x0005, "0001" "0d97" "c0000203");
    assert_int_equal(parse_resp(&m, &got), STUN_OK);
    assert_ep(&got, "192.0.2.9", 9);
}

/* ---- malformed input -------------------------------------------------- */

static void test_short_and_empty(void **state)
{
    struct msg m = from_hex(REQ_VECTOR);
    struct stun_request req;
    struct wg_endpoint got;
    uint8_t txid[STUN_TXID_LEN];
    for (size_t len = 0; len < STUN_HEADER_LEN; len++) {
        assert_false(stun_is(m.b, len));
        assert_int_equal(stun_parse_request(m.b, len, &req), STUN_ERR_TRUNCATED);
        assert_int_equal(stun_parse_response(m.b, len, txid, &got), STUN_ERR_TRUNCATED);
    }
    assert_false(stun_is(NULL, 0));
    assert_int_equal(stun_parse_request(NULL, 0, &req), STUN_ERR_TRUNCATED);
}

static void test_length_beyond_datagram(void **state)
{
    struct msg m = from_hex(REQ_VECTOR);
    struct stun_request req;
    for (size_t len = STUN_HEADER_LEN; len < STUN_REQUEST_LEN; len++)
        assert_int_equal(stun_parse_request(m.b, len, &req), STUN_ERR_TRUNCATED);
    struct msg r = from_hex(RESP_VECTOR);
    struct wg_endpoint got;
    r.len -= 1;
    assert_int_equal(parse_resp(&r, &got), STUN_ERR_TRUNCATED);
}

static void test_trailing_bytes_ignored(void **state)
{
    struct msg r = from_hex(RESP_VECTOR "abcdef");
    struct wg_endpoint got;
    assert_int_equal(parse_resp(&r, &got), STUN_OK);
    assert_ep(&got, "203.0.113.5", 41641);
    struct msg m = from_hex(REQ_VECTOR "00");
    struct stun_request req;
    assert_int_equal(parse_req(&m, &req), STUN_OK);
    assert_true(req.has_fingerprint);
}

static void test_length_not_multiple_of_4(void **state)
{
    struct msg m = from_hex(REQ_VECTOR);
    struct stun_request req;
    put16(m.b + 2, 0x0013);
    assert_int_equal(parse_req(&m, &req), STUN_ERR_BAD_LENGTH);
    struct msg r = from_hex(RESP_VECTOR "00");
    struct wg_endpoint got;
    put16(r.b + 2, 0x000d);
    assert_int_equal(parse_resp(&r, &got), STUN_ERR_BAD_LENGTH);
}

static void test_attribute_overrun(void **state)
{
    struct msg m = from_hex(REQ_VECTOR);
    struct stun_request req;
    put16(m.b + 22, 0x0011);   /* SOFTWARE claims 17 bytes: 20 padded, 16 left */
    assert_int_equal(parse_req(&m, &req), STUN_ERR_TRUNCATED);
    put16(m.b + 22, 0xffff);
    assert_int_equal(parse_req(&m, &req), STUN_ERR_TRUNCATED);

    struct msg r = from_hex(RESP_VECTOR);
    struct wg_endpoint got;
    put16(r.b + 22, 0x000c);   /* XOR-MAPPED-ADDRESS claims 12 of 8 bytes */
    assert_int_equal(parse_resp(&r, &got), STUN_ERR_TRUNCATED);
    /* The padding of the last attribute is missing. */
    struct msg p;
    m_start(&p, 0x0101, TXID);
    m_attr_hex(&p, 0x0020, "000183bbea12d547");
    m_attr_hex(&p, 0x8022, "41");
    put16(p.b + 2, (uint16_t)(p.len - STUN_HEADER_LEN - 4));
    assert_int_equal(parse_resp(&p, &got), STUN_ERR_TRUNCATED);
}

static void test_bad_fingerprint(void **state)
{
    struct stun_request req;
    struct msg m = from_hex(REQ_VECTOR);
    m.b[39] ^= 1;
    assert_int_equal(parse_req(&m, &req), STUN_ERR_BAD_FINGERPRINT);
    m = from_hex(REQ_VECTOR);
    m.b[24] = 'T';   /* "Tailnode": the CRC no longer matches */
    assert_int_equal(parse_req(&m, &req), STUN_ERR_BAD_FINGERPRINT);
    m = from_hex(REQ_VECTOR);
    m.b[10] ^= 0x80;   /* the header is covered too */
    assert_int_equal(parse_req(&m, &req), STUN_ERR_BAD_FINGERPRINT);

    /* Wrong length: an 8-byte FINGERPRINT. */
    m_start(&m, 0x0001, TXID);
    m_attr_hex(&m, 0x8028, "0000000000000000");
    assert_int_equal(parse_req(&m, &req), STUN_ERR_BAD_FINGERPRINT);

    /* In a response it is optional, but checked when present. */
    struct msg r = from_hex(RESP_VECTOR);
    struct wg_endpoint got;
    m_fingerprint(&r);
    assert_int_equal(parse_resp(&r, &got), STUN_OK);
    r.b[r.len - 1] ^= 0xff;
    assert_int_equal(parse_resp(&r, &got), STUN_ERR_BAD_FINGERPRINT);
    assert_int_equal(got.family, 0);
}

static void test_fingerprint_not_last(void **state)
{
    struct msg m;
    m_start(&m, 0x0001, TXID);
    m_fingerprint(&m);
    m_attr(&m, 0x8022, "tailnode", 8);
    struct stun_request req;
    assert_int_equal(parse_req(&m, &req), STUN_ERR_BAD_FINGERPRINT);

    struct msg r = from_hex(RESP_VECTOR);
    m_fingerprint(&r);
    m_attr(&r, 0x8022, "x", 1);
    struct wg_endpoint got;
    assert_int_equal(parse_resp(&r, &got), STUN_ERR_BAD_FINGERPRINT);
}

static void test_response_without_address(void **state)
{
    struct msg m;
    struct wg_endpoint got;
    m_start(&m, 0x0101, TXID);
    assert_int_equal(parse_resp(&m, &got), STUN_ERR_NO_ADDRESS);
    m_attr(&m, 0x8022, "server", 6);
    m_fingerprint(&m);
    assert_int_equal(parse_resp(&m, &got), STUN_ERR_NO_ADDRESS);
    assert_int_equal(got.family, 0);
}

static void test_malformed_address(void **state)
{
    struct msg m;
    struct wg_endpoint got;
    static const char *bad[] = {
        "0001" "83bb" "ea12d547" "00000000",   /* IPv4 family, 12 bytes */
        "0002" "83bb" "ea12d547",              /* IPv6 family, 8 bytes */
        "0003" "83bb" "ea12d547",              /* no such family */
        "0001" "83bb",                         /* no address */
        "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        m_start(&m, 0x0101, TXID);
        m_attr_hex(&m, 0x0020, bad[i]);
        assert_int_equal(parse_resp(&m, &got), STUN_ERR_BAD_LENGTH);
        assert_int_equal(got.family, 0);
    }
}

static void test_wrong_class_or_method(void **state)
{
    struct stun_request req;
    struct wg_endpoint got;
    struct msg resp = from_hex(RESP_VECTOR);
    assert_int_equal(parse_req(&resp, &req), STUN_ERR_NOT_BINDING);
    struct msg rq = from_hex(REQ_VECTOR);
    assert_int_equal(parse_resp(&rq, &got), STUN_ERR_NOT_BINDING);

    static const uint16_t not_request[] = {0x0011, 0x0101, 0x0111, 0x0003, 0x0002, 0x0000};
    static const uint16_t not_success[] = {0x0001, 0x0011, 0x0111, 0x0103, 0x0102};
    struct msg m;
    for (size_t i = 0; i < sizeof(not_request) / sizeof(not_request[0]); i++) {
        m_start(&m, not_request[i], TXID);
        assert_int_equal(parse_req(&m, &req), STUN_ERR_NOT_BINDING);
    }
    for (size_t i = 0; i < sizeof(not_success) / sizeof(not_success[0]); i++) {
        m_start(&m, not_success[i], TXID);
        m_attr_hex(&m, 0x0020, "000183bbea12d547");
        assert_int_equal(parse_resp(&m, &got), STUN_ERR_NOT_BINDING);
    }
}

static void test_not_stun(void **state)
{
    struct stun_request req;
    struct wg_endpoint got;
    struct msg m = from_hex(REQ_VECTOR);
    m.b[0] |= 0x40;
    assert_false(stun_is(m.b, m.len));
    assert_int_equal(parse_req(&m, &req), STUN_ERR_NOT_STUN);
    assert_int_equal(parse_resp(&m, &got), STUN_ERR_NOT_STUN);

    struct msg r = from_hex(RESP_VECTOR);
    r.b[7] ^= 1;   /* no cookie: a client never accepts that */
    assert_false(stun_is(r.b, r.len));
    assert_int_equal(parse_resp(&r, &got), STUN_ERR_NOT_STUN);
}

/* ---- builders --------------------------------------------------------- */

static void test_builders_respect_capacity(void **state)
{
    struct stun_request req;
    struct msg m = from_hex(REQ_VECTOR);
    assert_int_equal(parse_req(&m, &req), STUN_OK);
    struct wg_endpoint v4 = ep("203.0.113.5", 41641), v6 = ep("2001:db8::1", 1), none = {0};
    uint8_t out[STUN_MAX_RESPONSE + 8];
    for (size_t cap = 0; cap < 32; cap++)
        assert_int_equal(stun_build_success(out, cap, &req, &v4), 0);
    assert_int_equal(stun_build_success(out, 32, &req, &v4), 32);
    assert_int_equal(stun_build_success(out, 43, &req, &v6), 0);
    assert_int_equal(stun_build_success(out, 44, &req, &v6), 44);
    assert_int_equal(stun_build_success(out, sizeof(out), &req, &none), 0);

    req.n_unknown = 1;
    req.unknown[0] = 0x7777;
    assert_int_equal(stun_build_error_420(out, 35, &req), 0);
    assert_int_equal(stun_build_error_420(out, 36, &req), 36);
}

static void test_status_strings(void **state)
{
    for (int s = STUN_OK; s <= STUN_ERR_NO_ADDRESS; s++) {
        const char *str = stun_status_str((enum stun_status)s);
        assert_non_null(str);
        assert_true(strlen(str) > 0);
        for (int t = STUN_OK; t < s; t++)
            assert_string_not_equal(str, stun_status_str((enum stun_status)t));
    }
}

/* ---- random mutations ------------------------------------------------- */

static uint64_t next_rand(uint64_t *s)
{
    /* xorshift64: fixed seed, so a failure reproduces. */
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Whatever a parser accepted must answer and round-trip. */
static void check_accepted_request(const struct stun_request *req)
{
    struct wg_endpoint mapped = ep("2001:db8::7", 7);
    uint8_t out[STUN_MAX_RESPONSE];
    size_t n = stun_build_success(out, sizeof(out), req, &mapped);
    assert_true(n > 0 && n <= STUN_MAX_RESPONSE);
    if (!req->classic) {
        uint8_t txid[STUN_TXID_LEN];
        struct wg_endpoint got;
        assert_int_equal(stun_parse_response(out, n, txid, &got), STUN_OK);
        assert_memory_equal(txid, req->txid, STUN_TXID_LEN);
        assert_true(wg_endpoint_equal(&got, &mapped));
    }
    n = stun_build_error_420(out, sizeof(out), req);
    assert_true(n > 0 && n <= STUN_MAX_RESPONSE);
}

static void mutate(uint8_t *b, size_t *len, size_t cap, uint64_t *rng)
{
    unsigned rounds = 1 + next_rand(rng) % 4;
    for (unsigned r = 0; r < rounds; r++) {
        uint64_t x = next_rand(rng);
        size_t at = *len ? (size_t)(x >> 8) % *len : 0;
        switch (x % 5) {
        case 0: if (*len) b[at] = (uint8_t)(x >> 40); break;                 /* a byte */
        case 1: if (*len) b[at] ^= (uint8_t)(1u << (x >> 40) % 8); break;   /* a bit */
        case 2: *len = (size_t)(x >> 16) % (*len + 1); break;               /* truncate */
        case 3: while (*len < cap && (x >>= 1) & 1) b[(*len)++] = (uint8_t)x; break;
        default: if (*len >= 24) b[20 + (x >> 8) % 4] = (uint8_t)(x >> 32); /* an attr header */
        }
    }
}

static void test_random_mutations(void **state)
{
    static const char *seeds[] = {
        REQ_VECTOR, RESP_VECTOR, CLASSIC_REQ, CLASSIC_REQ_CHANGE, COTURN_RESP,
        "010100182112a442000102030405060708090a0b0020001400022c840113a9fa000102030405060708080a09",
        "0101000c2112a442000102030405060708090a0b80200008000183bbea12d547",
        "0101000c2112a442000102030405060708090a0b000100080001000904030201",
        /* a classic 420 with a reason phrase, as other servers send it */
        "01110024" "02ed527cf96cd53075a3486f50428461" "00090018" "00000414"
        "556e6b6e6f776e20417474726962757465" "202020" "000a0004" "00030003",
    };
    uint64_t rng = 0x5eed5eed12345678ull;
    unsigned ok_req = 0, ok_resp = 0;
    for (unsigned i = 0; i < 100000; i++) {
        struct msg m = from_hex(seeds[i % (sizeof(seeds) / sizeof(seeds[0]))]);
        mutate(m.b, &m.len, 96, &rng);
        /* An exact-size heap copy, so ASan sees any read past the end. */
        uint8_t *b = malloc(m.len ? m.len : 1);
        assert_non_null(b);
        memcpy(b, m.b, m.len);
        struct stun_request req;
        enum stun_status st = stun_parse_request(b, m.len, &req);
        if (st == STUN_OK || st == STUN_ERR_UNKNOWN_REQUIRED) {
            check_accepted_request(&req);
            ok_req++;
        }
        uint8_t txid[STUN_TXID_LEN];
        struct wg_endpoint got;
        st = stun_parse_response(b, m.len, txid, &got);
        if (st == STUN_OK) {
            assert_true(got.family == 4 || got.family == 6);
            ok_resp++;
        } else {
            assert_int_equal(got.family, 0);
        }
        assert_non_null(stun_status_str(st));
        (void)vole_classify(b, m.len);
        free(b);
    }
    /* The loop must reach the accepting paths, not only the early errors. */
    assert_true(ok_req > 1000);
    assert_true(ok_resp > 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_vector),
        cmocka_unit_test(test_response_vector),
        cmocka_unit_test(test_coturn_response),
        cmocka_unit_test(test_request_round_trip),
        cmocka_unit_test(test_request_other_software),
        cmocka_unit_test(test_ipv6_xor_mapped),
        cmocka_unit_test(test_v4_mapped_is_unmapped),
        cmocka_unit_test(test_mapped_address_fallback),
        cmocka_unit_test(test_xor_alt_fallback_and_preference),
        cmocka_unit_test(test_classic_request),
        cmocka_unit_test(test_classic_change_request_gets_420),
        cmocka_unit_test(test_unknown_required_gets_420),
        cmocka_unit_test(test_unknown_list_is_capped_and_deduplicated),
        cmocka_unit_test(test_known_and_optional_attributes_pass),
        cmocka_unit_test(test_after_message_integrity_ignored),
        cmocka_unit_test(test_unknown_required_in_response),
        cmocka_unit_test(test_short_and_empty),
        cmocka_unit_test(test_length_beyond_datagram),
        cmocka_unit_test(test_trailing_bytes_ignored),
        cmocka_unit_test(test_length_not_multiple_of_4),
        cmocka_unit_test(test_attribute_overrun),
        cmocka_unit_test(test_bad_fingerprint),
        cmocka_unit_test(test_fingerprint_not_last),
        cmocka_unit_test(test_response_without_address),
        cmocka_unit_test(test_malformed_address),
        cmocka_unit_test(test_wrong_class_or_method),
        cmocka_unit_test(test_not_stun),
        cmocka_unit_test(test_builders_respect_capacity),
        cmocka_unit_test(test_status_strings),
        cmocka_unit_test(test_random_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
