/* stack/: the tunnel netif, fed with crafted packets, its output captured.
 * Checksums are verified with code written here, not lwIP's, so a wrong
 * checksum from lwIP cannot hide behind the same bug on both sides. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>

#include "test/unit/bytes.h"

#include "lwip/priv/tcp_priv.h"
#include "lwip/ip6_addr.h"
#include "lwip/tcp.h"

#include "stack/forward.h"
#include "stack/pbuf_queue.h"
#include "stack/ping.h"
#include "stack/stack.h"

#define MTU 1420
#define CAP_MAX 512

/* ---- capture and fixtures ---------------------------------------------- */

struct capture {
    size_t n;
    size_t len[CAP_MAX];
    uint8_t *pkt[CAP_MAX];
};

static int cap_output(void *ctx, struct pbuf *p)
{
    struct capture *c = ctx;

    if (c->n == CAP_MAX)
        return ERR_MEM;
    c->pkt[c->n] = malloc(p->tot_len);
    assert_non_null(c->pkt[c->n]);
    assert_int_equal(pbuf_copy_partial(p, c->pkt[c->n], p->tot_len, 0), p->tot_len);
    c->len[c->n++] = p->tot_len;
    return ERR_OK;
}

static void cap_clear(struct capture *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->pkt[i]);
    c->n = 0;
}

struct fixture {
    struct capture cap;
    struct vole_stack *s;
};

static struct ev_loop *loop(void)
{
    return ev_default_loop(0);
}

static void set_addr(struct vole_stack_addr *a, int family, const char *text, uint8_t prefix)
{
    memset(a, 0, sizeof *a);
    a->family = (uint8_t)family;
    a->prefix = prefix;
    assert_int_equal(inet_pton(family == 4 ? AF_INET : AF_INET6, text, a->addr), 1);
}

static struct vole_stack *new_stack(struct capture *cap, const char *v4, const char *v6)
{
    struct vole_stack_addr addrs[2];
    struct vole_stack_ops ops = { .ctx = cap, .output = cap_output };
    struct vole_stack *s;
    char err[256] = "";

    set_addr(&addrs[0], 4, v4, 24);
    set_addr(&addrs[1], 6, v6, 64);
    s = vole_stack_new(loop(), MTU, addrs, 2, &ops, err, sizeof err);
    if (!s)
        fail_msg("vole_stack_new: %s", err);
    return s;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    f->s = new_stack(&f->cap, "10.7.0.2", "fd00::2");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    vole_stack_free(f->s);
    cap_clear(&f->cap);
    free(f);
    return 0;
}

/* ---- packet helpers ---------------------------------------------------- */


/* Over a packet that includes its checksum field, these return 0 if valid. */
static uint16_t csum4(const uint8_t *src, const uint8_t *dst, uint8_t proto,
                      const uint8_t *l4, size_t len)
{
    uint32_t acc = sum_bytes(src, 4, 0);
    acc = sum_bytes(dst, 4, acc);
    return fold(sum_bytes(l4, len, acc + proto + (uint32_t)len));
}

static uint16_t csum6(const uint8_t *src, const uint8_t *dst, uint8_t nh,
                      const uint8_t *l4, size_t len)
{
    uint32_t acc = sum_bytes(src, 16, 0);
    acc = sum_bytes(dst, 16, acc);
    acc += (uint32_t)(len >> 16) + (uint32_t)(len & 0xFFFF) + nh;
    return fold(sum_bytes(l4, len, acc));
}

static size_t ip4_hdr(uint8_t *b, const char *src, const char *dst, uint8_t proto,
                      size_t payload, uint16_t id, uint16_t frag)
{
    memset(b, 0, 20);
    b[0] = 0x45;
    put16(b + 2, (uint32_t)(20 + payload));
    put16(b + 4, id);
    put16(b + 6, frag);
    b[8] = 64;
    b[9] = proto;
    inet_pton(AF_INET, src, b + 12);
    inet_pton(AF_INET, dst, b + 16);
    put16(b + 10, fold(sum_bytes(b, 20, 0)));
    return 20;
}

