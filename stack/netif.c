/* The tunnel netif: bare IP packets, no link layer, no neighbour discovery.
 * lwIP's IPv4 output and IPv6 output both go straight to ops->output. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "lwip/inet_chksum.h"
#include "lwip/ip.h"
#include "lwip/netif.h"

#include "stack/stack_priv.h"
#include "stack/tso.h"

/* IPv6 requires every link to carry 1280-byte packets (RFC 8200 §5). */
#define VOLE_IPV6_MIN_MTU 1280
#define VOLE_IPV4_MIN_MTU 68

/* One packet to the tunnel, seen by the tap first. */
static int send_one(void *ctx, struct pbuf *p)
{
    struct vole_stack *s = ctx;
    if (s->tap)
        s->tap(s->tap_ctx, p, true);
    return s->ops.output(s->ops.ctx, p);
}

/* A new IPv4 ID, and the header checksum that goes with it (the packet may
 * still leave whole: not TCP, or a SYN). h holds the whole header. */
static void set_ip4_id(uint8_t *h, uint16_t id)
{
    u16_t hlen = (u16_t)((h[0] & 15) * 4);
    u16_t sum;

    h[4] = (uint8_t)(id >> 8);
    h[5] = (uint8_t)id;
    h[10] = h[11] = 0;
    sum = inet_chksum(h, hlen);
    memcpy(h + 10, &sum, 2);   /* inet_chksum's result is in memory order */
}

/* With TSO on, TCP packets are checksummed and cut here (stack/tso.h). */
static err_t tunnel_send(struct vole_stack *s, struct pbuf *p)
{
    int err = ERR_OK, n;
    size_t max;
    bool renumber;

    if (!s->max_packet)
        return (err_t)send_one(s, p);
    max = s->max_packet(s->max_packet_ctx, p);
    /* lwIP moves its IPv4 ID by one per segment and tso.c numbers the
     * pieces id, id+1, ...: consecutive segments' pieces would share IDs. A
     * segment about to be cut takes its IDs from the stack's own counter
     * instead (RFC 6864: unique while a fragment of it could be in flight). */
    renumber = max && p->tot_len > max && p->len >= 20 && ((const uint8_t *)p->payload)[0] >> 4 == 4 &&
               p->len >= (((const uint8_t *)p->payload)[0] & 15) * 4;
    if (renumber)
        set_ip4_id(p->payload, s->ip4_id);
    n = vole_tso_output(p, max, send_one, s, &err);
    if (n == 0)
        return (err_t)send_one(s, p);
    if (renumber)
        s->ip4_id = (uint16_t)(s->ip4_id + n);
    s->tso.tcp_out++;
    if (n > 1) {
        s->tso.cut++;
        s->tso.pieces += (uint64_t)n;
    }
    return (err_t)err;
}

static err_t tunnel_output4(struct netif *n, struct pbuf *p, const ip4_addr_t *dst)
{
    (void)dst;   /* one peer set behind the tunnel: WireGuard routes by inner dst */
    return tunnel_send(n->state, p);
}

static err_t tunnel_output6(struct netif *n, struct pbuf *p, const ip6_addr_t *dst)
{
    (void)dst;
    return tunnel_send(n->state, p);
}

static err_t tunnel_init(struct netif *n)
{
    n->name[0] = 'w';
    n->name[1] = 'g';
    n->output = tunnel_output4;
    n->output_ip6 = tunnel_output6;
    n->hwaddr_len = 0;
    /* No NETIF_FLAG_ETHARP/ETHERNET: netif_input() passes packets to ip_input. */
    n->flags = 0;
    return ERR_OK;
}

static void prefix_to_mask(uint8_t prefix, ip4_addr_t *mask)
{
    uint32_t m = prefix ? ~0u << (32 - prefix) : 0;
    ip4_addr_set_u32(mask, lwip_htonl(m));
}

