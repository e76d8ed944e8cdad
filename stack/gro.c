/* Software GRO for inner TCP on receive: the merge rules (see gro.h).
 *
 * Header checksums: lwIP never verifies inner checksums (CHECKSUM_CHECK_* are
 * 0: WireGuard's Poly1305 already authenticated every byte), so the merged
 * TCP checksum is left stale. The IPv4 header checksum is recomputed anyway
 * (20 bytes) so that the merged header is a valid one for anything that
 * looks at it; the tap sees the original packets, never merged ones. */
#include <string.h>

#include "lwip/inet_chksum.h"

#include "stack/gro.h"

#define TCP_FIN 0x01u
#define TCP_SYN 0x02u
#define TCP_RST 0x04u
#define TCP_PSH 0x08u
#define TCP_ACK 0x10u

#define IP_PROTO_TCP    6u
#define IP_PROTO_UDP    17u
#define IP_PROTO_ICMP6  58u

static uint16_t rd16(const uint8_t *b) { return (uint16_t)(b[0] << 8 | b[1]); }

static uint32_t rd32(const uint8_t *b) { return (uint32_t)rd16(b) << 16 | rd16(b + 2); }

static void wr16(uint8_t *b, uint32_t v)
{
    b[0] = (uint8_t)(v >> 8);
    b[1] = (uint8_t)v;
}

void vole_gro_init(struct vole_gro *g)
{
    memset(g, 0, sizeof *g);
    g->max_len = VOLE_GRO_MAX_LEN;
}

/* ---- parsing ---- */

/* The TCP part of a packet whose IP header checked out: s->ip, ip_hlen and
 * ip_len are set, and ip_len is the packet's exact length. */
static void parse_tcp(struct vole_gro_seg *s)
{
    const uint8_t *t = s->ip + s->ip_hlen;
    uint16_t hlen;

    if (s->ip_len < s->ip_hlen + 20u)
        return;   /* OPAQUE: no room for a TCP header */
    hlen = (uint16_t)((t[12] >> 4) * 4u);
    if (hlen < 20 || s->ip_hlen + hlen > s->ip_len)
        return;
    s->tcp = t;
    s->tcp_hlen = hlen;
    s->payload = (uint16_t)(s->ip_len - s->ip_hlen - hlen);
    s->seq = rd32(t + 4);
    s->flags = t[13];
    s->kind = VOLE_GRO_TCP;
    /* Exactly ACK or ACK|PSH, no NS or reserved bits: anything else (FIN,
     * SYN, RST, URG, ECN signalling) changes state and goes alone. */
    if (s->payload > 0 && (t[12] & 0x0Fu) == 0 && (s->flags == TCP_ACK || s->flags == (TCP_ACK | TCP_PSH)))
        s->kind = VOLE_GRO_CANDIDATE;
}

static void parse4(const struct pbuf *p, const uint8_t *b, struct vole_gro_seg *s)
{
    if (p->len < 20)
        return;
    if (b[9] != IP_PROTO_TCP) {
        s->kind = VOLE_GRO_OTHER;
        return;
    }
    /* IHL 5 only; one whole packet in one pbuf whose length the header
     * states; not a fragment (MF clear, offset 0). */
    if ((b[0] & 0x0Fu) != 5 || p->next || p->len != p->tot_len || rd16(b + 2) != p->tot_len ||
        (rd16(b + 6) & 0x3FFFu) != 0)
        return;
    s->family = 4;
    s->ip = b;
    s->ip_hlen = 20;
    s->ip_len = p->tot_len;
    parse_tcp(s);
}

static void parse6(const struct pbuf *p, const uint8_t *b, struct vole_gro_seg *s)
{
    if (p->len < 40)
        return;
    if (b[6] == IP_PROTO_UDP || b[6] == IP_PROTO_ICMP6) {
        s->kind = VOLE_GRO_OTHER;
        return;
    }
    /* TCP right after the fixed header; any extension header may hide TCP,
     * so it stays OPAQUE. A payload length of 0 (jumbogram) never matches. */
    if (b[6] != IP_PROTO_TCP || p->next || p->len != p->tot_len || rd16(b + 4) + 40u != p->tot_len)
        return;
    s->family = 6;
    s->ip = b;
    s->ip_hlen = 40;
    s->ip_len = p->tot_len;
    parse_tcp(s);
}

