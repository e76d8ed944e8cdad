/* conf/bool.h: Go's ParseBool spellings, and the environment switches that
 * fall back to their default on anything else. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "conf/bool.h"

static void test_parse(void **state)
{
    static const char *const yes[] = { "1", "t", "T", "true", "TRUE", "True" };
    static const char *const no[] = { "0", "f", "F", "false", "FALSE", "" };
    static const char *const bad[] = { "yes", "on", "off", "2", "tru", " true", "maybe" };
    bool b;
    (void)state;

    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        b = false;
        assert_int_equal(vole_parse_bool(yes[i], &b), 0);
        assert_true(b);
    }
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
        b = true;
        assert_int_equal(vole_parse_bool(no[i], &b), 0);
        assert_false(b);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        b = true;
        assert_int_equal(vole_parse_bool(bad[i], &b), -1);
        assert_true(b);   /* untouched */
    }
}

static void test_env(void **state)
{
    (void)state;
    unsetenv("VOLE_TEST_SWITCH");
    assert_true(vole_env_bool("VOLE_TEST_SWITCH", true));
    assert_false(vole_env_bool("VOLE_TEST_SWITCH", false));
    setenv("VOLE_TEST_SWITCH", "", 1);
    assert_true(vole_env_bool("VOLE_TEST_SWITCH", true));
    setenv("VOLE_TEST_SWITCH", "0", 1);
    assert_false(vole_env_bool("VOLE_TEST_SWITCH", true));
    setenv("VOLE_TEST_SWITCH", "True", 1);
    assert_true(vole_env_bool("VOLE_TEST_SWITCH", false));
    setenv("VOLE_TEST_SWITCH", "maybe", 1);   /* cli/main.c refuses it before this */
    assert_false(vole_env_bool("VOLE_TEST_SWITCH", false));
    assert_true(vole_env_bool("VOLE_TEST_SWITCH", true));
    unsetenv("VOLE_TEST_SWITCH");
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_parse), cmocka_unit_test(test_env) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
