/* stack/ipfrag: fragments checked field by field and reassembled twice, by a
 * reference reassembler written here and by lwIP itself (a UDP pcb on a vole
 * stack must receive the whole datagram); MSS clamping checked against a TCP
 * checksum computed from scratch. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>

#include "test/unit/bytes.h"

#include "lwip/ip_addr.h"
#include "lwip/udp.h"

#include "stack/ipfrag.h"
#include "stack/stack.h"

#define FRAGS_MAX 2048
#define BIG 65535

/* ---- packets ------------------------------------------------------------- */


/* The TCP/UDP checksum over the pseudo-header: 0 when the field is valid. */
static uint16_t l4_csum(const uint8_t *ip, const uint8_t *l4, size_t len, uint8_t proto)
{
    bool v6 = (ip[0] >> 4) == 6;
    size_t alen = v6 ? 16 : 4;
    const uint8_t *src = ip + (v6 ? 8 : 12);
    uint32_t acc = sum_bytes(src, 2 * alen, 0);   /* src and dst are adjacent */

    acc += (uint32_t)(len >> 16) + (uint32_t)(len & 0xFFFF) + proto;
    return fold(sum_bytes(l4, len, acc));
}

static uint8_t pattern(size_t i) { return (uint8_t)(i * 7 + (i >> 8)); }

/* An IPv4 header of hl bytes (options: NOPs then an end-of-list). */
static size_t ip4_hdr(uint8_t *b, size_t hl, uint8_t proto, size_t payload, uint16_t frag)
{
    memset(b, 0, hl);
    b[0] = (uint8_t)(0x40 | hl / 4);
    put16(b + 2, (uint16_t)(hl + payload));
    put16(b + 4, 0x1234);
    put16(b + 6, frag);
    b[8] = 64;
    b[9] = proto;
    inet_pton(AF_INET, "10.7.0.1", b + 12);
    inet_pton(AF_INET, "10.7.0.2", b + 16);
    for (size_t i = 20; i + 1 < hl; i++)
        b[i] = 1;
    put16(b + 10, fold(sum_bytes(b, hl, 0)));
    return hl;
}

static size_t ip6_hdr(uint8_t *b, uint8_t nh, size_t payload)
{
    memset(b, 0, 40);
    b[0] = 0x60;
    b[1] = 0x0A;   /* a flow label to see copied */
    put16(b + 4, (uint16_t)payload);
    b[6] = nh;
    b[7] = 64;
    inet_pton(AF_INET6, "fd00::1", b + 8);
    inet_pton(AF_INET6, "fd00::2", b + 24);
    return 40;
}

/* A UDP datagram of n payload bytes (pattern) with a valid checksum. */
static size_t udp_packet(uint8_t *pkt, int family, size_t hl, size_t n)
{
    size_t off = family == 4 ? ip4_hdr(pkt, hl, 17, 8 + n, 0) : ip6_hdr(pkt, 17, 8 + n);
    uint8_t *u = pkt + off;

    put16(u, 5000);
    put16(u + 2, 7000);
    put16(u + 4, (uint16_t)(8 + n));
    put16(u + 6, 0);
    for (size_t i = 0; i < n; i++)
        u[8 + i] = pattern(i);
    put16(u + 6, l4_csum(pkt, u, 8 + n, 17));
    return off + 8 + n;
}

/* ---- capturing fragments -------------------------------------------------- */

struct frags {
    size_t n;
    size_t len[FRAGS_MAX];
    uint8_t *pkt[FRAGS_MAX];
};

static void on_frag(void *ctx, const uint8_t *pkt, size_t len)
{
    struct frags *f = ctx;

    assert_true(f->n < FRAGS_MAX);
    f->pkt[f->n] = malloc(len);
    assert_non_null(f->pkt[f->n]);
    memcpy(f->pkt[f->n], pkt, len);
    f->len[f->n++] = len;
}

static void frags_clear(struct frags *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->pkt[i]);
    f->n = 0;
}

/* ---- reference reassembly ------------------------------------------------- */

/* Checks every IPv4 fragment against orig (hl-byte header) and mtu and puts
 * the payloads together; returns the payload length. Offsets are relative
 * to base (the original's own offset when it was itself a fragment). */
