/* The send side: handshake messages, transport data, keepalives and the
 * packets staged while a handshake is pending. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "wg/core.h"

void wg_emit(struct wg_peer *peer, enum wg_event ev)
{
    if (peer->dev->sink.event)
        peer->dev->sink.event(peer->dev->sink.ctx, peer, ev);
}

void wg_send_datagram_done(struct wg_peer *peer, size_t len)
{
    peer->tx_bytes += len;
}

/* Copies a finished message into a send slot toward the peer's endpoint. */
static bool send_buffer(struct wg_peer *peer, const uint8_t *msg, size_t len)
{
    struct wg_device *dev = peer->dev;
    uint8_t *slot;

    if (peer->endpoint.family == 0) {
        dev->stats.tx_no_endpoint++;
        return false;
    }
    slot = dev->sink.tx_slot(dev->sink.ctx, len);
    if (!slot) {
        dev->stats.tx_slot_failed++;
        return false;
    }
    memcpy(slot, msg, len);
    dev->sink.tx_commit(dev->sink.ctx, &peer->endpoint, len);
    wg_send_datagram_done(peer, len);
    return true;
}

void wg_send_handshake_initiation(struct wg_peer *peer, bool is_retry, uint64_t now)
{
    uint8_t msg[WG_INITIATION_LEN];

    if (!is_retry)
        peer->handshake_attempts = 0;
    /* At most one initiation per REKEY_TIMEOUT. */
    if (peer->last_sent_handshake && now - peer->last_sent_handshake < WG_REKEY_TIMEOUT)
        return;
    /* A peer with a low-order key can never finish a handshake: send nothing. */
    if (peer->low_order || peer->endpoint.family == 0)
        return;
    if (wg_noise_create_initiation(peer->dev, peer, msg, now) < 0)
        return;
    peer->last_sent_handshake = now;
    wg_cookie_add_macs(&peer->cookie, msg, WG_INITIATION_MAC1_OFF, now);
    wg_timers_any_authenticated_packet_traversal(peer, now);
    wg_timers_any_authenticated_packet_sent(peer);
    if (send_buffer(peer, msg, sizeof msg))
        wg_emit(peer, WG_EV_HANDSHAKE_SENT);
    wg_timers_handshake_initiated(peer, now);
    sodium_memzero(msg, sizeof msg);
}

void wg_send_handshake_response(struct wg_peer *peer, uint64_t now)
{
    uint8_t msg[WG_RESPONSE_LEN];

    peer->last_sent_handshake = now;
    if (wg_noise_create_response(peer->dev, peer, msg) < 0)
        return;
    wg_cookie_add_macs(&peer->cookie, msg, WG_RESPONSE_MAC1_OFF, now);
    if (!wg_noise_begin_session(peer->dev, peer, now))
        return;
    wg_timers_session_derived(peer, now);
    wg_timers_any_authenticated_packet_traversal(peer, now);
    wg_timers_any_authenticated_packet_sent(peer);
    send_buffer(peer, msg, sizeof msg);
}

/* Padding to a multiple of 16, capped at the MTU (kernel calculate_skb_padding). */
static size_t padding_for(size_t len, uint16_t mtu)
{
    size_t last_unit = len, padded;

    if (mtu == 0)
        return ((last_unit + WG_PADDING_MULTIPLE - 1) & ~(size_t)(WG_PADDING_MULTIPLE - 1)) - last_unit;
    if (last_unit > mtu)
        last_unit %= mtu;
    padded = (last_unit + WG_PADDING_MULTIPLE - 1) & ~(size_t)(WG_PADDING_MULTIPLE - 1);
    if (padded > mtu)
        padded = mtu;
    return padded - last_unit;
}

static size_t iov_total(const struct wg_iov *iov, int iovcnt)
{
    size_t n = 0;
    for (int i = 0; i < iovcnt; i++)
        n += iov[i].len;
    return n;
}

/* Encrypt one packet with the current keypair straight into a send slot:
 * header, then the AEAD reads the gathered plaintext and the zero padding in
 * one pass and writes ciphertext and tag behind it. */
