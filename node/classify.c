#include "node/classify.h"

#include <string.h>

#include "stun/stun.h"

/* STUN as netcheck sees it: stun_is, and a non-zero second byte. Every
 * WireGuard message starts with a little-endian type 1-4, so its second byte
 * is 0; a STUN type has 0 there only for the reserved method 0. Without this
 * a handshake initiation whose sender index happens to read 21 12 A4 42 would
 * go to STUN (Coder's fork checks only stun.Is; upstream Tailscale goes further
 * and requires 0x01, the Binding method). */
static bool looks_like_stun(const uint8_t *b, size_t len)
{
    return stun_is(b, len) && b[1] != 0;
}

/* The demux rule (tailscale-wire.md §3.3, magicsock's receiveIP and
 * handleDiscoMessage): magic and room for the sender key, len >= 38. The
 * DERP server's LooksLikeDiscoWrapper also counts the nonce (len >= 62), but
 * on the socket a 38..61-byte datagram with the magic is disco that fails to
 * open and is dropped; it never reaches WireGuard, and neither does it here.
 * The magic starts with 0x54, which no WireGuard or STUN message does. */
static bool looks_like_disco(const uint8_t *b, size_t len)
{
    return len >= VOLE_DISCO_DEMUX_MIN && memcmp(b, VOLE_DISCO_MAGIC, VOLE_DISCO_MAGIC_LEN) == 0;
}

enum vole_packet_kind vole_classify(const uint8_t *b, size_t len)
{
    if (looks_like_stun(b, len))
        return VOLE_PKT_STUN;
    if (looks_like_disco(b, len))
        return VOLE_PKT_DISCO;
    return VOLE_PKT_WIREGUARD;
}
