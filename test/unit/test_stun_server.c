/* stun/server: answers, drops and the per-source rate limit, with simulated
 * time. Requests other than Tailscale's are built here byte by byte, so the
 * server is checked against the wire and not only against the codec. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "bytes.h"
#include "hex.h"
#include "stun/server.h"
#include "test/unit/bytes.h"

#define SEC 1000000000ull
#define T0 (5 * SEC)   /* any non-zero start */
#define COOKIE 0x2112a442u

/* ---- helpers ---------------------------------------------------------- */

static struct wg_endpoint ep(const char *addr, uint16_t port)
{
    struct wg_endpoint e = { .port = port };
    e.family = strchr(addr, ':') ? 6 : 4;
    assert_int_equal(inet_pton(e.family == 6 ? AF_INET6 : AF_INET, addr, e.addr), 1);
    return e;
}

static int setup(void **state)
{
    struct stun_server *s = malloc(sizeof *s);
    assert_non_null(s);
    assert_int_equal(stun_server_init(s), 0);
    *state = s;
    return 0;
}

static int teardown(void **state)
{
    free(*state);
    return 0;
}

/* A message under construction: header, then attributes appended. */
struct msg {
    uint8_t b[2048];
    size_t len;
};

/* RFC 5389 header with the cookie and txid 00 01 .. 0b; or classic RFC 3489
 * with the 16-byte txid a0 a1 .. af (not starting with the cookie). */
static void msg_init(struct msg *m, uint16_t type, bool classic)
{
    memset(m, 0, sizeof *m);
    put16(m->b, type);
    if (classic) {
        for (int i = 0; i < 16; i++)
            m->b[4 + i] = (uint8_t)(0xa0 + i);
    } else {
        put32(m->b + 4, COOKIE);
        for (int i = 0; i < 12; i++)
            m->b[8 + i] = (uint8_t)i;
    }
    m->len = STUN_HEADER_LEN;
}

static void msg_attr(struct msg *m, uint16_t type, const void *v, uint16_t vlen)
{
    size_t padded = (vlen + 3u) & ~3u;
    assert_true(m->len + 4 + padded <= sizeof m->b);
    put16(m->b + m->len, type);
    put16(m->b + m->len + 2, vlen);
    memset(m->b + m->len + 4, 0, padded);
    if (vlen)
        memcpy(m->b + m->len + 4, v, vlen);
    m->len += 4 + padded;
    put16(m->b + 2, (uint16_t)(m->len - STUN_HEADER_LEN));
}

/* FINGERPRINT (RFC 8489 §14.7): CRC-32 of everything before it, with the
 * header length already counting it, xor 0x5354554e. */
static void msg_fingerprint(struct msg *m)
{
    uint8_t v[4] = {0};
    msg_attr(m, 0x8028, v, 4);
    put32(m->b + m->len - 4, (uint32_t)crc32(0, m->b, (uInt)(m->len - 8)) ^ 0x5354554eu);
}

static size_t handle(struct stun_server *s, const struct msg *m, const struct wg_endpoint *src, uint64_t now,
                     uint8_t *out)
{
    return stun_server_handle(s, m->b, m->len, src, now, out, 512);
}

static size_t success_len(const struct wg_endpoint *src)
{
    /* Header and one address attribute: nothing the request chose. */
    return STUN_HEADER_LEN + 8 + wg_endpoint_addr_len(src);
}

/* Checks a modern success response carries src in XOR-MAPPED-ADDRESS, both
 * through the codec and by hand. */
static void assert_xor_mapped(const uint8_t *r, size_t n, const uint8_t *txid, const struct wg_endpoint *src)
{
    uint8_t got_txid[STUN_TXID_LEN], key[16];
    struct wg_endpoint mapped;
    size_t alen = wg_endpoint_addr_len(src);

    assert_int_equal(n, success_len(src));
    assert_int_equal(stun_parse_response(r, n, got_txid, &mapped), STUN_OK);
    assert_memory_equal(got_txid, txid, STUN_TXID_LEN);
    assert_true(wg_endpoint_equal(&mapped, src));
    assert_int_equal(get16(r), 0x0101);
    assert_int_equal(get16(r + 20), 0x0020);
    assert_int_equal(r[25], src->family == 4 ? 1 : 2);
    assert_int_equal(get16(r + 26), src->port ^ 0x2112);
    memcpy(key, r + 4, 16);   /* cookie ‖ txid */
    for (size_t i = 0; i < alen; i++)
        assert_int_equal(r[28 + i] ^ key[i], src->addr[i]);
}

