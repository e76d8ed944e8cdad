/* Fragmenting whole IPv4/IPv6 packets to a path MTU and clamping the MSS of
 * TCP SYNs (stack/ipfrag.h). Pure functions on byte buffers: every length
 * and offset is checked against the buffer before it is read, and a packet
 * is validated in full before the first fragment is emitted, so a refusal
 * (-1) never leaves a partial datagram behind. */
#include <stdlib.h>
#include <string.h>

#include "stack/ipfrag.h"

#define IP4_HLEN_MIN   20
#define IP4_MIN_MTU    68      /* RFC 791: a 60-byte header + 8 bytes */
#define IP4_OFF_MASK   0x1FFFu
#define IP4_FLAG_MF    0x2000u
#define IP6_HLEN       40
#define IP6_FRAG_HLEN  8
#define IP6_MIN_MTU    (IP6_HLEN + IP6_FRAG_HLEN + 8)
#define IP6_NH_FRAG    44
#define IPPROTO_TCP_   6
#define TCP_HLEN_MIN   20
#define TCP_FLAG_SYN   0x02u
#define TCP_OPT_END    0
#define TCP_OPT_NOP    1
#define TCP_OPT_MSS    2
#define TCP_OPT_MSS_LEN 4
/* Fragments are built here when they fit; larger MTUs use the heap. */
#define FRAG_STACK_BUF 2048

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static void set16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* RFC 1071 one's complement sum of an IPv4 header (always even length). */
static uint16_t ip4_header_checksum(const uint8_t *h, size_t hl)
{
    uint32_t sum = 0;

    for (size_t i = 0; i + 1 < hl; i += 2)
        sum += get16(h + i);
    while (sum >> 16)
        sum = (sum & 0xFFFFu) + (sum >> 16);
    return (uint16_t)~sum;
}

/* A scratch buffer of at least n bytes: the caller's stack one, or the heap. */
static uint8_t *scratch(uint8_t *local, size_t local_len, size_t n)
{
    return n <= local_len ? local : malloc(n);
}

static void scratch_free(uint8_t *buf, const uint8_t *local)
{
    if (buf != local)
        free(buf);
}

/* ---- IPv4 ---- */

struct ip4_view {
    size_t hl;        /* header length with options */
    size_t tot;       /* total length, == the buffer length */
    size_t off;       /* fragment offset in bytes */
    bool mf;          /* more fragments (of an already fragmented packet) */
};

static bool ip4_parse(const uint8_t *pkt, size_t len, struct ip4_view *v)
{
    uint16_t frag;

    if (len < IP4_HLEN_MIN || (pkt[0] >> 4) != 4)
        return false;
    v->hl = (size_t)(pkt[0] & 0x0F) * 4;
    v->tot = get16(pkt + 2);
    if (v->hl < IP4_HLEN_MIN || v->hl > v->tot || v->tot != len)
        return false;
    frag = get16(pkt + 6);
    v->off = (size_t)(frag & IP4_OFF_MASK) * 8;
    v->mf = (frag & IP4_FLAG_MF) != 0;
    /* The reassembled datagram must still fit in 64 KiB. */
    return v->off + (v->tot - v->hl) <= 0xFFFFu;
}

static int ip4_fragment(const uint8_t *pkt, const struct ip4_view *v, size_t mtu,
                        vole_frag_emit_fn emit, void *ctx)
{
    uint8_t local[FRAG_STACK_BUF];
    size_t payload = v->tot - v->hl, chunk_max;
    uint8_t *buf;
    int n = 0;

    if (mtu < IP4_MIN_MTU || mtu < v->hl + 8)
        return -1;
    chunk_max = (mtu - v->hl) & ~(size_t)7;
    buf = scratch(local, sizeof local, v->hl + chunk_max);
    if (!buf)
        return -1;
    memcpy(buf, pkt, v->hl);
    for (size_t pos = 0; pos < payload; pos += chunk_max) {
        size_t chunk = payload - pos < chunk_max ? payload - pos : chunk_max;
        bool last = pos + chunk == payload;
        uint16_t frag = (uint16_t)((v->off + pos) / 8);

        /* Keep the reserved and DF bits; MF stays on the last piece of a
         * packet that was itself a non-final fragment. */
        frag |= (uint16_t)(get16(pkt + 6) & ~(IP4_OFF_MASK | IP4_FLAG_MF));
        if (!last || v->mf)
            frag |= IP4_FLAG_MF;
        set16(buf + 2, (uint16_t)(v->hl + chunk));
        set16(buf + 6, frag);
        set16(buf + 10, 0);
        set16(buf + 10, ip4_header_checksum(buf, v->hl));
        memcpy(buf + v->hl, pkt + v->hl + pos, chunk);
        emit(ctx, buf, v->hl + chunk);
        n++;
    }
    scratch_free(buf, local);
    return n;
}