static bool encrypt_and_send(struct wg_peer *peer, struct wg_keypair *kp, const struct wg_iov *iov,
                             int iovcnt, size_t len, uint64_t now)
{
    struct wg_device *dev = peer->dev;
    size_t pad = padding_for(len, dev->mtu), ptlen = len + pad;
    size_t total = WG_DATA_HEADER_LEN + ptlen + WG_AEAD_TAG_LEN;
    uint64_t counter;
    uint8_t *slot;

    if (peer->endpoint.family == 0) {
        dev->stats.tx_no_endpoint++;
        return false;
    }
    if (total > 65535) {
        dev->stats.tx_too_big++;
        return false;
    }
    slot = dev->sink.tx_slot(dev->sink.ctx, total);
    if (!slot) {
        dev->stats.tx_slot_failed++;
        return false;
    }
    counter = kp->send_counter++;
    wg_put_le32(slot, WG_MSG_DATA);
    wg_put_le32(slot + 4, kp->remote_index);
    wg_put_le64(slot + 8, counter);
    /* The slot is not committed: the next tx_slot call reuses it. */
    if (!wg_aead_seal(&kp->send, counter, iov, iovcnt, pad, slot + WG_DATA_HEADER_LEN)) {
        dev->stats.tx_encrypt_failed++;
        return false;
    }
    dev->sink.tx_commit(dev->sink.ctx, &peer->endpoint, total);
    wg_send_datagram_done(peer, total);
    wg_timers_any_authenticated_packet_traversal(peer, now);
    wg_timers_any_authenticated_packet_sent(peer);
    if (len)
        wg_timers_data_sent(peer, now);
    return true;
}

/* The current keypair if it may still send, else NULL. */
static struct wg_keypair *sending_keypair(struct wg_peer *peer, uint64_t now)
{
    struct wg_keypair *kp = peer->keypairs.current;
    if (!kp || wg_keypair_expired(kp, now))
        return NULL;
    return kp;
}

void wg_keep_key_fresh_send(struct wg_peer *peer, uint64_t now)
{
    struct wg_keypair *kp = peer->keypairs.current;
    if (kp && (kp->send_counter > WG_REKEY_AFTER_MESSAGES ||
               (kp->initiator && now - kp->created >= WG_REKEY_AFTER_TIME)))
        wg_send_handshake_initiation(peer, false, now);
}

void wg_staged_purge(struct wg_staged *s)
{
    while (s->count) {
        free(s->data[s->head]);
        s->data[s->head] = NULL;
        s->head = (s->head + 1) % WG_MAX_STAGED_PACKETS;
        s->count--;
    }
}

static void stage(struct wg_peer *peer, const struct wg_iov *iov, int iovcnt, size_t len)
{
    struct wg_staged *s = &peer->staged;
    uint8_t *copy = malloc(len ? len : 1), *p = copy;
    unsigned slot;

    if (!copy) {
        peer->dev->stats.tx_staged_dropped++;
        return;
    }
    for (int i = 0; i < iovcnt; i++) {
        memcpy(p, iov[i].base, iov[i].len);
        p += iov[i].len;
    }
    if (s->count == WG_MAX_STAGED_PACKETS) {
        /* Full: the oldest packet goes, as in the kernel. */
        free(s->data[s->head]);
        s->head = (s->head + 1) % WG_MAX_STAGED_PACKETS;
        s->count--;
        peer->dev->stats.tx_staged_dropped++;
    }
    slot = (s->head + s->count) % WG_MAX_STAGED_PACKETS;
    s->data[slot] = copy;
    s->len[slot] = len;
    s->count++;
}

void wg_send_staged(struct wg_peer *peer, uint64_t now)
{
    struct wg_staged *s = &peer->staged;
    struct wg_keypair *kp = sending_keypair(peer, now);

    if (!kp) {
        wg_send_handshake_initiation(peer, false, now);
        return;
    }
    while (s->count) {
        struct wg_iov iov = { s->data[s->head], s->len[s->head] };
        if (!encrypt_and_send(peer, kp, &iov, 1, iov.len, now))
            break;
        free(s->data[s->head]);
        s->data[s->head] = NULL;
        s->head = (s->head + 1) % WG_MAX_STAGED_PACKETS;
        s->count--;
    }
    wg_keep_key_fresh_send(peer, now);
}

void wg_send_keepalive(struct wg_peer *peer, uint64_t now)
{
    /* Staged data confirms the session as well as a keepalive would. */
    if (peer->staged.count == 0)
        stage(peer, NULL, 0, 0);
    wg_send_staged(peer, now);
}

int wg_device_send(struct wg_device *dev, struct wg_peer *peer, const struct wg_iov *iov, int iovcnt, uint64_t now)
{
    size_t len = iov_total(iov, iovcnt);
    struct wg_keypair *kp;

    /* Refused before staging: a packet that can never be encrypted would
     * stay at the head of the staged queue and block the peer for good. */
    if (WG_DATA_OVERHEAD + len + padding_for(len, dev->mtu) > 65535) {
        dev->stats.tx_too_big++;
        return -1;
    }
    /* Fast path: nothing waiting and a usable session. */
    if (peer->staged.count == 0 && (kp = sending_keypair(peer, now)) != NULL) {
        if (!encrypt_and_send(peer, kp, iov, iovcnt, len, now))
            return -1;
        wg_keep_key_fresh_send(peer, now);
        return 0;
    }
    stage(peer, iov, iovcnt, len);
    wg_send_staged(peer, now);
    return 0;
}
