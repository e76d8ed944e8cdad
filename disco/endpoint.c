/* One endpoint as disco carries it, in Pong and CallMeMaybe (tailscale-wire.md
 * §3.2): 16 address bytes, IPv4 as ::ffff:a.b.c.d, then the port big-endian. */
#include "disco/wire.h"

#include <string.h>

static const uint8_t v4_mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

int disco_ep_write(uint8_t out[DISCO_EP_WIRE_LEN], const struct wg_endpoint *ep)
{
    if (ep->family == 4) {
        memcpy(out, v4_mapped_prefix, sizeof(v4_mapped_prefix));
        memcpy(out + 12, ep->addr, 4);
    } else if (ep->family == 6) {
        memcpy(out, ep->addr, 16);
    } else {
        return -1;
    }
    out[16] = (uint8_t)(ep->port >> 8);
    out[17] = (uint8_t)ep->port;
    return 0;
}

/* A v4-mapped address comes back as family 4, as the rest of vole keeps IPv4. */
void disco_ep_read(struct wg_endpoint *ep, const uint8_t in[DISCO_EP_WIRE_LEN])
{
    memset(ep, 0, sizeof(*ep));
    if (memcmp(in, v4_mapped_prefix, sizeof(v4_mapped_prefix)) == 0) {
        ep->family = 4;
        memcpy(ep->addr, in + 12, 4);
    } else {
        ep->family = 6;
        memcpy(ep->addr, in, 16);
    }
    ep->port = (uint16_t)(in[16] << 8 | in[17]);
}
