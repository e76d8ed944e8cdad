/* Hex strings to bytes for test vectors, shared by the unit tests. */
#ifndef VOLE_TEST_HEX_H
#define VOLE_TEST_HEX_H

#include <stdio.h>
#include <string.h>

static inline size_t unhex(uint8_t *out, size_t cap, const char *hex)
{
    size_t n = strlen(hex) / 2;
    assert_int_equal(strlen(hex) % 2, 0);
    assert_true(n <= cap);
    for (size_t i = 0; i < n; i++) {
        unsigned b;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &b), 1);
        out[i] = (uint8_t)b;
    }
    return n;
}

#endif
