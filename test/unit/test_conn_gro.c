/* Receive GRO (stack/gro.h) end to end: two vole_conn instances with lwIP
 * stacks in one process on loopback (test/unit/conn_fixture.h), a TCP
 * transfer of several MiB from a to b over IPv4 and IPv6 with GRO on (the
 * default): the content arrives intact and b's counters show that segments
 * really were merged; then the same with GRO off on both stacks, which must
 * merge nothing. The durations are printed for comparison, never asserted. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lwip/tcp.h"
#include "stack/gro.h"
#include "stack/stack.h"

#include "test/unit/evloop.h"
#include "test/unit/conn_fixture.h"

#define XFER ((size_t)6 * 1024 * 1024)
#define XFER_LIMIT 60.0

#include "test/unit/conn_xfer.h"

static int setup(void **state)
{
    static struct fixture f;
    cf_setup(&f, true);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    cf_teardown(*state);
    return 0;
}

/* One transfer; returns b's GRO counters over it. */
static struct vole_gro_stats transfer(struct fixture *f, int family, u16_t port)
{
    struct vole_gro_stats before, after;
    struct xfer x;
    ev_tstamp t0;

    vole_stack_gro_stats(f->b.stack, &before);
    ev_now_update(f->loop);
    t0 = ev_now(f->loop);
    xfer_start(f, &x, family, port);
    assert_true(run_until(f->loop, xfer_done, &x, XFER_LIMIT));
    ev_now_update(f->loop);
    vole_stack_gro_stats(f->b.stack, &after);
    assert_false(x.failed);
    assert_int_equal(x.received, XFER);
    assert_true(x.intact);
    xfer_stop(&x);
    after.merged -= before.merged;
    after.delivered -= before.delivered;
    after.passed -= before.passed;
    fprintf(stderr, "  IPv%d %zu MiB in %.3f s; b merged %llu packets into %llu segments, passed %llu\n", family,
            XFER >> 20, ev_now(f->loop) - t0, (unsigned long long)after.merged,
            (unsigned long long)after.delivered, (unsigned long long)after.passed);
    return after;
}

static void test_gro_on(void **state)
{
    struct fixture *f = *state;

    introduce(f);
    for (int family = 4; family <= 6; family += 2) {
        struct vole_gro_stats st = transfer(f, family, (u16_t)(6000 + family));
        assert_true(st.merged > 0);
        assert_true(st.delivered > 0);
        assert_true(st.merged >= st.delivered);
    }
}

static void test_gro_off(void **state)
{
    struct fixture *f = *state;

    introduce(f);
    vole_stack_set_gro(f->a.stack, false);
    vole_stack_set_gro(f->b.stack, false);
    for (int family = 4; family <= 6; family += 2) {
        struct vole_gro_stats st = transfer(f, family, (u16_t)(6100 + family));
        assert_int_equal(st.merged, 0);
        assert_int_equal(st.delivered, 0);
        assert_int_equal(st.passed, 0);   /* with GRO off nothing enters it */
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_gro_on, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gro_off, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
