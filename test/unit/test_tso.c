/* stack/tso.h: large TCP segments cut into wire-sized ones. Packets are
 * built by hand as bytes, wrapped in pbuf chains split where a test wants,
 * and every piece is checked independently of the code under test: lengths,
 * IPv4 id and header checksum, sequence numbers, flags, options, the TCP
 * checksum (test/unit/bytes.h) and the payload put back together. Bad
 * inputs sit in exact-size heap buffers so that ASan sees any overread. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lwip/err.h"
#include "stack/tso.h"

#include "test/unit/bytes.h"

#define SEQ0 0xFFFFF000u   /* wraps during the bigger cuts */
#define ID0 0xFFFEu        /* so do the IPv4 ids */
#define MAX_PIECES 256
#define MAX_CHAIN 512
#define PIECE_MAX 2048

#define F_FIN 0x01
#define F_SYN 0x02
#define F_PSH 0x08
#define F_ACK 0x10
#define F_URG 0x20
#define F_ECE 0x40
#define F_CWR 0x80

/* ---- building packets ---- */

struct pkt {
    uint8_t *b;          /* exact-size heap buffer */
    size_t len, ip_hlen, tcp_hlen;
    int family;
};

static uint8_t pay(size_t i) { return (uint8_t)(i * 7 + (i >> 8)); }

/* opts: raw TCP option bytes, a multiple of 4. */
static struct pkt build(int family, size_t payload, uint8_t flags, const uint8_t *opts, size_t optlen)
{
    struct pkt k = { .family = family, .ip_hlen = family == 4 ? 20 : 40, .tcp_hlen = 20 + optlen };
    uint8_t *ip, *tcp;

    k.len = k.ip_hlen + k.tcp_hlen + payload;
    k.b = calloc(1, k.len);
    assert_non_null(k.b);
    ip = k.b;
    if (family == 4) {
        ip[0] = 0x45;
        put16(ip + 2, (uint16_t)k.len);
        put16(ip + 4, ID0);
        ip[8] = 64;
        ip[9] = 6;
        memcpy(ip + 12, (uint8_t[]){ 100, 64, 0, 1, 100, 64, 0, 2 }, 8);
        put16(ip + 10, fold(sum_bytes(ip, 20, 0)));
    } else {
        ip[0] = 0x60;
        put16(ip + 4, (uint16_t)(k.len - 40));
        ip[6] = 6;
        ip[7] = 64;
        for (int i = 0; i < 32; i++)
            ip[8 + i] = (uint8_t)(0xfd + i * 13);
    }
    tcp = ip + k.ip_hlen;
    put16(tcp, 40000);
    put16(tcp + 2, 5201);
    put32(tcp + 4, SEQ0);
    put32(tcp + 8, 0x12345678);
    tcp[12] = (uint8_t)((k.tcp_hlen / 4) << 4);
    tcp[13] = flags;
    put16(tcp + 14, 0x7777);
    put16(tcp + 16, 0xDEAD);   /* garbage: the code under test computes it */
    if (optlen)
        memcpy(tcp + 20, opts, optlen);
    for (size_t i = 0; i < payload; i++)
        tcp[k.tcp_hlen + i] = pay(i);
    return k;
}

static const uint8_t TS_OPTS[12] = { 1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2 };
static const uint8_t SYN_OPTS[12] = { 2, 4, 0x3E, 0x80, 1, 3, 3, 7, 1, 1, 4, 2 };   /* MSS, NOP, WS, NOP NOP SACK-perm */

/* A chain over k.b cut at the given offsets (ascending, 0 ends the list). */
static struct pbuf *chain(struct pkt *k, struct pbuf q[MAX_CHAIN], const size_t *cuts)
{
    size_t starts[MAX_CHAIN + 1], n = 0;

    starts[n++] = 0;
    for (; cuts && *cuts && n < MAX_CHAIN; cuts++)
        if (*cuts > starts[n - 1] && *cuts < k->len)
            starts[n++] = *cuts;
    starts[n] = k->len;
    for (size_t i = n; i-- > 0;) {
        memset(&q[i], 0, sizeof q[i]);
        q[i].payload = k->b + starts[i];
        q[i].len = (u16_t)(starts[i + 1] - starts[i]);
        q[i].tot_len = (u16_t)(k->len - starts[i]);
        q[i].next = i + 1 < n ? &q[i + 1] : NULL;
        q[i].type_internal = (u8_t)PBUF_REF;
        q[i].ref = 1;
    }
    return &q[0];
}

/* ---- collecting pieces ---- */

struct sink {
    uint8_t pkt[MAX_PIECES][PIECE_MAX];
    size_t len[MAX_PIECES], n;
    const struct pbuf *first;   /* the first emitted pbuf itself */
    int fail_at;                /* emit returns ERR_BUF for this piece (1-based; 0: never) */
};