static size_t ip6_hdr(uint8_t *b, const char *src, const char *dst, uint8_t nh, size_t payload)
{
    memset(b, 0, 40);
    b[0] = 0x60;
    put16(b + 4, (uint32_t)payload);
    b[6] = nh;
    b[7] = 64;
    inet_pton(AF_INET6, src, b + 8);
    inet_pton(AF_INET6, dst, b + 24);
    return 40;
}

static void inject(struct vole_stack *s, const uint8_t *pkt, size_t len)
{
    struct pbuf *p = vole_stack_rx_alloc(len);
    assert_non_null(p);
    memcpy(p->payload, pkt, len);
    vole_stack_input(s, p);
}

static void assert_addr(const uint8_t *bytes, int family, const char *text)
{
    uint8_t want[16];
    assert_int_equal(inet_pton(family, text, want), 1);
    assert_memory_equal(bytes, want, family == AF_INET ? 4 : 16);
}

/* ---- ICMP echo answered by lwIP ---------------------------------------- */

static size_t echo_request4(uint8_t *pkt, const char *src, const char *dst,
                            uint8_t type, uint16_t id, uint16_t seq, size_t payload)
{
    uint8_t *icmp = pkt + 20;
    size_t len = 8 + payload;

    ip4_hdr(pkt, src, dst, 1, len, 0x99, 0);
    memset(icmp, 0, 8);
    icmp[0] = type;
    put16(icmp + 4, id);
    put16(icmp + 6, seq);
    for (size_t i = 8; i < len; i++)
        icmp[i] = (uint8_t)(i * 3);
    put16(icmp + 2, fold(sum_bytes(icmp, len, 0)));
    return 20 + len;
}

static void test_icmp4_echo_reply(void **state)
{
    struct fixture *f = *state;
    uint8_t pkt[128];
    size_t len = echo_request4(pkt, "10.7.0.1", "10.7.0.2", 8, 0x1234, 7, 40);
    const uint8_t *r, *icmp;

    inject(f->s, pkt, len);
    assert_int_equal(f->cap.n, 1);
    r = f->cap.pkt[0];
    assert_int_equal(f->cap.len[0], len);
    assert_int_equal(r[0], 0x45);
    assert_int_equal(fold(sum_bytes(r, 20, 0)), 0);          /* IP header checksum */
    assert_addr(r + 12, AF_INET, "10.7.0.2");
    assert_addr(r + 16, AF_INET, "10.7.0.1");
    icmp = r + 20;
    assert_int_equal(icmp[0], 0);                             /* echo reply */
    assert_int_equal(fold(sum_bytes(icmp, len - 20, 0)), 0);  /* ICMP checksum */
    assert_int_equal(get16(icmp + 4), 0x1234);
    assert_int_equal(get16(icmp + 6), 7);
    assert_memory_equal(icmp + 8, pkt + 28, 40);
}

static void test_icmp6_echo_reply(void **state)
{
    struct fixture *f = *state;
    uint8_t pkt[128];
    uint8_t *icmp = pkt + 40;
    size_t len = 8 + 24;
    const uint8_t *r;

    ip6_hdr(pkt, "fd00::1", "fd00::2", 58, len);
    memset(icmp, 0, 8);
    icmp[0] = 128;
    put16(icmp + 4, 0xBEEF);
    put16(icmp + 6, 3);
    memset(icmp + 8, 0x5A, 24);
    put16(icmp + 2, csum6(pkt + 8, pkt + 24, 58, icmp, len));

    inject(f->s, pkt, 40 + len);
    assert_int_equal(f->cap.n, 1);
    r = f->cap.pkt[0];
    assert_int_equal(r[0] >> 4, 6);
    assert_int_equal(r[6], 58);
    assert_addr(r + 8, AF_INET6, "fd00::2");
    assert_addr(r + 24, AF_INET6, "fd00::1");
    assert_int_equal(get16(r + 4), len);
    assert_int_equal(r[40], 129);
    assert_int_equal(csum6(r + 8, r + 24, 58, r + 40, len), 0);
    assert_int_equal(get16(r + 44), 0xBEEF);
    assert_int_equal(get16(r + 46), 3);
    assert_memory_equal(r + 48, icmp + 8, 24);
}

