/* Building a STUN message into a caller's buffer, private to stun/. The
 * writer remembers an overflow instead of failing each call, so a builder is a
 * straight sequence of writes and one check at the end. */
#ifndef VOLE_STUN_WRITER_H
#define VOLE_STUN_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct stun_writer {
    uint8_t *out;
    size_t cap;
    size_t len;
    bool overflow;     /* a write did not fit: the message is unusable */
};

void stun_writer_init(struct stun_writer *w, uint8_t *out, size_t cap);

/* The header with a zero length field. classic: txid is RFC 3489's 16 bytes
 * and takes the cookie's place; otherwise the cookie then 12 bytes of txid. */
void stun_writer_header(struct stun_writer *w, uint16_t type, bool classic, const uint8_t *txid);

/* Appends an attribute with room for len value bytes and zeroed padding and
 * returns the value, or NULL after an overflow. */
uint8_t *stun_writer_attr(struct stun_writer *w, uint16_t type, size_t len);

/* stun_writer_attr, then copies the value in. */
void stun_writer_put(struct stun_writer *w, uint16_t type, const void *value, size_t len);

/* Writes the header's length field for what has been written so far; the
 * fingerprint needs it before the message is complete. */
void stun_writer_set_length(struct stun_writer *w);

/* Sets the length field and returns the message length, 0 after an overflow. */
size_t stun_writer_finish(struct stun_writer *w);

#endif
