/* libFuzzer target for disco/'s codec (tailscale-wire.md §3.1-3.2). Each input
 * is tried twice: as a whole packet (wrapper checks, then disco_open under a
 * fixed key, which a random box almost never passes), and as the plaintext
 * inside a box sealed under that key, so the message parser sees every shape.
 * Whatever opens must obey the struct's bounds and survive a re-seal: sealed
 * again, unpadded and padded, it must open to the same fields. Built and run
 * by scripts/fuzz.sh. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "disco/disco.h"
#include "disco/wire.h"   /* internal: the plaintext codec's limits */

/* A violated invariant is a crash, so libFuzzer keeps the input. */
static void check(int ok)
{
    if (!ok)
        abort();
}

struct keys {
    struct disco_keypair a;
    struct disco_shared s;   /* A's key for B; the box key is the same both ways */
};

static void keys_init(struct keys *k)
{
    struct disco_keypair b;
    for (int i = 0; i < DISCO_KEY_LEN; i++) {
        k->a.priv[i] = (uint8_t)(0x01 + i);
        b.priv[i] = (uint8_t)(0x41 + i);
    }
    crypto_scalarmult_base(k->a.pub, k->a.priv);
    crypto_scalarmult_base(b.pub, b.priv);
    check(disco_shared_init(&k->s, b.pub, k->a.priv) == 0);
}

static void check_bounds(const struct disco_msg *m)
{
    check(m->type >= DISCO_PING && m->type <= DISCO_CALL_ME_MAYBE);
    check(m->n_eps <= DISCO_MAX_ENDPOINTS);
    check(m->type == DISCO_CALL_ME_MAYBE || m->n_eps == 0);
    if (m->type == DISCO_PONG)
        check(m->src.family == 4 || m->src.family == 6);
    for (size_t i = 0; i < m->n_eps; i++)
        check(m->eps[i].family == 4 || m->eps[i].family == 6);
}

static void check_same(const struct disco_msg *a, const struct disco_msg *b)
{
    check(a->type == b->type);
    if (a->type != DISCO_CALL_ME_MAYBE)
        check(memcmp(a->txid, b->txid, DISCO_TXID_LEN) == 0);
    if (a->type == DISCO_PING && a->has_node_key && b->has_node_key)
        check(memcmp(a->node_key, b->node_key, DISCO_KEY_LEN) == 0);
    if (a->type == DISCO_PONG)
        check(wg_endpoint_equal(&a->src, &b->src));
    check(a->n_eps == b->n_eps);
    for (size_t i = 0; i < a->n_eps; i++)
        check(wg_endpoint_equal(&a->eps[i], &b->eps[i]));
}

static void reseal(const struct keys *k, const struct disco_msg *m)
{
    static uint8_t out[DISCO_MAX_PACKET];
    for (int padded = 0; padded < 2; padded++) {
        size_t n = disco_seal(out, sizeof(out), m, padded, k->a.pub, &k->s, NULL);
        check(n > 0 && n <= DISCO_MAX_PACKET);
        check(!padded || m->type == DISCO_CALL_ME_MAYBE || n == DISCO_PADDED_LEN);
        struct disco_msg again;
        check(disco_open(out, n, &k->s, &again) == 0);
        check_bounds(&again);
        check_same(m, &again);
        if (!padded && m->type == DISCO_PING)
            check(again.has_node_key == m->has_node_key && again.padding == m->padding);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct keys k;
    static int ready;
    if (!ready) {
        keys_init(&k);
        ready = 1;
    }
    struct disco_msg m;

    /* As a packet. */
    const uint8_t *sender = disco_sender_key(data, size);
    check(sender == NULL ? !disco_looks_like(data, size) : sender == data + DISCO_MAGIC_LEN);
    if (disco_open(data, size, &k.s, &m) == 0) {
        check(sender != NULL);
        check_bounds(&m);
    }

    /* As a plaintext, boxed under the fixed key. */
    if (size > DISCO_MAX_PLAINTEXT)
        return 0;
    static uint8_t pkt[DISCO_MAX_PACKET];
    static const uint8_t magic[DISCO_MAGIC_LEN] = {0x54, 0x53, 0xf0, 0x9f, 0x92, 0xac};
    memcpy(pkt, magic, sizeof(magic));
    memcpy(pkt + DISCO_MAGIC_LEN, k.a.pub, DISCO_KEY_LEN);
    memset(pkt + DISCO_MAGIC_LEN + DISCO_KEY_LEN, 7, DISCO_NONCE_LEN);
    crypto_box_easy_afternm(pkt + DISCO_HEADER_LEN, data, size, pkt + DISCO_MAGIC_LEN + DISCO_KEY_LEN, k.s.k);
    size_t n = DISCO_HEADER_LEN + DISCO_BOX_OVERHEAD + size;
    if (disco_open(pkt, n, &k.s, &m) == 0) {
        check(size >= DISCO_MSG_HEADER_LEN && data[0] == (uint8_t)m.type && data[1] == m.version);
        check_bounds(&m);
        reseal(&k, &m);
    } else {
        check(size < DISCO_MSG_HEADER_LEN || data[0] < DISCO_PING || data[0] > DISCO_CALL_ME_MAYBE ||
              (data[0] == DISCO_PING && size < 2 + DISCO_PING_MIN_PAYLOAD) ||
              (data[0] == DISCO_PONG && size < 2 + DISCO_PONG_PAYLOAD));
    }
    return 0;
}