/* ---- TCP: SYN-ACK options ---------------------------------------------- */

static size_t tcp_syn(uint8_t *tcp, uint16_t sport, uint16_t dport, uint32_t seq)
{
    static const uint8_t opts[12] = {
        2, 4, 0x05, 0xB4,   /* MSS 1460 */
        1, 3, 3, 7,         /* NOP, window scale 7 */
        4, 2, 1, 1,         /* SACK permitted, NOP, NOP */
    };
    memset(tcp, 0, 20);
    put16(tcp, sport);
    put16(tcp + 2, dport);
    put32(tcp + 4, seq);
    tcp[12] = 8 << 4;       /* 32-byte header */
    tcp[13] = 0x02;         /* SYN */
    put16(tcp + 14, 65535);
    memcpy(tcp + 20, opts, sizeof opts);
    return 32;
}

struct tcp_opts {
    int mss;     /* -1: absent */
    int wscale;  /* -1: absent */
};

static struct tcp_opts parse_opts(const uint8_t *tcp)
{
    struct tcp_opts o = { -1, -1 };
    size_t hl = (size_t)(tcp[12] >> 4) * 4;

    for (size_t i = 20; i < hl;) {
        uint8_t kind = tcp[i];
        if (kind == 0)
            break;
        if (kind == 1) {
            i++;
            continue;
        }
        if (kind == 2)
            o.mss = get16(tcp + i + 2);
        if (kind == 3)
            o.wscale = tcp[i + 2];
        i += tcp[i + 1];
    }
    return o;
}

static struct vole_forward_remote *listen_overlay(struct vole_stack *s, uint16_t port);

static void check_synack(const uint8_t *tcp, size_t tcplen, uint32_t seq, int want_mss)
{
    struct tcp_opts o = parse_opts(tcp);

    assert_true(tcplen >= 20);
    assert_int_equal(tcp[13], 0x12);                 /* SYN|ACK */
    assert_int_equal(get32(tcp + 8), seq + 1);
    assert_int_equal(o.mss, want_mss);
    assert_int_equal(o.wscale, TCP_RCV_SCALE);
}

static void test_tcp_synack_mss_v4(void **state)
{
    struct fixture *f = *state;
    struct vole_forward_remote *fr = listen_overlay(f->s, 8080);
    uint8_t pkt[128];
    size_t tl = tcp_syn(pkt + 20, 40000, 8080, 1000);
    const uint8_t *r;

    ip4_hdr(pkt, "10.7.0.1", "10.7.0.2", 6, tl, 1, 0);
    put16(pkt + 20 + 16, csum4(pkt + 12, pkt + 16, 6, pkt + 20, tl));
    inject(f->s, pkt, 20 + tl);

    assert_int_equal(f->cap.n, 1);
    r = f->cap.pkt[0];
    assert_int_equal(fold(sum_bytes(r, 20, 0)), 0);
    assert_int_equal(csum4(r + 12, r + 16, 6, r + 20, f->cap.len[0] - 20), 0);
    check_synack(r + 20, f->cap.len[0] - 20, 1000, MTU - 40);
    vole_forward_remote_free(fr);
}

static void send_syn6(struct fixture *f, uint16_t sport, uint32_t seq)
{
    uint8_t pkt[128];
    size_t tl = tcp_syn(pkt + 40, sport, 8080, seq);

    ip6_hdr(pkt, "fd00::1", "fd00::2", 6, tl);
    put16(pkt + 40 + 16, csum6(pkt + 8, pkt + 24, 6, pkt + 40, tl));
    inject(f->s, pkt, 40 + tl);
}