/* ---- IPv6 ---- */

/* RFC 8200 §4 and the IANA list of extension headers: a packet whose payload
 * follows one of these would need its unfragmentable part found; refused. */
static bool ip6_is_extension(uint8_t nh)
{
    switch (nh) {
    case 0: case 43: case 44: case 50: case 51: case 60:
    case 135: case 139: case 140: case 253: case 254:
        return true;
    default:
        return false;
    }
}

static bool ip6_parse(const uint8_t *pkt, size_t len)
{
    if (len < IP6_HLEN || (pkt[0] >> 4) != 6)
        return false;
    /* A payload length of 0 would be a jumbogram (hop-by-hop option). */
    return get16(pkt + 4) != 0 && get16(pkt + 4) == len - IP6_HLEN;
}

static int ip6_fragment(const uint8_t *pkt, size_t len, size_t mtu, uint32_t id,
                        vole_frag_emit_fn emit, void *ctx)
{
    uint8_t local[FRAG_STACK_BUF];
    size_t payload = len - IP6_HLEN, chunk_max;
    uint8_t *buf;
    int n = 0;

    if (ip6_is_extension(pkt[6]) || mtu < IP6_MIN_MTU)
        return -1;
    chunk_max = (mtu - IP6_HLEN - IP6_FRAG_HLEN) & ~(size_t)7;
    buf = scratch(local, sizeof local, IP6_HLEN + IP6_FRAG_HLEN + chunk_max);
    if (!buf)
        return -1;
    memcpy(buf, pkt, IP6_HLEN);
    buf[6] = IP6_NH_FRAG;
    buf[IP6_HLEN] = pkt[6];          /* the payload's protocol */
    buf[IP6_HLEN + 1] = 0;           /* reserved */
    buf[IP6_HLEN + 4] = (uint8_t)(id >> 24);
    buf[IP6_HLEN + 5] = (uint8_t)(id >> 16);
    buf[IP6_HLEN + 6] = (uint8_t)(id >> 8);
    buf[IP6_HLEN + 7] = (uint8_t)id;
    for (size_t pos = 0; pos < payload; pos += chunk_max) {
        size_t chunk = payload - pos < chunk_max ? payload - pos : chunk_max;
        bool last = pos + chunk == payload;

        set16(buf + 4, (uint16_t)(IP6_FRAG_HLEN + chunk));
        /* Offset in 8-byte units in the top 13 bits, M in the lowest bit. */
        set16(buf + IP6_HLEN + 2, (uint16_t)(pos | (last ? 0u : 1u)));
        memcpy(buf + IP6_HLEN + IP6_FRAG_HLEN, pkt + IP6_HLEN + pos, chunk);
        emit(ctx, buf, IP6_HLEN + IP6_FRAG_HLEN + chunk);
        n++;
    }
    scratch_free(buf, local);
    return n;
}

int vole_ip_fragment(const uint8_t *pkt, size_t len, size_t mtu, uint32_t id,
                     vole_frag_emit_fn emit, void *ctx)
{
    struct ip4_view v4;

    if (!pkt || !emit || len == 0)
        return -1;
    if ((pkt[0] >> 4) == 4) {
        if (!ip4_parse(pkt, len, &v4))
            return -1;
    } else if (!ip6_parse(pkt, len)) {
        return -1;
    }
    if (len <= mtu) {
        emit(ctx, pkt, len);
        return 1;
    }
    if ((pkt[0] >> 4) == 4)
        return ip4_fragment(pkt, &v4, mtu, emit, ctx);
    return ip6_fragment(pkt, len, mtu, id, emit, ctx);
}