static size_t reassemble4(const struct frags *f, const uint8_t *orig, size_t mtu,
                          size_t base, bool last_mf, uint8_t *out)
{
    size_t hl = (size_t)(orig[0] & 15) * 4, got = 0, next = base;

    for (size_t i = 0; i < f->n; i++) {
        const uint8_t *p = f->pkt[i];
        size_t off = (size_t)(get16(p + 6) & 0x1FFF) * 8;
        size_t dlen = f->len[i] - hl;
        bool mf = get16(p + 6) & 0x2000;

        assert_true(f->len[i] <= mtu);
        assert_int_equal(get16(p + 2), f->len[i]);
        assert_int_equal(fold(sum_bytes(p, hl, 0)), 0);
        /* Everything but length, flags/offset and checksum is the original's. */
        assert_memory_equal(p, orig, 2);
        assert_memory_equal(p + 4, orig + 4, 2);
        assert_memory_equal(p + 8, orig + 8, 2);
        assert_memory_equal(p + 12, orig + 12, hl - 12);
        assert_int_equal(get16(p + 6) & 0xC000, get16(orig + 6) & 0xC000);
        assert_int_equal(off, next);   /* in order, contiguous */
        assert_int_equal(off % 8, 0);
        assert_true(i + 1 == f->n ? mf == last_mf : mf);
        if (i + 1 < f->n)
            assert_int_equal(dlen % 8, 0);
        memcpy(out + off - base, p + hl, dlen);
        got += dlen;
        next = off + dlen;
    }
    return got;
}

static size_t reassemble6(const struct frags *f, const uint8_t *orig, size_t mtu,
                          uint32_t id, uint8_t *out)
{
    size_t got = 0;

    for (size_t i = 0; i < f->n; i++) {
        const uint8_t *p = f->pkt[i], *fh = p + 40;
        size_t off = get16(fh + 2) & ~7u;

        assert_true(f->len[i] <= mtu);
        assert_int_equal(get16(p + 4), f->len[i] - 40);
        assert_memory_equal(p, orig, 4);          /* version, class, flow */
        assert_memory_equal(p + 7, orig + 7, 33); /* hop limit, addresses */
        assert_int_equal(p[6], 44);
        assert_int_equal(fh[0], orig[6]);
        assert_int_equal(fh[1], 0);
        assert_int_equal(get16(fh + 2) & 6, 0);   /* reserved bits */
        assert_int_equal((uint32_t)get16(fh + 4) << 16 | get16(fh + 6), id);
        assert_int_equal(off, got);
        assert_int_equal(get16(fh + 2) & 1, i + 1 < f->n ? 1 : 0);
        if (i + 1 < f->n)
            assert_int_equal((f->len[i] - 48) % 8, 0);
        memcpy(out + off, p + 48, f->len[i] - 48);
        got += f->len[i] - 48;
    }
    return got;
}

/* ---- splitting ------------------------------------------------------------ */

static void split4(size_t hl, size_t n, size_t mtu)
{
    static uint8_t pkt[BIG], out[BIG];
    static struct frags f;
    size_t len = udp_packet(pkt, 4, hl, n);
    size_t chunk = (mtu - hl) & ~(size_t)7;
    int got = vole_ip_fragment(pkt, len, mtu, 0, on_frag, &f);

    assert_int_equal(got, (len - hl + chunk - 1) / chunk);
    assert_int_equal((size_t)got, f.n);
    assert_int_equal(reassemble4(&f, pkt, mtu, 0, false, out), len - hl);
    assert_memory_equal(out, pkt + hl, len - hl);
    assert_int_equal(l4_csum(pkt, out, len - hl, 17), 0);
    frags_clear(&f);
}

static void test_ip4_split(void **state)
{
    static const size_t sizes[] = { 1473, 4000, 8000, 61440, 65507 };
    static const size_t mtus[] = { 68, 576, 1279, 1280, 1420, 1500 };
    (void)state;

    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
        for (size_t j = 0; j < sizeof mtus / sizeof *mtus; j++)
            if (mtus[j] >= 1280 || sizes[i] <= 8000)   /* at most FRAGS_MAX */
                split4(20, sizes[i], mtus[j]);
}

static void test_ip4_split_with_options(void **state)
{
    (void)state;
    split4(60, 4000, 68);   /* 8 bytes of payload each */
    split4(24, 4000, 576);
    split4(40, 61440, 1280);
}