static void test_tcp_synack_mss_v6(void **state)
{
    struct fixture *f = *state;
    struct vole_forward_remote *fr = listen_overlay(f->s, 8080);
    const uint8_t *r;

    send_syn6(f, 40001, 5000);
    assert_int_equal(f->cap.n, 1);
    r = f->cap.pkt[0];
    assert_int_equal(r[6], 6);
    assert_int_equal(csum6(r + 8, r + 24, 6, r + 40, f->cap.len[0] - 40), 0);
    check_synack(r + 40, f->cap.len[0] - 40, 5000, MTU - 60);

    /* A new MTU applies to new connections. */
    vole_stack_set_mtu(f->s, 1280);
    send_syn6(f, 40002, 9000);
    assert_int_equal(f->cap.n, 2);
    check_synack(f->cap.pkt[1] + 40, f->cap.len[1] - 40, 9000, 1280 - 60);
    vole_forward_remote_free(fr);
}

/* ---- pings: fragmentation out, reassembly in --------------------------- */

struct ping_log {
    int replies;
    uint16_t seq;
    size_t payload_len;
    uint64_t rtt_ns;
};

static void on_reply(void *ctx, uint16_t seq, size_t payload_len, uint64_t rtt_ns)
{
    struct ping_log *l = ctx;
    l->replies++;
    l->seq = seq;
    l->payload_len = payload_len;
    l->rtt_ns = rtt_ns;
}

static ip_addr_t addr_of(const char *text)
{
    ip_addr_t a;
    assert_true(ipaddr_aton(text, &a));
    return a;
}

/* Reassembles the captured IPv4 fragments of one datagram into out. */
static size_t reassemble4(const struct capture *c, uint8_t *out, uint8_t *hdr)
{
    size_t total = 0, got = 0;

    for (size_t i = 0; i < c->n; i++) {
        const uint8_t *p = c->pkt[i];
        size_t off = (size_t)(get16(p + 6) & 0x1FFF) * 8;
        size_t dlen = get16(p + 2) - 20u;

        assert_true(c->len[i] <= MTU);
        assert_int_equal(fold(sum_bytes(p, 20, 0)), 0);
        memcpy(out + off, p + 20, dlen);
        got += dlen;
        if (!(get16(p + 6) & 0x2000))
            total = off + dlen;
        if (off == 0)
            memcpy(hdr, p, 20);
    }
    assert_int_equal(got, total);
    return total;
}

/* Sends msg (an ICMP message) to the stack as IPv4 fragments, last first. */
static void inject_fragments4(struct vole_stack *s, const uint8_t *msg, size_t len)
{
    const size_t chunk = 1400;   /* (MTU - 20) rounded down to 8 */
    size_t offs[64], n = 0;

    for (size_t off = 0; off < len; off += chunk)
        offs[n++] = off;
    while (n--) {
        uint8_t pkt[MTU];
        size_t dl = len - offs[n] < chunk ? len - offs[n] : chunk;
        bool more = offs[n] + dl < len;
        ip4_hdr(pkt, "10.7.0.1", "10.7.0.2", 1, dl, 0x4242,
                (uint16_t)((more ? 0x2000 : 0) | offs[n] / 8));
        memcpy(pkt + 20, msg + offs[n], dl);
        inject(s, pkt, 20 + dl);
    }
}

