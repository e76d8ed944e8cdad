/* The coordinator client's state machine: one attempt at a time,
 *   resolve -> connect (TCP, TLS) -> WebSocket upgrade -> connected
 * and after any failure a teardown and a new attempt after an exponential
 * backoff (docs/TAILNET.md "Coordinator conversation"). A 401 stops it for
 * good. The transport and the upgrade are in control_transport.c, the message
 * lines in control_lines.c. */
#include "tailnet/control.h"

#include <ev.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tailnet/control_int.h"


/* ---- lifetime guard ----------------------------------------------------- */

/* Every entry from the loop goes through enter/leave, so that a callback of
 * the owner that frees the client only marks it: the memory goes when the
 * outermost entry leaves. */
void control_enter(struct vole_control *c)
{
    c->depth++;
}

static void destroy(struct vole_control *c)
{
    control_lines_reset(c);
    if (c->auth_header)
        sodium_memzero(c->auth_header, strlen(c->auth_header));
    free(c->auth_header);
    free(c->ca_file);
    free(c);
}

void control_leave(struct vole_control *c)
{
    if (--c->depth == 0 && c->freeing)
        destroy(c);
}

/* ---- backoff ------------------------------------------------------------ */

double vole_control_backoff(double *base, double rnd)
{
    double b = *base < VOLE_CONTROL_BACKOFF_FIRST ? VOLE_CONTROL_BACKOFF_FIRST : *base;
    if (b > VOLE_CONTROL_BACKOFF_CAP)
        b = VOLE_CONTROL_BACKOFF_CAP;
    if (!(rnd >= 0 && rnd < 1))
        rnd = 0.5;
    /* +-20% so that every node cut off by one server restart does not come
     * back in the same instant. */
    double d = b * (0.8 + 0.4 * rnd);
    *base = b * 2 > VOLE_CONTROL_BACKOFF_CAP ? VOLE_CONTROL_BACKOFF_CAP : b * 2;
    return d;
}

/* ---- failure and retry -------------------------------------------------- */

void control_set_error(struct vole_control *c, const char *why)
{
    snprintf(c->last_error, sizeof c->last_error, "%s", why);
}

static void stop_timers(struct vole_control *c)
{
    ev_timer_stop(c->loop, &c->step);
    ev_timer_stop(c->loop, &c->deadline);
}

static void teardown(struct vole_control *c)
{
    control_transport_drop(c);
    derp_dial_stop(&c->dialer);
    control_lines_reset(c);
}

static void schedule_attempt(struct vole_control *c, double delay)
{
    stop_timers(c);
    c->state = CONTROL_IDLE;
    ev_timer_set(&c->step, delay, 0);
    ev_timer_start(c->loop, &c->step);
}

/* Ends what is under way; true if a connection was up. */
static bool end_current(struct vole_control *c, const char *why)
{
    bool was_connected = c->state == CONTROL_CONNECTED;

    control_set_error(c, why);
    teardown(c);
    stop_timers(c);
    if (was_connected) {
        c->stats.disconnects++;
        /* A connection that held up, or did any work, was no failure of
         * the server's: come back quickly. */
        if (c->got_msg || ev_now(c->loop) - c->connected_at >= VOLE_CONTROL_STABLE_AFTER)
            c->backoff = VOLE_CONTROL_BACKOFF_FIRST;
    }
    return was_connected;
}

void control_fail(struct vole_control *c, const char *why)
{
    char msg[sizeof c->last_error];

    if (c->freeing || c->state == CONTROL_STOPPED || c->state == CONTROL_IDLE)
        return;
    end_current(c, why);
    double delay = vole_control_backoff(&c->backoff, (double)randombytes_uniform(1000000) / 1e6);
    schedule_attempt(c, delay);
    snprintf(msg, sizeof msg, "%s; reconnecting in %.1f s", why, delay);
    if (c->ops.on_state)
        c->ops.on_state(c->ops.ctx, false, false, msg);
}

void control_refused(struct vole_control *c, const char *why)
{
    if (c->freeing || c->state == CONTROL_STOPPED)
        return;
    end_current(c, why);
    c->state = CONTROL_STOPPED;
    if (c->ops.on_state)
        c->ops.on_state(c->ops.ctx, false, true, why);
}

/* ---- the attempt: resolve, then connect each address in turn ------------- */

static int connect_addr(void *ctx, const struct derp_addr *a, char *err, size_t errlen)
{
    return control_transport_connect(ctx, a, err, errlen);
}

/* Where a dial step left the attempt: the lookup pending, an address
 * connecting, or nothing left to try. */
static void dial_went(struct vole_control *c, enum derp_dial_status st, const char *err)
{
    switch (st) {
    case DERP_DIAL_RESOLVING:
        ev_timer_set(&c->step, DERP_DIAL_POLL, 0);
        ev_timer_start(c->loop, &c->step);
        return;
    case DERP_DIAL_CONNECTING:
        c->state = CONTROL_CONNECTING;
        return;
    case DERP_DIAL_FAILED:
        control_fail(c, err);
        return;
    }
}

void control_connect_failed(struct vole_control *c, const char *why)
{
    char err[160];

    if (c->state != CONTROL_CONNECTING) {
        control_fail(c, why);
        return;
    }
    dial_went(c, derp_dial_next(&c->dialer, why, connect_addr, c, err, sizeof err), err);
}

static void poll_resolve(struct vole_control *c)
{
    char err[160];
    dial_went(c, derp_dial_poll(&c->dialer, connect_addr, c, err, sizeof err), err);
}

static void start_attempt(struct vole_control *c)
{
    char err[160];

    c->stats.attempts++;
    c->state = CONTROL_RESOLVING;
    ev_timer_set(&c->deadline, VOLE_CONTROL_CONNECT_TIMEOUT, 0);
    ev_timer_start(c->loop, &c->deadline);
    dial_went(c, derp_dial_start(&c->dialer, c->url.host, c->url.port, connect_addr, c, err, sizeof err), err);
}

