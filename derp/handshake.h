/* The DERP handshake boxes (tailscale-wire.md §1.4): ClientInfo and ServerInfo
 * are NaCl boxes (crypto_box: X25519 + XSalsa20-Poly1305) of small JSON
 * documents between the client's and the server's node keys. Sans-IO. */
#ifndef VOLE_DERP_HANDSHAKE_H
#define VOLE_DERP_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "derp/frame.h"

struct derp_keypair {
    uint8_t priv[DERP_KEY_LEN];
    uint8_t pub[DERP_KEY_LEN];
};

struct derp_client_info {
    int version;               /* 2 */
    bool can_ack_pings;
    bool is_prober;
    char mesh_key[80];         /* "" when none */
};

struct derp_server_info {
    int version;
    uint64_t token_bucket_bytes_per_second, token_bucket_bytes_burst;   /* 0: none */
};

/* Builds a whole ClientInfo frame: clientPub || nonce || box(JSON). nonce may
 * be NULL (random) — tests pass a fixed one. Returns the frame length or 0. */
size_t derp_build_client_info(uint8_t *out, size_t cap, const struct derp_keypair *client,
                              const uint8_t server_pub[DERP_KEY_LEN], const struct derp_client_info *info,
                              const uint8_t *nonce);
/* Opens a ClientInfo frame's payload with the server's key; fills client_pub and info.
 * -1: too short/long, box does not open, JSON unparsable or version missing. */
int derp_open_client_info(const struct derp_frame *f, const struct derp_keypair *server,
                          uint8_t client_pub[DERP_KEY_LEN], struct derp_client_info *info);
/* ServerInfo frame: nonce || box(JSON) to the client; {"version":2}. */
size_t derp_build_server_info(uint8_t *out, size_t cap, const struct derp_keypair *server,
                              const uint8_t client_pub[DERP_KEY_LEN], const struct derp_server_info *info,
                              const uint8_t *nonce);
int derp_open_server_info(const struct derp_frame *f, const struct derp_keypair *client,
                          const uint8_t server_pub[DERP_KEY_LEN], struct derp_server_info *info);
/* (open_server_info: -1 if too short/long, the box does not open or the JSON
 * is unparsable; a missing version reads as 0, since Go omits a zero one.) */

/* Node keys in DERP's text forms: "nodekey:<64 hex>" (Go's key.NodePublic) and bare hex. */
void derp_key_hex(char out[2 * DERP_KEY_LEN + 1], const uint8_t key[DERP_KEY_LEN]);
int derp_key_from_hex(uint8_t out[DERP_KEY_LEN], const char *hex);
/* "nodekey:<64 lowercase hex>", as Go prints a key.NodePublic (admission JSON, logs). */
#define DERP_NODEKEY_TEXT_LEN (8 + 2 * DERP_KEY_LEN + 1)
void derp_key_nodekey(char out[DERP_NODEKEY_TEXT_LEN], const uint8_t key[DERP_KEY_LEN]);
void derp_keypair_generate(struct derp_keypair *kp);
void derp_keypair_from_private(struct derp_keypair *kp, const uint8_t priv[DERP_KEY_LEN]);

#endif