static void test_ping4_fragments(void **state)
{
    struct fixture *f = *state;
    ip_addr_t dst = addr_of("10.7.0.1");
    struct ping_log log = { 0 };
    struct vole_pinger *pg = vole_pinger_new(f->s, &dst, on_reply, &log);
    static uint8_t msg[8 + 4000];
    uint8_t hdr[20] = { 0 };
    size_t len;

    assert_non_null(pg);
    assert_int_equal(vole_pinger_send(pg, 42, 4000), 0);
    assert_int_equal(f->cap.n, 3);   /* 4008 bytes over 1400-byte fragments */
    len = reassemble4(&f->cap, msg, hdr);
    assert_int_equal(len, 8 + 4000);
    assert_int_equal(hdr[9], 1);
    assert_addr(hdr + 12, AF_INET, "10.7.0.2");
    assert_addr(hdr + 16, AF_INET, "10.7.0.1");
    assert_int_equal(msg[0], 8);
    assert_int_equal(fold(sum_bytes(msg, len, 0)), 0);
    assert_int_equal(get16(msg + 6), 42);

    /* Answer it as the peer would, fragmented, out of order. */
    msg[0] = 0;
    put16(msg + 2, 0);
    put16(msg + 2, fold(sum_bytes(msg, len, 0)));
    inject_fragments4(f->s, msg, len);
    assert_int_equal(log.replies, 1);
    assert_int_equal(log.seq, 42);
    assert_int_equal(log.payload_len, 4000);
    assert_true(log.rtt_ns > 0);

    /* The same reply again is a duplicate: consumed, not reported. */
    inject_fragments4(f->s, msg, len);
    assert_int_equal(log.replies, 1);
    vole_pinger_free(pg);
}

static size_t reassemble6(const struct capture *c, uint8_t *out, uint8_t *hdr)
{
    size_t total = 0, got = 0;

    for (size_t i = 0; i < c->n; i++) {
        const uint8_t *p = c->pkt[i];
        const uint8_t *fh = p + 40;
        size_t off = get16(fh + 2) & ~7u;
        size_t dlen = get16(p + 4) - 8u;

        assert_true(c->len[i] <= MTU);
        assert_int_equal(p[6], 44);   /* fragment header */
        assert_int_equal(fh[0], 58);
        memcpy(out + off, p + 48, dlen);
        got += dlen;
        if (!(get16(fh + 2) & 1))
            total = off + dlen;
        if (off == 0)
            memcpy(hdr, p, 40);
    }
    assert_int_equal(got, total);
    return total;
}

static void inject_fragments6(struct vole_stack *s, const uint8_t *msg, size_t len)
{
    const size_t chunk = 1368;   /* (MTU - 40 - 8) rounded down to 8 */
    size_t offs[64], n = 0;

    for (size_t off = 0; off < len; off += chunk)
        offs[n++] = off;
    while (n--) {
        uint8_t pkt[MTU];
        size_t dl = len - offs[n] < chunk ? len - offs[n] : chunk;
        bool more = offs[n] + dl < len;
        ip6_hdr(pkt, "fd00::1", "fd00::2", 44, 8 + dl);
        memset(pkt + 40, 0, 8);
        pkt[40] = 58;
        put16(pkt + 42, (uint32_t)(offs[n] | (more ? 1 : 0)));
        put32(pkt + 44, 0xCAFE);
        memcpy(pkt + 48, msg + offs[n], dl);
        inject(s, pkt, 48 + dl);
    }
}

static void test_ping6_fragments(void **state)
{
    struct fixture *f = *state;
    ip_addr_t dst = addr_of("fd00::1");
    struct ping_log log = { 0 };
    struct vole_pinger *pg = vole_pinger_new(f->s, &dst, on_reply, &log);
    static uint8_t msg[8 + 4000];
    uint8_t hdr[40], src[16], dsta[16];
    size_t len;

    assert_non_null(pg);
    assert_int_equal(vole_pinger_send(pg, 9, 4000), 0);
    assert_int_equal(f->cap.n, 3);
    len = reassemble6(&f->cap, msg, hdr);
    assert_int_equal(len, 8 + 4000);
    assert_addr(hdr + 8, AF_INET6, "fd00::2");
    assert_addr(hdr + 24, AF_INET6, "fd00::1");
    assert_int_equal(msg[0], 128);
    assert_int_equal(csum6(hdr + 8, hdr + 24, 58, msg, len), 0);

    msg[0] = 129;
    put16(msg + 2, 0);
    inet_pton(AF_INET6, "fd00::1", src);
    inet_pton(AF_INET6, "fd00::2", dsta);
    put16(msg + 2, csum6(src, dsta, 58, msg, len));
    inject_fragments6(f->s, msg, len);
    assert_int_equal(log.replies, 1);
    assert_int_equal(log.seq, 9);
    assert_int_equal(log.payload_len, 4000);
    vole_pinger_free(pg);
}

