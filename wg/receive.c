/* The receive side: message dispatch, handshake consumption behind the cookie
 * checks, and transport data in the kernel's order (performance.md §3.7). */
#include <string.h>

#include "wg/core.h"

static void set_endpoint(struct wg_peer *peer, const struct wg_endpoint *src)
{
    /* Roaming: the last authenticated source wins, unless the owner routes. */
    if (!peer->endpoint_fixed && !wg_endpoint_equal(&peer->endpoint, src)) {
        peer->endpoint = *src;
        wg_emit(peer, WG_EV_ENDPOINT_CHANGED);
    }
}

static bool under_load(struct wg_device *dev, uint64_t now)
{
    if (now - dev->load_window_start >= WG_NS) {
        dev->load_window_start = now;
        dev->load_window_count = 0;
    }
    if (++dev->load_window_count > WG_UNDER_LOAD_HANDSHAKES_PER_SEC)
        dev->under_load_until = now + WG_UNDER_LOAD_AFTER_TIME;
    return dev->force_under_load || now < dev->under_load_until;
}

/* mac1, then (under load) mac2 and the per-source limit; false drops. */
static bool handshake_admitted(struct wg_device *dev, const struct wg_endpoint *src, const uint8_t *msg,
                               size_t mac1_off, uint64_t now)
{
    bool load = under_load(dev, now);
    enum wg_mac_result r = wg_cookie_validate(&dev->cookie, msg, mac1_off, src, load, now);

    if (r == WG_MAC_INVALID) {
        dev->stats.rx_bad_mac1++;
        return false;
    }
    if (!load)
        return true;
    if (r != WG_MAC1_AND_MAC2_VALID) {
        uint8_t reply[WG_COOKIE_REPLY_LEN];
        uint8_t *slot = dev->sink.tx_slot(dev->sink.ctx, sizeof reply);
        wg_cookie_create_reply(&dev->cookie, reply, msg, mac1_off, wg_get_le32(msg + 4), src, now);
        if (slot) {
            memcpy(slot, reply, sizeof reply);
            dev->sink.tx_commit(dev->sink.ctx, src, sizeof reply);
        }
        dev->stats.rx_cookie_sent++;
        return false;
    }
    if (!wg_ratelimit_allow(&dev->ratelimit, src, now)) {
        dev->stats.rx_ratelimited++;
        return false;
    }
    return true;
}

static void after_handshake_received(struct wg_peer *peer, const struct wg_endpoint *src, size_t len,
                                     uint64_t now)
{
    peer->rx_bytes += len;
    set_endpoint(peer, src);
    wg_timers_any_authenticated_packet_received(peer);
    wg_timers_any_authenticated_packet_traversal(peer, now);
}

static void receive_initiation(struct wg_device *dev, const struct wg_endpoint *src, const uint8_t *msg,
                               size_t len, uint64_t now)
{
    struct wg_peer *peer;

    if (!handshake_admitted(dev, src, msg, WG_INITIATION_MAC1_OFF, now))
        return;
    peer = wg_noise_consume_initiation(dev, msg, now);
    if (!peer) {
        dev->stats.rx_handshake_invalid++;
        return;
    }
    after_handshake_received(peer, src, len, now);
    wg_send_handshake_response(peer, now);
}

static void receive_response(struct wg_device *dev, const struct wg_endpoint *src, const uint8_t *msg,
                             size_t len, uint64_t now)
{
    struct wg_peer *peer;

    if (!handshake_admitted(dev, src, msg, WG_RESPONSE_MAC1_OFF, now))
        return;
    peer = wg_noise_consume_response(dev, msg);
    if (!peer || !wg_noise_begin_session(dev, peer, now)) {
        dev->stats.rx_handshake_invalid++;
        return;
    }
    after_handshake_received(peer, src, len, now);
    wg_timers_session_derived(peer, now);
    wg_timers_handshake_complete(peer, now);
    wg_emit(peer, WG_EV_HANDSHAKE_COMPLETE);
    /* Sends what waited for this session, or a keepalive that confirms it. */
    wg_send_keepalive(peer, now);
}

static struct wg_peer *entry_peer(struct wg_index_entry *e)
{
    if (e->kind == WG_INDEX_KEYPAIR)
        return ((struct wg_keypair *)e->ptr)->peer;
    return (struct wg_peer *)((uint8_t *)e->ptr - offsetof(struct wg_peer, hs));
}

static void receive_cookie(struct wg_device *dev, const uint8_t *msg, uint64_t now)
{
    struct wg_index_entry *e = wg_index_lookup(&dev->index, wg_get_le32(msg + 4));

    if (!e) {
        dev->stats.rx_unknown_index++;
        return;
    }
    if (wg_cookie_consume_reply(&entry_peer(e)->cookie, msg, now) < 0)
        dev->stats.rx_cookie_invalid++;
}

/* The initiator renews a session about to expire on the receive side too. */
static void keep_key_fresh_receive(struct wg_peer *peer, uint64_t now)
{
    struct wg_keypair *kp = peer->keypairs.current;
    if (kp && kp->initiator && !peer->sent_lastminute_handshake &&
        now - kp->created >= WG_REJECT_AFTER_TIME - WG_KEEPALIVE_TIMEOUT - WG_REKEY_TIMEOUT) {
        peer->sent_lastminute_handshake = true;
        wg_send_handshake_initiation(peer, false, now);
    }
}

