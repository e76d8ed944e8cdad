/* Parsers of single frames' payloads, each exactly as strict as the Go side
 * that reads that frame (§1.3): the length rules that make Go close the
 * connection or drop the frame make these return -1; bytes Go ignores
 * (ServerKey past 40, PeerGone past the reason, Ping past 8) are ignored. */
#include "derp/frame.h"

#include <string.h>

#include "derp/frame_wire.h"

int derp_parse_server_key(const struct derp_frame *f, uint8_t server_pub[DERP_KEY_LEN])
{
    if (f->type != DERP_FRAME_SERVER_KEY || f->len < DERP_MAGIC_LEN + DERP_KEY_LEN || f->len > DERP_SERVER_KEY_MAX)
        return -1;
    if (memcmp(f->payload, DERP_MAGIC, DERP_MAGIC_LEN) != 0)
        return -1;
    memcpy(server_pub, f->payload + DERP_MAGIC_LEN, DERP_KEY_LEN);
    return 0;
}

/* The packet after `keys` 32-byte keys. An empty packet is valid; a larger
 * one than MaxPacketSize is what Go's server closes on, and since no server
 * can then relay one, a client rejects it in RecvPacket too. */
static int split_packet(const struct derp_frame *f, size_t keys, const uint8_t **pkt, size_t *pkt_len)
{
    if (f->len < keys * DERP_KEY_LEN || f->len - keys * DERP_KEY_LEN > DERP_MAX_PACKET_SIZE)
        return -1;
    *pkt = f->payload + keys * DERP_KEY_LEN;
    *pkt_len = f->len - keys * DERP_KEY_LEN;
    return 0;
}

int derp_parse_packet(const struct derp_frame *f, const uint8_t **key, const uint8_t **pkt, size_t *pkt_len)
{
    if (f->type != DERP_FRAME_SEND_PACKET && f->type != DERP_FRAME_RECV_PACKET)
        return -1;
    if (split_packet(f, 1, pkt, pkt_len) != 0)
        return -1;
    *key = f->payload;
    return 0;
}

int derp_parse_forward_packet(const struct derp_frame *f, const uint8_t **src, const uint8_t **dst,
                              const uint8_t **pkt, size_t *pkt_len)
{
    if (f->type != DERP_FRAME_FORWARD_PACKET || split_packet(f, 2, pkt, pkt_len) != 0)
        return -1;
    *src = f->payload;
    *dst = f->payload + DERP_KEY_LEN;
    return 0;
}

int derp_parse_peer_gone(const struct derp_frame *f, uint8_t peer[DERP_KEY_LEN], uint8_t *reason)
{
    if (f->type != DERP_FRAME_PEER_GONE || f->len < DERP_KEY_LEN)
        return -1;
    memcpy(peer, f->payload, DERP_KEY_LEN);
    /* Old servers send the key alone, meaning Disconnected. */
    *reason = f->len > DERP_KEY_LEN ? f->payload[DERP_KEY_LEN] : DERP_PEER_GONE_DISCONNECTED;
    return 0;
}

int derp_parse_note_preferred(const struct derp_frame *f, bool *preferred)
{
    if (f->type != DERP_FRAME_NOTE_PREFERRED || f->len != 1)
        return -1;
    *preferred = f->payload[0] != 0;
    return 0;
}

int derp_parse_ping(const struct derp_frame *f, uint8_t data[DERP_PING_LEN])
{
    if ((f->type != DERP_FRAME_PING && f->type != DERP_FRAME_PONG) || f->len < DERP_PING_LEN)
        return -1;
    memcpy(data, f->payload, DERP_PING_LEN);
    return 0;
}

int derp_parse_peer_present(const struct derp_frame *f, struct derp_peer_present *p)
{
    const size_t addr_end = DERP_KEY_LEN + DERP_PEER_PRESENT_IP_LEN + 2;
    if (f->type != DERP_FRAME_PEER_PRESENT || f->len < DERP_KEY_LEN)
        return -1;
    memset(p, 0, sizeof(*p));
    memcpy(p->key, f->payload, DERP_KEY_LEN);
    p->has_addr = f->len >= addr_end;
    if (p->has_addr) {
        memcpy(p->ip, f->payload + DERP_KEY_LEN, DERP_PEER_PRESENT_IP_LEN);
        p->port = derp_get16(f->payload + DERP_KEY_LEN + DERP_PEER_PRESENT_IP_LEN);
    }
    p->has_flags = f->len > addr_end;
    if (p->has_flags)
        p->flags = f->payload[addr_end];
    return 0;
}

int derp_parse_close_peer(const struct derp_frame *f, uint8_t peer[DERP_KEY_LEN])
{
    if (f->type != DERP_FRAME_CLOSE_PEER || f->len != DERP_KEY_LEN)
        return -1;
    memcpy(peer, f->payload, DERP_KEY_LEN);
    return 0;
}

int derp_parse_watch_conns(const struct derp_frame *f)
{
    return f->type == DERP_FRAME_WATCH_CONNS && f->len == 0 ? 0 : -1;
}

int derp_parse_restarting(const struct derp_frame *f, uint32_t *reconnect_in_ms, uint32_t *try_for_ms)
{
    if (f->type != DERP_FRAME_RESTARTING || f->len < DERP_RESTARTING_LEN)
        return -1;
    *reconnect_in_ms = derp_get32(f->payload);
    *try_for_ms = derp_get32(f->payload + 4);
    return 0;
}

bool derp_looks_like_disco(const uint8_t *pkt, size_t len)
{
    return len >= DERP_DISCO_MIN_LEN && memcmp(pkt, DERP_DISCO_MAGIC, DERP_DISCO_MAGIC_LEN) == 0;
}