/* A pinger must not swallow the peer's echo requests, nor others' replies. */
static void test_pinger_leaves_foreign_icmp(void **state)
{
    struct fixture *f = *state;
    ip_addr_t dst = addr_of("10.7.0.1");
    struct ping_log log = { 0 };
    struct vole_pinger *pg = vole_pinger_new(f->s, &dst, on_reply, &log);
    uint8_t pkt[128];
    size_t len;

    assert_int_equal(vole_pinger_send(pg, 1, 16), 0);
    cap_clear(&f->cap);
    len = echo_request4(pkt, "10.7.0.1", "10.7.0.2", 8, 0x7777, 1, 16);
    inject(f->s, pkt, len);
    assert_int_equal(f->cap.n, 1);            /* lwIP still answered */
    assert_int_equal(f->cap.pkt[0][20], 0);
    len = echo_request4(pkt, "10.7.0.1", "10.7.0.2", 0, 0x7777, 1, 16);
    inject(f->s, pkt, len);                   /* a reply with another id */
    assert_int_equal(log.replies, 0);
    vole_pinger_free(pg);
}

/* ---- routing ----------------------------------------------------------- */

static struct tcp_pcb *connect_to(const char *dst)
{
    ip_addr_t a = addr_of(dst);
    struct tcp_pcb *pcb = tcp_new_ip_type(IP_GET_TYPE(&a));

    assert_non_null(pcb);
    assert_int_equal(tcp_connect(pcb, &a, 80, NULL), ERR_OK);
    return pcb;
}

/* The SYN for dst left through cap, from src. */
static void assert_syn_via(struct capture *cap, const char *dst, const char *src)
{
    struct tcp_pcb *pcb;
    const uint8_t *r;
    int fam = strchr(dst, ':') ? AF_INET6 : AF_INET;

    cap_clear(cap);
    pcb = connect_to(dst);
    assert_int_equal(cap->n, 1);
    r = cap->pkt[0];
    if (fam == AF_INET6) {
        assert_addr(r + 24, fam, dst);
        assert_addr(r + 8, fam, src);
    } else {
        assert_addr(r + 16, fam, dst);
        assert_addr(r + 12, fam, src);
    }
    tcp_abort(pcb);
    cap_clear(cap);
}

static void test_route_off_prefix(void **state)
{
    struct fixture *f = *state;
    struct capture cap_b = { 0 };
    struct vole_stack *b;
    ip_addr_t dst = addr_of("2001:db8::1");
    struct ping_log log = { 0 };
    struct vole_pinger *pg;

    /* One tunnel: on-prefix and off-prefix destinations both leave by it. */
    assert_syn_via(&f->cap, "fd00::1", "fd00::2");
    assert_syn_via(&f->cap, "2001:db8::1", "fd00::2");
    assert_syn_via(&f->cap, "fd12:3456::9", "fd00::2");
    assert_syn_via(&f->cap, "192.0.2.1", "10.7.0.2");
    pg = vole_pinger_new(f->s, &dst, on_reply, &log);
    assert_int_equal(vole_pinger_send(pg, 1, 8), 0);
    assert_int_equal(f->cap.n, 1);
    assert_addr(f->cap.pkt[0] + 24, AF_INET6, "2001:db8::1");
    vole_pinger_free(pg);
    cap_clear(&f->cap);

    /* Two tunnels (lwIP's single-netif shortcut off): prefixes pick the
     * tunnel, everything else takes the first (default) one. */
    b = new_stack(&cap_b, "10.8.0.2", "fd01::2");
    assert_syn_via(&cap_b, "fd01::7", "fd01::2");
    assert_syn_via(&cap_b, "10.8.0.9", "10.8.0.2");
    assert_syn_via(&f->cap, "fd00::1", "fd00::2");
    assert_syn_via(&f->cap, "2001:db8::1", "fd00::2");
    assert_syn_via(&f->cap, "198.51.100.1", "10.7.0.2");
    assert_int_equal(cap_b.n, 0);
    vole_stack_set_default(b);
    assert_syn_via(&cap_b, "2001:db8::1", "fd01::2");
    vole_stack_set_default(f->s);
    vole_stack_free(b);
    cap_clear(&cap_b);
}

