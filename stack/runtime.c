/* Driving lwIP (NO_SYS=1) from one libev loop.
 *
 * lwIP keeps global state, so there is exactly one instance per process; every
 * tunnel's stack shares it and the watchers below. Two watchers:
 *  - an ev_timer that runs sys_check_timeouts() and is re-armed with
 *    sys_timeouts_sleeptime(), so lwIP wakes us only when a timeout is due;
 *  - an ev_prepare at EV_MAXPRI that runs once per loop iteration, after all
 *    input of the iteration was processed and before libev blocks. It first
 *    flushes the input entries (packets GRO held back, so that lwIP sees the
 *    iteration's ACKs before anything sends), then the marked entries
 *    (tcp_output for pcbs written from outside lwIP callbacks, socket
 *    writes) and then re-arms the timer, because input and
 *    writes may have scheduled new lwIP timeouts. The WireGuard UDP flush is a
 *    lower-priority prepare watcher, so it sees everything emitted here. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>

#include "lwip/init.h"
#include "lwip/tcp.h"
#include "lwip/timeouts.h"

#include "stack/runtime.h"

/* Entries flushed per prepare before giving the loop back: a guard against a
 * flush function that keeps re-marking itself, never hit in normal operation. */
#define VOLE_FLUSH_BUDGET 100000u

/* sys_timeouts_sleeptime() says "nothing scheduled": poll again this late. */
#define VOLE_IDLE_REARM_S 3600.0

struct vole_runtime {
    struct ev_loop *loop;
    unsigned users;
    ev_timer timer;          /* lwIP timeouts; repeating so libev never stops it */
    ev_prepare prepare;      /* per-iteration flush, EV_MAXPRI */
    struct vole_link *dirty; /* struct vole_flush entries */
    struct vole_link *input; /* struct vole_flush entries holding lwIP input */
};

static bool lwip_ready;
static struct vole_runtime rt;

static void flush_list(struct vole_link **head)
{
    unsigned budget = VOLE_FLUSH_BUDGET;

    while (*head && budget--) {
        struct vole_flush *f = vole_container_of(*head, struct vole_flush, link);
        vole_link_unlink(&f->link);
        f->fn(f);
    }
}

void vole_runtime_rearm(void)
{
    double after;

    if (!rt.loop)
        return;
    if (rt.dirty || rt.input) {
        after = 1e-6;   /* leftovers from an exhausted budget: don't block */
    } else {
        u32_t ms = sys_timeouts_sleeptime();
        if (ms == SYS_TIMEOUTS_SLEEPTIME_INFINITE)
            after = VOLE_IDLE_REARM_S;
        else
            /* A due timeout (0) still waits 1 ms: libev's clock and lwIP's
             * millisecond clock round differently, and a zero timer could
             * otherwise fire over and over within the same millisecond. */
            after = (ms ? ms : 1) / 1000.0;
    }
    /* ev_timer_again is one heap adjustment; skip even that when unchanged. */
    if (ev_is_active(&rt.timer) && fabs(ev_timer_remaining(rt.loop, &rt.timer) - after) < 0.0005)
        return;
    rt.timer.repeat = after;
    ev_timer_again(rt.loop, &rt.timer);
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop; (void)w; (void)revents;
    /* Held input first: a timer must not act (retransmit, send a delayed
     * ACK) on a view of the connection that misses segments already here. */
    flush_list(&rt.input);
    sys_check_timeouts();
    vole_runtime_rearm();
}

static void on_prepare(struct ev_loop *loop, ev_prepare *w, int revents)
{
    (void)loop; (void)w; (void)revents;
    flush_list(&rt.input);
    flush_list(&rt.dirty);
    vole_runtime_rearm();
}

static void start_watchers(struct ev_loop *loop)
{
    rt.loop = loop;
    ev_init(&rt.timer, on_timer);
    ev_prepare_init(&rt.prepare, on_prepare);
    ev_set_priority(&rt.prepare, EV_MAXPRI);
    ev_prepare_start(loop, &rt.prepare);
    rt.timer.repeat = VOLE_IDLE_REARM_S;
    ev_timer_again(loop, &rt.timer);
    /* Background watchers: they must not keep ev_run() alive on their own. */
    ev_unref(loop);
    ev_unref(loop);
    vole_runtime_rearm();
}

static void stop_watchers(void)
{
    ev_ref(rt.loop);
    ev_ref(rt.loop);
    ev_prepare_stop(rt.loop, &rt.prepare);
    ev_timer_stop(rt.loop, &rt.timer);
    rt.loop = NULL;
}
/* lwIP 2.2.1's tcp_init starts the ephemeral port counter at a random
 * value in 0xc000..0xffff; from 0xffff its first increment overflows to 0,
 * which tcp_new_port hands out as "no port", so the process's first
 * tcp_connect fails with ERR_BUF (1 process in 16384). One throwaway bind to
 * port 0 takes that first step; later ports are then valid (from 1 up in
 * that rare case, which inside the tunnel is as good as any). */
static void skip_port_zero(void)
{
    struct tcp_pcb *pcb = tcp_new();

    if (!pcb)
        return;
    (void)tcp_bind(pcb, IP4_ADDR_ANY, 0);
    tcp_abort(pcb);
}


int vole_runtime_acquire(struct ev_loop *loop, char *err, size_t errlen)
{
    if (rt.users && rt.loop != loop) {
        snprintf(err, errlen, "all stacks must share one event loop (lwIP is process-global)");
        return -1;
    }
    if (!lwip_ready) {
        lwip_init();
        skip_port_zero();
        lwip_ready = true;
    }
    if (rt.users++ == 0)
        start_watchers(loop);
    return 0;
}

void vole_runtime_release(void)
{
    if (!rt.users || --rt.users)
        return;
    /* Stacks unmark their entries before releasing; drop any stragglers. */
    while (rt.dirty)
        vole_link_unlink(rt.dirty);
    while (rt.input)
        vole_link_unlink(rt.input);
    stop_watchers();
}

struct ev_loop *vole_runtime_loop(void)
{
    return rt.loop;
}

void vole_runtime_mark(struct vole_flush *f)
{
    if (!vole_link_linked(&f->link))
        vole_link_push(&rt.dirty, &f->link);
}

void vole_runtime_mark_input(struct vole_flush *f)
{
    if (!vole_link_linked(&f->link))
        vole_link_push(&rt.input, &f->link);
}

void vole_runtime_unmark(struct vole_flush *f)
{
    vole_link_unlink(&f->link);
}
