/* vole ping NAME: a tailnet client that pings agent NAME with disco, as
 * `coder ping` does (coder-behaviour.md §1.2): connect (the coordinator and
 * the agent's node, within --timeout each, saying which failed), reach (an
 * ICMP echo through WireGuard, Coder's AwaitReachable), one silent disco
 * ping (is the path already direct?), the diagnostics (the agent's report
 * over the tunnel), then the loop: one disco ping per --wait, first pong
 * wins, until -n pings or Ctrl-C; then the verdict and the summary. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/common.h"
#include "cli/ping_node.h"
#include "diag/duration.h"
#include "derp/derpmap.h"
#include "node/tunnel.h"
#include "stack/ping.h"

/* Coder's AwaitReachable retries from 50 ms; an echo every 200 ms is enough. */
#define REACH_RETRY_S 0.2
/* The agent's report: Coder's diagnostics context allows 30 s in all; one
 * HTTP exchange through a tunnel that just answered needs far less. */
#define REPORT_TIMEOUT_MS 5000u
#define MAX_RECORDS 1000000
/* A STUN round gives up after about 3 s (stun/probe.h). */
#define NETINFO_WAIT_S 4.0   /* -o json with -n 0 keeps at most this many */

uint64_t tping_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int64_t tping_unix_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void finish(struct tping *p, int rc, const char *why)
{
    if (p->phase == TP_DONE)
        return;
    p->phase = TP_DONE;
    p->rc = rc;
    if (why)
        fprintf(stderr, "vole ping: error: %s\n", why);
    ev_break(p->loop, EVBREAK_ALL);
}

void tping_arm(ev_timer *w, struct ev_loop *loop, double s)
{
    ev_timer_stop(loop, w);
    ev_timer_set(w, s, 0.);
    ev_timer_start(loop, w);
}

double tping_secs(int64_t ns)
{
    return (double)ns / 1e9;
}

/* ---- the agent's report -------------------------------------------------------------- */

static void on_report(void *ctx, int status, const char *body, size_t len, const char *err)
{
    struct tping *p = ctx;

    p->report_status = status;
    free(p->report_body);
    p->report_body = NULL;
    p->report_len = 0;
    if (status && body && (p->report_body = malloc(len + 1))) {
        memcpy(p->report_body, body, len);
        p->report_body[len] = '\0';
        p->report_len = len;
    }
    snprintf(p->report_err, sizeof p->report_err, "%s", err ? err : "");
    if (p->phase == TP_REPORT)
        tping_start_loop(p);
    else if (p->phase == TP_END)
        finish(p, p->sum.successful ? 0 : 1, NULL);
}

void tping_fetch_report(struct tping *p, enum tping_phase phase)
{
    char err[256];

    p->phase = phase;
    ev_timer_stop(p->loop, &p->deadline);
    if (vole_tailnet_fetch_report(p->t, p->a.agent, REPORT_TIMEOUT_MS, on_report, p, err, sizeof err) < 0)
        on_report(p, 0, NULL, 0, err);
}

/* ---- this node's NetInfo ------------------------------------------------------------------ */

/* Coder's rules read a nil NetInfo as "nothing known" and say nothing; a
 * first STUN round that has not finished yet would so hide "UDP blocked"
 * or "hard NAT". Wait for it (at most NETINFO_WAIT_S) when STUN can run. */
static bool netinfo_settled(struct tping *p)
{
    struct vole_tailnet_netinfo ni;
    const struct derp_map *m = vole_tailnet_derp_map(p->t);

    return p->a.cfg.disable_direct || vole_tailnet_server_blocks_direct(p->t) || !m || !derp_map_has_stun(m) ||
           vole_tailnet_netinfo(p->t, &ni) || tping_mono_ns() >= p->netinfo_wait_end;
}

static void wait_netinfo(struct tping *p)
{
    p->phase = TP_NETINFO;
    ev_timer_stop(p->loop, &p->deadline);
    p->netinfo_wait_end = tping_mono_ns() + (uint64_t)(NETINFO_WAIT_S * 1e9);
    if (netinfo_settled(p)) {
        tping_fetch_report(p, TP_REPORT);
        return;
    }
    tping_arm(&p->tick, p->loop, 0.1);
}

