/* stack/gro.c, the merge rules, on hand-built IPv4 and IPv6 TCP packets:
 * runs merge with the right lengths, header fields and payload bytes in
 * order; whatever may not merge (PSH-ended runs, gaps, retransmissions,
 * changed ack/window/options/IP fields, FIN/SYN/RST/URG/ECN, fragments, IP
 * options, extension headers, UDP/ICMP, truncated or lying packets) passes
 * unmerged and in order; several flows are held at once; the size limit
 * splits a run. Lying packets sit in exact-size malloc'd buffers so that
 * ASan sees any read past their end. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "lwip/init.h"
#include "lwip/pbuf.h"

#include "stack/gro.h"
#include "stack/stack.h"
#include "test/unit/bytes.h"

#define SRC4 "100.64.0.1"
#define DST4 "100.64.0.2"
#define SRC6 "fd7a:115c:a1e0::1"
#define DST6 "fd7a:115c:a1e0::2"
#define SEQ0 0xFFFFF000u   /* runs cross the 32-bit wrap */
#define ACK0 0x01020304u
#define WND0 0x4000u
#define PAY 1000u

#define F_FIN 0x01
#define F_SYN 0x02
#define F_RST 0x04
#define F_PSH 0x08
#define F_ACK 0x10
#define F_URG 0x20
#define F_ECE 0x40

/* ---- packets ---- */

struct spec {
    int family;
    uint16_t sport;
    uint32_t seq, ack;
    uint16_t wnd;
    uint8_t flags;
    size_t payload;
    uint32_t tsval;       /* a timestamp option when nonzero */
};

static struct spec spec(int family, uint32_t seq)
{
    struct spec s = { .family = family, .sport = 40000, .seq = seq, .ack = ACK0, .wnd = WND0,
                      .flags = F_ACK, .payload = PAY };
    return s;
}

/* The byte a stream carries at sequence number seq. */
static uint8_t stream_byte(uint32_t seq) { return (uint8_t)(seq % 251u); }

static size_t build(uint8_t *b, const struct spec *s)
{
    size_t ih = s->family == 4 ? 20 : 40, th = s->tsval ? 32 : 20;
    size_t len = ih + th + s->payload;
    uint8_t *t = b + ih;

    memset(b, 0, ih + th);
    if (s->family == 4) {
        b[0] = 0x45;
        put16(b + 2, (uint16_t)len);
        put16(b + 6, 0x4000);   /* DF */
        b[8] = 64;
        b[9] = 6;
        inet_pton(AF_INET, SRC4, b + 12);
        inet_pton(AF_INET, DST4, b + 16);
        put16(b + 10, fold(sum_bytes(b, 20, 0)));
    } else {
        b[0] = 0x60;
        put16(b + 4, (uint16_t)(len - 40));
        b[6] = 6;
        b[7] = 64;
        inet_pton(AF_INET6, SRC6, b + 8);
        inet_pton(AF_INET6, DST6, b + 24);
    }
    put16(t, s->sport);
    put16(t + 2, 443);
    put32(t + 4, s->seq);
    put32(t + 8, s->ack);
    t[12] = (uint8_t)(th / 4 << 4);
    t[13] = s->flags;
    put16(t + 14, s->wnd);
    if (s->tsval) {
        t[20] = 1;
        t[21] = 1;
        t[22] = 8;
        t[23] = 10;
        put32(t + 24, s->tsval);
        put32(t + 28, 7);
    }
    for (size_t i = 0; i < s->payload; i++)
        b[ih + th + i] = stream_byte(s->seq + (uint32_t)i);
    return len;
}

static struct pbuf *copy_pbuf(const uint8_t *b, size_t len)
{
    struct pbuf *p = vole_stack_rx_alloc(len);
    assert_non_null(p);
    memcpy(p->payload, b, len);
    return p;
}

static struct pbuf *mk(const struct spec *s)
{
    static uint8_t b[70000];
    return copy_pbuf(b, build(b, s));
}

