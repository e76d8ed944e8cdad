/* Noise_IKpsk2 handshake of WireGuard: performance.md §3.2. Each function works
 * on copies and commits state only when every check has passed, so a forged or
 * replayed message never disturbs a handshake in progress. */
#ifndef VOLE_WG_NOISE_H
#define VOLE_WG_NOISE_H

#include <stdbool.h>
#include <stdint.h>

#include "wg/index.h"
#include "wg/messages.h"

struct wg_device;
struct wg_peer;
struct wg_keypair;

enum wg_handshake_state {
    WG_HS_ZEROED,
    WG_HS_CREATED_INITIATION,
    WG_HS_CONSUMED_INITIATION,
    WG_HS_CREATED_RESPONSE,
    WG_HS_CONSUMED_RESPONSE,
};

struct wg_handshake {
    enum wg_handshake_state state;
    uint8_t ephemeral_private[WG_KEY_LEN];
    uint8_t remote_ephemeral[WG_KEY_LEN];
    uint8_t hash[WG_HASH_LEN];
    uint8_t chaining_key[WG_HASH_LEN];
    uint8_t latest_timestamp[WG_TIMESTAMP_LEN];  /* greatest seen from this peer */
    uint64_t last_initiation_consumed;           /* monotonic ns; 0: never */
    uint32_t remote_index;
    struct wg_index_entry entry;                  /* our sender index while in progress */
    bool entry_linked;
};

/* The static identity of the device, with what is derived from it once. */
struct wg_static_identity {
    uint8_t private_key[WG_KEY_LEN];
    uint8_t public_key[WG_KEY_LEN];
    uint8_t initial_hash_responder[WG_HASH_LEN]; /* Hash(H_init || our public key) */
};

void wg_noise_identity_init(struct wg_static_identity *id, const uint8_t private_key[WG_KEY_LEN]);
/* Hash(H_init || public key): the first hash of a handshake toward that key. */
void wg_noise_initial_hash(uint8_t out[WG_HASH_LEN], const uint8_t public_key[WG_KEY_LEN]);
/* DH(our static, their static), -1 when it is all zeros (a low-order key). */
int wg_noise_precompute_ss(uint8_t out[WG_KEY_LEN], const struct wg_static_identity *id,
                           const uint8_t remote_static[WG_KEY_LEN]);

/* Fills msg[0..WG_INITIATION_MAC1_OFF) of a 148-byte initiation; -1 if the peer's key is unusable. */
int wg_noise_create_initiation(struct wg_device *dev, struct wg_peer *peer, uint8_t *msg, uint64_t now);
/* The peer an initiation comes from, or NULL (bad, replayed, flooded, unknown). */
struct wg_peer *wg_noise_consume_initiation(struct wg_device *dev, const uint8_t *msg, uint64_t now);
/* Fills msg[0..WG_RESPONSE_MAC1_OFF) of a 92-byte response; -1 on failure. */
int wg_noise_create_response(struct wg_device *dev, struct wg_peer *peer, uint8_t *msg);
struct wg_peer *wg_noise_consume_response(struct wg_device *dev, const uint8_t *msg);
/* Derive the transport keypair from a finished handshake and zero the handshake. */
struct wg_keypair *wg_noise_begin_session(struct wg_device *dev, struct wg_peer *peer, uint64_t now);
void wg_noise_handshake_clear(struct wg_device *dev, struct wg_handshake *hs);

/* Little-endian helpers for the wire formats. */
static inline void wg_put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static inline uint32_t wg_get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline void wg_put_le64(uint8_t *p, uint64_t v)
{
    wg_put_le32(p, (uint32_t)v);
    wg_put_le32(p + 4, (uint32_t)(v >> 32));
}
static inline uint64_t wg_get_le64(const uint8_t *p)
{
    return (uint64_t)wg_get_le32(p) | (uint64_t)wg_get_le32(p + 4) << 32;
}

#endif