/* ---- MSS clamping ---- */

/* The TCP segment inside pkt (not a fragment, no IPv6 extension headers),
 * with a header length that fits: its offset, or 0. */
static size_t tcp_offset(const uint8_t *pkt, size_t len)
{
    struct ip4_view v;
    size_t off;

    if (len >= 1 && (pkt[0] >> 4) == 4) {
        if (!ip4_parse(pkt, len, &v) || pkt[9] != IPPROTO_TCP_ || v.off || v.mf)
            return 0;
        off = v.hl;
    } else if (ip6_parse(pkt, len) && pkt[6] == IPPROTO_TCP_) {
        off = IP6_HLEN;
    } else {
        return 0;
    }
    if (len - off < TCP_HLEN_MIN)
        return 0;
    if ((size_t)(pkt[off + 12] >> 4) * 4 < TCP_HLEN_MIN
        || (size_t)(pkt[off + 12] >> 4) * 4 > len - off)
        return 0;
    return off;
}

/* The offset (in the TCP header) of the MSS option's value, or 0. */
static size_t mss_option(const uint8_t *tcp, size_t hlen)
{
    size_t i = TCP_HLEN_MIN;

    while (i < hlen) {
        uint8_t kind = tcp[i];
        if (kind == TCP_OPT_END)
            return 0;
        if (kind == TCP_OPT_NOP) {
            i++;
            continue;
        }
        if (i + 1 >= hlen || tcp[i + 1] < 2 || tcp[i + 1] > hlen - i)
            return 0;   /* a truncated or overlong option: leave it alone */
        if (kind == TCP_OPT_MSS)
            return tcp[i + 1] == TCP_OPT_MSS_LEN ? i + 2 : 0;
        i += tcp[i + 1];
    }
    return 0;
}

/* RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), for one 16-bit word. */
static uint16_t csum_update(uint16_t hc, uint16_t m, uint16_t m_new)
{
    uint32_t sum = (uint16_t)~hc + (uint32_t)(uint16_t)~m + m_new;

    while (sum >> 16)
        sum = (sum & 0xFFFFu) + (sum >> 16);
    return (uint16_t)~sum;
}

/* Writes the 16-bit value v at tcp+at and updates the checksum for every
 * checksum word it touches: at may be odd (after a lone NOP), when the value
 * straddles two words of the segment. */
static void tcp_put16(uint8_t *tcp, size_t at, uint16_t v)
{
    size_t first = at & ~(size_t)1;
    size_t words = (at & 1) ? 2 : 1;
    uint16_t old[2], cs = get16(tcp + 16);

    for (size_t w = 0; w < words; w++)
        old[w] = get16(tcp + first + 2 * w);
    set16(tcp + at, v);
    for (size_t w = 0; w < words; w++)
        cs = csum_update(cs, old[w], get16(tcp + first + 2 * w));
    set16(tcp + 16, cs);
}

/* The TCP header of a SYN in pkt and its MSS option's offset in it, or NULL. */
static uint8_t *syn_mss(uint8_t *pkt, size_t len, size_t *at)
{
    size_t off;
    uint8_t *tcp;

    if (!pkt || !(off = tcp_offset(pkt, len)))
        return NULL;
    tcp = pkt + off;
    if (!(tcp[13] & TCP_FLAG_SYN))
        return NULL;
    *at = mss_option(tcp, (size_t)(tcp[12] >> 4) * 4);
    return *at ? tcp : NULL;
}

bool vole_tcp_clamp_mss(uint8_t *pkt, size_t len, uint16_t max_mss)
{
    size_t at;
    uint8_t *tcp = syn_mss(pkt, len, &at);

    if (!tcp || get16(tcp + at) <= max_mss)
        return false;
    tcp_put16(tcp, at, max_mss);
    return true;
}

bool vole_tcp_set_mss(uint8_t *pkt, size_t len, uint16_t mss, uint16_t *advertised)
{
    size_t at;
    uint8_t *tcp = syn_mss(pkt, len, &at);

    if (!tcp)
        return false;
    if (advertised)
        *advertised = get16(tcp + at);
    if (get16(tcp + at) != mss)
        tcp_put16(tcp, at, mss);
    return true;
}
