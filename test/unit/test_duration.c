/* Duration text must match Go's time.Duration byte for byte. Expected strings
 * come from Go's documentation and its time package tests. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "diag/duration.h"

#define NS 1LL
#define US (1000 * NS)
#define MS (1000 * US)
#define SEC (1000 * MS)
#define MIN (60 * SEC)
#define HOUR (60 * MIN)

struct fmt_case {
    int64_t ns;
    const char *want;
};

static const struct fmt_case FORMAT_CASES[] = {
    {0, "0s"},
    {1 * NS, "1ns"},
    {1100 * NS, "1.1\xc2\xb5s"},
    {999 * NS, "999ns"},
    {1000 * NS, "1\xc2\xb5s"},
    {1500 * NS, "1.5\xc2\xb5s"},
    {350 * US, "350\xc2\xb5s"},
    {999999 * NS, "999.999\xc2\xb5s"},
    {1 * MS, "1ms"},
    {42 * MS, "42ms"},
    {300 * MS, "300ms"},
    {1100 * US, "1.1ms"},
    {2200 * US, "2.2ms"},
    {1 * MS + 1 * NS, "1.000001ms"},
    {1 * SEC, "1s"},
    {1234 * MS, "1.234s"},
    {1500 * MS, "1.5s"},
    {3300 * MS, "3.3s"},
    {1 * SEC + 1 * NS, "1.000000001s"},
    {59 * SEC, "59s"},
    {60 * SEC, "1m0s"},
    {90 * SEC, "1m30s"},
    {4 * MIN + 5 * SEC, "4m5s"},
    {4 * MIN + 5001 * MS, "4m5.001s"},
    {1 * HOUR, "1h0m0s"},
    {1 * HOUR + 2 * MIN + 300 * MS, "1h2m0.3s"},
    {1 * HOUR + 2 * MIN + 3500 * MS, "1h2m3.5s"},
    {5 * HOUR + 6 * MIN + 7001 * MS, "5h6m7.001s"},
    {8 * MIN + 1 * NS, "8m0.000000001s"},
    {-1 * NS, "-1ns"},
    {-1500 * NS, "-1.5\xc2\xb5s"},
    {-42 * MS, "-42ms"},
    {-90 * SEC, "-1m30s"},
    {INT64_MAX, "2562047h47m16.854775807s"},
    {INT64_MIN, "-2562047h47m16.854775808s"},
};

static void test_format_matches_go(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof FORMAT_CASES / sizeof FORMAT_CASES[0]; i++) {
        char buf[VOLE_DURATION_STR_MAX];
        const char *got = vole_duration_format(buf, FORMAT_CASES[i].ns);
        assert_ptr_equal(got, buf);
        assert_string_equal(got, FORMAT_CASES[i].want);
    }
}

static const struct fmt_case PARSE_CASES[] = {
    {0, "0"},
    {0, "-0"},
    {0, "+0"},
    {0, "0s"},
    {5 * SEC, "5s"},
    {5 * SEC, "+5s"},
    {-5 * SEC, "-5s"},
    {100 * MS, "100ms"},
    {90 * SEC, "1m30s"},
    {1500 * MS, "1.5s"},
    {500 * MS, ".5s"},
    {5 * SEC, "5.s"},
    {250 * US, "250us"},
    {250 * US, "250\xc2\xb5s"},   /* U+00B5 micro sign */
    {250 * US, "250\xce\xbcs"},   /* U+03BC Greek mu */
    {12 * NS, "12ns"},
    {3 * HOUR + 30 * MIN, "3.5h"},
    {1 * HOUR + 2 * MIN + 3500 * MS, "1h2m3.5s"},
    {-(1 * HOUR + 2 * MIN + 3500 * MS), "-1h2m3.5s"},
    {1 * SEC + 1 * MS, "1s1ms"},          /* units may repeat and come in any order */
    {2 * SEC, "1s1s"},
    {1 * SEC + 1 * NS, "1.000000001s"},
    {1 * SEC, "1.0000000009s"},           /* below a nanosecond is truncated */
    {100 * MS, "0.100000000000000000000001s"},
    {INT64_MAX, "9223372036854775807ns"},
    {INT64_MIN, "-9223372036854775808ns"},
    {INT64_MAX, "2562047h47m16.854775807s"},
    {INT64_MIN, "-2562047h47m16.854775808s"},
};

static void test_parse_accepts_go_syntax(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof PARSE_CASES / sizeof PARSE_CASES[0]; i++) {
        int64_t got = 12345;
        assert_int_equal(vole_duration_parse(PARSE_CASES[i].want, &got), 0);
        assert_true(got == PARSE_CASES[i].ns);
    }
}

static void test_parse_rejects(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "", "-", "+", "1", "1.5", "s", ".s", ".", "-.", "5x", "5 s", " 5s", "5s ", "1s2",
        "ms5", "5S", "5sec", "1..5s", "--5s", "0x5s", "9223372036854775808ns",
        "-9223372036854775809ns", "2562048h", "3000000h", "99999999999999999999ns",
        "2562047h47m16.854775808s",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t got = 777;
        if (vole_duration_parse(bad[i], &got) != -1)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_true(got == 777);
    }
}

static void test_round_trip(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof FORMAT_CASES / sizeof FORMAT_CASES[0]; i++) {
        char buf[VOLE_DURATION_STR_MAX];
        int64_t back = 0;
        assert_int_equal(vole_duration_parse(vole_duration_format(buf, FORMAT_CASES[i].ns), &back), 0);
        assert_true(back == FORMAT_CASES[i].ns);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_matches_go),
        cmocka_unit_test(test_parse_accepts_go_syntax),
        cmocka_unit_test(test_parse_rejects),
        cmocka_unit_test(test_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