/* ---- the sink ---- */

#define SINK_MAX 256

struct sink {
    struct pbuf *p[SINK_MAX];
    uint32_t segs[SINK_MAX];
    size_t n;
};

static void on_deliver(void *ctx, struct pbuf *p, uint32_t segs)
{
    struct sink *k = ctx;
    assert_true(k->n < SINK_MAX);
    k->p[k->n] = p;
    k->segs[k->n++] = segs;
}

static void sink_free(struct sink *k)
{
    for (size_t i = 0; i < k->n; i++)
        pbuf_free(k->p[i]);
    k->n = 0;
}

struct fx {
    struct vole_gro g;
    struct sink k;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    vole_gro_init(&f->g);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    vole_gro_drop(&f->g);
    sink_free(&f->k);
    free(f);
    return 0;
}

static void in(struct fx *f, struct pbuf *p) { vole_gro_input(&f->g, p, on_deliver, &f->k); }
static void flush(struct fx *f) { vole_gro_flush(&f->g, on_deliver, &f->k); }
static void in_spec(struct fx *f, const struct spec *s) { in(f, mk(s)); }

/* ---- checks on one delivered packet ---- */

static uint8_t byte_at(const struct pbuf *p, size_t off)
{
    assert_true(off < p->tot_len);
    return pbuf_get_at(p, (u16_t)off);
}

/* Delivery i is one well-formed segment of segs packets of payload bytes
 * each, starting at seq, with TCP flags flags; its payload is the stream's
 * bytes in order. */
static void check_segment(const struct sink *k, size_t i, int family, uint32_t seq, uint32_t segs, size_t payload,
                          uint8_t flags)
{
    const struct pbuf *p = i < k->n ? k->p[i] : NULL;
    size_t ih = family == 4 ? 20 : 40, th, total = 0;
    uint8_t hdr[80];

    assert_true(i < k->n);
    if (!p)
        abort();   /* unreachable; tells the analyzer so */
    assert_int_equal(k->segs[i], segs);
    for (const struct pbuf *q = p; q; q = q->next) {
        assert_int_equal(q->tot_len, p->tot_len - total);   /* a consistent chain */
        total += q->len;
    }
    assert_int_equal(total, p->tot_len);
    assert_true(p->len >= ih + 20);
    memcpy(hdr, p->payload, ih + 20);
    th = (size_t)(hdr[ih + 12] >> 4) * 4;
    assert_int_equal(p->tot_len, ih + th + segs * payload);
    if (family == 4) {
        assert_int_equal(get16(hdr + 2), p->tot_len);
        assert_int_equal(fold(sum_bytes(hdr, 20, 0)), 0);   /* the header checksum holds */
    } else {
        assert_int_equal(get16(hdr + 4), p->tot_len - 40);
    }
    assert_int_equal(get32(hdr + ih + 4), seq);
    assert_int_equal(hdr[ih + 13], flags);
    for (size_t b = 0; b < segs * payload; b++)
        if (byte_at(p, ih + th + b) != stream_byte(seq + (uint32_t)b))
            fail_msg("payload byte %zu of delivery %zu out of order", b, i);
}

/* ---- runs ---- */

static void run_merges(struct fx *f, int family, uint32_t n, uint32_t tsval)
{
    for (uint32_t i = 0; i < n; i++) {
        struct spec s = spec(family, SEQ0 + i * PAY);
        s.tsval = tsval;
        in_spec(f, &s);
    }
    assert_int_equal(f->k.n, 0);   /* all held until the flush */
    flush(f);
    assert_int_equal(f->k.n, 1);
    check_segment(&f->k, 0, family, SEQ0, n, PAY, F_ACK);
    assert_int_equal(f->g.held, 0);
    sink_free(&f->k);
}