/* ---- answers ---------------------------------------------------------- */

static void test_tailscale_request_v4_vector(void **state)
{
    uint8_t txid[STUN_TXID_LEN], req[STUN_REQUEST_LEN], out[512], want[64];
    struct wg_endpoint src = ep("203.0.113.5", 41641);
    size_t n;

    for (int i = 0; i < STUN_TXID_LEN; i++)
        txid[i] = (uint8_t)i;
    stun_build_request(req, txid);
    n = stun_server_handle(*state, req, sizeof req, &src, T0, out, sizeof out);
    /* tailscale-wire.md §4.1, byte for byte. */
    assert_int_equal(n, unhex(want, sizeof want, "0101000c2112a442000102030405060708090a0b00200008000183bbea12d547"));
    assert_memory_equal(out, want, n);
    assert_xor_mapped(out, n, txid, &src);
    assert_int_equal(((struct stun_server *)*state)->answered, 1);
    assert_int_equal(((struct stun_server *)*state)->answered_classic, 0);
}

static void test_rfc5389_request_v6(void **state)
{
    struct stun_server *s = *state;
    struct wg_endpoint src = ep("2001:db8:1:2::abcd", 50123);
    struct msg m;
    uint8_t out[512];

    msg_init(&m, 0x0001, false);
    msg_attr(&m, 0x8022, "someclient/1.0", 14);
    msg_fingerprint(&m);
    size_t n = handle(s, &m, &src, T0, out);
    assert_xor_mapped(out, n, m.b + 8, &src);
    assert_int_equal(s->answered, 1);
}

static void test_bare_request_v4_and_v6(void **state)
{
    struct stun_server *s = *state;
    struct wg_endpoint a = ep("198.18.0.7", 1), b = ep("fd00::1", 65535);
    struct msg m;
    uint8_t out[512];

    /* 20 bytes, no attributes: what most RFC 5389 clients send. */
    msg_init(&m, 0x0001, false);
    assert_xor_mapped(out, handle(s, &m, &a, T0, out), m.b + 8, &a);
    assert_xor_mapped(out, handle(s, &m, &b, T0, out), m.b + 8, &b);
    assert_int_equal(s->answered, 2);
}

/* Debian's stun-client (RFC 3489): 16-byte txid, CHANGE-REQUEST always. */
static void test_classic_request(void **state)
{
    struct stun_server *s = *state;
    struct wg_endpoint src = ep("192.0.2.44", 3479);
    uint8_t flags[4] = {0}, out[512];
    struct msg m;

    msg_init(&m, 0x0001, true);
    msg_attr(&m, 0x0003, flags, 4);
    size_t n = handle(s, &m, &src, T0, out);
    assert_int_equal(n, success_len(&src));
    assert_int_equal(get16(out), 0x0101);
    assert_int_equal(get16(out + 2), n - STUN_HEADER_LEN);
    assert_memory_equal(out + 4, m.b + 4, 16);   /* the whole 16-byte txid */
    assert_int_equal(get16(out + 20), 0x0001);   /* MAPPED-ADDRESS, not XORed */
    assert_int_equal(get16(out + 22), 8);
    assert_int_equal(out[25], 1);
    assert_int_equal(get16(out + 26), 3479);
    assert_memory_equal(out + 28, src.addr, 4);
    assert_int_equal(s->answered, 1);
    assert_int_equal(s->answered_classic, 1);
}

/* Tests II and III ask for another address or port; we have one, so we
 * answer from it rather than with an error (the brief's choice). */
static void test_classic_change_request_answered(void **state)
{
    struct stun_server *s = *state;
    struct wg_endpoint src = ep("fd00::44", 3479);
    uint8_t flags[4] = {0, 0, 0, 0x06}, out[512];
    struct msg m;

    msg_init(&m, 0x0001, true);
    msg_attr(&m, 0x0003, flags, 4);
    size_t n = handle(s, &m, &src, T0, out);
    assert_int_equal(n, success_len(&src));
    assert_int_equal(get16(out + 20), 0x0001);
    assert_int_equal(out[25], 2);
    assert_memory_equal(out + 28, src.addr, 16);
    assert_int_equal(s->errors_420, 0);
    assert_int_equal(s->answered_classic, 1);
}

