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

#endif
