/* The WireGuard core: a pure function of (state, bytes in, time) -> (bytes out,
 * events). No sockets, clocks or event loop inside. The embedder feeds it
 * datagrams (wg_device_receive), inner packets to send (wg_device_send) and the
 * time (every call takes `now`, monotonic nanoseconds), and gives it a sink
 * through which it writes datagrams and delivers decrypted packets. */
#ifndef VOLE_WG_DEVICE_H
#define VOLE_WG_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wg/endpoint.h"
#include "wg/messages.h"

struct wg_device;
struct wg_peer;

enum wg_event {
    WG_EV_HANDSHAKE_SENT,       /* an initiation left (first try or retry) */
    WG_EV_HANDSHAKE_COMPLETE,   /* a new session is usable for sending */
    WG_EV_ENDPOINT_CHANGED,     /* roaming: the peer's endpoint moved */
    WG_EV_KEYS_ZEROED,          /* 540 s without a new session: all key material wiped */
    WG_EV_HANDSHAKE_GAVE_UP,    /* 90 s of unanswered initiations: staged packets dropped */
};

/* A piece of a gathered inner packet (lwIP pbuf chains map onto this). */
struct wg_iov {
    const void *base;
    size_t len;
};

struct wg_sink {
    void *ctx;
    /* A buffer of at least cap bytes for the next outgoing datagram, or NULL to drop it. */
    uint8_t *(*tx_slot)(void *ctx, size_t cap);
    /* The buffer last returned by tx_slot holds a datagram of len bytes for dst. */
    void (*tx_commit)(void *ctx, const struct wg_endpoint *dst, size_t len);
    /* A destination of len bytes for a decrypted inner packet; *handle is passed back
     * to exactly one of rx_deliver / rx_discard. NULL drops the packet. */
    uint8_t *(*rx_alloc)(void *ctx, size_t len, void **handle);
    /* An authenticated, cryptokey-routed inner IP packet of len bytes (padding trimmed). */
    void (*rx_deliver)(void *ctx, struct wg_peer *peer, void *handle, size_t len);
    void (*rx_discard)(void *ctx, void *handle);
    /* Optional. */
    void (*event)(void *ctx, struct wg_peer *peer, enum wg_event ev);
};

/* Counted drops, by reason: every bad input ends up in exactly one of these. */
struct wg_device_stats {
    uint64_t rx_short, rx_unknown_type, rx_bad_mac1, rx_cookie_sent, rx_ratelimited;
    uint64_t rx_handshake_invalid, rx_cookie_invalid, rx_unknown_index, rx_key_expired;
    uint64_t rx_decrypt_failed, rx_replay, rx_bad_inner, rx_not_allowed, rx_alloc_failed;
    uint64_t tx_no_route, tx_no_endpoint, tx_staged_dropped, tx_slot_failed, tx_too_big;
    uint64_t tx_encrypt_failed;        /* the AEAD backend refused (never seen: counted, not assumed) */
};

struct wg_peer_config {
    uint8_t public_key[WG_KEY_LEN];
    bool has_psk;
    uint8_t psk[WG_KEY_LEN];
    struct wg_endpoint endpoint;       /* family 0: none known yet */
    uint16_t persistent_keepalive;     /* seconds, 0 = off */
};

struct wg_peer_info {
    struct wg_endpoint endpoint;
    uint64_t rx_bytes, tx_bytes;
    uint64_t last_handshake_unix_ns;  /* 0: never */
    bool has_session;
    bool low_order;                   /* its static key yields an all-zero DH: unusable */
    uint16_t persistent_keepalive;
};

/* mtu: the tunnel MTU used to cap padding (0 = pad to 16 only). */
struct wg_device *wg_device_new(const uint8_t private_key[WG_KEY_LEN], uint16_t mtu,
                                const struct wg_sink *sink, uint64_t now);
void wg_device_free(struct wg_device *dev);
void wg_device_public_key(const struct wg_device *dev, uint8_t out[WG_KEY_LEN]);
/* unix time = now + offset; TAI64N timestamps in initiations come from it. */
void wg_device_set_wall_offset(struct wg_device *dev, int64_t offset_ns);
void wg_device_set_mtu(struct wg_device *dev, uint16_t mtu);
/* Forces (or releases) the under-load state in which handshakes need a valid mac2. */
void wg_device_force_under_load(struct wg_device *dev, bool on);
const struct wg_device_stats *wg_device_stats(const struct wg_device *dev);

/* NULL with *why set ("public key equals the interface's own", "duplicate peer", "out of memory"). */
struct wg_peer *wg_device_add_peer(struct wg_device *dev, const struct wg_peer_config *cfg,
                                   const char **why);
/* family 4 or 6, network-order address; -1 on a bad prefix length. */
int wg_peer_add_allowed_ip(struct wg_peer *peer, int family, const uint8_t *addr, uint8_t cidr);
void wg_peer_set_endpoint(struct wg_peer *peer, const struct wg_endpoint *ep);
/* Sets the endpoint and turns roaming off for the peer: authenticated packets
 * from other sources no longer move it. A tailnet node sets a per-peer
 * placeholder here and chooses the real path (UDP or DERP) itself. */
void wg_peer_set_endpoint_fixed(struct wg_peer *peer, const struct wg_endpoint *ep);
void wg_peer_get_info(const struct wg_peer *peer, struct wg_peer_info *info);
void wg_peer_set_user(struct wg_peer *peer, void *user);
void *wg_peer_user(const struct wg_peer *peer);
const uint8_t *wg_peer_public_key(const struct wg_peer *peer);
struct wg_peer *wg_device_first_peer(struct wg_device *dev);
struct wg_peer *wg_peer_next(struct wg_peer *peer);

/* The peer whose AllowedIPs hold the inner packet's destination (NULL: none). */
struct wg_peer *wg_device_route(const struct wg_device *dev, const uint8_t *pkt, size_t len);
/* The peer whose AllowedIPs hold addr (family 4 or 6, network order), or NULL. */
struct wg_peer *wg_device_lookup(const struct wg_device *dev, int family, const uint8_t *addr);
/* Encrypt and send an inner IP packet to peer, or stage it (at most 128 per peer)
 * and start a handshake. Returns 0 when sent or staged, -1 when dropped (counted). */
int wg_device_send(struct wg_device *dev, struct wg_peer *peer, const struct wg_iov *iov,
                   int iovcnt, uint64_t now);
/* One received UDP datagram. buf may be modified. */
void wg_device_receive(struct wg_device *dev, const struct wg_endpoint *src, uint8_t *buf,
                       size_t len, uint64_t now);
/* Start a handshake now if there is no usable session (e.g. at start-up). */
void wg_peer_connect(struct wg_peer *peer, uint64_t now);
/* Run expired timers; returns the next deadline (UINT64_MAX: none). */
uint64_t wg_device_tick(struct wg_device *dev, uint64_t now);
/* The earliest pending timer without running anything (cheap). */
uint64_t wg_device_next_deadline(const struct wg_device *dev);

#endif
