/* FINGERPRINT (RFC 8489 §14.7): CRC-32 of the message up to the attribute,
 * XOR 0x5354554E. Private to stun/. */
#ifndef VOLE_STUN_FINGERPRINT_H
#define VOLE_STUN_FINGERPRINT_H

#include <stddef.h>
#include <stdint.h>

#include "stun/wire.h"
#include "stun/writer.h"

/* The value for the len bytes before the FINGERPRINT attribute. */
uint32_t stun_fingerprint(const uint8_t *msg, size_t len);

/* STUN_OK, or STUN_ERR_BAD_FINGERPRINT for a wrong length, a wrong value, or a
 * FINGERPRINT that is not the message's last attribute. */
enum stun_status stun_fingerprint_check(const struct stun_msg *m, const struct stun_attr *a);

/* Appends FINGERPRINT as the last attribute; the CRC covers a header whose
 * length already counts it. */
void stun_writer_fingerprint(struct stun_writer *w);

#endif
