/* The shared UDP socket carries STUN, disco and WireGuard; this tells them
 * apart from the first bytes alone (tailscale-wire.md §3.3). */
#ifndef VOLE_NODE_CLASSIFY_H
#define VOLE_NODE_CLASSIFY_H

#include <stddef.h>
#include <stdint.h>

enum vole_packet_kind {
    VOLE_PKT_STUN,        /* to the STUN client/server */
    VOLE_PKT_DISCO,       /* to disco; if the box does not open, drop it, never pass it on */
    VOLE_PKT_WIREGUARD,   /* everything else, including garbage: WireGuard drops it */
};

/* Disco's magic, "TS" and the speech-balloon emoji in UTF-8. */
#define VOLE_DISCO_MAGIC "TS\xF0\x9F\x92\xAC"
#define VOLE_DISCO_MAGIC_LEN 6
/* magic + sender disco key: what the socket demux needs to see (Tailscale's
 * handleDiscoMessage headerLen), not the 62 of LooksLikeDiscoWrapper. */
#define VOLE_DISCO_DEMUX_MIN 38

enum vole_packet_kind vole_classify(const uint8_t *b, size_t len);

#endif
