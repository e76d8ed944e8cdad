/* Echo requests from a raw pcb per pinger (ICMP or ICMPv6), replies matched
 * by identifier and sequence number. The raw pcb sees every ICMP packet from
 * the destination; anything that is not a reply to us is left to lwIP (an
 * echo request from the peer must still be answered). */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lwip/icmp.h"
#include "lwip/icmp6.h"
#include "lwip/inet_chksum.h"
#include "lwip/ip.h"
#include "lwip/prot/icmp6.h"
#include "lwip/raw.h"

#include "stack/ping.h"
#include "stack/stack.h"

#define VOLE_ICMP_HLEN 8
/* Outstanding requests remembered per pinger, by seq modulo this. */
#define VOLE_PING_SLOTS 256

struct ping_slot {
    uint64_t sent_ns;
    uint16_t seq;
    bool pending;
};

struct vole_pinger {
    struct raw_pcb *pcb;
    bool v6;
    uint16_t id;
    vole_ping_reply_fn cb;
    void *ctx;
    struct ping_slot slots[VOLE_PING_SLOTS];
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint8_t reply_type(const struct vole_pinger *pg)
{
    return pg->v6 ? ICMP6_TYPE_EREP : ICMP_ER;
}

/* Nonzero: the packet was ours and is consumed. p points at the IP header. */
static u8_t on_raw_recv(void *arg, struct raw_pcb *pcb, struct pbuf *p, const ip_addr_t *src)
{
    struct vole_pinger *pg = arg;
    u16_t hlen = ip_current_header_tot_len();
    uint8_t h[VOLE_ICMP_HLEN];
    struct ping_slot *slot;
    uint16_t seq;
    size_t payload_len;
    (void)pcb; (void)src;

    if (pbuf_copy_partial(p, h, sizeof h, hlen) != sizeof h || h[0] != reply_type(pg) ||
        h[1] != 0 || (uint16_t)(h[4] << 8 | h[5]) != pg->id)
        return 0;
    seq = (uint16_t)(h[6] << 8 | h[7]);
    slot = &pg->slots[seq % VOLE_PING_SLOTS];
    payload_len = (size_t)p->tot_len - hlen - sizeof h;
    pbuf_free(p);
    if (!slot->pending || slot->seq != seq)
        return 1;   /* ours, but a duplicate or too late */
    slot->pending = false;
    pg->cb(pg->ctx, seq, payload_len, now_ns() - slot->sent_ns);
    return 1;
}

struct vole_pinger *vole_pinger_new(struct vole_stack *s, const ip_addr_t *dst,
                                    vole_ping_reply_fn cb, void *ctx)
{
    struct vole_pinger *pg;
    bool v6 = IP_IS_V6(dst);

    if (!cb)
        return NULL;
    pg = calloc(1, sizeof *pg);
    if (!pg)
        return NULL;
    pg->pcb = raw_new_ip_type(v6 ? IPADDR_TYPE_V6 : IPADDR_TYPE_V4,
                              v6 ? IP6_NEXTH_ICMP6 : IP_PROTO_ICMP);
    if (!pg->pcb) {
        free(pg);
        return NULL;
    }
    pg->v6 = v6;
    pg->id = (uint16_t)LWIP_RAND();
    pg->cb = cb;
    pg->ctx = ctx;
    if (v6) {
        /* ICMPv6 sums a pseudo-header with the source address lwIP picks,
         * so lwIP must fill the checksum in (at offset 2) itself. */
        pg->pcb->chksum_reqd = 1;
        pg->pcb->chksum_offset = 2;
    }
    raw_bind_netif(pg->pcb, vole_stack_netif(s));
    raw_connect(pg->pcb, dst);   /* only packets from dst reach on_raw_recv */
    raw_recv(pg->pcb, on_raw_recv, pg);
    return pg;
}

static void fill_request(const struct vole_pinger *pg, uint8_t *b, uint16_t seq, size_t len)
{
    b[0] = pg->v6 ? ICMP6_TYPE_EREQ : ICMP_ECHO;
    b[1] = 0;
    b[2] = b[3] = 0;
    b[4] = (uint8_t)(pg->id >> 8);
    b[5] = (uint8_t)pg->id;
    b[6] = (uint8_t)(seq >> 8);
    b[7] = (uint8_t)seq;
    for (size_t i = VOLE_ICMP_HLEN; i < len; i++)
        b[i] = (uint8_t)i;
    if (!pg->v6) {
        u16_t ck = inet_chksum(b, (u16_t)len);   /* already in network order */
        memcpy(b + 2, &ck, sizeof ck);
    }
}

int vole_pinger_send(struct vole_pinger *pg, uint16_t seq, size_t payload_len)
{
    size_t len = VOLE_ICMP_HLEN + payload_len;
    struct ping_slot *slot = &pg->slots[seq % VOLE_PING_SLOTS];
    struct pbuf *p;
    err_t e;

    if (payload_len > VOLE_PING_MAX_PAYLOAD)
        return ERR_VAL;
    /* PBUF_RAM is one contiguous buffer, with headroom for the IP header. */
    p = pbuf_alloc(PBUF_IP, (u16_t)len, PBUF_RAM);
    if (!p)
        return ERR_MEM;
    fill_request(pg, p->payload, seq, len);
    slot->seq = seq;
    slot->sent_ns = now_ns();
    slot->pending = true;
    e = raw_send(pg->pcb, p);
    pbuf_free(p);
    if (e != ERR_OK)
        slot->pending = false;
    return e;
}

void vole_pinger_free(struct vole_pinger *pg)
{
    if (!pg)
        return;
    raw_remove(pg->pcb);
    free(pg);
}
