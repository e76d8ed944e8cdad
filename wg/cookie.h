/* mac1/mac2 and cookie replies: the DoS defence of performance.md §3.6.
 * The checker is the receiving side (our static key), the maker the sending
 * side toward one peer. */
#ifndef VOLE_WG_COOKIE_H
#define VOLE_WG_COOKIE_H

#include <stdbool.h>
#include <stdint.h>

#include "wg/endpoint.h"
#include "wg/messages.h"

struct wg_cookie_checker {
    uint8_t mac1_key[WG_HASH_LEN];             /* Hash("mac1----" || our public key) */
    uint8_t cookie_key[WG_HASH_LEN];           /* Hash("cookie--" || our public key) */
    uint8_t secret[WG_HASH_LEN];
    uint64_t secret_birth;                     /* monotonic ns */
    bool secret_set;
};

struct wg_cookie_maker {
    uint8_t mac1_key[WG_HASH_LEN];             /* Hash("mac1----" || peer public key) */
    uint8_t cookie_key[WG_HASH_LEN];           /* Hash("cookie--" || peer public key) */
    uint8_t cookie[WG_COOKIE_LEN];
    uint64_t cookie_birth;
    bool cookie_valid;
    uint8_t last_mac1_sent[WG_MAC_LEN];
    bool have_sent_mac1;
};

enum wg_mac_result { WG_MAC_INVALID, WG_MAC1_VALID, WG_MAC1_AND_MAC2_VALID };

void wg_cookie_checker_init(struct wg_cookie_checker *c, const uint8_t our_public[WG_KEY_LEN]);
void wg_cookie_maker_init(struct wg_cookie_maker *m, const uint8_t peer_public[WG_KEY_LEN]);

/* msg is a whole initiation or response; mac1_off its mac1 offset. check_mac2
 * only when under load (it derives the cookie for src). */
enum wg_mac_result wg_cookie_validate(struct wg_cookie_checker *c, const uint8_t *msg, size_t mac1_off,
                                      const struct wg_endpoint *src, bool check_mac2, uint64_t now);
/* Writes mac1 and mac2 into a message we are about to send. */
void wg_cookie_add_macs(struct wg_cookie_maker *m, uint8_t *msg, size_t mac1_off, uint64_t now);
/* A 64-byte cookie reply to the message msg (mac1 at mac1_off) from src. */
void wg_cookie_create_reply(struct wg_cookie_checker *c, uint8_t out[WG_COOKIE_REPLY_LEN], const uint8_t *msg,
                            size_t mac1_off, uint32_t receiver_index, const struct wg_endpoint *src, uint64_t now);
/* Decrypts a cookie reply addressed to this maker; -1 if it does not authenticate. */
int wg_cookie_consume_reply(struct wg_cookie_maker *m, const uint8_t reply[WG_COOKIE_REPLY_LEN], uint64_t now);

#endif