void vole_gro_parse(const struct pbuf *p, struct vole_gro_seg *s)
{
    const uint8_t *b = p->payload;

    memset(s, 0, sizeof *s);
    s->kind = VOLE_GRO_OPAQUE;
    if (p->len < 1)
        return;
    if (b[0] >> 4 == 4)
        parse4(p, b, s);
    else if (b[0] >> 4 == 6)
        parse6(p, b, s);
    else
        s->kind = VOLE_GRO_OTHER;   /* not IP: lwIP drops it; nothing to order */
}

/* ---- the rules ---- */

bool vole_gro_same_flow(const struct vole_gro_flow *f, const struct vole_gro_seg *s)
{
    const struct vole_gro_seg *h = &f->first;

    if (!f->head || s->kind < VOLE_GRO_TCP || h->family != s->family)
        return false;
    if (s->family == 4 ? memcmp(h->ip + 12, s->ip + 12, 8) != 0 : memcmp(h->ip + 8, s->ip + 8, 32) != 0)
        return false;
    return memcmp(h->tcp, s->tcp, 4) == 0;
}

/* The IP header fields that must repeat: IPv4 TOS (DSCP+ECN), DF and TTL;
 * IPv6 version, traffic class, flow label and hop limit. */
static bool same_ip_fields(const struct vole_gro_seg *h, const struct vole_gro_seg *s)
{
    if (s->family == 4)
        return h->ip[1] == s->ip[1] && h->ip[6] == s->ip[6] && h->ip[8] == s->ip[8];
    return memcmp(h->ip, s->ip, 4) == 0 && h->ip[7] == s->ip[7];
}

/* Ack number, header length, window and option bytes. */
static bool same_tcp_fields(const struct vole_gro_seg *h, const struct vole_gro_seg *s)
{
    return h->tcp_hlen == s->tcp_hlen && memcmp(h->tcp + 8, s->tcp + 8, 5) == 0 &&
           memcmp(h->tcp + 14, s->tcp + 14, 2) == 0 && memcmp(h->tcp + 20, s->tcp + 20, h->tcp_hlen - 20u) == 0;
}

bool vole_gro_continues(const struct vole_gro_flow *f, const struct vole_gro_seg *s, uint32_t max_len)
{
    if (s->kind != VOLE_GRO_CANDIDATE || !vole_gro_same_flow(f, s))
        return false;
    /* f->first.tcp is f's head, whose flags byte carries the run's PSH. */
    if (s->seq != f->next_seq || (f->first.tcp[13] & TCP_PSH))
        return false;
    if (f->ip_len + s->payload > max_len)
        return false;
    return same_ip_fields(&f->first, s) && same_tcp_fields(&f->first, s);
}

void vole_gro_hold(struct vole_gro *g, struct vole_gro_flow *f, struct pbuf *p, const struct vole_gro_seg *s)
{
    f->head = p;
    f->tail = p;
    f->first = *s;
    f->next_seq = s->seq + s->payload;
    f->ip_len = s->ip_len;
    f->segs = 1;
    f->born = g->clock++;
    g->held++;
}

void vole_gro_append(struct vole_gro_flow *f, struct pbuf *p, const struct vole_gro_seg *s)
{
    uint8_t *ip = f->head->payload;
    uint8_t *tcp = ip + f->first.ip_hlen;
    uint8_t psh = s->flags & TCP_PSH;

    /* Cannot fail: p is one pbuf holding at least these headers (parse). */
    (void)pbuf_remove_header(p, (size_t)s->ip_hlen + s->tcp_hlen);
    f->tail->next = p;
    f->tail = p;
    f->ip_len += s->payload;
    f->next_seq += s->payload;
    f->segs++;
    tcp[13] |= psh;
    if (f->first.family == 4) {
        u16_t sum;
        wr16(ip + 2, f->ip_len);
        ip[10] = ip[11] = 0;
        sum = inet_chksum(ip, 20);   /* already in network order */
        memcpy(ip + 10, &sum, 2);
    } else {
        wr16(ip + 4, f->ip_len - 40u);
    }
}

struct pbuf *vole_gro_take(struct vole_gro *g, struct vole_gro_flow *f)
{
    struct pbuf *head = f->head;
    uint32_t left = 0;

    for (struct pbuf *q = head; q; q = q->next)
        left += q->len;
    /* left == f->ip_len <= max_len <= 65535: every tot_len fits. */
    for (struct pbuf *q = head; q; q = q->next) {
        q->tot_len = (u16_t)left;
        left -= q->len;
    }
    memset(f, 0, sizeof *f);
    g->held--;
    return head;
}

