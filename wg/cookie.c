#include "wg/cookie.h"

#include <sodium.h>
#include <string.h>

#include "wg/kdf.h"
#include "wg/noise.h"

static void labelled_key(uint8_t out[WG_HASH_LEN], const char label[8], const uint8_t pub[WG_KEY_LEN])
{
    wg_hash(out, (const uint8_t *)label, 8, pub, WG_KEY_LEN);
}

void wg_cookie_checker_init(struct wg_cookie_checker *c, const uint8_t our_public[WG_KEY_LEN])
{
    memset(c, 0, sizeof *c);
    labelled_key(c->mac1_key, "mac1----", our_public);
    labelled_key(c->cookie_key, "cookie--", our_public);
}

void wg_cookie_maker_init(struct wg_cookie_maker *m, const uint8_t peer_public[WG_KEY_LEN])
{
    memset(m, 0, sizeof *m);
    labelled_key(m->mac1_key, "mac1----", peer_public);
    labelled_key(m->cookie_key, "cookie--", peer_public);
}

/* Cookie = Mac(secret, source IP bytes || source port, big-endian); the secret
 * rotates every two minutes. */
static void make_cookie(struct wg_cookie_checker *c, uint8_t cookie[WG_COOKIE_LEN],
                        const struct wg_endpoint *src, uint64_t now)
{
    uint8_t input[18];
    size_t alen = wg_endpoint_addr_len(src);

    if (!c->secret_set || now - c->secret_birth >= WG_COOKIE_SECRET_MAX_AGE) {
        randombytes_buf(c->secret, sizeof c->secret);
        c->secret_birth = now;
        c->secret_set = true;
    }
    memcpy(input, src->addr, alen);
    input[alen] = (uint8_t)(src->port >> 8);
    input[alen + 1] = (uint8_t)src->port;
    wg_mac(cookie, c->secret, sizeof c->secret, input, alen + 2);
}

enum wg_mac_result wg_cookie_validate(struct wg_cookie_checker *c, const uint8_t *msg, size_t mac1_off,
                                      const struct wg_endpoint *src, bool check_mac2, uint64_t now)
{
    uint8_t mac[WG_MAC_LEN], cookie[WG_COOKIE_LEN];

    wg_mac(mac, c->mac1_key, sizeof c->mac1_key, msg, mac1_off);
    if (sodium_memcmp(mac, msg + mac1_off, WG_MAC_LEN) != 0)
        return WG_MAC_INVALID;
    if (!check_mac2)
        return WG_MAC1_VALID;
    make_cookie(c, cookie, src, now);
    wg_mac(mac, cookie, sizeof cookie, msg, mac1_off + WG_MAC_LEN);
    return sodium_memcmp(mac, msg + mac1_off + WG_MAC_LEN, WG_MAC_LEN) == 0 ? WG_MAC1_AND_MAC2_VALID
                                                                            : WG_MAC1_VALID;
}

void wg_cookie_add_macs(struct wg_cookie_maker *m, uint8_t *msg, size_t mac1_off, uint64_t now)
{
    uint8_t *mac1 = msg + mac1_off, *mac2 = mac1 + WG_MAC_LEN;

    wg_mac(mac1, m->mac1_key, sizeof m->mac1_key, msg, mac1_off);
    memcpy(m->last_mac1_sent, mac1, WG_MAC_LEN);
    m->have_sent_mac1 = true;
    /* A cookie is used only while the responder surely still accepts it. */
    if (m->cookie_valid && now - m->cookie_birth < WG_COOKIE_SECRET_MAX_AGE - WG_COOKIE_SECRET_LATENCY)
        wg_mac(mac2, m->cookie, sizeof m->cookie, msg, mac1_off + WG_MAC_LEN);
    else
        memset(mac2, 0, WG_MAC_LEN);
}

void wg_cookie_create_reply(struct wg_cookie_checker *c, uint8_t out[WG_COOKIE_REPLY_LEN], const uint8_t *msg,
                            size_t mac1_off, uint32_t receiver_index, const struct wg_endpoint *src, uint64_t now)
{
    uint8_t cookie[WG_COOKIE_LEN];

    memset(out, 0, WG_COOKIE_REPLY_LEN);
    out[0] = WG_MSG_COOKIE;
    wg_put_le32(out + 4, receiver_index);
    randombytes_buf(out + 8, WG_COOKIE_NONCE_LEN);
    make_cookie(c, cookie, src, now);
    crypto_aead_xchacha20poly1305_ietf_encrypt(out + 32, NULL, cookie, sizeof cookie, msg + mac1_off,
                                               WG_MAC_LEN, NULL, out + 8, c->cookie_key);
    sodium_memzero(cookie, sizeof cookie);
}

int wg_cookie_consume_reply(struct wg_cookie_maker *m, const uint8_t reply[WG_COOKIE_REPLY_LEN], uint64_t now)
{
    uint8_t cookie[WG_COOKIE_LEN];

    if (!m->have_sent_mac1)
        return -1;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(cookie, NULL, NULL, reply + 32, WG_COOKIE_LEN + WG_AEAD_TAG_LEN,
                                                   m->last_mac1_sent, WG_MAC_LEN, reply + 8, m->cookie_key) != 0)
        return -1;
    memcpy(m->cookie, cookie, sizeof cookie);
    m->cookie_birth = now;
    m->cookie_valid = true;
    /* One reply per mac1: a replayed reply cannot refresh the cookie. */
    m->have_sent_mac1 = false;
    sodium_memzero(cookie, sizeof cookie);
    return 0;
}
