#include "stun/writer.h"

#include <string.h>

#include "stun/wire.h"

void stun_writer_init(struct stun_writer *w, uint8_t *out, size_t cap)
{
    w->out = out;
    w->cap = cap;
    w->len = 0;
    w->overflow = false;
}

/* Reserves n bytes at the end, or marks the writer overflowed. */
static uint8_t *reserve(struct stun_writer *w, size_t n)
{
    if (w->overflow || n > w->cap - w->len) {
        w->overflow = true;
        return NULL;
    }
    uint8_t *p = w->out + w->len;
    w->len += n;
    return p;
}

void stun_writer_header(struct stun_writer *w, uint16_t type, bool classic, const uint8_t *txid)
{
    uint8_t *p = reserve(w, STUN_HEADER_LEN);
    if (p == NULL)
        return;
    stun_put16(p, type);
    stun_put16(p + 2, 0);
    if (classic) {
        memcpy(p + 4, txid, STUN_CLASSIC_TXID_LEN);
        return;
    }
    stun_put32(p + 4, STUN_MAGIC_COOKIE);
    memcpy(p + 8, txid, STUN_TXID_LEN);
}

uint8_t *stun_writer_attr(struct stun_writer *w, uint16_t type, size_t len)
{
    if (len > UINT16_MAX) {
        w->overflow = true;
        return NULL;
    }
    uint8_t *p = reserve(w, STUN_ATTR_HEADER_LEN + stun_pad4(len));
    if (p == NULL)
        return NULL;
    stun_put16(p, type);
    stun_put16(p + 2, (uint16_t)len);
    /* RFC 8489 §14: padding is zero on sending. */
    memset(p + STUN_ATTR_HEADER_LEN + len, 0, stun_pad4(len) - len);
    return p + STUN_ATTR_HEADER_LEN;
}

void stun_writer_put(struct stun_writer *w, uint16_t type, const void *value, size_t len)
{
    uint8_t *p = stun_writer_attr(w, type, len);
    if (p != NULL && len > 0)
        memcpy(p, value, len);
}

void stun_writer_set_length(struct stun_writer *w)
{
    if (w->overflow || w->len < STUN_HEADER_LEN || w->len - STUN_HEADER_LEN > UINT16_MAX)
        return;
    stun_put16(w->out + 2, (uint16_t)(w->len - STUN_HEADER_LEN));
}

size_t stun_writer_finish(struct stun_writer *w)
{
    stun_writer_set_length(w);
    return w->overflow ? 0 : w->len;
}