/* ---- the whole step ---- */

static struct vole_gro_flow *find_flow(struct vole_gro *g, const struct vole_gro_seg *s)
{
    for (size_t i = 0; i < VOLE_GRO_FLOWS; i++)
        if (vole_gro_same_flow(&g->flows[i], s))
            return &g->flows[i];
    return NULL;
}

static struct vole_gro_flow *free_slot(struct vole_gro *g)
{
    for (size_t i = 0; i < VOLE_GRO_FLOWS; i++)
        if (!g->flows[i].head)
            return &g->flows[i];
    return NULL;
}

static struct vole_gro_flow *oldest(struct vole_gro *g)
{
    struct vole_gro_flow *o = NULL;

    for (size_t i = 0; i < VOLE_GRO_FLOWS; i++)
        if (g->flows[i].head && (!o || g->flows[i].born < o->born))
            o = &g->flows[i];
    return o;
}

/* The slot is emptied before deliver runs, so a deliver that re-enters
 * vole_gro_input finds a consistent state. */
static void deliver_run(struct vole_gro *g, struct vole_gro_flow *f, vole_gro_deliver_fn deliver, void *ctx)
{
    uint32_t segs = f->segs;
    struct pbuf *p = vole_gro_take(g, f);

    if (segs > 1)
        g->stats.delivered++;
    else
        g->stats.passed++;
    deliver(ctx, p, segs);
}

static void pass(struct vole_gro *g, struct pbuf *p, vole_gro_deliver_fn deliver, void *ctx)
{
    g->stats.passed++;
    deliver(ctx, p, 1);
}

static void input_candidate(struct vole_gro *g, struct pbuf *p, const struct vole_gro_seg *s,
                            vole_gro_deliver_fn deliver, void *ctx)
{
    struct vole_gro_flow *f = find_flow(g, s);

    if (f && vole_gro_continues(f, s, g->max_len)) {
        vole_gro_append(f, p, s);
        g->stats.merged++;
        if (s->flags & TCP_PSH)   /* nothing may join it: no reason to wait */
            deliver_run(g, f, deliver, ctx);
        return;
    }
    if (f)
        deliver_run(g, f, deliver, ctx);   /* the run ends before p */
    if (s->flags & TCP_PSH) {
        pass(g, p, deliver, ctx);
        return;
    }
    f = free_slot(g);
    if (!f) {
        deliver_run(g, oldest(g), deliver, ctx);
        f = free_slot(g);
    }
    if (f)
        vole_gro_hold(g, f, p, s);
    else
        pass(g, p, deliver, ctx);   /* only if deliver re-entered and refilled every slot */
}

void vole_gro_input(struct vole_gro *g, struct pbuf *p, vole_gro_deliver_fn deliver, void *ctx)
{
    struct vole_gro_seg s;
    struct vole_gro_flow *f;

    vole_gro_parse(p, &s);
    switch (s.kind) {
    case VOLE_GRO_CANDIDATE:
        input_candidate(g, p, &s, deliver, ctx);
        return;
    case VOLE_GRO_TCP:
        /* A FIN, an ACK without data, a retransmission...: after its run. */
        if ((f = find_flow(g, &s)))
            deliver_run(g, f, deliver, ctx);
        break;
    case VOLE_GRO_OPAQUE:
        /* Perhaps TCP of a held flow: let nothing it might follow wait. */
        vole_gro_flush(g, deliver, ctx);
        break;
    case VOLE_GRO_OTHER:
        break;
    }
    pass(g, p, deliver, ctx);
}

void vole_gro_flush(struct vole_gro *g, vole_gro_deliver_fn deliver, void *ctx)
{
    /* Bounded by the runs held on entry; a deliver that re-enters input may
     * leave new ones for the next flush. */
    for (size_t n = g->held; n > 0 && g->held; n--)
        deliver_run(g, oldest(g), deliver, ctx);
}

void vole_gro_drop(struct vole_gro *g)
{
    for (size_t i = 0; i < VOLE_GRO_FLOWS; i++) {
        struct vole_gro_flow *f = &g->flows[i];
        if (f->head) {
            pbuf_free(f->head);   /* frees the chain along next */
            memset(f, 0, sizeof *f);
        }
    }
    g->held = 0;
}