/* A request full of attributes we skip gets the same small answer. */
static void test_response_size_independent_of_request(void **state)
{
    struct stun_server *s = *state;
    struct wg_endpoint v4 = ep("198.51.100.1", 9), v6 = ep("2001:db8::9", 9);
    uint8_t big[400], out[512];
    struct msg m;

    memset(big, 'x', sizeof big);
    msg_init(&m, 0x0001, false);
    msg_attr(&m, 0x8022, big, sizeof big);   /* SOFTWARE */
    msg_attr(&m, 0x8030, big, 64);           /* unknown, comprehension-optional */
    msg_attr(&m, 0xc001, big, 3);
    msg_fingerprint(&m);
    assert_true(m.len <= STUN_SERVER_MAX_REQUEST);
    assert_int_equal(handle(s, &m, &v4, T0, out), success_len(&v4));
    assert_int_equal(handle(s, &m, &v6, T0, out), success_len(&v6));
    assert_true(success_len(&v6) <= STUN_MAX_RESPONSE);
    assert_int_equal(s->answered, 2);
}

/* A caller's small buffer limits the answer; it is never overrun. */
static void test_no_room_is_counted(void **state)
{
    struct stun_server *s = *state;
    struct wg_endpoint src = ep("2001:db8::5", 5);
    uint8_t out[64];
    struct msg m;

    msg_init(&m, 0x0001, false);
    memset(out, 0xee, sizeof out);
    assert_int_equal(stun_server_handle(s, m.b, m.len, &src, T0, out, 20), 0);
    for (size_t i = 20; i < sizeof out; i++)
        assert_int_equal(out[i], 0xee);
    assert_int_equal(s->dropped_unanswerable, 1);
    assert_int_equal(s->answered, 0);
}

/* ---- 420 -------------------------------------------------------------- */

static void test_unknown_required_gets_420(void **state)
{
    struct stun_server *s = *state;
    struct wg_endpoint src = ep("198.51.100.2", 4000);
    uint8_t v[4] = {1, 2, 3, 4}, out[512];
    struct msg m;
    bool listed = false;

    msg_init(&m, 0x0001, false);
    msg_attr(&m, 0x7777, v, 4);   /* < 0x8000: comprehension-required */
    msg_attr(&m, 0x8022, (const uint8_t *)"tailnode", 8);
    size_t n = handle(s, &m, &src, T0, out);
    assert_true(n >= STUN_HEADER_LEN && n <= m.len);   /* never larger than the request */
    assert_int_equal(get16(out), 0x0111);
    assert_int_equal(get16(out + 2), n - STUN_HEADER_LEN);
    assert_memory_equal(out + 4, m.b + 4, 16);
    /* ERROR-CODE class 4 number 20, UNKNOWN-ATTRIBUTES naming 0x7777. */
    for (size_t off = STUN_HEADER_LEN; off + 4 <= n; off += 4 + ((get16(out + off + 2) + 3u) & ~3u)) {
        uint16_t t = get16(out + off), l = get16(out + off + 2);
        if (t == 0x0009) {
            assert_int_equal(out[off + 6] & 7, 4);
            assert_int_equal(out[off + 7], 20);
        }
        for (uint16_t i = 0; t == 0x000a && i + 2 <= l; i += 2)
            listed |= get16(out + off + 4 + i) == 0x7777;
    }
    assert_true(listed);
    assert_int_equal(s->errors_420, 1);
    assert_int_equal(s->answered, 0);
}

/* An error answer never outgrows its request: a bare 28-byte request with an
 * unknown required attribute would draw a 36-byte 420, so it gets nothing. */
static void test_420_never_amplifies(void **state)
{
    struct stun_server *s = *state;
    struct wg_endpoint src = ep("198.51.100.2", 4000);
    uint8_t v[4] = {1, 2, 3, 4}, out[512];
    struct msg m;

    msg_init(&m, 0x0001, false);
    msg_attr(&m, 0x7777, v, 4);
    assert_int_equal(m.len, 28);
    assert_int_equal(handle(s, &m, &src, T0, out), 0);
    assert_int_equal(s->dropped_would_amplify, 1);
    assert_int_equal(s->errors_420, 0);
}

