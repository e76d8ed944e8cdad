/* The address attributes, private to stun/: MAPPED-ADDRESS (plain) and
 * XOR-MAPPED-ADDRESS / 0x8020 (XORed with cookie ‖ txid, so NATs that rewrite
 * their public address inside payloads leave it alone). */
#ifndef VOLE_STUN_ADDRESS_H
#define VOLE_STUN_ADDRESS_H

#include <stddef.h>
#include <stdint.h>

#include "stun/wire.h"
#include "wg/endpoint.h"

/* The value length for ep: 8 (IPv4), 20 (IPv6), 0 for no address. */
size_t stun_address_value_len(const struct wg_endpoint *ep);

/* xor_key: the 16 bytes cookie ‖ txid for the XOR forms, NULL for MAPPED-ADDRESS.
 * value has room for stun_address_value_len(ep) bytes. */
void stun_address_encode(uint8_t *value, const struct wg_endpoint *ep, const uint8_t *xor_key);

/* STUN_ERR_BAD_LENGTH unless the value is 8 bytes of family 1 or 20 of family 2.
 * An IPv4-mapped IPv6 address comes back as IPv4. */
enum stun_status stun_address_decode(const struct stun_attr *a, const uint8_t *xor_key,
                                     struct wg_endpoint *ep);

#endif
