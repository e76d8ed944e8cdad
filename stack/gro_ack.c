/* The ACK policy for merged segments: see gro_ack.h. */
#include <stdbool.h>
#include <string.h>

#include "lwip/ip_addr.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/tcp.h"

#include "stack/gro_ack.h"

static bool addr_is(const ip_addr_t *a, const uint8_t *b, int family)
{
    if (family == 4) {
        u32_t v;
        if (!IP_IS_V4(a))
            return false;
        memcpy(&v, b, 4);
        return ip_2_ip4(a)->addr == v;
    }
    return IP_IS_V6(a) && memcmp(ip_2_ip6(a)->addr, b, 16) == 0;
}

void vole_gro_ack_hint(const struct pbuf *p)
{
    const uint8_t *ip = p->payload, *src, *dst, *tcp;
    int family = p->len ? ip[0] >> 4 : 0;
    size_t ih = family == 4 ? 20 : 40;
    u16_t sport, dport;

    /* Merged packets come from stack/gro.c: IPv4 with IHL 5 or IPv6 with TCP
     * next, headers whole in the first pbuf. */
    if ((family != 4 && family != 6) || p->len < ih + 20)
        return;
    src = ip + (family == 4 ? 12 : 8);
    dst = src + (family == 4 ? 4 : 16);
    tcp = ip + ih;
    sport = (u16_t)(tcp[0] << 8 | tcp[1]);
    dport = (u16_t)(tcp[2] << 8 | tcp[3]);
    for (struct tcp_pcb *pcb = tcp_active_pcbs; pcb; pcb = pcb->next)
        if (pcb->remote_port == sport && pcb->local_port == dport && addr_is(&pcb->remote_ip, src, family) &&
            addr_is(&pcb->local_ip, dst, family)) {
            tcp_set_flags(pcb, TF_ACK_DELAY);
            return;
        }
}