static void test_runs_merge(void **state)
{
    struct fx *f = *state;
    const uint32_t lens[] = { 2, 3, 10, 33, 60 };
    uint64_t merged = 0;

    for (int family = 4; family <= 6; family += 2)
        for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
            run_merges(f, family, lens[i], i % 2 ? 1234 : 0);
            merged += lens[i] - 1;
        }
    assert_int_equal(f->g.stats.merged, merged);
    assert_int_equal(f->g.stats.delivered, 10);
    assert_int_equal(f->g.stats.passed, 0);
}

static void test_single_segment_untouched(void **state)
{
    struct fx *f = *state;
    struct spec s = spec(4, SEQ0);

    in_spec(f, &s);
    flush(f);
    assert_int_equal(f->k.n, 1);
    check_segment(&f->k, 0, 4, SEQ0, 1, PAY, F_ACK);
    assert_int_equal(f->g.stats.delivered, 0);
    assert_int_equal(f->g.stats.passed, 1);
}

static void test_psh_ends_run(void **state)
{
    struct fx *f = *state;

    for (uint32_t i = 0; i < 5; i++) {
        struct spec s = spec(6, SEQ0 + i * PAY);
        s.flags = i == 3 ? F_ACK | F_PSH : F_ACK;
        in_spec(f, &s);
    }
    /* The PSH run went at once; the fifth packet starts a new one. */
    assert_int_equal(f->k.n, 1);
    check_segment(&f->k, 0, 6, SEQ0, 4, PAY, F_ACK | F_PSH);
    assert_int_equal(f->g.held, 1);
    flush(f);
    assert_int_equal(f->k.n, 2);
    check_segment(&f->k, 1, 6, SEQ0 + 4 * PAY, 1, PAY, F_ACK);

    /* A lone PSH segment is not held at all. */
    struct spec s = spec(4, 77);
    s.flags = F_ACK | F_PSH;
    in_spec(f, &s);
    assert_int_equal(f->k.n, 3);
    assert_int_equal(f->g.held, 0);
}

/* Two packets of one flow that must not merge: s2 differs from the
 * continuation of s1 as mutate says. Both arrive, in order, unmerged. */
static void expect_split(struct fx *f, struct spec s2)
{
    struct spec s1 = spec(s2.family, SEQ0);

    sink_free(&f->k);
    in_spec(f, &s1);
    in_spec(f, &s2);
    flush(f);
    assert_int_equal(f->k.n, 2);
    assert_int_equal(f->k.segs[0], 1);
    assert_int_equal(f->k.segs[1], 1);
    assert_int_equal(get32((const uint8_t *)f->k.p[0]->payload + (s2.family == 4 ? 24 : 44)), SEQ0);
    assert_int_equal(get32((const uint8_t *)f->k.p[1]->payload + (s2.family == 4 ? 24 : 44)), s2.seq);
    sink_free(&f->k);
}

static void test_changed_fields_split(void **state)
{
    struct fx *f = *state;

    for (int family = 4; family <= 6; family += 2) {
        struct spec s = spec(family, SEQ0 + PAY);
        s.seq += 1;
        expect_split(f, s);                      /* a gap */
        s = spec(family, SEQ0);
        expect_split(f, s);                      /* a retransmission */
        s = spec(family, SEQ0 + PAY);
        s.ack++;
        expect_split(f, s);                      /* another ack */
        s = spec(family, SEQ0 + PAY);
        s.wnd++;
        expect_split(f, s);                      /* another window */
        s = spec(family, SEQ0 + PAY);
        s.tsval = 5;
        expect_split(f, s);                      /* other options */
        s = spec(family, SEQ0 + PAY);
        s.sport++;
        expect_split(f, s);                      /* another flow */
    }
    assert_int_equal(f->g.stats.merged, 0);
}

/* s1 then a packet p2 (its bytes b2, patched): both unmerged, in order. */
static void expect_split_bytes(struct fx *f, int family, uint8_t *b2, size_t len2)
{
    struct spec s1 = spec(family, SEQ0);

    sink_free(&f->k);
    in_spec(f, &s1);
    in(f, copy_pbuf(b2, len2));
    flush(f);
    assert_int_equal(f->k.n, 2);
    assert_int_equal(f->k.segs[0], 1);
    assert_int_equal(f->k.segs[1], 1);
    assert_memory_equal(f->k.p[1]->payload, b2, len2);   /* untouched */
    sink_free(&f->k);
}