/* ---- the silent ping ------------------------------------------------------------------ */

static void on_silent_pong(void *ctx, const struct vole_tailnet_pong *pong)
{
    struct tping *p = ctx;

    p->ping_id = 0;
    p->ping_p2p = pong && pong->direct;
    wait_netinfo(p);
}

static void silent_ping(struct tping *p)
{
    char err[256];

    vole_pinger_free(p->pinger);
    p->pinger = NULL;
    ev_timer_stop(p->loop, &p->tick);
    p->phase = TP_SILENT;
    p->ping_id = vole_tailnet_ping(p->t, p->a.agent, on_silent_pong, p, err, sizeof err);
    if (p->ping_id < 0) {
        p->ping_id = 0;
        wait_netinfo(p);
        return;
    }
    tping_arm(&p->deadline, p->loop, tping_secs(p->a.timeout_ns));
}

/* ---- connect and reach ------------------------------------------------------------------- */

static void on_echo(void *ctx, uint16_t seq, size_t payload_len, uint64_t rtt_ns)
{
    struct tping *p = ctx;
    (void)seq;
    (void)payload_len;
    (void)rtt_ns;
    if (p->phase == TP_REACH)
        silent_ping(p);
}

static void start_reach(struct tping *p)
{
    p->phase = TP_REACH;
    p->pinger = vole_pinger_new(vole_tailnet_stack(p->t), &p->agent_ip, on_echo, p);
    if (!p->pinger) {
        finish(p, 1, "out of memory");
        return;
    }
    vole_pinger_send(p->pinger, p->icmp_seq++, 0);
    tping_arm(&p->tick, p->loop, REACH_RETRY_S);
    tping_arm(&p->deadline, p->loop, tping_secs(p->a.timeout_ns));
}

static void try_connected(struct tping *p)
{
    if (p->phase != TP_CONNECT || !vole_tailnet_stack(p->t) ||
        vole_tailnet_peer_addr(p->t, p->a.agent, &p->agent_ip) < 0)
        return;
    start_reach(p);
}

static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct tping *p = w->data;
    (void)loop;
    (void)revents;

    switch (p->phase) {
    case TP_CONNECT: try_connected(p); break;
    case TP_REACH:
        vole_pinger_send(p->pinger, p->icmp_seq++, 0);
        tping_arm(&p->tick, p->loop, REACH_RETRY_S);
        break;
    case TP_NETINFO:
        if (netinfo_settled(p))
            tping_fetch_report(p, TP_REPORT);
        else
            tping_arm(&p->tick, p->loop, 0.1);
        break;
    case TP_LOOP: tping_send_loop_ping(p); break;
    default: break;
    }
}

/* The phase's time is up: say what could not be reached. */
static void on_deadline(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct tping *p = w->data;
    char why[768], d[VOLE_DURATION_STR_MAX], path[96];
    struct vole_tailnet_path tp;
    (void)loop;
    (void)revents;

    vole_duration_format(d, p->a.timeout_ns);
    switch (p->phase) {
    case TP_CONNECT:
        if (!vole_tailnet_stack(p->t)) {
            const char *e = vole_tailnet_control_error(p->t);
            snprintf(why, sizeof why, "could not reach the vole coordinator at %s within %s%s%s", p->a.cfg.url, d,
                     *e ? ": " : "", e);
        } else {
            snprintf(why, sizeof why, "agent \"%s\" is not connected to the vole coordinator (no node within %s)",
                     p->a.agent, d);
        }
        finish(p, 1, why);
        break;
    case TP_REACH:
        vole_tailnet_peer_path(p->t, p->a.agent, &tp);
        if (tp.kind == VOLE_PATH_DERP)
            snprintf(path, sizeof path, "DERP(%s)", vole_ping_region_name(vole_tailnet_derp_map(p->t), tp.derp_region));
        else
            snprintf(path, sizeof path, "%s", tp.kind == VOLE_PATH_DIRECT ? "a direct path" : "no path yet");
        snprintf(why, sizeof why, "agent \"%s\" did not answer through the tunnel within %s (its node is known; %s)",
                 p->a.agent, d, path);
        finish(p, 1, why);
        break;
    case TP_SILENT:
        vole_tailnet_ping_cancel(p->t, p->ping_id);
        p->ping_id = 0;
        wait_netinfo(p);
        break;
    case TP_LOOP:
        vole_tailnet_ping_cancel(p->t, p->ping_id);
        tping_loop_timed_out(p);
        break;
    default: break;
    }
}

