/* Internal to disco/: the plaintext inside the box (tailscale-wire.md §3.2)
 * and its 18-byte endpoint form. */
#ifndef VOLE_DISCO_WIRE_H
#define VOLE_DISCO_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "disco/disco.h"

#define DISCO_MSG_HEADER_LEN 2       /* type, version */
#define DISCO_EP_WIRE_LEN 18         /* IP16 (IPv4 v4-mapped) || port, big-endian */
#define DISCO_PING_MIN_PAYLOAD DISCO_TXID_LEN                    /* old clients */
#define DISCO_PING_KEY_PAYLOAD (DISCO_TXID_LEN + DISCO_KEY_LEN)  /* 44 */
#define DISCO_PONG_PAYLOAD (DISCO_TXID_LEN + DISCO_EP_WIRE_LEN)  /* 30 */
/* Coder's paddedPayloadLen: 1310 - 6 - 32 - 24 - 16 - 2 = 1230. */
#define DISCO_PADDED_PAYLOAD (DISCO_PADDED_LEN - DISCO_OVERHEAD)
#define DISCO_MAX_PLAINTEXT (DISCO_MAX_PACKET - DISCO_HEADER_LEN - DISCO_BOX_OVERHEAD)

/* key.c: the magic that starts every packet. */
void disco_write_magic(uint8_t out[DISCO_MAGIC_LEN]);

/* message.c: the plaintext. encode returns its length (0: invalid or > cap). */
size_t disco_msg_encode(uint8_t *p, size_t cap, const struct disco_msg *m, bool padded);
int disco_msg_decode(const uint8_t *p, size_t len, struct disco_msg *m);

/* endpoint.c: one endpoint on the wire. write fails (-1) for family 0. */
int disco_ep_write(uint8_t out[DISCO_EP_WIRE_LEN], const struct wg_endpoint *ep);
void disco_ep_read(struct wg_endpoint *ep, const uint8_t in[DISCO_EP_WIRE_LEN]);

#endif