/* The step timer: the backoff wait ends, or a name lookup is due a check. */
static void on_step(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct vole_control *c = w->data;
    control_enter(c);
    if (c->state == CONTROL_IDLE)
        start_attempt(c);
    else if (c->state == CONTROL_RESOLVING)
        poll_resolve(c);
    control_leave(c);
}

/* The deadline timer: the connect timeout while connecting; once connected,
 * the silence check, re-armed lazily from the time of the last input so
 * that reads need not touch the timer. */
static void on_deadline(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct vole_control *c = w->data;
    char why[96];

    control_enter(c);
    if (c->state != CONTROL_CONNECTED) {
        snprintf(why, sizeof why, "connecting timed out (%.0f s)", VOLE_CONTROL_CONNECT_TIMEOUT);
        control_fail(c, why);
    } else {
        double idle = ev_now(loop) - c->last_rx;
        if (idle >= c->dead_after) {
            snprintf(why, sizeof why, "nothing from the server for %.0f s: dead", idle);
            control_fail(c, why);
        } else {
            ev_timer_set(w, c->dead_after - idle, 0);
            ev_timer_start(loop, w);
        }
    }
    control_leave(c);
}

void control_connected(struct vole_control *c)
{
    c->state = CONTROL_CONNECTED;
    c->stats.connects++;
    c->connected_at = c->last_rx = ev_now(c->loop);
    c->got_msg = false;
    ev_timer_stop(c->loop, &c->deadline);
    ev_timer_set(&c->deadline, c->dead_after, 0);
    ev_timer_start(c->loop, &c->deadline);
    if (c->ops.on_state)
        c->ops.on_state(c->ops.ctx, true, false, "connected");
}

/* ---- public API --------------------------------------------------------- */

static int check_config(const struct vole_control_config *cfg, struct derp_url *u, char *err, size_t errlen)
{
    char why[160];

    if (!cfg || !cfg->url) {
        snprintf(err, errlen, "no coordinator URL");
        return -1;
    }
    if (derp_url_parse(cfg->url, u, why, sizeof why) < 0) {
        snprintf(err, errlen, "coordinator URL \"%.200s\": %s", cfg->url, why);
        return -1;
    }
    if (!cfg->token || !cfg->token[0]) {
        snprintf(err, errlen, "no token for the coordinator");
        return -1;
    }
    /* A bearer token is one run of visible characters (RFC 6750 token68 is
     * stricter; anything visible is let through). */
    for (const char *p = cfg->token; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) {
            snprintf(err, errlen, "the token holds a space, control or non-ASCII byte");
            return -1;
        }
    return 0;
}

static int copy_config(struct vole_control *c, const struct vole_control_config *cfg, char *err, size_t errlen)
{
    static const char prefix[] = "Authorization: Bearer ";
    size_t n = sizeof prefix + strlen(cfg->token);

    c->auth_header = malloc(n);
    if (c->auth_header)
        snprintf(c->auth_header, n, "%s%s", prefix, cfg->token);
    c->ca_file = cfg->ca_file ? strdup(cfg->ca_file) : NULL;
    c->insecure = cfg->insecure;
    if (!c->auth_header || (cfg->ca_file && !c->ca_file)) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

struct vole_control *vole_control_new(struct ev_loop *loop, const struct vole_control_config *cfg,
                                      const struct vole_control_ops *ops, char *err, size_t errlen)
{
    struct derp_url u;

    if (check_config(cfg, &u, err, errlen) < 0)
        return NULL;
    if (sodium_init() < 0) {
        snprintf(err, errlen, "libsodium failed to initialise");
        return NULL;
    }
    struct vole_control *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->loop = loop;
    c->url = u;
    if (ops)
        c->ops = *ops;
    c->dead_after = VOLE_CONTROL_DEAD_AFTER;
    c->backoff = VOLE_CONTROL_BACKOFF_FIRST;
    ev_timer_init(&c->step, on_step, 0, 0);
    ev_timer_init(&c->deadline, on_deadline, 0, 0);
    c->step.data = c->deadline.data = c;
    if (copy_config(c, cfg, err, errlen) < 0) {
        destroy(c);
        return NULL;
    }
    /* The first attempt starts from the loop, so no callback runs inside new. */
    schedule_attempt(c, 0);
    return c;
}

void vole_control_free(struct vole_control *c)
{
    if (!c || c->freeing)
        return;
    c->freeing = true;
    stop_timers(c);
    control_transport_drop(c);
    derp_dial_stop(&c->dialer);
    if (c->depth == 0)
        destroy(c);
}

int vole_control_send(struct vole_control *c, const struct coord_msg *m)
{
    if (c->state != CONTROL_CONNECTED || c->freeing || !c->ws)
        return -1;
    char *json = coord_msg_encode(m);
    if (!json)
        return -1;
    size_t n = strlen(json);
    json[n] = '\n';   /* the line's end takes the NUL's place: one WebSocket message */
    int rc = vole_ws_write(c->ws, json, n + 1);
    free(json);
    if (rc == 0)
        c->stats.msgs_out++;
    return rc;
}

bool vole_control_connected(const struct vole_control *c)
{
    return c->state == CONTROL_CONNECTED && !c->freeing;
}

const struct vole_control_stats *vole_control_stats(const struct vole_control *c)
{
    return &c->stats;
}

const char *vole_control_last_error(const struct vole_control *c)
{
    return c->last_error;
}

void vole_control_set_dead_after(struct vole_control *c, double seconds)
{
    if (seconds > 0)
        c->dead_after = seconds;
}
