/* STUN attributes: the bounds-checked walk over a message's TLVs, and which
 * comprehension-required types vole understands. */
#include "stun/wire.h"

void stun_walk_init(struct stun_attr_walk *w, const struct stun_msg *m)
{
    w->m = m;
    w->pos = STUN_HEADER_LEN;
    w->status = STUN_OK;
}

bool stun_walk_next(struct stun_attr_walk *w, struct stun_attr *a)
{
    size_t end = w->m->end;
    if (w->status != STUN_OK || w->pos >= end)
        return false;
    /* The message length is a multiple of 4 and so is every padded attribute,
     * so fewer than 4 bytes left cannot happen; checked anyway, it is cheap. */
    if (end - w->pos < STUN_ATTR_HEADER_LEN) {
        w->status = STUN_ERR_TRUNCATED;
        return false;
    }
    const uint8_t *p = w->m->b + w->pos;
    size_t room = end - w->pos - STUN_ATTR_HEADER_LEN;
    a->type = stun_get16(p);
    a->len = stun_get16(p + 2);
    if (stun_pad4(a->len) > room) {
        w->status = STUN_ERR_TRUNCATED;   /* value or its padding runs past the end */
        return false;
    }
    a->value = p + STUN_ATTR_HEADER_LEN;
    a->offset = w->pos;
    w->pos += STUN_ATTR_HEADER_LEN + stun_pad4(a->len);
    return true;
}

/* Understood means vole can act correctly on it, which for most of these is to
 * ignore it: address attributes and RFC 3489's response-only ones mean nothing
 * in a request, and authentication is unused (vole's server is open, like
 * derper and public STUN servers). Left out on purpose, so they draw a 420:
 * RESPONSE-ADDRESS (0x0002), PADDING (0x0026), RESPONSE-PORT (0x0027) and ICE's
 * PRIORITY/USE-CANDIDATE, which ask for something vole does not do. */
bool stun_attr_known(uint16_t type)
{
    switch (type) {
    case STUN_ATTR_MAPPED_ADDRESS:
    case STUN_ATTR_CHANGE_REQUEST:
    case 0x0004:   /* SOURCE-ADDRESS (RFC 3489) */
    case 0x0005:   /* CHANGED-ADDRESS (RFC 3489) */
    case 0x0006:   /* USERNAME */
    case STUN_ATTR_MESSAGE_INTEGRITY:
    case STUN_ATTR_ERROR_CODE:
    case STUN_ATTR_UNKNOWN_ATTRIBUTES:
    case 0x000B:   /* REFLECTED-FROM (RFC 3489) */
    case 0x0014:   /* REALM */
    case 0x0015:   /* NONCE */
    case STUN_ATTR_MESSAGE_INTEGRITY256:
    case 0x001D:   /* PASSWORD-ALGORITHM */
    case 0x001E:   /* USERHASH */
    case STUN_ATTR_XOR_MAPPED_ADDRESS:
        return true;
    default:
        return false;
    }
}
