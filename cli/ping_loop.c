/* The ping loop of `vole ping NAME` (coder-behaviour.md §1.2 step 12): one
 * disco ping per --wait, each bounded by --timeout, a pong or timeout line
 * per attempt, the "p2p connection established" line once, the records
 * -o json needs; after the n-th attempt the agent's report is fetched once
 * more (cli/ping_node.c) before the verdict. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/ping_node.h"
#include "node/tunnel.h"

#define MAX_RECORDS 1000000   /* -o json with -n 0 keeps at most this many */


static struct tping_record *new_record(struct tping *p)
{
    struct tping_record *r;

    if (!p->a.json || p->n_recs >= MAX_RECORDS) {
        memset(&p->scratch, 0, sizeof p->scratch);
        return &p->scratch;
    }
    if (p->n_recs == p->cap_recs) {
        size_t cap = p->cap_recs ? p->cap_recs * 2 : 16;
        struct tping_record *n = realloc(p->recs, cap * sizeof *n);
        if (!n) {
            memset(&p->scratch, 0, sizeof p->scratch);
            return &p->scratch;
        }
        p->recs = n;
        p->cap_recs = cap;
    }
    r = &p->recs[p->n_recs++];
    memset(r, 0, sizeof *r);
    return r;
}

/* The n-th attempt is over: pause --wait, or end. */
static void attempt_over(struct tping *p)
{
    p->ping_id = 0;
    ev_timer_stop(p->loop, &p->deadline);
    if (p->a.count && p->attempts >= p->a.count) {
        tping_fetch_report(p, TP_END);
        return;
    }
    tping_arm(&p->tick, p->loop, tping_secs(p->a.wait_ns));
}

static void pong_to_record(const struct vole_tailnet_pong *pong, struct tping_record *r)
{
    r->ok = true;
    r->pong.latency_ns = (int64_t)pong->latency_ns;
    r->pong.direct = pong->direct;
    r->pong.derp_region = pong->derp_region;
    if (pong->direct) {
        vole_endpoint_format(r->ep, sizeof r->ep, &pong->endpoint);
        r->pong.endpoint = r->ep;
    }
}

static struct vole_ping_clock clock_now(const struct tping *p)
{
    struct vole_ping_clock c = { .show = p->a.time || p->a.utc };
    time_t now = time(NULL);
    struct tm tm;

    c.unix_s = (int64_t)now;
    if (!p->a.utc && localtime_r(&now, &tm))
        c.utc_offset_s = (int)tm.tm_gmtoff;
    return c;
}

static void on_loop_pong(void *ctx, const struct vole_tailnet_pong *pong)
{
    struct tping *p = ctx;
    FILE *out = p->a.json ? stderr : stdout;
    struct tping_record *r = new_record(p);
    struct vole_ping_clock c = clock_now(p);

    r->unix_ns = p->ping_sent_unix_ns;
    if (!pong) {
        r->error = "timed out";
        vole_ping_summary_add(&p->sum, false, 0);
        vole_ping_print_timeout(out, p->a.agent);
        attempt_over(p);
        return;
    }
    pong_to_record(pong, r);
    vole_ping_summary_add(&p->sum, true, r->pong.latency_ns);
    vole_ping_print_pong(out, p->a.agent, &r->pong, vole_tailnet_derp_map(p->t), &c);
    if (pong->direct && !p->ping_p2p && !p->p2p_printed) {
        p->p2p_printed = true;
        vole_ping_print_p2p_established(out, (int64_t)(tping_mono_ns() - p->loop_start_ns));
    }
    p->last = *r;
    if (r->pong.endpoint)
        p->last.pong.endpoint = p->last.ep;
    p->have_last = true;
    fflush(out);
    attempt_over(p);
}

void tping_send_loop_ping(struct tping *p)
{
    char err[256];

    p->attempts++;
    p->ping_sent_unix_ns = tping_unix_ns();
    p->ping_id = vole_tailnet_ping(p->t, p->a.agent, on_loop_pong, p, err, sizeof err);
    if (p->ping_id < 0) {
        struct tping_record *r = new_record(p);
        p->ping_id = 0;
        r->unix_ns = p->ping_sent_unix_ns;
        r->error = "failed";
        vole_ping_summary_add(&p->sum, false, 0);
        vole_ping_print_failed(p->a.json ? stderr : stdout, p->a.agent, err);
        attempt_over(p);
        return;
    }
    tping_arm(&p->deadline, p->loop, tping_secs(p->a.timeout_ns));
}

void tping_start_loop(struct tping *p)
{
    tping_print_diagnostics(p);
    p->phase = TP_LOOP;
    p->loop_start_ns = tping_mono_ns();
    tping_send_loop_ping(p);
}

/* The loop's deadline: this attempt gets no pong. */
void tping_loop_timed_out(struct tping *p)
{
    on_loop_pong(p, NULL);
}