/* What turnutils_stunclient -f sends: RESPONSE-PORT (which we do not do)
 * and CHANGE-REQUEST (which we answer unchanged): only the first is unknown. */
static void test_420_does_not_list_change_request(void **state)
{
    struct stun_server *s = *state;
    struct wg_endpoint src = ep("127.0.0.1", 58014);
    uint8_t port[4] = {0xe2, 0x9f}, flags[4] = {0, 0, 0, 6}, out[512];
    struct msg m;

    msg_init(&m, 0x0001, false);
    msg_attr(&m, 0x0027, port, 4);
    msg_attr(&m, 0x0003, flags, 4);
    size_t n = handle(s, &m, &src, T0, out);
    assert_true(n > 0 && n <= STUN_MAX_RESPONSE);
    assert_int_equal(get16(out), 0x0111);
    assert_int_equal(get16(out + n - 8), 0x000a);   /* UNKNOWN-ATTRIBUTES is last */
    assert_int_equal(get16(out + n - 6), 2);
    assert_int_equal(get16(out + n - 4), 0x0027);
    assert_int_equal(s->errors_420, 1);
}

/* ---- drops ------------------------------------------------------------ */

static void test_oversized_dropped(void **state)
{
    struct stun_server *s = *state;
    struct wg_endpoint src = ep("198.51.100.3", 4000);
    uint8_t big[STUN_SERVER_MAX_REQUEST], out[512];
    struct msg m;

    memset(big, 'y', sizeof big);
    msg_init(&m, 0x0001, false);
    msg_attr(&m, 0x8022, big, (uint16_t)(STUN_SERVER_MAX_REQUEST - 24));   /* exactly the limit */
    assert_int_equal(m.len, STUN_SERVER_MAX_REQUEST);
    assert_int_equal(handle(s, &m, &src, T0, out), success_len(&src));
    msg_init(&m, 0x0001, false);
    msg_attr(&m, 0x8022, big, (uint16_t)(STUN_SERVER_MAX_REQUEST - 20));
    assert_int_equal(handle(s, &m, &src, T0, out), 0);
    assert_int_equal(s->dropped_oversized, 1);
    assert_int_equal(stun_server_dropped_malformed(s), 0);
}

/* Path MTU probes (vole netcheck): requests padded to a 1500-byte IPv4 or
 * IPv6 packet and to the 576-byte minimum are answered like plain ones, the
 * answer no larger; the padding is built as asked, or refused. */
static void test_padded_requests_answered(void **state)
{
    struct stun_server *s = *state;
    struct wg_endpoint v4 = ep("198.51.100.7", 7), v6 = ep("2001:db8::7", 7), mapped;
    const uint8_t txid[STUN_TXID_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
    const size_t sizes[] = { 1500 - 28, 1500 - 48, 576 - 28, 1280 - 48, STUN_PADDED_REQUEST_MIN };
    uint8_t req[1600], out[512], got[STUN_TXID_LEN];

    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        const struct wg_endpoint *src = i % 2 ? &v6 : &v4;
        assert_int_equal(stun_build_padded_request(req, sizes[i], txid), sizes[i]);
        assert_int_equal(get16(req + 2), sizes[i] - STUN_HEADER_LEN);
        size_t n = stun_server_handle(s, req, sizes[i], src, T0, out, sizeof out);
        assert_int_equal(n, success_len(src));
        assert_int_equal(stun_parse_response(out, n, got, &mapped), STUN_OK);
        assert_memory_equal(got, txid, sizeof txid);
        assert_true(wg_endpoint_equal(&mapped, src));
    }
    assert_int_equal(s->answered, sizeof sizes / sizeof sizes[0]);
    assert_int_equal(s->errors_420, 0);
    assert_int_equal(stun_build_padded_request(req, STUN_REQUEST_LEN, txid), 0);   /* no room for the filler */
    assert_int_equal(stun_build_padded_request(req, 1470, txid), 0);               /* not a multiple of 4 */
    assert_int_equal(stun_build_padded_request(req, 65536, txid), 0);
    /* One byte over the bound is still dropped unparsed. */
    assert_int_equal(stun_build_padded_request(req, 1476, txid), 1476);
    assert_int_equal(stun_server_handle(s, req, 1476, &v4, T0, out, sizeof out), 0);
    assert_int_equal(s->dropped_oversized, 1);
}