/* ---- timers ------------------------------------------------------------ */

struct loop_probe {
    int iterations;
};

static void count_iteration(struct ev_loop *l, ev_prepare *w, int revents)
{
    (void)l; (void)revents;
    ((struct loop_probe *)w->data)->iterations++;
}

static void stop_loop(struct ev_loop *l, ev_timer *w, int revents)
{
    (void)w; (void)revents;
    ev_break(l, EVBREAK_ONE);
}

/* lwIP's timers run from the loop (the SYN-ACK is retransmitted after the
 * initial RTO) and the loop does not spin while it waits for them. */
static void test_timers_drive_lwip_without_spinning(void **state)
{
    struct fixture *f = *state;
    struct vole_forward_remote *fr = listen_overlay(f->s, 8080);
    struct loop_probe probe = { 0 };
    ev_prepare counter;
    ev_timer stop;

    send_syn6(f, 40003, 77);
    assert_int_equal(f->cap.n, 1);
    ev_prepare_init(&counter, count_iteration);
    counter.data = &probe;
    ev_prepare_start(loop(), &counter);
    ev_timer_init(&stop, stop_loop, 2.2, 0.);
    ev_timer_start(loop(), &stop);
    ev_run(loop(), 0);
    ev_prepare_stop(loop(), &counter);
    ev_timer_stop(loop(), &stop);

    assert_true(f->cap.n >= 2);   /* SYN-ACK retransmitted by tcp_slowtmr */
    check_synack(f->cap.pkt[1] + 40, f->cap.len[1] - 40, 77, MTU - 60);
    /* 2.2 s of TCP timer ticks plus lwIP's 1 Hz timers, with slack: anything
     * far above that is a spinning loop. */
    int bound = (int)(2200 / TCP_TMR_INTERVAL * 12 / 10) + 20;
    print_message("loop iterations in 2.2 s: %d (bound %d), SYN-ACKs: %zu\n", probe.iterations, bound, f->cap.n);
    assert_true(probe.iterations < bound);
    vole_forward_remote_free(fr);
}

/* ---- API edges --------------------------------------------------------- */

static void test_rx_alloc(void **state)
{
    struct pbuf *p = vole_stack_rx_alloc(1500);
    (void)state;

    assert_non_null(p);
    assert_int_equal(p->tot_len, 1500);
    assert_int_equal(p->len, 1500);
    assert_null(p->next);
    pbuf_free(p);
    assert_null(vole_stack_rx_alloc(0));
    assert_null(vole_stack_rx_alloc(65536));
}

static void test_new_rejects_bad_config(void **state)
{
    struct vole_stack_addr a[3];
    struct capture cap = { 0 };
    struct vole_stack_ops ops = { .ctx = &cap, .output = cap_output };
    char err[256];
    (void)state;

    set_addr(&a[0], 4, "10.0.0.1", 24);
    set_addr(&a[1], 4, "10.0.0.2", 24);
    assert_null(vole_stack_new(loop(), MTU, a, 2, &ops, err, sizeof err));
    assert_non_null(strstr(err, "one IPv4"));
    set_addr(&a[1], 6, "fd00::5", 64);
    assert_null(vole_stack_new(loop(), 1000, a, 2, &ops, err, sizeof err));
    assert_non_null(strstr(err, "MTU"));
    a[2] = a[0];
    a[2].prefix = 33;
    assert_null(vole_stack_new(loop(), MTU, &a[2], 1, &ops, err, sizeof err));
}

