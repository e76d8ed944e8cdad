/* Coordinator sessions on WebSocket (docs/TAILNET.md): binary messages carry
 * a byte stream of JSON lines, each one coord_msg; the coordinator core
 * (coord/coordinator.h) decides, this file only frames, pings and bounds.
 *
 * Ending: the coordinator's close (ops) clears sess->cs and closes the
 * WebSocket; the WebSocket's on_close (from the loop) tells the coordinator
 * when it still knows the session (LOST), then frees. */
#include "server/server_int.h"

#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "derp/websocket.h"
#include "io/stream.h"

#define PING_INTERVAL 30.0               /* keepalive line; docs/TAILNET.md: a node reconnects after 90 s of silence */
#define WRITE_TIMEOUT 30.0               /* a node that reads nothing this long is gone */
#define MAX_PENDING (4u << 20)           /* bytes queued toward a node that does not read */

struct srv_session {
    struct vole_server *srv;
    struct vole_ws *ws;
    struct coord_session *cs;            /* NULL once the coordinator let go */
    ev_timer ping;
    ev_timer closer;                     /* the coordinator's close, run from the loop */
    char *line;                          /* a message not yet ended by '\n' */
    size_t len, cap;
    struct srv_session *prev, *next;
};

/* ---- the coordinator's side ---- */

static void sess_send(void *ctx, void *io, const struct coord_msg *m)
{
    struct srv_session *ss = io;
    char *json = coord_msg_encode(m);
    size_t n;

    if (!json) {
        srv_log(ss->srv, "coordinator: a %s message could not be encoded (too large, or out of memory)",
                coord_msg_type_name(m->type));
        return;
    }
    n = strlen(json);
    json[n] = '\n';   /* over the NUL: the line is sent without it */
    if (vole_ws_pending(ss->ws) <= MAX_PENDING) {
        (void)vole_ws_write(ss->ws, json, n + 1);
    } else if (!ev_is_active(&ss->closer)) {
        /* A node that missed a message has a wrong picture: cut it off (its
         * peers see it LOST when the close completes) rather than go on. */
        srv_log(ss->srv, "coordinator: a node reads nothing (%zu bytes queued); closing it", vole_ws_pending(ss->ws));
        ev_timer_start(ss->srv->loop, &ss->closer);
    }
    free(json);
}

/* The close waits for the loop: called from inside the WebSocket's receive,
 * vole_ws_close would queue its close frame ahead of the messages written
 * during that receive (wslay sends control frames first), and the node
 * would never read the error that says why. */
static void on_closer(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct srv_session *ss = w->data;
    vole_ws_close(ss->ws);
}

static void sess_close(void *ctx, void *io, const char *why)
{
    struct srv_session *ss = io;

    ss->cs = NULL;
    ev_timer_stop(ss->srv->loop, &ss->ping);
    ev_timer_start(ss->srv->loop, &ss->closer);
}

const struct coord_coordinator_ops SRV_COORD_OPS = { .send = sess_send, .close = sess_close };

/* ---- input: lines of JSON ---- */

static void fail(struct srv_session *ss, const char *why)
{
    if (ss->cs)
        coord_session_fail(ss->srv->co, ss->cs, why);
}

static void handle_line(struct srv_session *ss, const char *line, size_t len)
{
    struct coord_msg m;
    char err[COORD_MSG_ERROR_MAX + 1], why[COORD_MSG_ERROR_MAX + 1];

    if (len == 0)
        return;
    if (coord_msg_decode(line, len, &m, err, sizeof err) < 0) {
        snprintf(why, sizeof why, "bad message: %.200s", err);
        coord_msg_free(&m);
        fail(ss, why);
        return;
    }
    coord_session_input(ss->srv->co, ss->cs, &m);
    coord_msg_free(&m);
}

/* Keeps a partial line; false when it would be longer than a message may be. */
static bool keep(struct srv_session *ss, const uint8_t *buf, size_t n)
{
    if (ss->len + n > COORD_MSG_MAX_LEN)
        return false;
    if (ss->len + n > ss->cap) {
        size_t cap = ss->cap ? ss->cap : 1024;
        while (cap < ss->len + n)
            cap *= 2;
        char *p = realloc(ss->line, cap);
        if (!p)
            return false;
        ss->line = p;
        ss->cap = cap;
    }
    memcpy(ss->line + ss->len, buf, n);
    ss->len += n;
    return true;
}

