/* STUN's byte layout, shared by the stun/ sources and private to them: the
 * message and attribute types vole knows, big-endian fields, a checked header
 * (message.c) and the attribute walk (attr.c). Users include stun/stun.h. */
#ifndef VOLE_STUN_WIRE_H
#define VOLE_STUN_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stun/stun.h"

/* Message types of the Binding method (0x001), one per class. */
#define STUN_BINDING_REQUEST 0x0001
#define STUN_BINDING_SUCCESS 0x0101
#define STUN_BINDING_ERROR   0x0111

/* Attribute types vole reads or writes; the full "known" set is in attr.c. */
#define STUN_ATTR_MAPPED_ADDRESS       0x0001
#define STUN_ATTR_CHANGE_REQUEST       0x0003
#define STUN_ATTR_MESSAGE_INTEGRITY    0x0008
#define STUN_ATTR_ERROR_CODE           0x0009
#define STUN_ATTR_UNKNOWN_ATTRIBUTES   0x000A
#define STUN_ATTR_MESSAGE_INTEGRITY256 0x001C
#define STUN_ATTR_XOR_MAPPED_ADDRESS   0x0020
#define STUN_ATTR_XOR_MAPPED_ALT       0x8020   /* pre-RFC 5389 servers; Tailscale reads it */
#define STUN_ATTR_SOFTWARE             0x8022
#define STUN_ATTR_FINGERPRINT          0x8028
/* vole's filler for path MTU probes: in the comprehension-optional range
 * (unknown to every server, so ignored) and unassigned by IANA. */
#define STUN_ATTR_PROBE_PADDING        0xC0DE

#define STUN_ATTR_HEADER_LEN 4
#define STUN_FINGERPRINT_ATTR_LEN 8                 /* header + CRC-32 */
#define STUN_FINGERPRINT_XOR 0x5354554Eu            /* "STUN" */

static inline uint16_t stun_get16(const uint8_t *p)
{
    return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static inline uint32_t stun_get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void stun_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void stun_put32(uint8_t *p, uint32_t v)
{
    stun_put16(p, (uint16_t)(v >> 16));
    stun_put16(p + 2, (uint16_t)v);
}

/* Values are padded to 4 bytes; length fields count only the value. */
static inline size_t stun_pad4(size_t n)
{
    return (n + 3) & ~(size_t)3;
}

/* Below 0x8000 an attribute is comprehension-required: a receiver that does
 * not understand it must fail the message rather than skip it. */
static inline bool stun_attr_required(uint16_t type)
{
    return type < 0x8000;
}

/* A message whose header checked out. The attributes end at `end`, which lies
 * inside the datagram; bytes after it are ignored. */
struct stun_msg {
    const uint8_t *b;
    size_t end;          /* STUN_HEADER_LEN + the header's length field */
    uint16_t type;
    bool classic;        /* no magic cookie: RFC 3489, 16-byte transaction id */
};

/* Checks the fixed header only; need_cookie refuses RFC 3489 messages. */
enum stun_status stun_msg_open(struct stun_msg *m, const uint8_t *b, size_t len, bool need_cookie);

/* The transaction id: 12 bytes after the cookie, or the classic 16 bytes. */
const uint8_t *stun_msg_txid(const struct stun_msg *m);
size_t stun_msg_txid_len(const struct stun_msg *m);

/* The key (XOR-)MAPPED-ADDRESS is XORed with: cookie ‖ txid, bytes 4..20. */
static inline const uint8_t *stun_msg_xor_key(const struct stun_msg *m)
{
    return m->b + 4;
}

struct stun_attr {
    uint16_t type;
    uint16_t len;            /* value length, padding excluded */
    const uint8_t *value;    /* len bytes, all inside the message */
    size_t offset;           /* of the attribute's header, from the message start */
};

/* The attribute walk: an explicit cursor, so callers keep their own state. */
struct stun_attr_walk {
    const struct stun_msg *m;
    size_t pos;
    enum stun_status status;   /* STUN_OK until an attribute overruns the message */
};

void stun_walk_init(struct stun_attr_walk *w, const struct stun_msg *m);

/* false at the end of the attributes or, with w->status set, on an overrun. */
bool stun_walk_next(struct stun_attr_walk *w, struct stun_attr *a);

/* A comprehension-required type that vole understands, even if only to ignore
 * it. CHANGE-REQUEST counts as known here; the request parser judges its flags. */
bool stun_attr_known(uint16_t type);

#endif
