#include "wg/ratelimit.h"

#include <sodium.h>
#include <string.h>

#define PROBES 8

void wg_ratelimit_init(struct wg_ratelimit *r, uint32_t per_sec, uint32_t burst)
{
    memset(r->slots, 0, sizeof r->slots);
    randombytes_buf(r->hash_key, sizeof r->hash_key);
    r->packet_cost = 1000000000ull / (per_sec ? per_sec : 1);
    r->token_max = r->packet_cost * (burst ? burst : 1);
}

static void source_key(uint8_t key[9], const struct wg_endpoint *src)
{
    memset(key, 0, 9);
    key[0] = src->family;
    memcpy(key + 1, src->addr, src->family == 4 ? 4 : 8);
}

bool wg_ratelimit_allow(struct wg_ratelimit *r, const struct wg_endpoint *src, uint64_t now)
{
    uint8_t key[9];
    uint64_t h;
    struct wg_ratelimit_slot *victim = NULL;

    source_key(key, src);
    /* Keyed hash: a remote party cannot aim its sources at one probe run. */
    crypto_shorthash((uint8_t *)&h, key, sizeof key, r->hash_key);
    for (unsigned i = 0; i < PROBES; i++) {
        struct wg_ratelimit_slot *s = &r->slots[(h + i) % WG_RATELIMIT_SLOTS];
        if (s->last && memcmp(s->key, key, sizeof key) == 0) {
            uint64_t t = s->tokens + (now - s->last);
            s->tokens = t > r->token_max ? r->token_max : t;
            s->last = now;
            if (s->tokens < r->packet_cost)
                return false;
            s->tokens -= r->packet_cost;
            return true;
        }
        if (!victim || s->last < victim->last)
            victim = s;
    }
    memcpy(victim->key, key, sizeof key);
    victim->last = now ? now : 1;
    victim->tokens = r->token_max - r->packet_cost;
    return true;
}