static void on_data(void *ctx, struct vole_ws *w, const uint8_t *buf, size_t len)
{
    struct srv_session *ss = ctx;

    while (len > 0 && ss->cs) {
        const uint8_t *nl = memchr(buf, '\n', len);
        size_t n = nl ? (size_t)(nl - buf) : len;
        if (!keep(ss, buf, n)) {
            fail(ss, "message too long (or out of memory)");
            return;
        }
        if (!nl)
            return;
        handle_line(ss, ss->line, ss->len);
        ss->len = 0;
        buf += n + 1;
        len -= n + 1;
    }
}

/* ---- keepalive ---- */

/* An empty line (docs/TAILNET.md): the node's reader skips it but counts it
 * as input, so a quiet coordinator connection is not taken for dead. A
 * WebSocket ping would be answered inside wslay, unseen by the node. */
static void on_ping(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct srv_session *ss = w->data;

    if (ss->cs)
        (void)vole_ws_write(ss->ws, "\n", 1);
}

/* ---- lifetime ---- */

static void unlink_session(struct srv_session *ss)
{
    struct vole_server *s = ss->srv;

    if (ss->prev)
        ss->prev->next = ss->next;
    else
        s->sessions = ss->next;
    if (ss->next)
        ss->next->prev = ss->prev;
}

static void on_ws_close(void *ctx, struct vole_ws *w, const char *why)
{
    struct srv_session *ss = ctx;

    if (ss->cs)
        coord_session_closed(ss->srv->co, ss->cs);
    ev_timer_stop(ss->srv->loop, &ss->ping);
    ev_timer_stop(ss->srv->loop, &ss->closer);
    unlink_session(ss);
    free(ss->line);
    free(ss);
}

/* Nothing to do for a stream whose session could not be set up. */
static void lost_read(void *ctx, struct vole_stream *st, const uint8_t *buf, size_t len) {}
static void lost_close(void *ctx, struct vole_stream *st, const char *why) {}
static const struct vole_stream_ops LOST_OPS = { .on_read = lost_read, .on_close = lost_close };

void srv_session_start(struct vole_server *s, struct vole_stream *st, const char *token, const uint8_t *rest,
                       size_t len)
{
    struct srv_session *ss = calloc(1, sizeof *ss);
    struct vole_ws_ops ops = { .on_data = on_data, .on_close = on_ws_close };
    enum coord_role role;

    ops.ctx = ss;
    if (!ss || !(ss->ws = vole_ws_new(st, true, &ops))) {
        free(ss);
        srv_log(s, "out of memory: coordinator connection dropped");
        vole_stream_set_ops(st, &LOST_OPS);
        vole_stream_close(st, false);
        return;
    }
    ss->srv = s;
    ss->next = s->sessions;
    if (s->sessions)
        s->sessions->prev = ss;
    s->sessions = ss;
    vole_stream_set_write_timeout(st, WRITE_TIMEOUT);
    ev_timer_init(&ss->ping, on_ping, PING_INTERVAL, PING_INTERVAL);
    ss->ping.data = ss;
    ev_timer_start(s->loop, &ss->ping);
    ev_timer_init(&ss->closer, on_closer, 0., 0.);
    ss->closer.data = ss;
    ss->cs = coord_session_open(s->co, ss, token, &role);
    if (!ss->cs) {   /* the token was checked: out of memory */
        srv_log(s, "out of memory: coordinator session refused");
        sess_close(s, ss, "out of memory");
        return;
    }
    if (len)
        vole_ws_input(ss->ws, rest, len);
}

void srv_sessions_free(struct vole_server *s)
{
    for (struct srv_session *ss = s->sessions, *next; ss; ss = next) {
        next = ss->next;
        ev_timer_stop(s->loop, &ss->ping);
        ev_timer_stop(s->loop, &ss->closer);
        vole_ws_abandon(ss->ws, NULL);
        free(ss->line);
        free(ss);
    }
    s->sessions = NULL;
}