/* A fragment split further keeps its offset; only the very last piece of the
 * datagram clears MF. */
static void test_ip4_refragment(void **state)
{
    static uint8_t pkt[BIG], out[BIG];
    static struct frags first, second;
    size_t len = udp_packet(pkt, 4, 20, 4000);
    size_t total = 0;
    (void)state;

    assert_int_equal(vole_ip_fragment(pkt, len, 1500, 0, on_frag, &first), 3);
    for (size_t i = 0; i < first.n; i++) {
        const uint8_t *p = first.pkt[i];
        size_t base = (size_t)(get16(p + 6) & 0x1FFF) * 8;
        bool mf = get16(p + 6) & 0x2000;

        assert_int_equal(vole_ip_fragment(p, first.len[i], 576, 0, on_frag, &second), i < 2 ? 3 : 2);
        total += reassemble4(&second, p, 576, base, mf, out + base);
        frags_clear(&second);
    }
    assert_int_equal(total, len - 20);
    assert_memory_equal(out, pkt + 20, len - 20);
    frags_clear(&first);
}

static void split6(size_t n, size_t mtu, uint32_t id)
{
    static uint8_t pkt[BIG], out[BIG];
    static struct frags f;
    size_t len = udp_packet(pkt, 6, 40, n);
    size_t chunk = (mtu - 48) & ~(size_t)7;
    int got = vole_ip_fragment(pkt, len, mtu, id, on_frag, &f);

    assert_int_equal(got, (len - 40 + chunk - 1) / chunk);
    assert_int_equal((size_t)got, f.n);
    assert_int_equal(reassemble6(&f, pkt, mtu, id, out), len - 40);
    assert_memory_equal(out, pkt + 40, len - 40);
    assert_int_equal(l4_csum(pkt, out, len - 40, 17), 0);
    frags_clear(&f);
}

static void test_ip6_split(void **state)
{
    static const size_t sizes[] = { 1453, 4000, 8000, 61440, 65487 };
    static const size_t mtus[] = { 56, 576, 1280, 1281, 1420, 1500 };
    (void)state;

    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
        for (size_t j = 0; j < sizeof mtus / sizeof *mtus; j++)
            if (mtus[j] >= 576 || sizes[i] <= 8000)
                split6(sizes[i], mtus[j], 0xA5000000u + (uint32_t)(i * 16 + j));
}

static void test_under_mtu_unchanged(void **state)
{
    static uint8_t pkt[BIG];
    static struct frags f;
    size_t len;
    (void)state;

    len = udp_packet(pkt, 4, 20, 1252);   /* 1280 bytes */
    assert_int_equal(vole_ip_fragment(pkt, len, 1280, 0, on_frag, &f), 1);
    assert_int_equal(vole_ip_fragment(pkt, len, 9000, 0, on_frag, &f), 1);
    len = udp_packet(pkt, 6, 40, 1232);
    assert_int_equal(vole_ip_fragment(pkt, len, 1280, 7, on_frag, &f), 1);
    assert_int_equal(f.n, 3);
    for (size_t i = 0; i < f.n; i++)
        assert_int_equal(f.len[i], 1280);
    assert_memory_equal(f.pkt[2], pkt, 1280);   /* no fragment header added */
    frags_clear(&f);
}

/* Each malformed packet or impossible MTU: -1 and nothing emitted. */
static void refused(const uint8_t *pkt, size_t len, size_t mtu)
{
    struct frags f = { 0 };

    assert_int_equal(vole_ip_fragment(pkt, len, mtu, 1, on_frag, &f), -1);
    assert_int_equal(f.n, 0);
}