static int check_addrs(uint16_t mtu, const struct vole_stack_addr *addrs, size_t n,
                       char *err, size_t errlen)
{
    size_t n4 = 0, n6 = 0;

    for (size_t i = 0; i < n; i++) {
        const struct vole_stack_addr *a = &addrs[i];
        if (a->family == 4 && a->prefix <= 32) {
            n4++;
        } else if (a->family == 6 && a->prefix <= 128) {
            n6++;
        } else {
            snprintf(err, errlen, "address %zu: bad family %u or prefix /%u", i,
                     a->family, a->prefix);
            return -1;
        }
    }
    if (n4 > 1) {
        snprintf(err, errlen, "lwIP holds one IPv4 address per netif; got %zu", n4);
        return -1;
    }
    if (n6 > LWIP_IPV6_NUM_ADDRESSES) {
        snprintf(err, errlen, "at most %d IPv6 addresses per tunnel; got %zu",
                 LWIP_IPV6_NUM_ADDRESSES, n6);
        return -1;
    }
    if (mtu < VOLE_IPV4_MIN_MTU || (n6 && mtu < VOLE_IPV6_MIN_MTU)) {
        snprintf(err, errlen, "MTU %u too small (IPv4 needs %d, IPv6 %d)", mtu,
                 VOLE_IPV4_MIN_MTU, VOLE_IPV6_MIN_MTU);
        return -1;
    }
    return 0;
}

static const struct vole_stack_addr *first_v4(const struct vole_stack_addr *addrs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (addrs[i].family == 4)
            return &addrs[i];
    return NULL;
}

/* Overlay addresses are assigned, not autoconfigured: mark them preferred at
 * once (no DAD, no lifetimes). lwIP treats static addresses as on-link /64s;
 * everything else reaches the netif through the default route. */
static void set_v6_addrs(struct netif *n, const struct vole_stack_addr *addrs, size_t count)
{
    s8_t slot = 0;

    for (size_t i = 0; i < count; i++) {
        ip6_addr_t a;
        if (addrs[i].family != 6)
            continue;
        memcpy(a.addr, addrs[i].addr, 16);
        ip6_addr_clear_zone(&a);
        netif_ip6_addr_set(n, slot, &a);
        netif_ip6_addr_set_state(n, slot, IP6_ADDR_PREFERRED);
        slot++;
    }
}

int vole_netif_add(struct vole_stack *s, uint16_t mtu,
                   const struct vole_stack_addr *addrs, size_t n_addrs,
                   char *err, size_t errlen)
{
    const struct vole_stack_addr *v4;
    ip4_addr_t ip, mask, gw;

    if (check_addrs(mtu, addrs, n_addrs, err, errlen) < 0)
        return -1;
    ip4_addr_set_zero(&ip);
    ip4_addr_set_zero(&mask);
    ip4_addr_set_zero(&gw);
    v4 = first_v4(addrs, n_addrs);
    if (v4) {
        memcpy(&ip.addr, v4->addr, 4);
        prefix_to_mask(v4->prefix, &mask);
    }
    if (!netif_add(&s->netif, &ip, &mask, &gw, s, tunnel_init, netif_input)) {
        snprintf(err, errlen, "lwIP netif_add failed (too many netifs?)");
        return -1;
    }
    s->netif.mtu = mtu;
    set_v6_addrs(&s->netif, addrs, n_addrs);
    netif_set_link_up(&s->netif);
    netif_set_up(&s->netif);
    if (!netif_default)
        netif_set_default(&s->netif);
    return 0;
}

/* lwIP aborts pcbs bound to the netif's addresses as the addresses go away. */
void vole_netif_remove(struct vole_stack *s)
{
    bool was_default = netif_default == &s->netif;

    netif_set_down(&s->netif);
    netif_remove(&s->netif);
    if (was_default)
        netif_set_default(netif_list);   /* another tunnel, or NULL */
}

static void set_mtu(struct netif *n, uint16_t mtu)
{
    n->mtu = mtu;
#if LWIP_ND6_ALLOW_RA_UPDATES
    n->mtu6 = mtu;
#endif
}

void vole_stack_set_tso(struct vole_stack *s, vole_stack_max_packet_fn fn, void *ctx)
{
    if (fn && !s->max_packet)
        s->plain_mtu = s->netif.mtu;
    if (!fn && s->max_packet)
        set_mtu(&s->netif, s->plain_mtu);
    if (fn)
        set_mtu(&s->netif, VOLE_STACK_TSO_MTU);
    /* lwIP's TCP checksum would cover a whole big segment: wasted. */
    NETIF_SET_CHECKSUM_CTRL(&s->netif, fn ? NETIF_CHECKSUM_ENABLE_ALL & ~NETIF_CHECKSUM_GEN_TCP
                                          : NETIF_CHECKSUM_ENABLE_ALL);
    s->max_packet = fn;
    s->max_packet_ctx = ctx;
}

void vole_stack_tso_stats(const struct vole_stack *s, struct vole_stack_tso_stats *out)
{
    *out = s->tso;
}