static int collect(void *ctx, struct pbuf *p)
{
    struct sink *s = ctx;
    size_t n = 0;

    assert_true(s->n < MAX_PIECES);
    if (s->n == 0)
        s->first = p;
    for (const struct pbuf *q = p; q; q = q->next) {
        assert_true(n + q->len <= p->tot_len);
        assert_int_equal(q->tot_len, p->tot_len - n);
        if (p->tot_len <= PIECE_MAX)   /* whole big packets are checked in place */
            memcpy(s->pkt[s->n] + n, q->payload, q->len);
        n += q->len;
    }
    assert_int_equal(n, p->tot_len);
    s->len[s->n++] = n;
    return s->fail_at && (int)s->n == s->fail_at ? ERR_BUF : 0;
}

static struct sink *sink_new(void)
{
    struct sink *s = calloc(1, sizeof *s);
    assert_non_null(s);
    return s;
}

/* ---- checking them ---- */

static uint16_t tcp_csum_of(const uint8_t *pkt, size_t len, int family)
{
    size_t ip = family == 4 ? 20 : 40, tl = len - ip;
    uint32_t acc;

    if (family == 4) {
        acc = sum_bytes(pkt + 12, 8, 0) + 6 + (uint32_t)tl;
    } else {
        acc = sum_bytes(pkt + 8, 32, 0) + 6 + (uint32_t)tl;
    }
    return fold(sum_bytes(pkt + ip, tl, acc));   /* 0 when the checksum in it is right */
}

/* Every piece is right, and their payloads put together are orig's. */
static void check_pieces(const struct pkt *orig, const struct sink *s, size_t max_len)
{
    const uint8_t *otcp = orig->b + orig->ip_hlen;
    size_t hlen = orig->ip_hlen + orig->tcp_hlen, payload = orig->len - hlen, pos = 0;
    uint8_t oflags = otcp[13];

    assert_true(s->n >= 1);
    for (size_t k = 0; k < s->n; k++) {
        const uint8_t *p = s->pkt[k], *tcp = p + orig->ip_hlen;
        size_t len = s->len[k], data = len - hlen;
        bool first = k == 0, last = k + 1 == s->n;
        uint8_t want = oflags;

        assert_true(len <= max_len);
        assert_true(len > hlen);
        if (orig->family == 4) {
            assert_int_equal(p[0], 0x45);
            assert_int_equal(get16(p + 2), len);
            assert_int_equal(get16(p + 4), (uint16_t)(ID0 + k));
            assert_int_equal(get16(p + 6), 0);
            assert_int_equal(fold(sum_bytes(p, 20, 0)), 0);
            assert_memory_equal(p + 8, orig->b + 8, 2);      /* TTL, protocol */
            assert_memory_equal(p + 12, orig->b + 12, 8);    /* addresses */
        } else {
            assert_int_equal(get16(p + 4), len - 40);
            assert_memory_equal(p, orig->b, 4);
            assert_memory_equal(p + 6, orig->b + 6, 34);
        }
        assert_memory_equal(tcp, otcp, 4);                    /* ports */
        assert_int_equal(get32(tcp + 4), (uint32_t)(SEQ0 + pos));
        assert_memory_equal(tcp + 8, otcp + 8, 5);            /* ack, data offset */
        if (!first)
            want &= (uint8_t)~F_CWR;
        if (!last)
            want &= (uint8_t)~(F_FIN | F_PSH);
        assert_int_equal(tcp[13], want);
        assert_memory_equal(tcp + 14, otcp + 14, 2);          /* window */
        assert_memory_equal(tcp + 18, otcp + 18, orig->tcp_hlen - 18);   /* urgent pointer, options */
        assert_int_equal(tcp_csum_of(p, len, orig->family), 0);
        assert_true(pos + data <= payload);
        assert_memory_equal(p + hlen, otcp + orig->tcp_hlen + pos, data);
        pos += data;
    }
    assert_int_equal(pos, payload);
}

/* Cuts k (chained at cuts) to max_len; expects n pieces (0: don't care). */
static void cut_and_check(struct pkt *k, size_t max_len, const size_t *cuts, size_t n)
{
    struct pbuf q[MAX_CHAIN];
    struct sink *s = sink_new();
    int err = -1, got;

    got = vole_tso_output(chain(k, q, cuts), max_len, collect, s, &err);
    assert_int_equal(err, 0);
    assert_int_equal((size_t)got, s->n);
    if (n)
        assert_int_equal(s->n, n);
    else
        assert_true(s->n > 1);
    check_pieces(k, s, max_len);
    free(s);
    free(k->b);
}

