/* Writers of the mesh frames (ForwardPacket, WatchConns, ClosePeer,
 * PeerPresent) and of the two server notices no current server sends
 * (Health, Restarting): rare, but every type of §1.3 gets a writer so that
 * tests and future mesh code never hand-assemble bytes. */
#include "derp/frame.h"

#include <string.h>

#include "derp/frame_wire.h"

size_t derp_write_forward_prefix(uint8_t *out, size_t cap, const uint8_t src[DERP_KEY_LEN],
                                 const uint8_t dst[DERP_KEY_LEN], size_t packet_len)
{
    const size_t prefix = DERP_FRAME_HEADER_LEN + (size_t)2 * DERP_KEY_LEN;
    if (packet_len > DERP_MAX_PACKET_SIZE || cap < prefix)
        return 0;
    derp_write_header(out, cap, DERP_FRAME_FORWARD_PACKET, (uint32_t)((size_t)2 * DERP_KEY_LEN + packet_len));
    memcpy(out + DERP_FRAME_HEADER_LEN, src, DERP_KEY_LEN);
    memcpy(out + DERP_FRAME_HEADER_LEN + DERP_KEY_LEN, dst, DERP_KEY_LEN);
    return prefix;
}

size_t derp_write_watch_conns(uint8_t *out, size_t cap)
{
    return derp_write_header(out, cap, DERP_FRAME_WATCH_CONNS, 0);
}

size_t derp_write_close_peer(uint8_t *out, size_t cap, const uint8_t peer[DERP_KEY_LEN])
{
    if (cap < DERP_FRAME_HEADER_LEN + DERP_KEY_LEN)
        return 0;
    derp_write_header(out, cap, DERP_FRAME_CLOSE_PEER, DERP_KEY_LEN);
    memcpy(out + DERP_FRAME_HEADER_LEN, peer, DERP_KEY_LEN);
    return DERP_FRAME_HEADER_LEN + DERP_KEY_LEN;
}

/* 32 bytes (key), 50 (plus address) or 51 (plus flags). */
static uint32_t peer_present_len(const struct derp_peer_present *p)
{
    if (!p->has_addr)
        return DERP_KEY_LEN;
    return DERP_PEER_PRESENT_MAX - (p->has_flags ? 0 : 1);
}

size_t derp_write_peer_present(uint8_t *out, size_t cap, const struct derp_peer_present *p)
{
    const uint32_t len = peer_present_len(p);
    if (cap < DERP_FRAME_HEADER_LEN + (size_t)len)
        return 0;
    uint8_t *w = out + derp_write_header(out, cap, DERP_FRAME_PEER_PRESENT, len);
    memcpy(w, p->key, DERP_KEY_LEN);
    if (p->has_addr) {
        memcpy(w + DERP_KEY_LEN, p->ip, DERP_PEER_PRESENT_IP_LEN);
        derp_put16(w + DERP_KEY_LEN + DERP_PEER_PRESENT_IP_LEN, p->port);
    }
    if (p->has_addr && p->has_flags)
        w[DERP_PEER_PRESENT_MAX - 1] = p->flags;
    return DERP_FRAME_HEADER_LEN + (size_t)len;
}

size_t derp_write_health(uint8_t *out, size_t cap, const char *problem, size_t len)
{
    /* Far below the client's 1 MiB frame cap is the only sensible size. */
    if (len > DERP_CLIENT_MAX_FRAME || cap < DERP_FRAME_HEADER_LEN + len)
        return 0;
    derp_write_header(out, cap, DERP_FRAME_HEALTH, (uint32_t)len);
    if (len > 0)
        memcpy(out + DERP_FRAME_HEADER_LEN, problem, len);
    return DERP_FRAME_HEADER_LEN + len;
}

size_t derp_write_restarting(uint8_t *out, size_t cap, uint32_t reconnect_in_ms, uint32_t try_for_ms)
{
    if (cap < DERP_FRAME_HEADER_LEN + DERP_RESTARTING_LEN)
        return 0;
    derp_write_header(out, cap, DERP_FRAME_RESTARTING, DERP_RESTARTING_LEN);
    derp_put32(out + DERP_FRAME_HEADER_LEN, reconnect_in_ms);
    derp_put32(out + DERP_FRAME_HEADER_LEN + 4, try_for_ms);
    return DERP_FRAME_HEADER_LEN + DERP_RESTARTING_LEN;
}
