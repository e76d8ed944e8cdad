/* Replay window: a port of the Linux kernel's selftest/counter.c scripted
 * cases and fill loops (the inputs and expected results), plus a few edges of
 * our own. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdbool.h>
#include <cmocka.h>

#include "wg/messages.h"
#include "wg/replay.h"

/* The kernel's names for the two quantities its cases are written in. */
#define WINDOW WG_REPLAY_WINDOW             /* kernel COUNTER_WINDOW_SIZE */
#define LIM    ((uint64_t)WINDOW + 1)        /* kernel T_LIM */
#define REJECT WG_REJECT_AFTER_MESSAGES

/* One scripted run: the step number makes a failure point at the kernel's
 * numbered case. */
struct script {
    struct wg_replay r;
    unsigned step;
};

static void start(struct script *s)
{
    wg_replay_init(&s->r);
    s->step = 0;
}

static void t(struct script *s, uint64_t counter, bool expect)
{
    s->step++;
    bool got = wg_replay_check(&s->r, counter);
    if (got != expect)
        fail_msg("step %u: counter %llu gave %d, expected %d", s->step,
                 (unsigned long long)counter, got, expect);
}

static void test_scripted(void **state)
{
    struct script s;
    start(&s);
    t(&s, 0, true);                       /*  1 */
    t(&s, 1, true);                       /*  2 */
    t(&s, 1, false);                      /*  3 */
    t(&s, 9, true);                       /*  4 */
    t(&s, 8, true);                       /*  5 */
    t(&s, 7, true);                       /*  6 */
    t(&s, 7, false);                      /*  7 */
    t(&s, LIM, true);                     /*  8 */
    t(&s, LIM - 1, true);                 /*  9 */
    t(&s, LIM - 1, false);                /* 10 */
    t(&s, LIM - 2, true);                 /* 11 */
    t(&s, 2, true);                       /* 12 */
    t(&s, 2, false);                      /* 13 */
    t(&s, LIM + 16, true);                /* 14 */
    t(&s, 3, false);                      /* 15 */
    t(&s, LIM + 16, false);               /* 16 */
    t(&s, LIM * 4, true);                 /* 17 */
    t(&s, LIM * 4 - (LIM - 1), true);     /* 18 */
    t(&s, 10, false);                     /* 19 */
    t(&s, LIM * 4 - LIM, false);          /* 20 */
    t(&s, LIM * 4 - (LIM + 1), false);    /* 21 */
    t(&s, LIM * 4 - (LIM - 2), true);     /* 22 */
    t(&s, LIM * 4 + 1 - LIM, false);      /* 23 */
    t(&s, 0, false);                      /* 24 */
    /* Steps 25-34 are written relative to REJECT_AFTER_MESSAGES. The kernel
     * defines it as U64_MAX - COUNTER_WINDOW_SIZE - 1 (2^64 - 8130); ours is
     * wireguard-go's 2^64 - 2^13 - 1 (2^64 - 8194), 64 lower. The cases carry
     * over unchanged: they only probe the constant itself and its neighbours. */
    t(&s, REJECT, false);                 /* 25 */
    t(&s, REJECT - 1, true);              /* 26 */
    t(&s, REJECT, false);                 /* 27 */
    t(&s, REJECT - 1, false);             /* 28 */
    t(&s, REJECT - 2, true);              /* 29 */
    t(&s, REJECT + 1, false);             /* 30 */
    t(&s, REJECT + 2, false);             /* 31 */
    t(&s, REJECT - 2, false);             /* 32 */
    t(&s, REJECT - 3, true);              /* 33 */
    t(&s, 0, false);                      /* 34 */
}

/* Fill 1..WINDOW ascending; 0 is then exactly at the window's far edge. */
static void test_fill_up_then_zero(void **state)
{
    struct script s;
    start(&s);
    for (uint64_t i = 1; i <= WINDOW; i++)
        t(&s, i, true);
    t(&s, 0, true);
    t(&s, 0, false);
}

/* Fill 2..WINDOW+1: 1 is at the edge, 0 has fallen out. */
static void test_fill_up_shifted(void **state)
{
    struct script s;
    start(&s);
    for (uint64_t i = 2; i <= WINDOW + 1; i++)
        t(&s, i, true);
    t(&s, 1, true);
    t(&s, 0, false);
}

/* Descending from WINDOW down to 0: every one fits. */
static void test_fill_down(void **state)
{
    struct script s;
    start(&s);
    for (uint64_t i = WINDOW + 1; i-- > 0;)
        t(&s, i, true);
}

/* Descending from WINDOW+1 down to 1: then 0 is one past the edge. */
static void test_fill_down_shifted(void **state)
{
    struct script s;
    start(&s);
    for (uint64_t i = WINDOW + 2; i-- > 1;)
        t(&s, i, true);
    t(&s, 0, false);
}

/* Descending WINDOW..1, then WINDOW+1 moves the top and pushes 0 out. */
static void test_fill_down_then_top(void **state)
{
    struct script s;
    start(&s);
    for (uint64_t i = WINDOW + 1; i-- > 1;)
        t(&s, i, true);
    t(&s, WINDOW + 1, true);
    t(&s, 0, false);
}

/* Same, but 0 goes in before the top moves: both are accepted. */
static void test_fill_down_zero_then_top(void **state)
{
    struct script s;
    start(&s);
    for (uint64_t i = WINDOW + 1; i-- > 1;)
        t(&s, i, true);
    t(&s, 0, true);
    t(&s, WINDOW + 1, true);
}

/* Our own: counters at and past the limit never get in, up to U64_MAX (the
 * +1 shift inside must not wrap). */
static void test_limit_and_overflow(void **state)
{
    struct script s;
    start(&s);
    t(&s, UINT64_MAX, false);
    t(&s, UINT64_MAX - 1, false);
    t(&s, REJECT + WINDOW, false);
    t(&s, REJECT, false);
    t(&s, 0, true);
}

/* Our own: a jump of more than a whole ring must clear stale bits, so a
 * counter whose bit aliases an old one is still accepted, and the window edge
 * is exact after the jump. */
static void test_long_jump(void **state)
{
    struct script s;
    start(&s);
    uint64_t top = 100 + 3 * (uint64_t)WG_REPLAY_BITS;
    t(&s, 100, true);
    t(&s, 100 + WG_REPLAY_BITS, true);    /* same ring slot as 100 */
    t(&s, top, true);                     /* same ring slot again */
    t(&s, top - WINDOW, true);            /* farthest still remembered */
    t(&s, top - WINDOW - 1, false);       /* one past the edge */
    t(&s, top - WG_REPLAY_BITS, false);   /* aliases top's slot; too old */
    t(&s, top - 1, true);
    t(&s, top, false);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scripted),
        cmocka_unit_test(test_fill_up_then_zero),
        cmocka_unit_test(test_fill_up_shifted),
        cmocka_unit_test(test_fill_down),
        cmocka_unit_test(test_fill_down_shifted),
        cmocka_unit_test(test_fill_down_then_top),
        cmocka_unit_test(test_fill_down_zero_then_top),
        cmocka_unit_test(test_limit_and_overflow),
        cmocka_unit_test(test_long_jump),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