/* ---- the node ------------------------------------------------------------------------------ */

static void on_ready(void *ctx, const struct coord_node *self)
{
    (void)self;
    try_connected(ctx);
}

static void on_peer(void *ctx, const char *name, const struct coord_node *node)
{
    struct tping *p = ctx;
    (void)node;
    if (strcmp(name, p->a.agent) == 0)
        try_connected(p);
}

static void on_stack_gone(void *ctx, struct vole_stack *s)
{
    struct tping *p = ctx;
    (void)s;
    vole_pinger_free(p->pinger);
    p->pinger = NULL;
    if (p->phase == TP_REACH)
        p->phase = TP_CONNECT;   /* on_ready brings the new stack */
}

static void on_fatal(void *ctx, const char *why)
{
    finish(ctx, 1, why);
}

static void on_log(void *ctx, const char *msg)
{
    const struct tping *p = ctx;
    if (p->a.cfg.verbose)
        fprintf(stderr, "vole ping: %s\n", msg);
}

static void cleanup(struct tping *p)
{
    ev_timer_stop(p->loop, &p->tick);
    ev_timer_stop(p->loop, &p->deadline);
    if (p->ping_id > 0)
        vole_tailnet_ping_cancel(p->t, p->ping_id);
    vole_pinger_free(p->pinger);
    p->pinger = NULL;
}

int tping_run(struct tping *p)
{
    struct vole_tailnet_ops ops = {
        .ctx = p, .on_ready = on_ready, .on_peer = on_peer, .on_stack_gone = on_stack_gone, .on_fatal = on_fatal,
    };
    char err[512];

    p->loop = ev_default_loop(EVFLAG_AUTO);
    if (!p->loop) {
        fprintf(stderr, "vole ping: error: no event loop\n");
        return 1;
    }
    p->a.cfg.log = on_log;
    p->a.cfg.log_ctx = p;
    vole_ping_summary_init(&p->sum, p->a.agent);
    p->t = vole_tailnet_new(p->loop, &p->a.cfg, &ops, err, sizeof err);
    if (!p->t || vole_tailnet_add_tunnel(p->t, p->a.agent) < 0) {
        fprintf(stderr, "vole ping: error: %s\n", !p->t ? err : "bad agent name");
        vole_tailnet_free(p->t);
        return 1;
    }
    ev_timer_init(&p->tick, on_tick, 0.1, 0.1);
    p->tick.data = p;
    ev_timer_start(p->loop, &p->tick);
    ev_timer_init(&p->deadline, on_deadline, tping_secs(p->a.timeout_ns), 0.);
    p->deadline.data = p;
    ev_timer_start(p->loop, &p->deadline);
    cli_stop_on_signals(p->loop);
    ev_run(p->loop, 0);
    cleanup(p);
    /* Interrupted in the loop: the verdict and the summary, as Coder's
     * Ctrl-C gives. Before it, there is nothing to sum up. */
    if (p->phase == TP_LOOP || p->phase == TP_END) {
        p->phase = TP_DONE;
        p->rc = p->sum.successful ? 0 : 1;
    }
    if (p->loop_start_ns && p->rc != 2)
        tping_print_end(p);
    vole_tailnet_free(p->t);
    free(p->recs);
    free(p->report_body);
    return p->rc;
}
