#include "wg/noise.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "wg/core.h"
#include "wg/kdf.h"
#include "wg/timestamp.h"

/* Hash(CONSTRUCTION) and Hash(C_init || IDENTIFIER): performance.md §3.1. */
static const char CONSTRUCTION[] = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
static const char IDENTIFIER[] = "WireGuard v1 zx2c4 Jason@zx2c4.com";

/* The two constants are derived once per call site; a handshake is rare
 * enough that the 2 extra hashes do not matter, and no global state is kept. */
static void initial_chaining_key(uint8_t c[WG_HASH_LEN])
{
    wg_hash(c, (const uint8_t *)CONSTRUCTION, sizeof CONSTRUCTION - 1, NULL, 0);
}

void wg_noise_initial_hash(uint8_t out[WG_HASH_LEN], const uint8_t public_key[WG_KEY_LEN])
{
    uint8_t c[WG_HASH_LEN], h[WG_HASH_LEN];
    initial_chaining_key(c);
    wg_hash(h, c, sizeof c, (const uint8_t *)IDENTIFIER, sizeof IDENTIFIER - 1);
    wg_hash(out, h, sizeof h, public_key, WG_KEY_LEN);
}

void wg_noise_identity_init(struct wg_static_identity *id, const uint8_t private_key[WG_KEY_LEN])
{
    memcpy(id->private_key, private_key, WG_KEY_LEN);
    crypto_scalarmult_base(id->public_key, id->private_key);
    wg_noise_initial_hash(id->initial_hash_responder, id->public_key);
}

/* libsodium's crypto_scalarmult already fails on an all-zero result, which is
 * exactly the kernel's check against low-order points. */
static int dh(uint8_t out[WG_KEY_LEN], const uint8_t priv[WG_KEY_LEN], const uint8_t pub[WG_KEY_LEN])
{
    return crypto_scalarmult(out, priv, pub) == 0 ? 0 : -1;
}

int wg_noise_precompute_ss(uint8_t out[WG_KEY_LEN], const struct wg_static_identity *id,
                           const uint8_t remote_static[WG_KEY_LEN])
{
    if (dh(out, id->private_key, remote_static) < 0) {
        sodium_memzero(out, WG_KEY_LEN);
        return -1;
    }
    return 0;
}

/* Working state of one handshake computation, wiped on every exit. */
struct noise_scratch {
    uint8_t c[WG_HASH_LEN];
    uint8_t h[WG_HASH_LEN];
    uint8_t k[WG_KEY_LEN];
    uint8_t dh[WG_KEY_LEN];
    uint8_t e_priv[WG_KEY_LEN];
};

static void scratch_wipe(struct noise_scratch *s)
{
    sodium_memzero(s, sizeof *s);
}

static void mix_hash(uint8_t h[WG_HASH_LEN], const uint8_t *data, size_t len)
{
    wg_hash(h, h, WG_HASH_LEN, data, len);
}

/* C = Kdf1(C, e); H = Hash(H || e) */
static void mix_ephemeral(struct noise_scratch *s, const uint8_t e_pub[WG_KEY_LEN])
{
    wg_kdf(s->c, NULL, NULL, s->c, e_pub, WG_KEY_LEN);
    mix_hash(s->h, e_pub, WG_KEY_LEN);
}

/* (C, k) = Kdf2(C, DH(priv, pub)); fails on an all-zero DH. */
static int mix_dh_key(struct noise_scratch *s, const uint8_t priv[WG_KEY_LEN], const uint8_t pub[WG_KEY_LEN])
{
    if (dh(s->dh, priv, pub) < 0)
        return -1;
    wg_kdf(s->c, s->k, NULL, s->c, s->dh, WG_KEY_LEN);
    return 0;
}

/* C = Kdf1(C, DH(priv, pub)) */
static int mix_dh(struct noise_scratch *s, const uint8_t priv[WG_KEY_LEN], const uint8_t pub[WG_KEY_LEN])
{
    if (dh(s->dh, priv, pub) < 0)
        return -1;
    wg_kdf(s->c, NULL, NULL, s->c, s->dh, WG_KEY_LEN);
    return 0;
}