static void test_ip_fields_split(void **state)
{
    struct fx *f = *state;
    uint8_t b[2000];
    struct spec s = spec(4, SEQ0 + PAY);
    size_t n = build(b, &s);

    b[1] = 0x01;                 /* ECN ECT(1) */
    expect_split_bytes(f, 4, b, n);
    n = build(b, &s);
    b[8] = 63;                   /* TTL */
    expect_split_bytes(f, 4, b, n);
    n = build(b, &s);
    b[6] = 0;                    /* DF clear */
    expect_split_bytes(f, 4, b, n);
    s = spec(6, SEQ0 + PAY);
    n = build(b, &s);
    b[1] |= 0x01;                /* flow label */
    expect_split_bytes(f, 6, b, n);
    n = build(b, &s);
    b[0] |= 0x02;                /* traffic class */
    expect_split_bytes(f, 6, b, n);
    assert_int_equal(f->g.stats.merged, 0);
}

static void test_control_flags_split(void **state)
{
    struct fx *f = *state;
    const uint8_t flags[] = { F_ACK | F_FIN, F_SYN, F_ACK | F_SYN, F_ACK | F_RST, F_ACK | F_URG, F_ACK | F_ECE,
                              F_ACK | 0x80, 0, F_PSH };

    for (size_t i = 0; i < sizeof flags; i++) {
        struct spec s = spec(i % 2 ? 6 : 4, SEQ0 + PAY);
        s.flags = flags[i];
        expect_split(f, s);
    }
    /* NS / reserved bits in the data-offset byte. */
    uint8_t b[2000];
    struct spec s = spec(4, SEQ0 + PAY);
    size_t n = build(b, &s);
    b[32] |= 0x01;
    expect_split_bytes(f, 4, b, n);
    /* A pure ACK of the held flow: after the run, not before it. */
    s = spec(6, SEQ0 + PAY);
    s.payload = 0;
    expect_split(f, s);
    assert_int_equal(f->g.stats.merged, 0);
}

static void test_fragments_and_options_flush(void **state)
{
    struct fx *f = *state;
    uint8_t b[2000];
    struct spec s = spec(4, SEQ0 + PAY);
    size_t n = build(b, &s);

    put16(b + 6, 0x2000);        /* MF */
    expect_split_bytes(f, 4, b, n);
    n = build(b, &s);
    put16(b + 6, 0x0010);        /* offset 128 */
    expect_split_bytes(f, 4, b, n);
    /* IHL 6: a NOP option word ahead of the TCP header. */
    n = build(b + 4, &s);
    memmove(b, b + 4, 20);
    memset(b + 20, 1, 4);
    b[0] = 0x46;
    put16(b + 2, (uint16_t)(n + 4));
    expect_split_bytes(f, 4, b, n + 4);
    /* IPv6 hop-by-hop header before TCP. */
    s = spec(6, SEQ0 + PAY);
    n = build(b, &s);
    memmove(b + 48, b + 40, n - 40);
    memset(b + 40, 0, 8);
    b[40] = 6;
    b[6] = 0;
    put16(b + 4, (uint16_t)(n + 8 - 40));
    expect_split_bytes(f, 6, b, n + 8);
    assert_int_equal(f->g.stats.merged, 0);
}

