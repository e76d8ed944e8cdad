/* Cutting large TCP segments into wire-sized ones (stack/tso.h). Every
 * header byte is copied out of the chain and checked against p->tot_len
 * before anything is written or emitted; payload is only ever referenced. */
#include <stdbool.h>
#include <string.h>

#include "stack/tso.h"

#include "lwip/arch.h"   /* vole_lwip_chksum (port/chksum.c) */

#define IP4_HLEN      20
#define IP6_HLEN      40
#define IP4_FRAG_MASK 0x3FFFu   /* MF and the fragment offset */
#define PROTO_TCP     6
#define TCP_HLEN_MIN  20
#define TCP_FIN       0x01u
#define TCP_SYN       0x02u
#define TCP_RST       0x04u
#define TCP_PSH       0x08u
#define TCP_URG       0x20u
#define TCP_CWR       0x80u
#define TCP_CSUM_AT   16        /* the checksum's offset in the TCP header */

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)get16(p) << 16 | get16(p + 2); }

static void set16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void set32(uint8_t *p, uint32_t v)
{
    set16(p, (uint16_t)(v >> 16));
    set16(p + 2, (uint16_t)v);
}

/* ---- the Internet checksum (RFC 1071) over scattered bytes ---- */

static uint16_t fold64(uint64_t a)
{
    a = (a & 0xFFFFFFFFu) + (a >> 32);
    a = (a & 0xFFFFFFFFu) + (a >> 32);
    a = (a & 0xFFFFu) + (a >> 16);
    a = (a & 0xFFFFu) + (a >> 16);
    return (uint16_t)((a & 0xFFFFu) + (a >> 16));
}

/* The one's-complement sum of b as big-endian 16-bit words (an odd last
 * byte padded with zero): lwIP's checksum routine (port/chksum.c) sums in
 * memory order; read back big-endian, that is the big-endian sum. */
static uint16_t sum_be(const uint8_t *b, size_t n)
{
    uint16_t v = vole_lwip_chksum(b, (int)n);
    uint8_t pair[2];

    memcpy(pair, &v, 2);
    return get16(pair);
}

struct csum {
    uint64_t acc;
    size_t pos;   /* bytes so far: a run starting at an odd position is byte-swapped */
};

static void csum_add(struct csum *c, const uint8_t *b, size_t n)
{
    uint16_t s = sum_be(b, n);

    if (c->pos & 1)
        s = (uint16_t)(s << 8 | s >> 8);
    c->acc += s;
    c->pos += n;
}

static uint16_t csum_final(const struct csum *c) { return (uint16_t)~fold64(c->acc); }

/* ---- the packet's headers ---- */

struct seg {
    uint8_t hdr[VOLE_TSO_MAX_HDR];   /* IP + TCP headers, copied out of the chain */
    size_t ip_hlen, tcp_hlen, hlen;   /* hlen: both */
    size_t total;                     /* the whole packet, == p->tot_len */
    uint8_t family;
};

static bool parse_ip(struct seg *s, size_t have)
{
    const uint8_t *h = s->hdr;

    if (have < 1)
        return false;
    if (h[0] >> 4 == 4) {
        /* No options (lwIP's TCP sends none), not a fragment. */
        if (have < IP4_HLEN || (h[0] & 0x0F) != 5 || get16(h + 2) != s->total
            || (get16(h + 6) & IP4_FRAG_MASK) != 0 || h[9] != PROTO_TCP)
            return false;
        s->family = 4;
        s->ip_hlen = IP4_HLEN;
        return true;
    }
    if (h[0] >> 4 == 6) {
        if (have < IP6_HLEN || h[6] != PROTO_TCP || get16(h + 4) == 0
            || get16(h + 4) != s->total - IP6_HLEN)
            return false;
        s->family = 6;
        s->ip_hlen = IP6_HLEN;
        return true;
    }
    return false;
}

