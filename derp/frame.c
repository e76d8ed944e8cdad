/* Writers of the frames a client or a server sends in steady state (§1.3).
 * Each writes the whole frame, or for the packet frames the header and keys
 * only, so the caller can append (or scatter-write) the packet without a copy. */
#include "derp/frame.h"

#include <string.h>

#include "derp/frame_wire.h"

size_t derp_write_header(uint8_t *out, size_t cap, uint8_t type, uint32_t len)
{
    if (cap < DERP_FRAME_HEADER_LEN)
        return 0;
    out[0] = type;
    derp_put32(out + 1, len);
    return DERP_FRAME_HEADER_LEN;
}

/* Header plus a fixed payload; the common shape of most frames. */
static size_t write_small(uint8_t *out, size_t cap, uint8_t type, const uint8_t *payload, uint32_t len)
{
    if (cap < DERP_FRAME_HEADER_LEN + (size_t)len)
        return 0;
    derp_write_header(out, cap, type, len);
    if (len > 0)
        memcpy(out + DERP_FRAME_HEADER_LEN, payload, len);
    return DERP_FRAME_HEADER_LEN + (size_t)len;
}

size_t derp_write_server_key(uint8_t *out, size_t cap, const uint8_t server_pub[DERP_KEY_LEN])
{
    const uint8_t *magic = (const uint8_t *)DERP_MAGIC;   /* bytes, not a C string */
    uint8_t payload[DERP_MAGIC_LEN + DERP_KEY_LEN];
    memcpy(payload, magic, DERP_MAGIC_LEN);
    memcpy(payload + DERP_MAGIC_LEN, server_pub, DERP_KEY_LEN);
    return write_small(out, cap, DERP_FRAME_SERVER_KEY, payload, sizeof(payload));
}

size_t derp_write_packet_prefix(uint8_t *out, size_t cap, uint8_t type, const uint8_t key[DERP_KEY_LEN],
                                size_t packet_len)
{
    if (type != DERP_FRAME_SEND_PACKET && type != DERP_FRAME_RECV_PACKET)
        return 0;
    /* The receiving side closes the connection on a larger packet (§1.6). */
    if (packet_len > DERP_MAX_PACKET_SIZE || cap < DERP_FRAME_HEADER_LEN + DERP_KEY_LEN)
        return 0;
    derp_write_header(out, cap, type, (uint32_t)(DERP_KEY_LEN + packet_len));
    memcpy(out + DERP_FRAME_HEADER_LEN, key, DERP_KEY_LEN);
    return DERP_FRAME_HEADER_LEN + DERP_KEY_LEN;
}

size_t derp_write_keep_alive(uint8_t *out, size_t cap)
{
    return write_small(out, cap, DERP_FRAME_KEEP_ALIVE, NULL, 0);
}

size_t derp_write_note_preferred(uint8_t *out, size_t cap, bool preferred)
{
    const uint8_t v = preferred ? 1 : 0;
    return write_small(out, cap, DERP_FRAME_NOTE_PREFERRED, &v, 1);
}

size_t derp_write_peer_gone(uint8_t *out, size_t cap, const uint8_t peer[DERP_KEY_LEN], uint8_t reason)
{
    uint8_t payload[DERP_KEY_LEN + 1];
    memcpy(payload, peer, DERP_KEY_LEN);
    payload[DERP_KEY_LEN] = reason;
    return write_small(out, cap, DERP_FRAME_PEER_GONE, payload, sizeof(payload));
}

size_t derp_write_ping(uint8_t *out, size_t cap, uint8_t type, const uint8_t data[DERP_PING_LEN])
{
    if (type != DERP_FRAME_PING && type != DERP_FRAME_PONG)
        return 0;
    return write_small(out, cap, type, data, DERP_PING_LEN);
}
