#include "stun/fingerprint.h"

#include <zlib.h>

uint32_t stun_fingerprint(const uint8_t *msg, size_t len)
{
    /* zlib's crc32 is CRC-32/ISO-HDLC, the one RFC 8489 names. STUN messages
     * are far below uInt's range, so the cast loses nothing. */
    return (uint32_t)crc32(0L, msg, (uInt)len) ^ STUN_FINGERPRINT_XOR;
}

enum stun_status stun_fingerprint_check(const struct stun_msg *m, const struct stun_attr *a)
{
    if (a->len != 4 || a->offset + STUN_FINGERPRINT_ATTR_LEN != m->end)
        return STUN_ERR_BAD_FINGERPRINT;
    if (stun_get32(a->value) != stun_fingerprint(m->b, a->offset))
        return STUN_ERR_BAD_FINGERPRINT;
    return STUN_OK;
}

void stun_writer_fingerprint(struct stun_writer *w)
{
    size_t offset = w->len;
    uint8_t *value = stun_writer_attr(w, STUN_ATTR_FINGERPRINT, 4);
    if (value == NULL)
        return;
    stun_writer_set_length(w);
    stun_put32(value, stun_fingerprint(w->out, offset));
}