/* lwIP is process-global: every stack lives on the same loop. */
static void test_second_loop_rejected(void **state)
{
    struct fixture *f = *state;
    struct vole_stack_addr a;
    struct capture cap = { 0 };
    struct vole_stack_ops ops = { .ctx = &cap, .output = cap_output };
    struct ev_loop *other = ev_loop_new(0);
    char err[256];

    (void)f;
    set_addr(&a, 4, "10.9.0.1", 24);
    assert_null(vole_stack_new(other, MTU, &a, 1, &ops, err, sizeof err));
    assert_non_null(strstr(err, "one event loop"));
    ev_loop_destroy(other);
}

static struct pbuf *ram_pbuf(const char *text)
{
    struct pbuf *p = pbuf_alloc(PBUF_RAW, (u16_t)strlen(text), PBUF_RAM);
    assert_non_null(p);
    if (*text)
        pbuf_take(p, text, (u16_t)strlen(text));
    return p;
}

/* Concatenates what the queue would write, for comparison. */
static void queue_text(const struct vole_pbuf_queue *q, char *out)
{
    struct iovec iov[8];
    int n = vole_pbuf_queue_iov(q, iov, 8);

    *out = '\0';
    for (int i = 0; i < n; i++)
        strncat(out, iov[i].iov_base, iov[i].iov_len);
}

static void test_pbuf_queue(void **state)
{
    struct vole_pbuf_queue q = { 0 };
    struct pbuf *chain = ram_pbuf("def");
    char text[64];
    (void)state;

    pbuf_cat(chain, ram_pbuf(""));        /* empty pbufs happen in chains */
    pbuf_cat(chain, ram_pbuf("ghij"));
    vole_pbuf_queue_push(&q, ram_pbuf("abc"));
    vole_pbuf_queue_push(&q, chain);
    vole_pbuf_queue_push(&q, ram_pbuf("k"));
    assert_int_equal(q.bytes, 11);
    assert_int_equal(q.pbufs, 5);
    queue_text(&q, text);
    assert_string_equal(text, "abcdefghijk");

    vole_pbuf_queue_pop(&q, 2);           /* inside the first pbuf */
    queue_text(&q, text);
    assert_string_equal(text, "cdefghijk");
    assert_int_equal(q.pbufs, 5);
    vole_pbuf_queue_pop(&q, 4);           /* across two, then the empty one */
    queue_text(&q, text);
    assert_string_equal(text, "ghijk");
    assert_int_equal(q.bytes, 5);
    assert_int_equal(q.pbufs, 2);
    vole_pbuf_queue_pop(&q, 5);
    assert_null(q.head);
    assert_null(q.tail);
    assert_int_equal(q.pbufs, 0);

    vole_pbuf_queue_push(&q, ram_pbuf("xyz"));
    vole_pbuf_queue_clear(&q);            /* frees (ASan checks for leaks) */
    assert_int_equal(q.bytes, 0);
    assert_null(q.head);
}

/* A listener on the overlay port; its connections would go to a closed
 * kernel port, which these tests never reach (no handshake completes). */
static struct vole_forward_remote *listen_overlay(struct vole_stack *s, uint16_t port)
{
    char err[256];
    struct vole_forward_remote *fr = vole_forward_remote_new(s, port, "127.0.0.1", 9, err, sizeof err);
    if (!fr)
        fail_msg("forward_remote: %s", err);
    return fr;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_icmp4_echo_reply, setup, teardown),
        cmocka_unit_test_setup_teardown(test_icmp6_echo_reply, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tcp_synack_mss_v4, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tcp_synack_mss_v6, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ping4_fragments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ping6_fragments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pinger_leaves_foreign_icmp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_route_off_prefix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timers_drive_lwip_without_spinning, setup, teardown),
        cmocka_unit_test(test_rx_alloc),
        cmocka_unit_test(test_pbuf_queue),
        cmocka_unit_test(test_new_rejects_bad_config),
        cmocka_unit_test_setup_teardown(test_second_loop_rejected, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
