/* Transport keypairs and the three slots of key rotation (previous, current,
 * next) with key confirmation: performance.md §3.4. */
#ifndef VOLE_WG_KEYPAIR_H
#define VOLE_WG_KEYPAIR_H

#include <stdbool.h>
#include <stdint.h>

#include "wg/aead.h"
#include "wg/index.h"
#include "wg/messages.h"
#include "wg/replay.h"

struct wg_peer;

struct wg_keypair {
    struct wg_aead send, recv;         /* the only copies of the two transport keys */
    uint64_t send_counter;             /* the next nonce to use */
    struct wg_replay replay;
    struct wg_index_entry entry;       /* our index: the receiver index of incoming data */
    uint32_t remote_index;
    uint64_t created;                  /* monotonic ns */
    bool initiator;
    struct wg_peer *peer;
};

struct wg_keypairs {
    struct wg_keypair *previous, *current, *next;
};

/* A keypair keyed for both directions (the caller wipes its copies of the
 * keys), everything else zero; NULL when out of memory. */
struct wg_keypair *wg_keypair_new(const uint8_t send_key[WG_KEY_LEN], const uint8_t recv_key[WG_KEY_LEN]);
/* Free a keypair: unlink its index, wipe its keys. NULL is fine. */
void wg_keypair_destroy(struct wg_index_table *t, struct wg_keypair *kp);
/* Install a fresh keypair: an initiator's becomes current at once, a responder's
 * waits in next until the first data packet confirms it. */
void wg_keypairs_add(struct wg_keypairs *kps, struct wg_index_table *t, struct wg_keypair *kp);
/* Called on every authenticated data packet: true when kp was "next" and has
 * just been confirmed (rotated into current). */
bool wg_keypairs_received_with(struct wg_keypairs *kps, struct wg_index_table *t, struct wg_keypair *kp);
void wg_keypairs_clear(struct wg_keypairs *kps, struct wg_index_table *t);
/* Usable for sending or receiving at time now. */
bool wg_keypair_expired(const struct wg_keypair *kp, uint64_t now);

#endif
