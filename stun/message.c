/* The STUN header: the demux check, the checked opening every parser starts
 * with, and the status strings. */
#include "stun/wire.h"

bool stun_is(const uint8_t *b, size_t len)
{
    return len >= STUN_HEADER_LEN && (b[0] & 0xC0) == 0 &&
           stun_get32(b + 4) == STUN_MAGIC_COOKIE;
}

/* The order of the checks decides which error a bad datagram reports: first
 * whether it can be STUN at all, then whether its length field is usable. */
enum stun_status stun_msg_open(struct stun_msg *m, const uint8_t *b, size_t len, bool need_cookie)
{
    if (len < STUN_HEADER_LEN)
        return STUN_ERR_TRUNCATED;
    if ((b[0] & 0xC0) != 0)
        return STUN_ERR_NOT_STUN;   /* RFC 8489 §5: the top two bits are zero */
    bool classic = stun_get32(b + 4) != STUN_MAGIC_COOKIE;
    if (classic && need_cookie)
        return STUN_ERR_NOT_STUN;
    size_t body = stun_get16(b + 2);
    if (body % 4 != 0)
        return STUN_ERR_BAD_LENGTH;  /* every attribute is padded to 4 bytes */
    if (body > len - STUN_HEADER_LEN)
        return STUN_ERR_TRUNCATED;
    m->b = b;
    m->end = STUN_HEADER_LEN + body;
    m->type = stun_get16(b);
    m->classic = classic;
    return STUN_OK;
}

const uint8_t *stun_msg_txid(const struct stun_msg *m)
{
    return m->classic ? m->b + 4 : m->b + 8;
}

size_t stun_msg_txid_len(const struct stun_msg *m)
{
    return m->classic ? STUN_CLASSIC_TXID_LEN : STUN_TXID_LEN;
}

const char *stun_status_str(enum stun_status s)
{
    switch (s) {
    case STUN_OK: return "ok";
    case STUN_ERR_NOT_STUN: return "not a STUN message";
    case STUN_ERR_TRUNCATED: return "truncated STUN message";
    case STUN_ERR_BAD_LENGTH: return "bad STUN length or malformed attribute";
    case STUN_ERR_NOT_BINDING: return "not the expected STUN binding message";
    case STUN_ERR_BAD_FINGERPRINT: return "bad or misplaced STUN fingerprint";
    case STUN_ERR_UNKNOWN_REQUIRED: return "unknown comprehension-required STUN attribute";
    case STUN_ERR_NO_ADDRESS: return "STUN response without a mapped address";
    }
    return "unknown STUN status";
}