static void test_other_protocols_not_delayed(void **state)
{
    struct fx *f = *state;
    uint8_t b[2000];
    struct spec s = spec(4, SEQ0);

    in_spec(f, &s);
    /* UDP and ICMP pass at once and leave the held run alone. */
    build(b, &s);
    b[9] = 17;
    in(f, copy_pbuf(b, 40));
    b[9] = 1;
    in(f, copy_pbuf(b, 40));
    s = spec(6, SEQ0);
    build(b, &s);
    b[6] = 58;
    in(f, copy_pbuf(b, 60));
    b[0] = 0x50;                 /* not IP at all */
    in(f, copy_pbuf(b, 60));
    assert_int_equal(f->k.n, 4);
    assert_int_equal(f->g.held, 1);
    s = spec(4, SEQ0 + PAY);
    in_spec(f, &s);              /* still merges */
    flush(f);
    assert_int_equal(f->k.n, 5);
    check_segment(&f->k, 4, 4, SEQ0, 2, PAY, F_ACK);
}

/* ---- lying and truncated packets, in exact-size buffers ---- */

static void lie(struct fx *f, const uint8_t *b, size_t len)
{
    uint8_t *copy = malloc(len ? len : 1);
    struct pbuf *p = pbuf_alloc(PBUF_RAW, (u16_t)len, PBUF_REF);
    struct vole_gro_seg seg;

    assert_non_null(copy);
    assert_non_null(p);
    memcpy(copy, b, len);
    p->payload = copy;
    vole_gro_parse(p, &seg);
    assert_true(seg.kind != VOLE_GRO_CANDIDATE);
    sink_free(&f->k);
    in(f, p);                    /* after a held run of the same flow */
    flush(f);
    assert_int_equal(f->g.stats.merged, 0);
    sink_free(&f->k);
    free(copy);
}

static void test_lying_packets(void **state)
{
    struct fx *f = *state;
    uint8_t b[2000];

    for (int family = 4; family <= 6; family += 2) {
        struct spec s = spec(family, SEQ0 + PAY);
        size_t ih = family == 4 ? 20 : 40;
        size_t n = build(b, &s);
        size_t lenoff = family == 4 ? 2 : 4;
        uint16_t lenval = get16(b + lenoff);

        for (size_t cut = 0; cut < ih + 20; cut++) {
            struct spec held = spec(family, SEQ0);
            in_spec(f, &held);
            lie(f, b, cut);      /* truncated inside the headers */
        }
        const uint16_t lies[] = { (uint16_t)(lenval + 1), (uint16_t)(lenval - 1), 0, 0xFFFF };
        for (size_t i = 0; i < 4; i++) {
            put16(b + lenoff, lies[i]);
            lie(f, b, n);        /* the IP length says otherwise */
        }
        /* Data offset 60 in a packet of 40 bytes after the IP header,
         * whose IP length tells the truth. */
        put16(b + lenoff, (uint16_t)(family == 4 ? ih + 40 : 40));
        b[ih + 12] = 0xF0;
        lie(f, b, ih + 40);
        put16(b + lenoff, lenval);
        b[ih + 12] = 0x40;       /* data offset 16 < 20 */
        lie(f, b, n);
    }
    /* A truncated IPv6 packet whose payload length points past its end. */
    struct spec s = spec(6, SEQ0);
    build(b, &s);
    lie(f, b, 60);
}

/* ---- several flows ---- */

static void test_interleaved_flows(void **state)
{
    struct fx *f = *state;

    for (uint32_t i = 0; i < 6; i++)
        for (uint16_t fl = 0; fl < 3; fl++) {
            struct spec s = spec(fl == 2 ? 6 : 4, SEQ0 + fl * 100000u + i * PAY);
            s.sport = (uint16_t)(40000 + fl);
            in_spec(f, &s);
        }
    assert_int_equal(f->g.held, 3);
    flush(f);
    assert_int_equal(f->k.n, 3);
    for (uint16_t fl = 0; fl < 3; fl++)   /* oldest first */
        check_segment(&f->k, fl, fl == 2 ? 6 : 4, SEQ0 + fl * 100000u, 6, PAY, F_ACK);
    assert_int_equal(f->g.stats.merged, 15);
}

