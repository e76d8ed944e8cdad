/* `vole forward --tcp [BIND:]LPORT:RPORT` specs (tailnet/node_spec.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "tailnet/node.h"

static void ok(const char *text, bool has_bind, const char *bind, uint16_t lport, uint16_t rport)
{
    struct vole_tailnet_tcp_spec s;
    char err[256] = "";

    if (vole_tailnet_tcp_spec_parse(text, &s, err, sizeof err) < 0)
        fail_msg("%s: %s", text, err);
    assert_int_equal(s.has_bind, has_bind);
    assert_string_equal(s.bind, bind);
    assert_int_equal(s.lport, lport);
    assert_int_equal(s.rport, rport);
}

static void bad(const char *text, const char *want)
{
    struct vole_tailnet_tcp_spec s;
    char err[256] = "";

    assert_int_equal(vole_tailnet_tcp_spec_parse(text, &s, err, sizeof err), -1);
    if (!strstr(err, want))
        fail_msg("%s: error \"%s\" does not say \"%s\"", text, err, want);
}

static void test_good_specs(void **state)
{
    (void)state;
    ok("8080:22", false, "", 8080, 22);
    ok("0:22", false, "", 0, 22);
    ok("65535:65535", false, "", 65535, 65535);
    ok("127.0.0.2:2222:22", true, "127.0.0.2", 2222, 22);
    ok("[::1]:2222:22", true, "::1", 2222, 22);
    ok("*:2222:22", true, "*", 2222, 22);
    ok(":2222:22", true, "", 2222, 22);
    ok("localhost:1:2", true, "localhost", 1, 2);
}

static void test_bad_specs(void **state)
{
    (void)state;
    bad("", "want [BIND:]LPORT:RPORT");
    bad("22", "want [BIND:]LPORT:RPORT");
    bad("8080:", "remote port \"\"");
    bad("8080:0", "remote port \"0\": not 1..65535");
    bad("8080:65536", "remote port \"65536\"");
    bad("8080:+22", "remote port \"+22\"");
    bad("8080:22 ", "remote port \"22 \"");
    bad("8080:000022", "remote port");
    bad("99999999999999999999:22", "local port");
    bad(":22", "local port \"\"");
    bad("-1:22", "local port \"-1\"");
    bad("::1:2222:22", "IPv6 addresses go in brackets");
    bad("[::1:2222:22", "a '[' without its ']'");
    bad("a]:2222:22", "IPv6 addresses go in brackets");
    bad("host:x:22", "local port \"x\"");
}

/* A bind name longer than the field is refused, not cut. */
static void test_long_bind(void **state)
{
    char text[400];
    (void)state;
    memset(text, 'a', 300);
    strcpy(text + 300, ":1:2");
    bad(text, "bind address too long");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_specs),
        cmocka_unit_test(test_bad_specs),
        cmocka_unit_test(test_long_bind),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