static void test_malformed_refused(void **state)
{
    static uint8_t pkt[BIG], bad[BIG];
    size_t len4, len6;
    (void)state;

    len4 = udp_packet(pkt, 4, 20, 3000);
    refused(NULL, 100, 1280);
    refused(pkt, 0, 1280);
    refused(pkt, 19, 1280);                  /* shorter than a header */
    refused(pkt, len4 - 1, 1280);            /* total length says more */
    refused(pkt, len4, 67);                  /* below IPv4's minimum MTU */
    memcpy(bad, pkt, len4);
    bad[0] = 0x44;                           /* IHL 4 */
    refused(bad, len4, 1280);
    bad[0] = 0x5F;                           /* version 5 */
    refused(bad, len4, 1280);
    bad[0] = 0x4F;                           /* 60-byte header in 20 bytes */
    put16(bad + 2, 20);
    refused(bad, 20, 1280);
    memcpy(bad, pkt, len4);
    put16(bad + 6, 0x1FFF);                  /* offset + payload over 64 KiB */
    refused(bad, len4, 1280);
    put16(bad + 6, 0);
    put16(bad + 2, 0xFFFF);                  /* longer than the buffer */
    refused(bad, len4, 1280);

    len6 = udp_packet(pkt, 6, 40, 3000);
    refused(pkt, 39, 1280);
    refused(pkt, len6 - 1, 1280);            /* payload length says more */
    refused(pkt, len6, 55);                  /* no room for 8 bytes */
    memcpy(bad, pkt, len6);
    put16(bad + 4, 0);                       /* a jumbogram */
    refused(bad, len6, 1280);
    put16(bad + 4, (uint16_t)(len6 - 40));
    bad[6] = 44;                             /* already fragmented */
    refused(bad, len6, 1280);
    bad[6] = 0;                              /* hop-by-hop options first */
    refused(bad, len6, 1280);
    bad[6] = 60;                             /* destination options */
    refused(bad, len6, 1280);
}

/* ---- lwIP reassembles what we split ---------------------------------------- */

struct sink {
    size_t datagrams;
    size_t len;
    bool intact;
};

static void on_udp(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *addr, u16_t port)
{
    struct sink *s = arg;
    bool ok = port == 5000;
    (void)pcb; (void)addr;

    for (u16_t i = 0; ok && i < p->tot_len; i++)
        ok = pbuf_get_at(p, i) == pattern(i);
    s->datagrams++;
    s->len = p->tot_len;
    s->intact = ok;
    pbuf_free(p);
}

static int drop_output(void *ctx, struct pbuf *p)
{
    (void)ctx; (void)p;
    return ERR_OK;
}

static struct vole_stack *new_stack(void)
{
    struct vole_stack_addr addrs[2] = { { .family = 4, .prefix = 24 },
                                        { .family = 6, .prefix = 64 } };
    struct vole_stack_ops ops = { .output = drop_output };
    char err[256] = "";
    struct vole_stack *s;

    inet_pton(AF_INET, "10.7.0.2", addrs[0].addr);
    inet_pton(AF_INET6, "fd00::2", addrs[1].addr);
    s = vole_stack_new(ev_default_loop(0), 1420, addrs, 2, &ops, err, sizeof err);
    if (!s)
        fail_msg("vole_stack_new: %s", err);
    return s;
}

static void inject(struct vole_stack *s, const uint8_t *pkt, size_t len)
{
    struct pbuf *p = vole_stack_rx_alloc(len);

    assert_non_null(p);
    memcpy(p->payload, pkt, len);
    vole_stack_input(s, p);
}

/* n payload bytes split at mtu and fed to lwIP in order or reversed. */
static void lwip_receives(struct vole_stack *s, int family, size_t n, size_t mtu,
                          bool reverse, uint32_t id)
{
    static uint8_t pkt[BIG];
    static struct frags f;
    struct sink sink = { 0 };
    struct udp_pcb *pcb = udp_new_ip_type(family == 4 ? IPADDR_TYPE_V4 : IPADDR_TYPE_V6);
    size_t len = udp_packet(pkt, family, family == 4 ? 20 : 40, n);

    assert_non_null(pcb);
    assert_int_equal(udp_bind(pcb, family == 4 ? IP4_ADDR_ANY : IP6_ADDR_ANY, 7000), ERR_OK);
    udp_recv(pcb, on_udp, &sink);
    assert_true(vole_ip_fragment(pkt, len, mtu, id, on_frag, &f) > 1);
    for (size_t i = 0; i < f.n; i++) {
        size_t k = reverse ? f.n - 1 - i : i;
        assert_int_equal(sink.datagrams, 0);   /* nothing before the last */
        inject(s, f.pkt[k], f.len[k]);
    }
    assert_int_equal(sink.datagrams, 1);
    assert_int_equal(sink.len, n);
    assert_true(sink.intact);
    udp_remove(pcb);
    frags_clear(&f);
}

