/* The device: our static identity, the peers, the index and routing tables. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "wg/core.h"

struct wg_device *wg_device_new(const uint8_t private_key[WG_KEY_LEN], uint16_t mtu, const struct wg_sink *sink,
                                uint64_t now)
{
    struct wg_device *dev;

    if (sodium_init() < 0)
        return NULL;
    dev = calloc(1, sizeof *dev);
    if (!dev)
        return NULL;
    wg_noise_identity_init(&dev->id, private_key);
    wg_cookie_checker_init(&dev->cookie, dev->id.public_key);
    wg_ratelimit_init(&dev->ratelimit, WG_RATELIMIT_PER_SEC, WG_RATELIMIT_BURST);
    wg_allowedips_init(&dev->allowedips);
    dev->sink = *sink;
    dev->mtu = mtu;
    dev->load_window_start = now;
    dev->next_deadline = UINT64_MAX;
    wg_jitter_seed(&dev->jitter);
    return dev;
}

static void peer_free(struct wg_device *dev, struct wg_peer *peer)
{
    wg_keypairs_clear(&peer->keypairs, &dev->index);
    wg_noise_handshake_clear(dev, &peer->hs);
    wg_staged_purge(&peer->staged);
    sodium_memzero(peer, sizeof *peer);
    free(peer);
}

void wg_device_free(struct wg_device *dev)
{
    if (!dev)
        return;
    while (dev->peers) {
        struct wg_peer *p = dev->peers;
        dev->peers = p->next;
        peer_free(dev, p);
    }
    wg_allowedips_free(&dev->allowedips);
    sodium_memzero(dev, sizeof *dev);
    free(dev);
}

void wg_device_public_key(const struct wg_device *dev, uint8_t out[WG_KEY_LEN])
{
    memcpy(out, dev->id.public_key, WG_KEY_LEN);
}

void wg_device_set_wall_offset(struct wg_device *dev, int64_t offset_ns)
{
    dev->wall_offset = offset_ns;
}

void wg_device_set_mtu(struct wg_device *dev, uint16_t mtu)
{
    dev->mtu = mtu;
}

void wg_device_force_under_load(struct wg_device *dev, bool on)
{
    dev->force_under_load = on;
}

const struct wg_device_stats *wg_device_stats(const struct wg_device *dev)
{
    return &dev->stats;
}

struct wg_peer *wg_device_add_peer(struct wg_device *dev, const struct wg_peer_config *cfg, const char **why)
{
    struct wg_peer *peer;

    if (sodium_memcmp(cfg->public_key, dev->id.public_key, WG_KEY_LEN) == 0) {
        *why = "public key equals the interface's own";
        return NULL;
    }
    for (peer = dev->peers; peer; peer = peer->next) {
        if (sodium_memcmp(peer->public_key, cfg->public_key, WG_KEY_LEN) == 0) {
            *why = "duplicate peer";
            return NULL;
        }
    }
    peer = calloc(1, sizeof *peer);
    if (!peer) {
        *why = "out of memory";
        return NULL;
    }
    peer->dev = dev;
    memcpy(peer->public_key, cfg->public_key, WG_KEY_LEN);
    if (cfg->has_psk)
        memcpy(peer->psk, cfg->psk, WG_KEY_LEN);
    /* A low-order key gives an all-zero DH: the peer stays, but never gets a packet. */
    peer->low_order = wg_noise_precompute_ss(peer->static_static, &dev->id, cfg->public_key) < 0;
    wg_cookie_maker_init(&peer->cookie, cfg->public_key);
    peer->endpoint = cfg->endpoint;
    peer->persistent_keepalive = cfg->persistent_keepalive;
    peer->next = dev->peers;
    dev->peers = peer;
    return peer;
}

int wg_peer_add_allowed_ip(struct wg_peer *peer, int family, const uint8_t *addr, uint8_t cidr)
{
    return wg_allowedips_insert(&peer->dev->allowedips, family, addr, cidr, peer);
}

void wg_peer_set_endpoint(struct wg_peer *peer, const struct wg_endpoint *ep)
{
    peer->endpoint = *ep;
}

void wg_peer_set_endpoint_fixed(struct wg_peer *peer, const struct wg_endpoint *ep)
{
    peer->endpoint = *ep;
    peer->endpoint_fixed = true;
}

void wg_peer_get_info(const struct wg_peer *peer, struct wg_peer_info *info)
{
    info->endpoint = peer->endpoint;
    info->rx_bytes = peer->rx_bytes;
    info->tx_bytes = peer->tx_bytes;
    info->last_handshake_unix_ns = peer->last_handshake_unix_ns;
    info->has_session = peer->keypairs.current != NULL;
    info->low_order = peer->low_order;
    info->persistent_keepalive = peer->persistent_keepalive;
}

void wg_peer_set_user(struct wg_peer *peer, void *user)
{
    peer->user = user;
}

void *wg_peer_user(const struct wg_peer *peer)
{
    return peer->user;
}

const uint8_t *wg_peer_public_key(const struct wg_peer *peer)
{
    return peer->public_key;
}

struct wg_peer *wg_device_first_peer(struct wg_device *dev)
{
    return dev->peers;
}

struct wg_peer *wg_peer_next(struct wg_peer *peer)
{
    return peer->next;
}

struct wg_peer *wg_device_route(const struct wg_device *dev, const uint8_t *pkt, size_t len)
{
    return wg_allowedips_lookup_dst(&dev->allowedips, pkt, len);
}

struct wg_peer *wg_device_lookup(const struct wg_device *dev, int family, const uint8_t *addr)
{
    return wg_allowedips_lookup(&dev->allowedips, family, addr);
}

void wg_peer_connect(struct wg_peer *peer, uint64_t now)
{
    if (!peer->keypairs.current || wg_keypair_expired(peer->keypairs.current, now))
        wg_send_handshake_initiation(peer, false, now);
}

uint64_t wg_device_next_deadline(const struct wg_device *dev)
{
    return dev->next_deadline;
}

uint64_t wg_device_tick(struct wg_device *dev, uint64_t now)
{
    uint64_t next = UINT64_MAX;

    if (now < dev->next_deadline)
        return dev->next_deadline;
    /* Timers that fire may arm others; recompute the minimum afterwards. */
    dev->next_deadline = UINT64_MAX;
    for (struct wg_peer *p = dev->peers; p; p = p->next)
        wg_timers_run(p, now);
    for (struct wg_peer *p = dev->peers; p; p = p->next)
        for (int t = 0; t < WG_TIMER_COUNT; t++)
            if (p->timers[t] && p->timers[t] < next)
                next = p->timers[t];
    dev->next_deadline = next;
    return next;
}