static void test_full_table_evicts_oldest(void **state)
{
    struct fx *f = *state;

    for (uint16_t fl = 0; fl <= VOLE_GRO_FLOWS; fl++) {
        struct spec s = spec(4, SEQ0);
        s.sport = (uint16_t)(40000 + fl);
        in_spec(f, &s);
    }
    assert_int_equal(f->k.n, 1);
    assert_int_equal(get16((const uint8_t *)f->k.p[0]->payload + 20), 40000);
    assert_int_equal(f->g.held, VOLE_GRO_FLOWS);
    vole_gro_drop(&f->g);        /* frees what is held (ASan checks the leak) */
    assert_int_equal(f->g.held, 0);
}

static void test_size_limit_splits(void **state)
{
    struct fx *f = *state;
    const uint32_t pay = 1240, n = 60;
    const uint32_t fit = (VOLE_GRO_MAX_LEN - 40) / pay;   /* 52 */

    for (uint32_t i = 0; i < n; i++) {
        struct spec s = spec(4, SEQ0 + i * pay);
        s.payload = pay;
        in_spec(f, &s);
    }
    assert_int_equal(f->k.n, 1);
    flush(f);
    assert_int_equal(f->k.n, 2);
    check_segment(&f->k, 0, 4, SEQ0, fit, pay, F_ACK);
    check_segment(&f->k, 1, 4, SEQ0 + fit * pay, n - fit, pay, F_ACK);
    assert_true(f->k.p[0]->tot_len <= VOLE_GRO_MAX_LEN);

    /* A lower limit, as tests may set. */
    sink_free(&f->k);
    f->g.max_len = 60 + 3 * PAY;   /* IPv6 + TCP headers and three payloads */
    for (uint32_t i = 0; i < 7; i++) {
        struct spec s = spec(6, SEQ0 + i * PAY);
        in_spec(f, &s);
    }
    flush(f);
    assert_int_equal(f->k.n, 3);
    check_segment(&f->k, 0, 6, SEQ0, 3, PAY, F_ACK);
    check_segment(&f->k, 1, 6, SEQ0 + 3 * PAY, 3, PAY, F_ACK);
    check_segment(&f->k, 2, 6, SEQ0 + 6 * PAY, 1, PAY, F_ACK);
}

/* The pure rules directly: continues says no for another flow. */
static void test_rules_direct(void **state)
{
    struct fx *f = *state;
    struct spec s = spec(4, SEQ0);
    struct pbuf *p = mk(&s), *q;
    struct vole_gro_seg a, b;
    struct vole_gro_flow *fl = &f->g.flows[0];

    vole_gro_parse(p, &a);
    assert_int_equal(a.kind, VOLE_GRO_CANDIDATE);
    assert_int_equal(a.payload, PAY);
    vole_gro_hold(&f->g, fl, p, &a);
    s = spec(6, SEQ0 + PAY);
    q = mk(&s);
    vole_gro_parse(q, &b);
    assert_false(vole_gro_same_flow(fl, &b));
    assert_false(vole_gro_continues(fl, &b, VOLE_GRO_MAX_LEN));
    pbuf_free(q);
    s = spec(4, SEQ0 + PAY);
    q = mk(&s);
    vole_gro_parse(q, &b);
    assert_true(vole_gro_continues(fl, &b, VOLE_GRO_MAX_LEN));
    assert_false(vole_gro_continues(fl, &b, 40 + PAY));
    vole_gro_append(fl, q, &b);
    p = vole_gro_take(&f->g, fl);
    assert_int_equal(p->tot_len, 40 + 2 * PAY);
    assert_null(fl->head);
    pbuf_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_runs_merge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_single_segment_untouched, setup, teardown),
        cmocka_unit_test_setup_teardown(test_psh_ends_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_changed_fields_split, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ip_fields_split, setup, teardown),
        cmocka_unit_test_setup_teardown(test_control_flags_split, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fragments_and_options_flush, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_protocols_not_delayed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lying_packets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interleaved_flows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_table_evicts_oldest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_size_limit_splits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rules_direct, setup, teardown),
    };
    lwip_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