static int mix_precomputed_ss(struct noise_scratch *s, const uint8_t ss[WG_KEY_LEN])
{
    static const uint8_t zero[WG_KEY_LEN];
    if (sodium_memcmp(ss, zero, WG_KEY_LEN) == 0)
        return -1;
    wg_kdf(s->c, s->k, NULL, s->c, ss, WG_KEY_LEN);
    return 0;
}

/* (C, tau, k) = Kdf3(C, psk); H = Hash(H || tau) */
static void mix_psk(struct noise_scratch *s, const uint8_t psk[WG_KEY_LEN])
{
    uint8_t tau[WG_HASH_LEN];
    wg_kdf(s->c, tau, s->k, s->c, psk, WG_KEY_LEN);
    mix_hash(s->h, tau, sizeof tau);
    sodium_memzero(tau, sizeof tau);
}

/* AEAD with counter 0 and ad = H, then H = Hash(H || ciphertext). */
static void seal_and_hash(struct noise_scratch *s, uint8_t *out, const uint8_t *pt, size_t len)
{
    static const uint8_t nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];
    crypto_aead_chacha20poly1305_ietf_encrypt(out, NULL, pt, len, s->h, WG_HASH_LEN, NULL, nonce, s->k);
    mix_hash(s->h, out, len + WG_AEAD_TAG_LEN);
}

static int open_and_hash(struct noise_scratch *s, uint8_t *out, const uint8_t *ct, size_t ctlen)
{
    static const uint8_t nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];
    if (crypto_aead_chacha20poly1305_ietf_decrypt(out, NULL, NULL, ct, ctlen, s->h, WG_HASH_LEN, nonce, s->k) != 0)
        return -1;
    mix_hash(s->h, ct, ctlen);
    return 0;
}

static void new_ephemeral(uint8_t priv[WG_KEY_LEN], uint8_t pub[WG_KEY_LEN])
{
    randombytes_buf(priv, WG_KEY_LEN);
    crypto_scalarmult_base(pub, priv);
}

static void unlink_index(struct wg_device *dev, struct wg_handshake *hs)
{
    if (hs->entry_linked) {
        wg_index_remove(&dev->index, &hs->entry);
        hs->entry_linked = false;
    }
}

void wg_noise_handshake_clear(struct wg_device *dev, struct wg_handshake *hs)
{
    /* latest_timestamp and last_initiation_consumed survive: they guard
     * against replays across handshakes. */
    unlink_index(dev, hs);
    sodium_memzero(hs->ephemeral_private, sizeof hs->ephemeral_private);
    sodium_memzero(hs->remote_ephemeral, sizeof hs->remote_ephemeral);
    sodium_memzero(hs->hash, sizeof hs->hash);
    sodium_memzero(hs->chaining_key, sizeof hs->chaining_key);
    hs->remote_index = 0;
    hs->state = WG_HS_ZEROED;
}

static void relink_index(struct wg_device *dev, struct wg_handshake *hs)
{
    unlink_index(dev, hs);
    wg_index_insert(&dev->index, &hs->entry, WG_INDEX_HANDSHAKE, hs);
    hs->entry_linked = true;
}

