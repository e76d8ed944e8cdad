/* Lowering the MSS of live TCP connections when the path toward a peer
 * shrinks (issue #7). pcb->mss is the size tcp_write cuts new segments to.
 * Segments already sent keep their size (retransmissions are fragmented by
 * the tunnel); segments queued but not yet sent are cut down to the new MSS.
 * The last one must be: tcp_write appends to it and asserts that it is no
 * larger than the MSS. A TSO stack (issue #8) is left alone: its segments
 * are cut to the path packet by packet as they leave (stack/tso.h). */
#include "lwip/ip_addr.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/tcp.h"

#include "stack/stack_priv.h"

/* Below this a segment carries more option bytes than data (timestamps and
 * SACK take up to 40); no path the tunnel keeps direct is this small. */
#define VOLE_MSS_FLOOR 64

/* Is the pcb's local address one of this netif's? Then it is this stack's. */
static bool pcb_on_netif(const struct tcp_pcb *pcb, struct netif *n)
{
    if (IP_IS_V6_VAL(pcb->local_ip))
        return netif_get_ip6_addr_match(n, ip_2_ip6(&pcb->local_ip)) >= 0;
    return ip4_addr_eq(ip_2_ip4(&pcb->local_ip), netif_ip4_addr(n));
}

/* Option bytes a segment carries, as tcp_write counts them (vole sets no
 * LWIP_HOOK_TCP_OUT_TCPOPT_LENGTH, so the flags say it all). */
static u16_t seg_optlen(const struct tcp_seg *seg)
{
    return (u16_t)LWIP_TCP_OPT_LENGTH(seg->flags);
}

/* Cuts one unsent segment into pieces of at most pcb->mss with its options.
 * lwIP splits only the head of pcb->unsent, so each split makes seg the head
 * for the call; the remainder is linked after seg. false: out of memory. */
static bool split_unsent(struct tcp_pcb *pcb, struct tcp_seg *seg)
{
    struct tcp_seg *head = pcb->unsent;
    u16_t optlen = seg_optlen(seg);
    bool ok = true;

    if (pcb->mss <= optlen)
        return false;
    pcb->unsent = seg;
    while (ok && seg && seg->len + optlen > pcb->mss) {
        ok = tcp_split_unsent_seg(pcb, (u16_t)(pcb->mss - optlen)) == ERR_OK;
        seg = seg->next;
        pcb->unsent = seg;
    }
    pcb->unsent = head;
    return ok;
}

static struct tcp_seg *last_unsent(const struct tcp_pcb *pcb)
{
    struct tcp_seg *seg = pcb->unsent;

    while (seg && seg->next)
        seg = seg->next;
    return seg;
}

static bool lower_one(struct tcp_pcb *pcb, u16_t mss)
{
    u16_t old = pcb->mss;
    struct tcp_seg *last;

    if (mss >= old)
        return false;
    pcb->mss = mss;
    for (struct tcp_seg *seg = pcb->unsent; seg; ) {
        struct tcp_seg *next = seg->next;   /* the pieces of seg are done too */
        if (!split_unsent(pcb, seg))
            break;
        while (seg->next != next)
            seg = seg->next;
        seg = next;
    }
    /* A split that failed (memory) leaves an oversized tail: keep the MSS
     * high enough for it rather than trip tcp_write's assertion. */
    last = last_unsent(pcb);
    if (last && last->len + seg_optlen(last) > pcb->mss)
        pcb->mss = (u16_t)(last->len + seg_optlen(last));
#if TCP_OVERSIZE
    /* Room left in the tail's pbuf was sized for the old MSS; tcp_write
     * asserts it fits the new one. Without it, tcp_write chains a new pbuf. */
    pcb->unsent_oversize = 0;
#if TCP_OVERSIZE_DBGCHECK
    if (last)
        last->oversize_left = 0;
#endif
#endif
    return pcb->mss < old;
}

size_t vole_stack_lower_mss(struct vole_stack *s, const ip_addr_t *remote, uint16_t mss)
{
    size_t changed = 0;

    if (!s || !remote || s->max_packet)
        return 0;
    if (mss < VOLE_MSS_FLOOR)
        mss = VOLE_MSS_FLOOR;
    for (struct tcp_pcb *pcb = tcp_active_pcbs; pcb; pcb = pcb->next) {
        if (!ip_addr_zoneless_eq(&pcb->remote_ip, remote) || !pcb_on_netif(pcb, &s->netif))
            continue;
        if (lower_one(pcb, mss))
            changed++;
    }
    return changed;
}