static size_t pieces_for(size_t payload, size_t room) { return (payload + room - 1) / room; }

/* ---- tests ---- */

static void test_v4_cut_1280(void **state)
{
    (void)state;
    struct pkt k = build(4, 16000, F_ACK | F_PSH | F_FIN | F_CWR | F_ECE, NULL, 0);
    cut_and_check(&k, 1280, NULL, pieces_for(16000, 1240));
}

static void test_v6_cut_with_timestamps(void **state)
{
    (void)state;
    struct pkt k = build(6, 16000, F_ACK | F_PSH, TS_OPTS, sizeof TS_OPTS);
    cut_and_check(&k, 1280, NULL, pieces_for(16000, 1280 - 72));
}

static void test_floor_576_both_families(void **state)
{
    (void)state;
    struct pkt k4 = build(4, 9000, F_ACK | F_FIN, TS_OPTS, sizeof TS_OPTS);
    struct pkt k6 = build(6, 9000, F_ACK | F_FIN, NULL, 0);
    cut_and_check(&k4, 576, NULL, pieces_for(9000, 576 - 52));
    cut_and_check(&k6, 576, NULL, pieces_for(9000, 576 - 60));
}

static void test_exact_multiple_and_one_over(void **state)
{
    (void)state;
    struct pkt exact = build(4, 3 * 1240, F_ACK | F_PSH, NULL, 0);
    struct pkt over = build(4, 1240 + 1, F_ACK | F_PSH, NULL, 0);
    struct pkt over6 = build(6, 2 * 1220 + 1, F_ACK, NULL, 0);
    cut_and_check(&exact, 1280, NULL, 3);
    cut_and_check(&over, 1280, NULL, 2);
    cut_and_check(&over6, 1280, NULL, 3);
}

/* The chain is split inside the headers, at odd offsets, and across every
 * piece boundary, so runs of payload start at odd checksum positions. */
static void test_chain_straddles_pieces(void **state)
{
    (void)state;
    struct pkt k = build(4, 7001, F_ACK | F_PSH, TS_OPTS, sizeof TS_OPTS);
    const size_t cuts[] = { 7, 25, 33, 52, 53, 1000, 1001, 1227, 1229, 2500, 3333, 5001, 7050, 0 };
    struct pkt k6 = build(6, 5000, F_ACK | F_FIN, NULL, 0);
    const size_t cuts6[] = { 41, 59, 61, 1279, 1281, 2555, 0 };
    cut_and_check(&k, 1280, cuts, pieces_for(7001, 1228));
    cut_and_check(&k6, 1280, cuts6, pieces_for(5000, 1220));
}

/* A payload chained finer than VOLE_TSO_MAX_REFS per piece: pieces end
 * early, still right. */
static void test_fine_chain(void **state)
{
    (void)state;
    struct pkt k = build(6, 3000, F_ACK | F_PSH, NULL, 0);
    size_t cuts[MAX_CHAIN];
    size_t n = 0;

    for (size_t at = 60; at < k.len && n + 1 < MAX_CHAIN; at += 7)
        cuts[n++] = at;
    cuts[n] = 0;
    cut_and_check(&k, 1280, cuts, 0);
}

/* Fits, or no limit, or a flag that is never cut: emitted as it is, with
 * its TCP checksum written into it. */
static void whole(struct pkt *k, size_t max_len)
{
    struct pbuf q[MAX_CHAIN];
    const size_t cuts[] = { 13, 45, 0 };
    struct pbuf *p = chain(k, q, cuts);
    struct sink *s = sink_new();
    uint8_t *before = malloc(k->len);
    int err = -1;

    assert_non_null(before);
    memcpy(before, k->b, k->len);
    assert_int_equal(vole_tso_output(p, max_len, collect, s, &err), 1);
    assert_int_equal(err, 0);
    assert_int_equal(s->n, 1);
    assert_ptr_equal(s->first, p);
    assert_int_equal(tcp_csum_of(k->b, k->len, k->family), 0);
    /* Only the checksum changed. */
    memcpy(before + k->ip_hlen + 16, k->b + k->ip_hlen + 16, 2);
    assert_memory_equal(before, k->b, k->len);
    free(before);
    free(s);
    free(k->b);
}