static void test_responses_and_indications_dropped(void **state)
{
    struct stun_server *s = *state;
    struct wg_endpoint src = ep("198.51.100.4", 3478);
    const uint16_t types[] = { 0x0101, 0x0111, 0x0011, 0x0104 /* allocate success */ };
    uint8_t out[512];
    struct msg m;

    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        msg_init(&m, types[i], i == 0);
        assert_int_equal(handle(s, &m, &src, T0, out), 0);
    }
    /* Our own answer, reflected back at us, is not answered again. */
    uint8_t req[STUN_REQUEST_LEN], txid[STUN_TXID_LEN] = {9};
    stun_build_request(req, txid);
    size_t n = stun_server_handle(s, req, sizeof req, &src, T0, out, sizeof out);
    assert_true(n > 0);
    assert_int_equal(stun_server_handle(s, out, n, &src, T0, out + 256, 256), 0);
    assert_int_equal(s->dropped_not_request, 5);
    assert_int_equal(s->answered, 1);
}

static void test_malformed_dropped_by_reason(void **state)
{
    struct stun_server *s = *state;
    struct wg_endpoint src = ep("198.51.100.5", 3478);
    uint8_t req[STUN_REQUEST_LEN], txid[STUN_TXID_LEN] = {1}, out[512], junk[148] = {1};
    struct msg m;

    stun_build_request(req, txid);
    req[STUN_REQUEST_LEN - 1] ^= 1;                  /* bad FINGERPRINT */
    assert_int_equal(stun_server_handle(s, req, sizeof req, &src, T0, out, sizeof out), 0);
    assert_int_equal(s->dropped_malformed[STUN_ERR_BAD_FINGERPRINT], 1);

    stun_build_request(req, txid);                   /* truncated */
    assert_int_equal(stun_server_handle(s, req, 10, &src, T0, out, sizeof out), 0);
    assert_int_equal(stun_server_handle(s, req, 0, &src, T0, out, sizeof out), 0);
    assert_int_equal(stun_server_handle(s, req, 30, &src, T0, out, sizeof out), 0);

    msg_init(&m, 0x0001, false);                     /* length not a multiple of 4 */
    msg_attr(&m, 0x8022, "abcd", 4);
    put16(m.b + 2, 6);
    assert_int_equal(handle(s, &m, &src, T0, out), 0);

    msg_init(&m, 0x0001, false);                     /* attribute overruns the message */
    msg_attr(&m, 0x8022, "abcd", 4);
    put16(m.b + 22, 200);
    assert_int_equal(handle(s, &m, &src, T0, out), 0);

    msg_init(&m, 0x0003, false);                     /* a request, but not binding */
    assert_int_equal(handle(s, &m, &src, T0, out), 0);

    assert_int_equal(stun_server_handle(s, junk, sizeof junk, &src, T0, out, sizeof out), 0);  /* WireGuard */

    assert_int_equal(stun_server_dropped_malformed(s), 8);
    assert_int_equal(s->answered + s->errors_420 + s->dropped_not_request + s->dropped_oversized, 0);
}

static void test_unanswerable_source(void **state)
{
    struct stun_server *s = *state;
    struct wg_endpoint port0 = ep("198.51.100.6", 0), none = { .family = 0 };
    uint8_t out[512];
    struct msg m;

    msg_init(&m, 0x0001, false);
    assert_int_equal(handle(s, &m, &port0, T0, out), 0);
    assert_int_equal(handle(s, &m, &none, T0, out), 0);
    assert_int_equal(s->dropped_unanswerable, 2);
}

/* ---- rate limit ------------------------------------------------------- */

static size_t flood(struct stun_server *s, const struct wg_endpoint *src, uint64_t now, size_t count)
{
    uint8_t out[512];
    struct msg m;
    size_t answered = 0;

    msg_init(&m, 0x0001, false);
    for (size_t i = 0; i < count; i++)
        answered += handle(s, &m, src, now, out) > 0;
    return answered;
}

