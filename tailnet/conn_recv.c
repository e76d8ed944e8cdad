/* Input: the shared socket's datagrams (node/classify.h: STUN, disco, else
 * WireGuard with its real source) and DERP's RecvPackets (disco, else
 * WireGuard with the sending peer's placeholder as source). */
#include "tailnet/conn_int.h"

#include <string.h>

#include "node/classify.h"
#include "node/tunnel.h"

void conn_on_datagram(void *ctx, const struct wg_endpoint *src, uint8_t *buf, size_t len)
{
    struct vole_conn *c = ctx;

    switch (vole_classify(buf, len)) {
    case VOLE_PKT_STUN:
        if (!conn_stun_input(c, src, buf, len))
            c->st.drop_stun_unclaimed++;
        return;
    case VOLE_PKT_DISCO:
        conn_disco_input(c, buf, len, src, NULL, 0);
        return;
    case VOLE_PKT_WIREGUARD:
        c->st.udp_wg_rx++;
        wg_device_receive(c->dev, src, buf, len, vole_now_ns());
        return;
    }
}

void conn_derp_input(struct vole_conn *c, struct conn_region *r, const uint8_t src[32], const uint8_t *pkt,
                     size_t len)
{
    struct conn_peer *p = conn_peer_by_key(c, src);

    if (!p || !p->active) {
        c->st.drop_derp_unknown_sender++;
        conn_held_keep(c, r->id, src, pkt, len);
        return;
    }
    if (p->heard_region != r->id) {
        /* The reverse route: replies follow the region the peer used. */
        p->heard_region = r->id;
        conn_peer_update_path(c, p, vole_now_ns());
    }
    switch (vole_classify(pkt, len)) {
    case VOLE_PKT_DISCO:
        conn_disco_input(c, pkt, len, NULL, p, r->id);
        return;
    case VOLE_PKT_STUN:
        c->st.drop_stun_unclaimed++;   /* nobody relays STUN through DERP */
        return;
    case VOLE_PKT_WIREGUARD:
        if (len > DERP_MAX_PACKET_SIZE)
            return;
        /* The core may write into what it receives; DERP's buffer is the client's. */
        memcpy(c->scratch, pkt, len);
        c->st.derp_wg_rx++;
        wg_device_receive(c->dev, &p->placeholder, c->scratch, len, vole_now_ns());
        return;
    }
}