int wg_noise_create_initiation(struct wg_device *dev, struct wg_peer *peer, uint8_t *msg, uint64_t now)
{
    struct noise_scratch s;
    uint8_t ts[WG_TIMESTAMP_LEN];
    int rc = -1;

    if (peer->low_order)
        return -1;
    memset(msg, 0, WG_INITIATION_LEN);
    msg[0] = WG_MSG_INITIATION;
    initial_chaining_key(s.c);
    wg_noise_initial_hash(s.h, peer->public_key);

    new_ephemeral(s.e_priv, msg + 8);
    mix_ephemeral(&s, msg + 8);
    if (mix_dh_key(&s, s.e_priv, peer->public_key) < 0)            /* es */
        goto out;
    seal_and_hash(&s, msg + 40, dev->id.public_key, WG_KEY_LEN);   /* enc_static */
    if (mix_precomputed_ss(&s, peer->static_static) < 0)          /* ss */
        goto out;
    wg_tai64n(ts, now + (uint64_t)dev->wall_offset);
    seal_and_hash(&s, msg + 88, ts, sizeof ts);                    /* enc_timestamp */

    relink_index(dev, &peer->hs);
    wg_put_le32(msg + 4, peer->hs.entry.index);
    memcpy(peer->hs.ephemeral_private, s.e_priv, WG_KEY_LEN);
    memcpy(peer->hs.hash, s.h, WG_HASH_LEN);
    memcpy(peer->hs.chaining_key, s.c, WG_HASH_LEN);
    peer->hs.state = WG_HS_CREATED_INITIATION;
    rc = 0;
out:
    scratch_wipe(&s);
    return rc;
}

static struct wg_peer *find_peer(struct wg_device *dev, const uint8_t pub[WG_KEY_LEN])
{
    for (struct wg_peer *p = dev->peers; p; p = p->next)
        if (sodium_memcmp(p->public_key, pub, WG_KEY_LEN) == 0)
            return p;
    return NULL;
}

struct wg_peer *wg_noise_consume_initiation(struct wg_device *dev, const uint8_t *msg, uint64_t now)
{
    struct noise_scratch s;
    uint8_t remote_static[WG_KEY_LEN], ts[WG_TIMESTAMP_LEN];
    const uint8_t *e = msg + 8;
    struct wg_peer *peer = NULL, *found;

    initial_chaining_key(s.c);
    memcpy(s.h, dev->id.initial_hash_responder, WG_HASH_LEN);
    mix_ephemeral(&s, e);
    if (mix_dh_key(&s, dev->id.private_key, e) < 0)                /* es */
        goto out;
    if (open_and_hash(&s, remote_static, msg + 40, WG_KEY_LEN + WG_AEAD_TAG_LEN) < 0)
        goto out;
    found = find_peer(dev, remote_static);
    if (!found || mix_precomputed_ss(&s, found->static_static) < 0) /* ss */
        goto out;
    if (open_and_hash(&s, ts, msg + 88, WG_TIMESTAMP_LEN + WG_AEAD_TAG_LEN) < 0)
        goto out;

    /* Replay: the timestamp must grow. Flood: at most 50 initiations a second. */
    if (wg_tai64n_cmp(ts, found->hs.latest_timestamp) <= 0)
        goto out;
    if (found->hs.last_initiation_consumed &&
        now - found->hs.last_initiation_consumed < WG_NS / WG_INITIATIONS_PER_SECOND)
        goto out;

    peer = found;
    memcpy(peer->hs.latest_timestamp, ts, sizeof ts);
    peer->hs.last_initiation_consumed = now;
    memcpy(peer->hs.remote_ephemeral, e, WG_KEY_LEN);
    memcpy(peer->hs.hash, s.h, WG_HASH_LEN);
    memcpy(peer->hs.chaining_key, s.c, WG_HASH_LEN);
    peer->hs.remote_index = wg_get_le32(msg + 4);
    peer->hs.state = WG_HS_CONSUMED_INITIATION;
out:
    sodium_memzero(remote_static, sizeof remote_static);
    scratch_wipe(&s);
    return peer;
}

