/* WireGuard handshake initiations that arrive over DERP a moment before
 * the coordinator has told us about their sender. The coordinator sends a
 * client's node to the agent and the agent's node to the client at the same
 * time; the client starts its handshake the moment it learns the agent, and
 * if that initiation overtakes the client's node on its way to the agent it
 * would be dropped, and WireGuard would retry only after 5 s (REKEY_TIMEOUT).
 * So the last initiation per unknown key is kept for CONN_HELD_NS and
 * replayed when the key becomes a peer. */
#include "tailnet/conn_int.h"

#include <string.h>

#include "node/tunnel.h"

/* WireGuard's handshake initiation: type 1, 148 bytes. */
#define WG_INITIATION_TYPE 1
#define WG_INITIATION_LEN 148

static bool is_initiation(const uint8_t *pkt, size_t len)
{
    return len == WG_INITIATION_LEN && pkt[0] == WG_INITIATION_TYPE && pkt[1] == 0 && pkt[2] == 0 && pkt[3] == 0;
}

/* The slot for key: its own, else a free or expired one, else the oldest. */
static struct conn_held *slot_for(struct vole_conn *c, const uint8_t key[32], uint64_t now)
{
    struct conn_held *best = &c->held[0];

    for (size_t i = 0; i < CONN_HELD_MAX; i++) {
        struct conn_held *h = &c->held[i];
        bool stale = !h->at || now - h->at > CONN_HELD_NS;
        if (h->at && memcmp(h->key, key, 32) == 0)
            return h;
        if (stale || (best->at && h->at < best->at))
            best = h;
    }
    return best;
}

bool conn_held_keep(struct vole_conn *c, int32_t region, const uint8_t key[32], const uint8_t *pkt, size_t len)
{
    uint64_t now = vole_now_ns();
    struct conn_held *h;

    if (!is_initiation(pkt, len))
        return false;
    h = slot_for(c, key, now);
    memcpy(h->key, key, 32);
    memcpy(h->pkt, pkt, len);
    h->region = region;
    h->at = now;
    c->st.held_initiations++;
    return true;
}

void conn_held_replay(struct vole_conn *c, const uint8_t key[32])
{
    uint64_t now = vole_now_ns();

    for (size_t i = 0; i < CONN_HELD_MAX; i++) {
        struct conn_held *h = &c->held[i];
        struct conn_region *r;
        uint8_t pkt[WG_INITIATION_LEN];

        uint64_t at = h->at;

        if (!at || memcmp(h->key, key, 32) != 0)
            continue;
        h->at = 0;
        if (now - at > CONN_HELD_NS || !(r = conn_derp_region(c, h->region, false)))
            continue;
        memcpy(pkt, h->pkt, sizeof pkt);   /* the input may modify it */
        c->st.replayed_initiations++;
        conn_derp_input(c, r, key, pkt, sizeof pkt);
    }
}
