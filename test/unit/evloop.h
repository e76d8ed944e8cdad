/* Bounded libev runs for the unit tests: every ev_run stops at a time limit. */
#ifndef VOLE_TEST_EVLOOP_H
#define VOLE_TEST_EVLOOP_H

#include <ev.h>
#include <stdbool.h>

struct test_timeout {
    ev_timer w;
    bool fired;
};

static inline void test_on_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    ((struct test_timeout *)w->data)->fired = true;
    ev_break(loop, EVBREAK_ALL);
}

/* Runs the loop until a callback breaks it; false if the time limit hit. */
static inline bool run_loop_for(struct ev_loop *loop, double limit)
{
    struct test_timeout t = {.fired = false};
    ev_now_update(loop);
    ev_timer_init(&t.w, test_on_timeout, limit, 0);
    t.w.data = &t;
    ev_timer_start(loop, &t.w);
    ev_run(loop, 0);
    ev_timer_stop(loop, &t.w);
    return !t.fired;
}

/* ---- waiting for a condition -------------------------------------------- */

typedef bool (*test_cond_fn)(void *arg);

#define RUN_UNTIL_MAX_RUNS 10000   /* ev_runs per wait: callbacks' own breaks */
#define RUN_UNTIL_TICK 0.005       /* seconds between wake-ups */

struct test_waiter {
    ev_check check;
    ev_timer tick;
    test_cond_fn cond;
    void *arg;
};

static inline void test_on_check(struct ev_loop *loop, ev_check *w, int revents)
{
    struct test_waiter *wt = w->data;
    (void)revents;
    if (wt->cond(wt->arg))
        ev_break(loop, EVBREAK_ALL);
}

/* The tick wakes the loop so that a condition set by a helper thread, or
 * one that only time makes true, is seen. */
static inline void test_on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)w;
    (void)revents;
}

/* Runs the loop until cond(arg) holds or `limit` seconds pass; cond's final
 * value. A callback's own ev_break ends one ev_run, not the wait. */
static inline bool run_until(struct ev_loop *loop, test_cond_fn cond, void *arg, double limit)
{
    struct test_waiter w = {.cond = cond, .arg = arg};
    struct test_timeout t = {.fired = false};
    if (cond(arg))
        return true;
    ev_now_update(loop);
    ev_check_init(&w.check, test_on_check);
    w.check.data = &w;
    ev_timer_init(&w.tick, test_on_tick, RUN_UNTIL_TICK, RUN_UNTIL_TICK);
    ev_timer_init(&t.w, test_on_timeout, limit, 0);
    t.w.data = &t;
    ev_check_start(loop, &w.check);
    ev_timer_start(loop, &w.tick);
    ev_timer_start(loop, &t.w);
    for (int i = 0; i < RUN_UNTIL_MAX_RUNS && !t.fired && !cond(arg); i++)
        ev_run(loop, 0);
    ev_check_stop(loop, &w.check);
    ev_timer_stop(loop, &w.tick);
    ev_timer_stop(loop, &t.w);
    return cond(arg);
}

static inline bool test_never(void *arg)
{
    (void)arg;
    return false;
}

/* Lets the loop run for all of `seconds` (to see that nothing happens, or
 * to let closed streams finish). */
static inline void run_for(struct ev_loop *loop, double seconds)
{
    (void)run_until(loop, test_never, NULL, seconds);
}

#endif
