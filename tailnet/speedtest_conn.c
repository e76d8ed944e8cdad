/* One speedtest connection on lwIP's raw TCP API (tailnet/speedtest_int.h).
 *
 * lwIP calls us from its input and timer paths; the work done there is
 * tcp_write/tcp_recved and accounting, which lwIP allows from its callbacks.
 * What must not happen inside them: freeing the pcb without returning
 * ERR_ABRT, and the owner freeing us. So a reset asked for inside a callback
 * is done by the callback's wrapper on return, and on_end always comes from
 * a zero-delay libev timer. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "tailnet/speedtest_int.h"
#include "stack/pcb.h"

uint64_t st_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Graceful: FIN after whatever is queued (lwIP keeps the pcb until then). */
static void release_pcb(struct st_conn *c, bool graceful)
{
    if (!c->pcb)
        return;
    vole_pcb_detach(c->pcb);
    if (graceful && tcp_close(c->pcb) == ERR_OK) {
        c->pcb = NULL;
        return;
    }
    if (c->in_cb) {   /* the wrapper aborts and returns ERR_ABRT */
        c->abort_pending = true;
        return;
    }
    tcp_abort(c->pcb);
    c->pcb = NULL;
}

err_t st_conn_leave_cb(struct st_conn *c)
{
    c->in_cb = false;
    if (c->abort_pending && c->pcb) {
        struct tcp_pcb *pcb = c->pcb;
        c->pcb = NULL;
        c->abort_pending = false;
        tcp_abort(pcb);
        return ERR_ABRT;
    }
    return ERR_OK;
}

static void later_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct st_conn *c = w->data;
    (void)loop;
    (void)revents;
    c->ops->on_end(c, c->err[0] ? c->err : NULL);
}

void st_conn_end(struct st_conn *c, const char *err)
{
    if (c->ended)
        return;
    c->ended = true;
    c->phase = ST_DONE;
    snprintf(c->err, sizeof c->err, "%s", err ? err : "");
    ev_timer_stop(c->loop, &c->deadline);
    release_pcb(c, err == NULL);
    ev_timer_start(c->loop, &c->later);
}

void st_conn_release(struct st_conn *c)
{
    ev_timer_stop(c->loop, &c->deadline);
    ev_timer_stop(c->loop, &c->later);
    c->ended = true;
    c->in_cb = false;
    release_pcb(c, false);
}

static void report(struct st_conn *c)
{
    while (c->reported < c->meter.n_results) {
        const struct vole_speedtest_result *r = &c->meter.results[c->reported++];
        if (c->ops->on_result)
            c->ops->on_result(c, r);
    }
}

/* The sender is done: the client waits for the server to close, the server
 * closes (Go's deferred conn.Close()). */
static void sender_done(struct st_conn *c)
{
    vole_speedtest_meter_finish(&c->meter);
    report(c);
    if (!c->wait_eof) {
        st_conn_end(c, NULL);
        return;
    }
    c->phase = ST_DRAIN;
    if (tcp_shutdown(c->pcb, 0, 1) != ERR_OK)
        st_conn_end(c, NULL);   /* the results are complete either way */
}

/* Fill lwIP's send buffer, one write never crossing a block. */
static void pump(struct st_conn *c)
{
    while (c->phase == ST_TEST && !c->meter.stopped) {
        uint64_t n = tcp_sndbuf(c->pcb), room = vole_speedtest_meter_room(&c->meter);
        err_t e;

        if (n > room)
            n = room;
        if (n > ST_PATTERN_LEN)
            n = ST_PATTERN_LEN;
        if (n == 0)
            break;
        e = tcp_write(c->pcb, c->pattern, (u16_t)n, TCP_WRITE_FLAG_COPY);
        if (e == ERR_MEM)
            break;   /* out of segments: again from sent or poll */
        if (e != ERR_OK) {
            st_conn_end(c, "unexpected error has occurred: write failed");
            return;
        }
        vole_speedtest_meter_add(&c->meter, n, st_now_ns());
        report(c);
    }
    if (c->phase != ST_TEST)
        return;
    tcp_output(c->pcb);
    if (c->meter.stopped)
        sender_done(c);
}

static void on_data(struct st_conn *c, const uint8_t *p, size_t n)
{
    if (c->phase == ST_HANDSHAKE && !c->line.done) {
        long k = vole_speedtest_line_feed(&c->line, p, n);
        if (k < 0) {
            st_conn_end(c, "handshake line too long");
            return;
        }
        n -= (size_t)k;   /* the rest is data: only its length matters */
        if (c->line.done)
            c->ops->on_line(c, c->line.buf, c->line.len);
    }
    if (n == 0)
        return;
    if (c->phase == ST_TEST && !c->meter.sender) {
        vole_speedtest_meter_add(&c->meter, n, st_now_ns());
        report(c);
    } else {
        c->discarded += n;   /* Go's sender never reads; neither do we care */
    }
}

