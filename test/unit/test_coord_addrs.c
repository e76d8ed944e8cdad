/* coord/addrs: overlay addresses derived from node keys: stable per key,
 * inside fd7a:115c:a1e0::/48 and 100.64.0.0/10, never special-looking,
 * unique over many keys, and free again after release. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "coord/addrs.h"
#include "coord/node.h"

/* Distinct, deterministic test keys. */
static void key_of(uint32_t i, uint8_t key[32])
{
    memset(key, 0x5a, 32);
    memcpy(key, &i, sizeof i);
}

static void check_ranges(const uint8_t v6[16], const uint8_t v4[4])
{
    assert_true(coord_v6_in_overlay(v6));
    assert_true(coord_v4_in_overlay(v4));
    assert_true(v4[3] != 0 && v4[3] != 255);
    assert_false(v4[1] == 100 && v4[2] == 100);
    assert_memory_equal(v6 + 12, v4, 4);   /* the IPv6 ends with the IPv4 */
}

static void test_stable_per_key(void **state)
{
    struct coord_addrs a, b;
    uint8_t key[32], v6[16], v4[4], v6b[16], v4b[4];
    assert_int_equal(coord_addrs_init(&a, 16), 0);
    assert_int_equal(coord_addrs_init(&b, 1000), 0);
    key_of(1, key);
    assert_int_equal(coord_addrs_assign(&a, key, v6, v4), 0);
    check_ranges(v6, v4);
    /* Again on the same allocator: the same addresses, still one node. */
    assert_int_equal(coord_addrs_assign(&a, key, v6b, v4b), 0);
    assert_memory_equal(v6, v6b, 16);
    assert_memory_equal(v4, v4b, 4);
    assert_int_equal(a.n, 1);
    /* A different allocator (a restarted server, another size): the same. */
    assert_int_equal(coord_addrs_assign(&b, key, v6b, v4b), 0);
    assert_memory_equal(v6, v6b, 16);
    assert_memory_equal(v4, v4b, 4);
    /* Released and assigned again while its slot is free: the same. */
    assert_int_equal(coord_addrs_release(&a, key), 0);
    assert_int_equal(coord_addrs_lookup(&a, key, v6b, v4b), -1);
    assert_int_equal(coord_addrs_assign(&a, key, v6b, v4b), 0);
    assert_memory_equal(v4, v4b, 4);
    coord_addrs_free(&a);
    coord_addrs_free(&b);
}

static int cmp_v4(const void *x, const void *y)
{
    return memcmp(x, y, 4);
}

static int cmp_v6(const void *x, const void *y)
{
    return memcmp(x, y, 16);
}

static void test_unique_over_10000(void **state)
{
    enum { N = 10000 };
    struct coord_addrs a;
    uint8_t (*v4)[4] = calloc(N, 4), (*v6)[16] = calloc(N, 16), key[32];
    assert_int_equal(coord_addrs_init(&a, N), 0);
    for (uint32_t i = 0; i < N; i++) {
        key_of(i, key);
        assert_int_equal(coord_addrs_assign(&a, key, v6[i], v4[i]), 0);
        check_ranges(v6[i], v4[i]);
    }
    assert_int_equal(a.n, N);
    /* Every key still finds its own addresses after all the insertions. */
    for (uint32_t i = 0; i < N; i++) {
        uint8_t w6[16], w4[4];
        key_of(i, key);
        assert_int_equal(coord_addrs_lookup(&a, key, w6, w4), 0);
        assert_memory_equal(w4, v4[i], 4);
        assert_memory_equal(w6, v6[i], 16);
    }
    qsort(v4, N, 4, cmp_v4);
    qsort(v6, N, 16, cmp_v6);
    for (size_t i = 1; i < N; i++) {
        assert_memory_not_equal(v4[i - 1], v4[i], 4);
        assert_memory_not_equal(v6[i - 1], v6[i], 16);
    }
    coord_addrs_free(&a);
    free(v4);
    free(v6);
}

/* Crowd a small part of the space: probing must step over taken and special
 * addresses. Filling the allocator to its limit exercises probe chains in
 * the key table too. */
static void test_full_and_release(void **state)
{
    enum { N = 512 };   /* the key table half full */
    struct coord_addrs a;
    uint8_t key[32], v6[16], v4[4];
    assert_int_equal(coord_addrs_init(&a, N), 0);
    for (uint32_t i = 0; i < N; i++) {
        key_of(i, key);
        assert_int_equal(coord_addrs_assign(&a, key, v6, v4), 0);
    }
    key_of(N, key);
    assert_int_equal(coord_addrs_assign(&a, key, v6, v4), -1);   /* full */
    /* Release every other key; the rest must still be found. */
    for (uint32_t i = 0; i < N; i += 2) {
        key_of(i, key);
        assert_int_equal(coord_addrs_release(&a, key), 0);
        assert_int_equal(coord_addrs_release(&a, key), -1);
    }
    assert_int_equal(a.n, N / 2);
    for (uint32_t i = 0; i < N; i++) {
        key_of(i, key);
        assert_int_equal(coord_addrs_lookup(&a, key, v6, v4), i % 2 ? 0 : -1);
    }
    key_of(N, key);
    assert_int_equal(coord_addrs_assign(&a, key, v6, v4), 0);   /* room again */
    check_ranges(v6, v4);
    coord_addrs_free(&a);
}

static void test_release_frees_address(void **state)
{
    struct coord_addrs a;
    uint8_t k1[32], k2[32], v6[16], v4[4], w6[16], w4[4];
    assert_int_equal(coord_addrs_init(&a, 4), 0);
    key_of(7, k1);
    key_of(8, k2);
    assert_int_equal(coord_addrs_assign(&a, k1, v6, v4), 0);
    assert_int_equal(coord_addrs_release(&a, k1), 0);
    assert_int_equal(a.n, 0);
    /* All address bits are clear again: k2 gets its own hashed address, as
     * it would on an empty allocator. */
    struct coord_addrs fresh;
    assert_int_equal(coord_addrs_init(&fresh, 4), 0);
    assert_int_equal(coord_addrs_assign(&a, k2, w6, w4), 0);
    assert_int_equal(coord_addrs_assign(&fresh, k2, v6, v4), 0);
    assert_memory_equal(v4, w4, 4);
    coord_addrs_free(&fresh);
    coord_addrs_free(&a);
}

static void test_init_bounds(void **state)
{
    struct coord_addrs a;
    uint8_t key[32] = {0}, v6[16], v4[4];
    assert_int_equal(coord_addrs_init(&a, 0), -1);
    assert_int_equal(coord_addrs_init(&a, COORD_ADDRS_MAX_NODES + 1), -1);
    /* A failed init leaves a state every call refuses safely. */
    assert_int_equal(coord_addrs_assign(&a, key, v6, v4), -1);
    assert_int_equal(coord_addrs_release(&a, key), -1);
    coord_addrs_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stable_per_key),
        cmocka_unit_test(test_unique_over_10000),
        cmocka_unit_test(test_full_and_release),
        cmocka_unit_test(test_release_frees_address),
        cmocka_unit_test(test_init_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