static void test_lwip_reassembles(void **state)
{
    struct vole_stack *s = new_stack();
    (void)state;

    lwip_receives(s, 4, 61440, 1280, false, 0);
    lwip_receives(s, 4, 61440, 576, true, 0);
    lwip_receives(s, 4, 65507, 1420, false, 0);
    lwip_receives(s, 4, 4000, 68, false, 0);
    lwip_receives(s, 6, 61440, 1280, false, 1);
    lwip_receives(s, 6, 61440, 576, true, 2);
    lwip_receives(s, 6, 65487, 1420, false, 3);
    vole_stack_free(s);
}

/* ---- MSS clamping ----------------------------------------------------------- */

/* A TCP segment with flags and the given options, valid checksum. */
static size_t tcp_packet(uint8_t *pkt, int family, uint8_t flags, const uint8_t *opts, size_t olen)
{
    size_t hl = family == 4 ? 20 : 40, tl = 20 + olen;
    uint8_t *t;

    assert_int_equal(olen % 4, 0);
    if (family == 4)
        ip4_hdr(pkt, 20, 6, tl, 0x4000);
    else
        ip6_hdr(pkt, 6, tl);
    t = pkt + hl;
    memset(t, 0, 20);
    put16(t, 40000);
    put16(t + 2, 22);
    put32(t + 4, 0x01020304);
    put32(t + 8, flags & 0x10 ? 0x0A0B0C0D : 0);
    t[12] = (uint8_t)(tl / 4 << 4);
    t[13] = flags;
    put16(t + 14, 65535);
    memcpy(t + 20, opts, olen);
    put16(t + 16, l4_csum(pkt, t, tl, 6));
    return hl + tl;
}

/* MSS at even and odd offsets among other options. */
static const uint8_t OPTS_PLAIN[] = { 2, 4, 0x05, 0xB4, 1, 3, 3, 7 };
static const uint8_t OPTS_ODD[] = { 1, 2, 4, 0x22, 0x38, 4, 2, 1, 1, 1, 1, 1 };
static const uint8_t OPTS_LATE[] = { 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 1, 2, 4, 0xFF, 0xFF };
static const uint8_t OPTS_NONE[] = { 1, 1, 4, 2 };

static void clamp_ok(int family, uint8_t flags, const uint8_t *opts, size_t olen,
                     size_t mss_at, uint16_t max)
{
    uint8_t pkt[128], before[128], padded[20];
    size_t hl = family == 4 ? 20 : 40, len;

    memset(padded, 1, sizeof padded);
    memcpy(padded, opts, olen);
    olen = (olen + 3) & ~(size_t)3;
    len = tcp_packet(pkt, family, flags, padded, olen);
    memcpy(before, pkt, len);
    assert_true(vole_tcp_clamp_mss(pkt, len, max));
    assert_int_equal(get16(pkt + hl + 20 + mss_at), max);
    assert_int_equal(l4_csum(pkt, pkt + hl, len - hl, 6), 0);
    /* Nothing else moved: only the option and the checksum. */
    for (size_t i = 0; i < len; i++)
        if (i != hl + 16 && i != hl + 17 && i != hl + 20 + mss_at && i != hl + 21 + mss_at)
            assert_int_equal(pkt[i], before[i]);
    /* Clamping again is a no-op. */
    assert_false(vole_tcp_clamp_mss(pkt, len, max));
}

static void test_clamp_syn(void **state)
{
    (void)state;
    for (int family = 4; family <= 6; family += 2) {
        clamp_ok(family, 0x02, OPTS_PLAIN, sizeof OPTS_PLAIN, 2, 1240);
        clamp_ok(family, 0x12, OPTS_PLAIN, sizeof OPTS_PLAIN, 2, 1180);
        clamp_ok(family, 0x02, OPTS_ODD, sizeof OPTS_ODD, 3, 1220);
        clamp_ok(family, 0x12, OPTS_ODD, sizeof OPTS_ODD, 3, 536);
        clamp_ok(family, 0x02, OPTS_LATE, sizeof OPTS_LATE, 16, 1380);
        clamp_ok(family, 0x12, OPTS_LATE, sizeof OPTS_LATE, 16, 0x0101);
    }
}

