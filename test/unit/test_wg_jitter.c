/* The rekey jitter: the per-device PRNG stays in range and covers it evenly,
 * and a device's retransmit deadline carries 0..REKEY_TIMEOUT_JITTER_MS of it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "endpoints.h"
#include "wg/device.h"
#include "wg/jitter.h"

#define MS 1000000ull
#define BOUND (WG_REKEY_TIMEOUT_JITTER_MS + 1)

static void test_range_and_spread(void **state)
{
    static unsigned counts[BOUND];
    const unsigned draws = 200000;
    double mean = (double)draws / BOUND;
    struct wg_jitter j;

    wg_jitter_seed(&j);
    for (unsigned i = 0; i < draws; i++) {
        uint32_t v = wg_jitter_below(&j, BOUND);
        assert_true(v < BOUND);
        counts[v]++;
    }
    /* ~600 per value, sd ~24: every value appears and none is off by 30 %. */
    for (unsigned v = 0; v < BOUND; v++) {
        if (counts[v] < 0.7 * mean || counts[v] > 1.3 * mean)
            fail_msg("value %u drawn %u times, expected about %.0f", v, counts[v], mean);
    }
}

static void test_edges_and_seeds(void **state)
{
    struct wg_jitter a, b;
    unsigned same = 0;

    wg_jitter_seed(&a);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(wg_jitter_below(&a, 1), 0);
    for (int i = 0; i < 1000; i++)
        assert_true(wg_jitter_below(&a, 2) < 2);
    /* Two seeds give two sequences. */
    wg_jitter_seed(&b);
    for (int i = 0; i < 64; i++)
        same += wg_jitter_below(&a, UINT32_MAX) == wg_jitter_below(&b, UINT32_MAX);
    assert_true(same < 4);
}

static uint8_t slot_buf[256];
static uint8_t *tx_slot(void *ctx, size_t cap) { return cap <= sizeof slot_buf ? slot_buf : NULL; }
static void tx_commit(void *ctx, const struct wg_endpoint *dst, size_t len) { (*(unsigned *)ctx)++; }
static uint8_t *rx_alloc(void *ctx, size_t len, void **handle) { return NULL; }
static void rx_deliver(void *ctx, struct wg_peer *peer, void *handle, size_t len) {}
static void rx_discard(void *ctx, void *handle) {}

/* The first initiation arms the retransmit timer at REKEY_TIMEOUT + jitter. */
static void test_device_retransmit_deadline(void **state)
{
    uint64_t now = 1000 * WG_NS, min = UINT64_MAX, max = 0;

    for (int i = 0; i < 100; i++) {
        unsigned sent = 0;
        struct wg_sink sink = { &sent, tx_slot, tx_commit, rx_alloc, rx_deliver, rx_discard, NULL };
        struct wg_peer_config cfg = { .endpoint = ep4(192, 0, 2, 1, 51820) };
        uint8_t priv[WG_KEY_LEN], peer_priv[WG_KEY_LEN];
        const char *why = NULL;
        struct wg_device *dev;
        uint64_t d;

        randombytes_buf(priv, sizeof priv);
        randombytes_buf(peer_priv, sizeof peer_priv);
        crypto_scalarmult_base(cfg.public_key, peer_priv);
        dev = wg_device_new(priv, 1420, &sink, now);
        assert_non_null(dev);
        assert_non_null(wg_device_add_peer(dev, &cfg, &why));
        wg_peer_connect(wg_device_first_peer(dev), now);
        assert_int_equal(sent, 1);
        d = wg_device_next_deadline(dev) - now;
        assert_true(d >= WG_REKEY_TIMEOUT && d <= WG_REKEY_TIMEOUT + WG_REKEY_TIMEOUT_JITTER_MS * MS);
        min = d < min ? d : min;
        max = d > max ? d : max;
        wg_device_free(dev);
    }
    /* 100 draws over 335 values: they are not all the same. */
    assert_true(max > min);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_range_and_spread),
        cmocka_unit_test(test_edges_and_seeds),
        cmocka_unit_test(test_device_retransmit_deadline),
    };
    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
