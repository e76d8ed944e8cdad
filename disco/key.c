/* Disco keys and the outer wrapper's fixed part (tailscale-wire.md §3.1): a
 * random X25519 keypair per process, box.Precompute per peer, and the checks
 * the shared-socket demux and the DERP server run before any crypto. */
#include "disco/wire.h"

#include <string.h>

/* "TS💬": 'T' 'S' then U+1F4AC in UTF-8. */
static const uint8_t disco_magic[DISCO_MAGIC_LEN] = {0x54, 0x53, 0xf0, 0x9f, 0x92, 0xac};

void disco_keypair_generate(struct disco_keypair *kp)
{
    crypto_box_keypair(kp->pub, kp->priv);
}

int disco_shared_init(struct disco_shared *s, const uint8_t peer_pub[DISCO_KEY_LEN],
                      const uint8_t my_priv[DISCO_KEY_LEN])
{
    /* crypto_box_beforenm = X25519 then HSalsa20, as Go's box.Precompute;
     * libsodium refuses a low-order peer key, which Go would accept. */
    s->ok = crypto_box_beforenm(s->k, peer_pub, my_priv) == 0;
    if (!s->ok)
        sodium_memzero(s->k, sizeof(s->k));
    return s->ok ? 0 : -1;
}

void disco_shared_clear(struct disco_shared *s)
{
    sodium_memzero(s->k, sizeof(s->k));
    s->ok = false;
}

bool disco_looks_like(const uint8_t *b, size_t len)
{
    return len >= DISCO_HEADER_LEN && memcmp(b, disco_magic, DISCO_MAGIC_LEN) == 0;
}

const uint8_t *disco_sender_key(const uint8_t *b, size_t len)
{
    return disco_looks_like(b, len) ? b + DISCO_MAGIC_LEN : NULL;
}

void disco_write_magic(uint8_t out[DISCO_MAGIC_LEN])
{
    memcpy(out, disco_magic, DISCO_MAGIC_LEN);
}