static void clamp_no(uint8_t *pkt, size_t len, uint16_t max)
{
    uint8_t before[128];

    memcpy(before, pkt, len);
    assert_false(vole_tcp_clamp_mss(pkt, len, max));
    assert_memory_equal(pkt, before, len);
}

static void test_clamp_leaves_alone(void **state)
{
    uint8_t pkt[128];
    uint8_t overlong[] = { 1, 3, 9, 7, 2, 4, 0x05, 0xB4 };
    uint8_t zero_len[] = { 8, 0, 0, 0, 2, 4, 0x05, 0xB4 };
    uint8_t bad_mss_len[] = { 2, 6, 0x05, 0xB4, 0, 0, 0, 0 };
    uint8_t after_end[] = { 0, 0, 0, 0, 2, 4, 0x05, 0xB4 };
    size_t len;
    (void)state;

    for (int family = 4; family <= 6; family += 2) {
        size_t hl = family == 4 ? 20 : 40;
        len = tcp_packet(pkt, family, 0x10, OPTS_PLAIN, sizeof OPTS_PLAIN);
        clamp_no(pkt, len, 1200);                      /* not a SYN */
        len = tcp_packet(pkt, family, 0x02, OPTS_NONE, sizeof OPTS_NONE);
        clamp_no(pkt, len, 1200);                      /* no MSS option */
        len = tcp_packet(pkt, family, 0x02, OPTS_NONE, 0);
        clamp_no(pkt, len, 1200);                      /* no options at all */
        len = tcp_packet(pkt, family, 0x02, OPTS_PLAIN, sizeof OPTS_PLAIN);
        clamp_no(pkt, len, 1460);                      /* already that small */
        clamp_no(pkt, len, 9000);
        clamp_no(pkt, len - 1, 1200);                  /* truncated */
        clamp_no(pkt, hl + 19, 1200);
        pkt[hl + 12] = 0xF0;                           /* header beyond the packet */
        clamp_no(pkt, len, 1200);
        len = tcp_packet(pkt, family, 0x02, overlong, sizeof overlong);
        clamp_no(pkt, len, 1200);
        len = tcp_packet(pkt, family, 0x02, zero_len, sizeof zero_len);
        clamp_no(pkt, len, 1200);
        len = tcp_packet(pkt, family, 0x02, bad_mss_len, sizeof bad_mss_len);
        clamp_no(pkt, len, 1200);
        len = tcp_packet(pkt, family, 0x02, after_end, sizeof after_end);
        clamp_no(pkt, len, 1200);
    }
    /* An IPv4 fragment (MF, or an offset) and a non-TCP packet. */
    len = tcp_packet(pkt, 4, 0x02, OPTS_PLAIN, sizeof OPTS_PLAIN);
    put16(pkt + 6, 0x2000);
    clamp_no(pkt, len, 1200);
    put16(pkt + 6, 0x0001);
    clamp_no(pkt, len, 1200);
    len = tcp_packet(pkt, 4, 0x02, OPTS_PLAIN, sizeof OPTS_PLAIN);
    pkt[9] = 17;
    clamp_no(pkt, len, 1200);
    /* IPv6 with an extension header before TCP. */
    len = tcp_packet(pkt, 6, 0x02, OPTS_PLAIN, sizeof OPTS_PLAIN);
    pkt[6] = 60;
    clamp_no(pkt, len, 1200);
    assert_false(vole_tcp_clamp_mss(NULL, 0, 1200));
}

static void test_mss_for_mtu(void **state)
{
    (void)state;
    assert_int_equal(vole_mss_for_mtu(4, 1280), 1240);
    assert_int_equal(vole_mss_for_mtu(6, 1280), 1220);
    assert_int_equal(vole_mss_for_mtu(6, 60), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ip4_split),
        cmocka_unit_test(test_ip4_split_with_options),
        cmocka_unit_test(test_ip4_refragment),
        cmocka_unit_test(test_ip6_split),
        cmocka_unit_test(test_under_mtu_unchanged),
        cmocka_unit_test(test_malformed_refused),
        cmocka_unit_test(test_lwip_reassembles),
        cmocka_unit_test(test_clamp_syn),
        cmocka_unit_test(test_clamp_leaves_alone),
        cmocka_unit_test(test_mss_for_mtu),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