int wg_noise_create_response(struct wg_device *dev, struct wg_peer *peer, uint8_t *msg)
{
    struct wg_handshake *hs = &peer->hs;
    struct noise_scratch s;
    int rc = -1;

    if (hs->state != WG_HS_CONSUMED_INITIATION)
        return -1;
    memset(msg, 0, WG_RESPONSE_LEN);
    msg[0] = WG_MSG_RESPONSE;
    memcpy(s.c, hs->chaining_key, WG_HASH_LEN);
    memcpy(s.h, hs->hash, WG_HASH_LEN);

    new_ephemeral(s.e_priv, msg + 12);
    mix_ephemeral(&s, msg + 12);
    if (mix_dh(&s, s.e_priv, hs->remote_ephemeral) < 0)            /* ee */
        goto out;
    if (mix_dh(&s, s.e_priv, peer->public_key) < 0)                /* se */
        goto out;
    mix_psk(&s, peer->psk);
    seal_and_hash(&s, msg + 44, NULL, 0);                          /* enc_nothing */

    relink_index(dev, hs);
    wg_put_le32(msg + 4, hs->entry.index);
    wg_put_le32(msg + 8, hs->remote_index);
    memcpy(hs->ephemeral_private, s.e_priv, WG_KEY_LEN);
    memcpy(hs->hash, s.h, WG_HASH_LEN);
    memcpy(hs->chaining_key, s.c, WG_HASH_LEN);
    hs->state = WG_HS_CREATED_RESPONSE;
    rc = 0;
out:
    scratch_wipe(&s);
    return rc;
}

struct wg_peer *wg_noise_consume_response(struct wg_device *dev, const uint8_t *msg)
{
    struct wg_index_entry *entry = wg_index_lookup(&dev->index, wg_get_le32(msg + 8));
    const uint8_t *e = msg + 12;
    struct noise_scratch s;
    struct wg_handshake *hs;
    struct wg_peer *peer = NULL;

    if (!entry || entry->kind != WG_INDEX_HANDSHAKE)
        return NULL;
    hs = entry->ptr;
    if (hs->state != WG_HS_CREATED_INITIATION)
        return NULL;
    struct wg_peer *owner = (struct wg_peer *)((uint8_t *)hs - offsetof(struct wg_peer, hs));

    memcpy(s.c, hs->chaining_key, WG_HASH_LEN);
    memcpy(s.h, hs->hash, WG_HASH_LEN);
    mix_ephemeral(&s, e);
    if (mix_dh(&s, hs->ephemeral_private, e) < 0)                  /* ee */
        goto out;
    if (mix_dh(&s, dev->id.private_key, e) < 0)                    /* se */
        goto out;
    mix_psk(&s, owner->psk);
    if (open_and_hash(&s, NULL, msg + 44, WG_AEAD_TAG_LEN) < 0)
        goto out;

    peer = owner;
    hs->remote_index = wg_get_le32(msg + 4);
    memcpy(hs->hash, s.h, WG_HASH_LEN);
    memcpy(hs->chaining_key, s.c, WG_HASH_LEN);
    hs->state = WG_HS_CONSUMED_RESPONSE;
out:
    scratch_wipe(&s);
    return peer;
}

struct wg_keypair *wg_noise_begin_session(struct wg_device *dev, struct wg_peer *peer, uint64_t now)
{
    struct wg_handshake *hs = &peer->hs;
    uint8_t send_key[WG_KEY_LEN], recv_key[WG_KEY_LEN];
    struct wg_keypair *kp;
    bool initiator;

    if (hs->state == WG_HS_CONSUMED_RESPONSE)
        initiator = true;
    else if (hs->state == WG_HS_CREATED_RESPONSE)
        initiator = false;
    else
        return NULL;
    /* (T_send_i, T_recv_i) = Kdf2(C, empty); the responder's are swapped. */
    if (initiator)
        wg_kdf(send_key, recv_key, NULL, hs->chaining_key, NULL, 0);
    else
        wg_kdf(recv_key, send_key, NULL, hs->chaining_key, NULL, 0);
    kp = wg_keypair_new(send_key, recv_key);
    sodium_memzero(send_key, sizeof send_key);
    sodium_memzero(recv_key, sizeof recv_key);
    if (!kp)
        return NULL;
    wg_replay_init(&kp->replay);
    kp->initiator = initiator;
    kp->created = now;
    kp->remote_index = hs->remote_index;
    kp->peer = peer;
    /* The keypair takes over the handshake's index: the peer addresses it. */
    wg_index_replace(&dev->index, &hs->entry, &kp->entry, WG_INDEX_KEYPAIR, kp);
    hs->entry_linked = false;
    wg_noise_handshake_clear(dev, hs);
    wg_keypairs_add(&peer->keypairs, &dev->index, kp);
    return kp;
}