/* Length of the inner IP packet without padding, or 0 if it is malformed. */
static size_t inner_length(const uint8_t *pkt, size_t len)
{
    size_t ip_len;

    if (len >= 20 && (pkt[0] >> 4) == 4) {
        ip_len = (size_t)pkt[2] << 8 | pkt[3];
        if (ip_len < (size_t)(pkt[0] & 0x0f) * 4 || (pkt[0] & 0x0f) < 5)
            return 0;
    } else if (len >= 40 && (pkt[0] >> 4) == 6) {
        ip_len = 40 + ((size_t)pkt[4] << 8 | pkt[5]);
    } else {
        return 0;
    }
    return ip_len <= len ? ip_len : 0;
}

static void deliver(struct wg_device *dev, struct wg_peer *peer, uint8_t *pt, size_t ptlen, void *handle,
                    uint64_t now)
{
    size_t ip_len;

    wg_timers_data_received(peer, now);
    ip_len = inner_length(pt, ptlen);
    if (!ip_len) {
        dev->stats.rx_bad_inner++;
        dev->sink.rx_discard(dev->sink.ctx, handle);
        return;
    }
    /* Cryptokey routing: the source must belong to the peer that sent it. */
    if (wg_allowedips_lookup_src(&dev->allowedips, pt, ip_len) != peer) {
        dev->stats.rx_not_allowed++;
        dev->sink.rx_discard(dev->sink.ctx, handle);
        return;
    }
    dev->sink.rx_deliver(dev->sink.ctx, peer, handle, ip_len);
}

static void receive_data(struct wg_device *dev, const struct wg_endpoint *src, const uint8_t *msg, size_t len,
                         uint64_t now)
{
    struct wg_index_entry *e = wg_index_lookup(&dev->index, wg_get_le32(msg + 4));
    size_t ptlen = len - WG_DATA_OVERHEAD;
    uint64_t counter = wg_get_le64(msg + 8);
    struct wg_keypair *kp;
    struct wg_peer *peer;
    void *handle = NULL;
    bool confirmed;
    uint8_t *pt;

    if (!e || e->kind != WG_INDEX_KEYPAIR) {
        dev->stats.rx_unknown_index++;
        return;
    }
    kp = e->ptr;
    if (now - kp->created >= WG_REJECT_AFTER_TIME) {
        dev->stats.rx_key_expired++;
        return;
    }
    pt = dev->sink.rx_alloc(dev->sink.ctx, ptlen ? ptlen : 1, &handle);
    if (!pt) {
        dev->stats.rx_alloc_failed++;
        return;
    }
    /* Out of place: the decryption is the copy into the stack's buffer. */
    if (!wg_aead_open(&kp->recv, counter, msg + WG_DATA_HEADER_LEN, len - WG_DATA_HEADER_LEN, pt)) {
        dev->stats.rx_decrypt_failed++;
        dev->sink.rx_discard(dev->sink.ctx, handle);
        return;
    }
    /* Only now, after authentication, may the counter move the window. */
    if (!wg_replay_check(&kp->replay, counter)) {
        dev->stats.rx_replay++;
        dev->sink.rx_discard(dev->sink.ctx, handle);
        return;
    }
    peer = kp->peer;
    set_endpoint(peer, src);
    confirmed = wg_keypairs_received_with(&peer->keypairs, &dev->index, kp);
    if (confirmed) {
        wg_timers_handshake_complete(peer, now);
        wg_emit(peer, WG_EV_HANDSHAKE_COMPLETE);
    }
    peer->rx_bytes += len;
    wg_timers_any_authenticated_packet_received(peer);
    wg_timers_any_authenticated_packet_traversal(peer, now);
    if (ptlen == 0)                       /* a keepalive */
        dev->sink.rx_discard(dev->sink.ctx, handle);
    else
        deliver(dev, peer, pt, ptlen, handle, now);
    /* What this packet makes us send leaves after its receive-side timer
     * updates, as the kernel's asynchronous sends do. Sent before them, the
     * released packets' new-handshake timer would be deleted again and
     * data_received would add a needless keepalive. */
    if (confirmed)
        wg_send_staged(peer, now);
    keep_key_fresh_receive(peer, now);
}

void wg_device_receive(struct wg_device *dev, const struct wg_endpoint *src, uint8_t *buf, size_t len,
                       uint64_t now)
{
    uint32_t type;

    if (len < 4) {
        dev->stats.rx_short++;
        return;
    }
    type = wg_get_le32(buf);      /* the 3 reserved bytes must be zero: part of the type */
    switch (type) {
    case WG_MSG_INITIATION:
        if (len != WG_INITIATION_LEN)
            break;
        receive_initiation(dev, src, buf, len, now);
        return;
    case WG_MSG_RESPONSE:
        if (len != WG_RESPONSE_LEN)
            break;
        receive_response(dev, src, buf, len, now);
        return;
    case WG_MSG_COOKIE:
        if (len != WG_COOKIE_REPLY_LEN)
            break;
        receive_cookie(dev, buf, now);
        return;
    case WG_MSG_DATA:
        if (len < WG_DATA_OVERHEAD)
            break;
        receive_data(dev, src, buf, len, now);
        return;
    default:
        dev->stats.rx_unknown_type++;
        return;
    }
    dev->stats.rx_short++;
}