static bool parse(const struct pbuf *p, struct seg *s)
{
    size_t have;
    const uint8_t *tcp;

    s->total = p->tot_len;
    have = pbuf_copy_partial(p, s->hdr, (u16_t)(s->total < sizeof s->hdr ? s->total : sizeof s->hdr), 0);
    if (!parse_ip(s, have) || have < s->ip_hlen + TCP_HLEN_MIN)
        return false;
    tcp = s->hdr + s->ip_hlen;
    s->tcp_hlen = (size_t)(tcp[12] >> 4) * 4;
    s->hlen = s->ip_hlen + s->tcp_hlen;
    /* Both headers in hdr (it holds the longest pair) and in the packet. */
    return s->tcp_hlen >= TCP_HLEN_MIN && s->hlen <= have;
}

/* The pseudo-header (RFC 793 / RFC 8200 §8.1) for a TCP length. */
static void csum_pseudo(struct csum *c, const struct seg *s, const uint8_t *ip, size_t tcp_len)
{
    uint8_t ph[40];
    size_t n;

    if (s->family == 4) {
        memcpy(ph, ip + 12, 8);
        ph[8] = 0;
        ph[9] = PROTO_TCP;
        set16(ph + 10, (uint16_t)tcp_len);
        n = 12;
    } else {
        memcpy(ph, ip + 8, 32);
        set32(ph + 32, (uint32_t)tcp_len);
        memset(ph + 36, 0, 3);
        ph[39] = PROTO_TCP;
        n = 40;
    }
    csum_add(c, ph, n);
}

/* Adds len bytes of the chain from off. */
static void csum_chain(struct csum *c, const struct pbuf *q, size_t off, size_t len)
{
    for (; q && len; q = q->next) {
        size_t n;
        if (off >= q->len) {
            off -= q->len;
            continue;
        }
        n = q->len - off < len ? q->len - off : len;
        csum_add(c, (const uint8_t *)q->payload + off, n);
        len -= n;
        off = 0;
    }
}

/* The TCP checksum of hdr's headers followed by the payload refs/chain. */
static uint16_t tcp_checksum(const struct seg *s, uint8_t *hdr, size_t tcp_len, const struct pbuf *data,
                             size_t data_off)
{
    struct csum c = { 0, 0 };
    uint8_t *tcp = hdr + s->ip_hlen;

    set16(tcp + TCP_CSUM_AT, 0);
    csum_pseudo(&c, s, hdr, tcp_len);
    csum_add(&c, tcp, s->tcp_hlen);
    csum_chain(&c, data, data_off, tcp_len - s->tcp_hlen);
    return csum_final(&c);
}

static int emit_whole(struct pbuf *p, struct seg *s, vole_tso_emit_fn emit, void *ctx, int *err)
{
    uint8_t cs[2];
    int e;

    set16(cs, tcp_checksum(s, s->hdr, s->total - s->ip_hlen, p, s->hlen));
    pbuf_take_at(p, cs, 2, (u16_t)(s->ip_hlen + TCP_CSUM_AT));   /* within the headers parsed */
    e = emit(ctx, p);
    if (e && err && !*err)
        *err = e;
    return 1;
}

/* ---- cutting ---- */

/* Where the next piece's payload starts in the big segment's chain. */
struct cursor {
    const struct pbuf *q;
    size_t off;   /* within q */
};

/* Points up to VOLE_TSO_MAX_REFS pbufs at the next up-to-want payload bytes
 * and links them; returns how many bytes they hold (0: the chain ended). */