static void on_eof(struct st_conn *c)
{
    switch (c->phase) {
    case ST_TEST:
        if (!c->meter.sender) {
            vole_speedtest_meter_finish(&c->meter);
            report(c);
            st_conn_end(c, NULL);
        } else {
            st_conn_end(c, "unexpected error has occurred: the peer closed the connection during the test");
        }
        break;
    case ST_DRAIN:
        st_conn_end(c, NULL);
        break;
    default:
        st_conn_end(c, "connection closed before the handshake finished");
        break;
    }
}

static err_t recv_cb(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    struct st_conn *c = arg;

    if (!c || c->ended) {   /* not ours any more */
        if (p) {
            tcp_recved(pcb, p->tot_len);
            pbuf_free(p);
        }
        return ERR_OK;
    }
    c->in_cb = true;
    if (!p) {
        on_eof(c);
        return st_conn_leave_cb(c);
    }
    tcp_recved(pcb, p->tot_len);
    if (err == ERR_OK) {
        for (struct pbuf *q = p; q && !c->ended; q = q->next)
            on_data(c, q->payload, q->len);
    }
    pbuf_free(p);
    return st_conn_leave_cb(c);
}

static err_t sent_cb(void *arg, struct tcp_pcb *pcb, u16_t len)
{
    struct st_conn *c = arg;
    (void)pcb;
    (void)len;
    if (!c || c->ended)
        return ERR_OK;
    c->in_cb = true;
    if (c->phase == ST_TEST && c->meter.sender)
        pump(c);
    return st_conn_leave_cb(c);
}

static err_t poll_cb(void *arg, struct tcp_pcb *pcb)
{
    return sent_cb(arg, pcb, 0);
}

static void err_cb(void *arg, err_t err)
{
    struct st_conn *c = arg;
    char why[128];

    if (!c)
        return;
    c->pcb = NULL;   /* lwIP has freed it */
    c->in_cb = false;
    if (c->phase == ST_CONNECTING && err == ERR_RST)
        snprintf(why, sizeof why, "connection refused");
    else if (c->phase == ST_DRAIN)
        why[0] = '\0';   /* the results are complete */
    else
        snprintf(why, sizeof why, "unexpected error has occurred: connection %s",
                 err == ERR_RST ? "reset by peer" : err == ERR_ABRT ? "aborted" : "failed");
    st_conn_end(c, why[0] ? why : NULL);
}

static void deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct st_conn *c = w->data;
    (void)loop;
    (void)revents;
    if (c->phase == ST_DRAIN)
        st_conn_end(c, NULL);
    else if (c->phase == ST_TEST)
        st_conn_end(c, "unexpected error has occurred: i/o timeout");
    else
        st_conn_end(c, c->phase == ST_CONNECTING ? "connect timed out" : "handshake timed out");
}

void st_conn_init(struct st_conn *c, struct ev_loop *loop, struct tcp_pcb *pcb, enum st_phase phase,
                  double deadline_s, const struct st_conn_ops *ops, void *owner)
{
    c->pcb = pcb;
    c->loop = loop;
    c->ops = ops;
    c->owner = owner;
    c->phase = phase;
    ev_timer_init(&c->deadline, deadline_cb, deadline_s, 0);
    c->deadline.data = c;
    ev_timer_init(&c->later, later_cb, 0, 0);
    c->later.data = c;
    ev_timer_start(loop, &c->deadline);
    tcp_arg(pcb, c);
    tcp_recv(pcb, recv_cb);
    tcp_sent(pcb, sent_cb);
    tcp_err(pcb, err_cb);
    tcp_poll(pcb, poll_cb, 2);   /* every second: retry a write lwIP refused */
}

void st_conn_connected(struct st_conn *c)
{
    c->phase = ST_HANDSHAKE;
}

int st_conn_write(struct st_conn *c, const char *buf, size_t len)
{
    if (!c->pcb || c->ended)
        return -1;
    if (tcp_write(c->pcb, buf, (u16_t)len, TCP_WRITE_FLAG_COPY) != ERR_OK) {
        st_conn_end(c, "unexpected error has occurred: write failed");
        return -1;
    }
    tcp_output(c->pcb);
    return 0;
}

void st_conn_start_test(struct st_conn *c, bool sender, uint64_t duration_ns)
{
    double limit = 4.0 * (double)duration_ns / 1e9;

    c->phase = ST_TEST;
    if (sender)
        randombytes_buf(c->pattern, sizeof c->pattern);
    vole_speedtest_meter_start(&c->meter, sender, duration_ns, st_now_ns());
    ev_timer_stop(c->loop, &c->deadline);
    ev_timer_set(&c->deadline, limit > 0.001 ? limit : 0.001, 0);
    ev_timer_start(c->loop, &c->deadline);
    if (sender)
        pump(c);
}
