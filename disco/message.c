/* The plaintext inside the box (tailscale-wire.md §3.2): type, version, then
 * a payload per type. Parsers ignore trailing bytes and the ping/pong version
 * byte, so Coder's padded version-1 messages and upstream's unpadded version-0
 * ones interoperate. */
#include "disco/wire.h"

#include <string.h>

#define INVALID_LEN SIZE_MAX

static size_t payload_len(const struct disco_msg *m, bool padded)
{
    switch (m->type) {
    case DISCO_PING:
        if (padded)
            return DISCO_PADDED_PAYLOAD;   /* TxID, NodeKey, zeros to 1230 */
        if (m->padding > DISCO_MAX_PLAINTEXT)
            return INVALID_LEN;
        return (m->has_node_key ? DISCO_PING_KEY_PAYLOAD : DISCO_PING_MIN_PAYLOAD) + m->padding;
    case DISCO_PONG:
        if (padded)
            return DISCO_PADDED_PAYLOAD;
        if (m->padding > DISCO_MAX_PLAINTEXT)
            return INVALID_LEN;
        return DISCO_PONG_PAYLOAD + m->padding;   /* issue #7: as large as the ping it answers */
    case DISCO_CALL_ME_MAYBE:   /* never padded: Coder keeps it version 0 */
        return m->n_eps <= DISCO_MAX_ENDPOINTS ? DISCO_EP_WIRE_LEN * m->n_eps : INVALID_LEN;
    }
    return INVALID_LEN;
}

/* Fields only; the caller zeroed the payload, so padding is already there. */
static int write_payload(uint8_t *p, const struct disco_msg *m)
{
    switch (m->type) {
    case DISCO_PING:
        memcpy(p, m->txid, DISCO_TXID_LEN);
        if (m->has_node_key)
            memcpy(p + DISCO_TXID_LEN, m->node_key, DISCO_KEY_LEN);
        return 0;
    case DISCO_PONG:
        memcpy(p, m->txid, DISCO_TXID_LEN);
        return disco_ep_write(p + DISCO_TXID_LEN, &m->src);
    case DISCO_CALL_ME_MAYBE:
        for (size_t i = 0; i < m->n_eps; i++)
            if (disco_ep_write(p + i * DISCO_EP_WIRE_LEN, &m->eps[i]) != 0)
                return -1;
        return 0;
    }
    return -1;
}

size_t disco_msg_encode(uint8_t *p, size_t cap, const struct disco_msg *m, bool padded)
{
    size_t n = payload_len(m, padded);
    if (n == INVALID_LEN || cap < DISCO_MSG_HEADER_LEN || n > cap - DISCO_MSG_HEADER_LEN)
        return 0;
    memset(p, 0, DISCO_MSG_HEADER_LEN + n);
    p[0] = (uint8_t)m->type;
    /* Coder's padded ping and pong say version 1; otherwise the caller's (upstream: 0). */
    p[1] = padded && m->type != DISCO_CALL_ME_MAYBE ? DISCO_PADDED_VERSION : m->version;
    if (write_payload(p + DISCO_MSG_HEADER_LEN, m) != 0)
        return 0;
    return DISCO_MSG_HEADER_LEN + n;
}

/* At least the TxID; the node key if 32 more bytes follow (old clients send none). */
static int read_ping(const uint8_t *p, size_t n, struct disco_msg *m)
{
    if (n < DISCO_PING_MIN_PAYLOAD)
        return -1;
    memcpy(m->txid, p, DISCO_TXID_LEN);
    m->has_node_key = n >= DISCO_PING_KEY_PAYLOAD;
    if (m->has_node_key)
        memcpy(m->node_key, p + DISCO_TXID_LEN, DISCO_KEY_LEN);
    m->padding = n - (m->has_node_key ? DISCO_PING_KEY_PAYLOAD : DISCO_PING_MIN_PAYLOAD);
    return 0;
}

static int read_pong(const uint8_t *p, size_t n, struct disco_msg *m)
{
    if (n < DISCO_PONG_PAYLOAD)
        return -1;
    memcpy(m->txid, p, DISCO_TXID_LEN);
    disco_ep_read(&m->src, p + DISCO_TXID_LEN);
    m->padding = n - DISCO_PONG_PAYLOAD;
    return 0;
}

/* Parsed only when version 0 and a non-empty multiple of 18 bytes; anything
 * else is a valid message with an empty list. Endpoints past
 * DISCO_MAX_ENDPOINTS are ignored. */
static int read_call_me_maybe(const uint8_t *p, size_t n, struct disco_msg *m)
{
    if (m->version != 0 || n == 0 || n % DISCO_EP_WIRE_LEN != 0)
        return 0;
    size_t count = n / DISCO_EP_WIRE_LEN;
    m->n_eps = count < DISCO_MAX_ENDPOINTS ? count : DISCO_MAX_ENDPOINTS;
    for (size_t i = 0; i < m->n_eps; i++)
        disco_ep_read(&m->eps[i], p + i * DISCO_EP_WIRE_LEN);
    return 0;
}

int disco_msg_decode(const uint8_t *p, size_t len, struct disco_msg *m)
{
    memset(m, 0, sizeof(*m));
    if (len < DISCO_MSG_HEADER_LEN)
        return -1;
    m->version = p[1];
    const uint8_t *payload = p + DISCO_MSG_HEADER_LEN;
    size_t n = len - DISCO_MSG_HEADER_LEN;
    switch (p[0]) {
    case DISCO_PING:
        m->type = DISCO_PING;
        return read_ping(payload, n, m);
    case DISCO_PONG:
        m->type = DISCO_PONG;
        return read_pong(payload, n, m);
    case DISCO_CALL_ME_MAYBE:
        m->type = DISCO_CALL_ME_MAYBE;
        return read_call_me_maybe(payload, n, m);
    default:   /* 0x04-0x09 are upstream-only (peer relays), not in the Coder fork */
        return -1;
    }
}