static size_t take_refs(struct cursor *cur, size_t want, struct pbuf refs[VOLE_TSO_MAX_REFS], size_t *n_refs)
{
    size_t got = 0, n = 0;

    while (got < want && n < VOLE_TSO_MAX_REFS && cur->q) {
        size_t avail, k;
        if (cur->off >= cur->q->len) {
            cur->q = cur->q->next;
            cur->off = 0;
            continue;
        }
        avail = cur->q->len - cur->off;
        k = avail < want - got ? avail : want - got;
        memset(&refs[n], 0, sizeof refs[n]);
        refs[n].payload = (uint8_t *)cur->q->payload + cur->off;
        refs[n].len = (u16_t)k;
        refs[n].type_internal = (u8_t)PBUF_REF;
        refs[n].ref = 1;
        cur->off += k;
        got += k;
        n++;
    }
    for (size_t i = n, left = 0; i-- > 0;) {
        left += refs[i].len;
        refs[i].tot_len = (u16_t)left;
        refs[i].next = i + 1 < n ? &refs[i + 1] : NULL;
    }
    *n_refs = n;
    return got;
}

/* The headers of piece k carrying len payload bytes from payload offset pos. */
static void piece_header(const struct seg *s, uint8_t *h, unsigned k, size_t pos, size_t len, bool last)
{
    uint8_t *tcp = h + s->ip_hlen;
    uint8_t flags = s->hdr[s->ip_hlen + 13];

    memcpy(h, s->hdr, s->hlen);
    if (s->family == 4) {
        set16(h + 2, (uint16_t)(s->hlen + len));
        set16(h + 4, (uint16_t)(get16(s->hdr + 4) + k));
        set16(h + 10, 0);
        {
            struct csum c = { 0, 0 };
            csum_add(&c, h, IP4_HLEN);
            set16(h + 10, csum_final(&c));
        }
    } else {
        set16(h + 4, (uint16_t)(s->tcp_hlen + len));
    }
    set32(tcp + 4, get32(s->hdr + s->ip_hlen + 4) + (uint32_t)pos);
    if (k > 0)
        flags &= (uint8_t)~TCP_CWR;
    if (!last)
        flags &= (uint8_t)~(TCP_FIN | TCP_PSH);
    tcp[13] = flags;
}

static int cut(struct pbuf *p, const struct seg *s, size_t max_len, vole_tso_emit_fn emit, void *ctx, int *err)
{
    size_t payload = s->total - s->hlen, room = max_len - s->hlen, pos = 0, skip = s->hlen;
    struct cursor cur = { p, 0 };
    struct pbuf refs[VOLE_TSO_MAX_REFS], head;
    uint8_t h[VOLE_TSO_MAX_HDR];
    unsigned k = 0;

    /* The cursor starts at the payload, after the headers. */
    while (cur.q && skip >= cur.q->len) {
        skip -= cur.q->len;
        cur.q = cur.q->next;
    }
    cur.off = skip;
    while (pos < payload) {
        size_t n_refs, want = payload - pos < room ? payload - pos : room;
        size_t got = take_refs(&cur, want, refs, &n_refs);
        bool last = pos + got == payload;
        int e;

        if (got == 0)
            break;   /* tot_len promised more than the chain holds */
        piece_header(s, h, k, pos, got, last);
        set16(h + s->ip_hlen + TCP_CSUM_AT, tcp_checksum(s, h, s->tcp_hlen + got, refs, 0));
        memset(&head, 0, sizeof head);
        head.payload = h;
        head.len = (u16_t)s->hlen;
        head.tot_len = (u16_t)(s->hlen + got);
        head.next = refs;
        head.type_internal = (u8_t)PBUF_REF;
        head.ref = 1;
        e = emit(ctx, &head);
        if (e && err && !*err)
            *err = e;
        pos += got;
        k++;
    }
    return (int)k;
}

int vole_tso_output(struct pbuf *p, size_t max_len, vole_tso_emit_fn emit, void *ctx, int *err)
{
    struct seg s;
    uint8_t flags;

    if (err)
        *err = 0;
    if (!p || !emit || !parse(p, &s))
        return 0;
    flags = s.hdr[s.ip_hlen + 13];
    if (max_len == 0 || s.total <= max_len || max_len <= s.hlen || (flags & (TCP_SYN | TCP_RST | TCP_URG)))
        return emit_whole(p, &s, emit, ctx, err);
    return cut(p, &s, max_len, emit, ctx, err);
}
