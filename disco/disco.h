/* Disco, Tailscale's peer-to-peer discovery messages (tailscale-wire.md §3.1-3.2):
 * Ping, Pong and CallMeMaybe, sealed in a NaCl box between two disco keys.
 * Sans-IO: bytes in, bytes out. The caller owns sockets, timers, the peer table
 * (it looks a sender up by disco_sender_key) and the transaction ids. */
#ifndef VOLE_DISCO_DISCO_H
#define VOLE_DISCO_DISCO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#include "wg/endpoint.h"

#define DISCO_KEY_LEN 32
#define DISCO_TXID_LEN 12
#define DISCO_NONCE_LEN 24
#define DISCO_MAGIC_LEN 6
#define DISCO_HEADER_LEN 62          /* magic 6 + sender key 32 + nonce 24 (§3.1) */
#define DISCO_BOX_OVERHEAD 16        /* Poly1305 tag */
#define DISCO_OVERHEAD (DISCO_HEADER_LEN + DISCO_BOX_OVERHEAD + 2)   /* + type, version */
#define DISCO_PING_LEN 124           /* upstream unpadded ping with node key (discoPingSize) */
#define DISCO_PONG_LEN 110           /* unpadded pong */
#define DISCO_CMM_LEN(n) (DISCO_OVERHEAD + (size_t)18 * (n))    /* CallMeMaybe with n endpoints */
#define DISCO_PADDED_LEN 1310        /* Coder: a path works only if a full-size WireGuard packet fits */
#define DISCO_PADDED_VERSION 1       /* Coder's padded ping/pong carry version 1 */
#define DISCO_MAX_ENDPOINTS 64       /* CallMeMaybe endpoints kept; more are ignored */
/* The largest packet disco_open reads (and disco_seal builds): jumbo-frame PMTU
 * probes fit; no Tailscale or Coder sender builds anything larger. */
#define DISCO_MAX_PACKET 9216

struct disco_keypair {
    uint8_t priv[DISCO_KEY_LEN];
    uint8_t pub[DISCO_KEY_LEN];
};

/* The box key precomputed for one peer (crypto_box_beforenm). ok is false when
 * the peer's key is a low-order point: nothing is sealed or opened with it. */
struct disco_shared {
    uint8_t k[crypto_box_BEFORENMBYTES];
    bool ok;
};

/* A random X25519 keypair, separate from the WireGuard node key (§3.1). */
void disco_keypair_generate(struct disco_keypair *kp);
/* 0, or -1 if peer_pub is a low-order point (s is then unusable). */
int disco_shared_init(struct disco_shared *s, const uint8_t peer_pub[DISCO_KEY_LEN],
                      const uint8_t my_priv[DISCO_KEY_LEN]);
void disco_shared_clear(struct disco_shared *s);

/* LooksLikeDiscoWrapper: the magic "TS\xF0\x9F\x92\xAC" and len >= 62. */
bool disco_looks_like(const uint8_t *b, size_t len);
/* The sender's disco public key (32 bytes after the magic), or NULL if !disco_looks_like. */
const uint8_t *disco_sender_key(const uint8_t *b, size_t len);

enum disco_type { DISCO_PING = 1, DISCO_PONG = 2, DISCO_CALL_ME_MAYBE = 3 };

struct disco_msg {
    enum disco_type type;
    uint8_t version;                 /* as received; sent unless padded (ping/pong) */
    uint8_t txid[DISCO_TXID_LEN];    /* ping, pong */
    bool has_node_key;               /* ping: old clients (<= 1.16) send none */
    uint8_t node_key[DISCO_KEY_LEN]; /* ping: the sender's WireGuard public key */
    size_t padding;                  /* ping: zero bytes after the node key (or TxID); pong: after
                                      * the source (path MTU probes, issue #7) */
    struct wg_endpoint src;          /* pong: the ping's source as the responder saw it */
    struct wg_endpoint eps[DISCO_MAX_ENDPOINTS];   /* call-me-maybe */
    size_t n_eps;
};

/* Seal msg from me (my_pub) to the peer of s into out. nonce: 24 bytes, or NULL
 * for a random one. padded: Coder's version-1 ping/pong of exactly
 * DISCO_PADDED_LEN bytes (msg->version and msg->padding are then not used);
 * CallMeMaybe is never padded. Returns the length, or 0 if msg is invalid
 * (unknown type, an endpoint of family 0, n_eps > DISCO_MAX_ENDPOINTS) or too
 * large for cap or DISCO_MAX_PACKET. */
size_t disco_seal(uint8_t *out, size_t cap, const struct disco_msg *msg, bool padded,
                  const uint8_t my_pub[DISCO_KEY_LEN], const struct disco_shared *s,
                  const uint8_t *nonce);

/* Open a packet whose sender's shared key the caller found by disco_sender_key.
 * 0 and *out filled, or -1: not disco, the box does not open, or the message is
 * malformed or of an unknown type. A CallMeMaybe that is not version 0 with a
 * non-empty multiple of 18 bytes opens as an empty list (§3.2). */
int disco_open(const uint8_t *b, size_t len, const struct disco_shared *s, struct disco_msg *out);

#endif