static void test_whole_packets(void **state)
{
    (void)state;
    struct pkt fits = build(4, 1240, F_ACK | F_PSH | F_FIN, NULL, 0);
    struct pkt nolimit = build(6, 30000, F_ACK, TS_OPTS, sizeof TS_OPTS);
    struct pkt ack = build(4, 0, F_ACK, TS_OPTS, sizeof TS_OPTS);
    struct pkt odd = build(6, 333, F_ACK, NULL, 0);
    struct pkt syn = build(4, 0, F_SYN, SYN_OPTS, sizeof SYN_OPTS);
    struct pkt syn_data = build(6, 3000, F_SYN | F_ACK, SYN_OPTS, sizeof SYN_OPTS);
    struct pkt urg = build(4, 3000, F_ACK | F_URG, NULL, 0);
    struct pkt tiny_max = build(4, 3000, F_ACK, TS_OPTS, sizeof TS_OPTS);

    whole(&fits, 1280);
    whole(&nolimit, 0);
    whole(&ack, 576);
    whole(&odd, 1280);
    whole(&syn, 45);           /* a SYN (with SACK-permitted) is never cut */
    whole(&syn_data, 1280);
    whole(&urg, 1280);
    whole(&tiny_max, 52);      /* no room for payload after 52 header bytes */
}

static void test_emit_error_reported(void **state)
{
    (void)state;
    struct pkt k = build(4, 5000, F_ACK, NULL, 0);
    struct pbuf q[MAX_CHAIN];
    struct sink *s = sink_new();
    int err = 0;

    s->fail_at = 2;
    assert_int_equal(vole_tso_output(chain(&k, q, NULL), 1280, collect, s, &err), 5);
    assert_int_equal(err, ERR_BUF);
    assert_int_equal(s->n, 5);   /* the rest still went: TCP repairs the one */
    check_pieces(&k, s, 1280);
    free(s);
    free(k.b);
}

/* Refused: nothing emitted, nothing changed, nothing read out of bounds. */
static void refused(const uint8_t *bytes, size_t len)
{
    struct pkt k = { .len = len };
    struct pbuf q[MAX_CHAIN];
    const size_t cuts[] = { 3, 21, 0 };
    struct sink *s = sink_new();
    int err = -1;

    k.b = malloc(len);
    assert_non_null(k.b);
    memcpy(k.b, bytes, len);
    assert_int_equal(vole_tso_output(chain(&k, q, len > 21 ? cuts : NULL), 576, collect, s, &err), 0);
    assert_int_equal(err, 0);
    assert_int_equal(s->n, 0);
    assert_memory_equal(k.b, bytes, len);
    free(s);
    free(k.b);
}

static void test_bad_inputs_refused(void **state)
{
    (void)state;
    struct pkt v4 = build(4, 2000, F_ACK, NULL, 0), v6 = build(6, 2000, F_ACK, NULL, 0);
    uint8_t *b = malloc(v6.len);
    assert_non_null(b);

#define MUTATE(from, stmt, n)            \
    do {                                 \
        memcpy(b, (from).b, (from).len); \
        stmt;                            \
        refused(b, (n));                 \
    } while (0)
    /* Truncated: too short for an IP or a TCP header. */
    MUTATE(v4, (void)0, 1);
    MUTATE(v4, (void)0, 19);
    MUTATE(v4, put16(b + 2, 30), 30);
    MUTATE(v6, (void)0, 39);
    MUTATE(v6, put16(b + 4, 10), 50);
    /* Length fields that lie, both ways. */
    MUTATE(v4, put16(b + 2, (uint16_t)(v4.len + 1)), v4.len);
    MUTATE(v4, put16(b + 2, (uint16_t)(v4.len - 1)), v4.len);
    MUTATE(v6, put16(b + 4, (uint16_t)(v6.len - 39)), v6.len);
    MUTATE(v6, put16(b + 4, 0), v6.len);   /* a jumbogram's */
    /* A TCP data offset beyond the packet, or below 5 words. */
    MUTATE(v4, (put16(b + 2, 60), b[32] = 0xF0), 60);
    MUTATE(v4, b[32] = 0x40, v4.len);
    /* Not ours: IPv4 options, fragments, other protocols, IPv6 extension
     * headers, other versions. */
    MUTATE(v4, b[0] = 0x46, v4.len);
    MUTATE(v4, put16(b + 6, 0x2000), v4.len);
    MUTATE(v4, put16(b + 6, 0x0001), v4.len);
    MUTATE(v4, b[9] = 17, v4.len);
    MUTATE(v6, b[6] = 0, v6.len);
    MUTATE(v6, b[6] = 44, v6.len);
    MUTATE(v6, b[0] = 0x50, v6.len);
#undef MUTATE
    free(b);
    free(v4.b);
    free(v6.b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v4_cut_1280),
        cmocka_unit_test(test_v6_cut_with_timestamps),
        cmocka_unit_test(test_floor_576_both_families),
        cmocka_unit_test(test_exact_multiple_and_one_over),
        cmocka_unit_test(test_chain_straddles_pieces),
        cmocka_unit_test(test_fine_chain),
        cmocka_unit_test(test_whole_packets),
        cmocka_unit_test(test_emit_error_reported),
        cmocka_unit_test(test_bad_inputs_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