static void test_rate_limit_flood_and_recovery(void **state)
{
    struct stun_server *s = *state;
    struct wg_endpoint a = ep("203.0.113.10", 1000), a2 = ep("203.0.113.10", 2000), b = ep("203.0.113.11", 1000);
    const uint64_t tick = SEC / STUN_SERVER_RATE_PER_SEC;

    assert_int_equal(flood(s, &a, T0, 1000), STUN_SERVER_RATE_BURST);
    assert_int_equal(s->dropped_ratelimited, 1000 - STUN_SERVER_RATE_BURST);
    assert_int_equal(flood(s, &a2, T0, 1), 0);      /* the address is limited, not the port */
    assert_int_equal(flood(s, &b, T0, 1000), STUN_SERVER_RATE_BURST);   /* b is unaffected */

    assert_int_equal(flood(s, &a, T0 + tick - 1, 10), 0);
    assert_int_equal(flood(s, &a, T0 + tick, 10), 1);              /* one token per 1/rate */
    assert_int_equal(flood(s, &a, T0 + 11 * tick, 100), 10);                  /* sustained rate */
    assert_int_equal(flood(s, &a, T0 + 11 * tick + 10 * SEC, 100), STUN_SERVER_RATE_BURST);   /* capped */
    assert_int_equal(flood(s, &a, T0 + 60 * SEC, 1000), STUN_SERVER_RATE_BURST);   /* back to a full burst */
}

/* A netcheck from each of a few nodes behind one NAT never hits the limit:
 * 3 tries per family per server, several nodes in the same instant. */
static void test_rate_limit_spares_netcheck(void **state)
{
    const size_t tries = 3, nodes = 6;
    struct wg_endpoint nat = ep("203.0.113.20", 40000);
    assert_int_equal(flood(*state, &nat, T0, tries * nodes), tries * nodes);
}

static void test_rate_limit_v6_by_64(void **state)
{
    struct stun_server *s = *state;
    struct wg_endpoint a = ep("2001:db8:0:1::1", 1), a_same64 = ep("2001:db8:0:1:ffff::2", 1),
                       other64 = ep("2001:db8:0:2::1", 1);

    assert_int_equal(flood(s, &a, T0, 100), STUN_SERVER_RATE_BURST);
    assert_int_equal(flood(s, &a_same64, T0, 100), 0);
    assert_int_equal(flood(s, &other64, T0, 100), STUN_SERVER_RATE_BURST);
}

/* Garbage spoofed from a client's address must not use up its tokens. */
static void test_rate_limit_counts_only_answerable(void **state)
{
    struct stun_server *s = *state;
    struct wg_endpoint src = ep("203.0.113.30", 1);
    uint8_t junk[64] = {0xff}, out[512];

    for (int i = 0; i < 1000; i++)
        assert_int_equal(stun_server_handle(s, junk, sizeof junk, &src, T0, out, sizeof out), 0);
    assert_int_equal(flood(s, &src, T0, 100), STUN_SERVER_RATE_BURST);
    assert_int_equal(stun_server_dropped_malformed(s), 1000);
}

static void test_counters_listing(void **state)
{
    struct stun_server *s = *state;
    struct wg_endpoint src = ep("203.0.113.40", 1);
    uint8_t junk[64] = {0xff}, out[512];
    struct stun_server_counter c[STUN_SERVER_MAX_COUNTERS];
    bool seen_reason = false;

    flood(s, &src, T0, 1);
    stun_server_handle(s, junk, sizeof junk, &src, T0, out, sizeof out);
    size_t n = stun_server_counters(s, c, STUN_SERVER_MAX_COUNTERS);
    assert_true(n > 8);
    assert_string_equal(c[0].name, "answered");
    assert_int_equal(c[0].value, 1);
    for (size_t i = 8; i < n; i++)
        seen_reason |= c[i].reason != NULL && c[i].value == 1;
    assert_true(seen_reason);
    assert_int_equal(stun_server_counters(s, c, 3), 3);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_tailscale_request_v4_vector), T(test_rfc5389_request_v6), T(test_bare_request_v4_and_v6),
        T(test_classic_request), T(test_classic_change_request_answered),
        T(test_response_size_independent_of_request), T(test_no_room_is_counted),
        T(test_unknown_required_gets_420), T(test_420_never_amplifies), T(test_420_does_not_list_change_request),
        T(test_oversized_dropped), T(test_padded_requests_answered), T(test_responses_and_indications_dropped),
        T(test_malformed_dropped_by_reason), T(test_unanswerable_source), T(test_rate_limit_flood_and_recovery),
        T(test_rate_limit_spares_netcheck), T(test_rate_limit_v6_by_64), T(test_rate_limit_counts_only_answerable),
        T(test_counters_listing),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
