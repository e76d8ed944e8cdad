/* Fetching an agent's report (tailnet/diag.h): `GET /api/v0/netcheck` to
 * the peer's overlay address, port 4, over lwIP raw TCP in the node's
 * stack; the status line and a Content-Length body (or the body up to the
 * close), at most VOLE_AGENT_REPORT_MAX. The answer, or status 0 with why,
 * is delivered once from the fetch's timer, never from inside an lwIP
 * callback or vole_tailnet_fetch_report; vole_tailnet_free and a stack
 * that goes end the pending ones at once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ev.h>

#include "diag/agent_report.h"
#include "lwip/tcp.h"
#include "stack/stack.h"
#include "tailnet/diag.h"
#include "tailnet/node_int.h"
#include "stack/pcb.h"

#define RC_HEAD_MAX 8192
#define RC_BUF_MAX (RC_HEAD_MAX + VOLE_AGENT_REPORT_MAX)
#define RC_DEFAULT_TIMEOUT_MS 5000

struct tn_fetch {
    struct tn_fetch *next;
    struct vole_tailnet *t;
    struct tcp_pcb *pcb;
    ev_timer timer;              /* the timeout, then (0 s) the delivery */
    vole_tailnet_report_fn fn;
    void *ctx;
    char req[256];
    size_t req_len;
    char *buf;                   /* RC_BUF_MAX + 1 */
    size_t len;
    bool done;                   /* the result below is final */
    int status;
    size_t body_off, body_len;
    char err[160];
};

/* Releases the pcb; the value is what an lwIP callback returns. */
static err_t release(struct tn_fetch *f, bool graceful)
{
    struct tcp_pcb *pcb = f->pcb;

    f->pcb = NULL;
    return pcb ? vole_pcb_release(pcb, graceful) : ERR_OK;
}

static void unlink_fetch(struct tn_fetch *f)
{
    for (struct tn_fetch **pp = &f->t->fetches; *pp; pp = &(*pp)->next)
        if (*pp == f) {
            *pp = f->next;
            return;
        }
}

static void call_and_free(struct tn_fetch *f)
{
    if (f->status > 0)
        f->fn(f->ctx, f->status, f->buf + f->body_off, f->body_len, NULL);
    else
        f->fn(f->ctx, 0, NULL, 0, f->err[0] ? f->err : "no answer");
    free(f->buf);
    free(f);
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct tn_fetch *f = w->data;
    (void)revents;

    ev_timer_stop(loop, w);
    if (!f->done) {
        snprintf(f->err, sizeof f->err, "no answer within the timeout");
        (void)release(f, false);
    }
    unlink_fetch(f);
    call_and_free(f);
}

/* The result is final: the pcb goes, the timer delivers it now. */
static err_t finish(struct tn_fetch *f, int status, const char *err)
{
    err_t rc;

    if (f->done)
        return ERR_OK;
    f->done = true;
    f->status = status;
    if (err)
        snprintf(f->err, sizeof f->err, "%s", err);
    rc = release(f, status > 0);
    ev_timer_stop(f->t->loop, &f->timer);
    ev_timer_set(&f->timer, 0., 0.);
    ev_timer_start(f->t->loop, &f->timer);
    return rc;
}

/* ---- the response ---- */

static char *head_end(char *buf, size_t *skip)
{
    char *e = strstr(buf, "\r\n\r\n");
    *skip = 4;
    if (!e) {
        e = strstr(buf, "\n\n");
        *skip = 2;
    }
    return e;
}

/* Content-Length, or -1 when absent, -2 when unreadable. */
static long long content_length(const char *head, const char *end)
{
    const char *line = strchr(head, '\n');

    while (line && line < end) {
        line++;
        if (strncasecmp(line, "Content-Length:", 15) == 0) {
            char *stop;
            long long v = strtoll(line + 15, &stop, 10);
            return stop == line + 15 || v < 0 ? -2 : v;
        }
        line = strchr(line, '\n');
    }
    return -1;
}

/* Looks at what has arrived; eof: the server closed. */
static err_t parse(struct tn_fetch *f, bool eof)
{
    size_t skip, have;
    char *end = head_end(f->buf, &skip);
    long long clen;
    int status = 0;

    if (!end) {
        if (eof || f->len >= RC_HEAD_MAX)
            return finish(f, 0, eof ? "the connection closed before an answer" : "answer head over 8 KiB");
        return ERR_OK;
    }
    if (sscanf(f->buf, "HTTP/1.%*1[01] %3d", &status) != 1 || status < 100 || status > 999)
        return finish(f, 0, "not an HTTP answer");
    clen = content_length(f->buf, end);
    if (clen == -2 || clen > VOLE_AGENT_REPORT_MAX)
        return finish(f, 0, clen == -2 ? "bad Content-Length" : "answer larger than the limit");
    f->body_off = (size_t)(end - f->buf) + skip;
    have = f->len - f->body_off;
    if (clen >= 0 && have >= (size_t)clen) {
        f->body_len = (size_t)clen;
        f->buf[f->body_off + f->body_len] = '\0';
        return finish(f, status, NULL);
    }
    if (have > VOLE_AGENT_REPORT_MAX)
        return finish(f, 0, "answer larger than the limit");
    if (!eof)
        return ERR_OK;
    if (clen >= 0)
        return finish(f, 0, "the connection closed in the middle of the answer");
    f->body_len = have;   /* no Content-Length: the body ends with the connection */
    return finish(f, status, NULL);
}

static err_t on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    struct tn_fetch *f = arg;
    size_t room;

    if (!f || f->done) {
        if (p)
            pbuf_free(p);
        return ERR_OK;
    }
    if (err != ERR_OK) {
        if (p)
            pbuf_free(p);
        return finish(f, 0, "receive failed");
    }
    if (!p)
        return parse(f, true);
    tcp_recved(pcb, p->tot_len);
    room = RC_BUF_MAX - f->len;
    if (p->tot_len > room) {
        pbuf_free(p);
        return finish(f, 0, "answer larger than the limit");
    }
    f->len += pbuf_copy_partial(p, f->buf + f->len, p->tot_len, 0);
    f->buf[f->len] = '\0';
    pbuf_free(p);
    if (memchr(f->buf, '\0', f->len))
        return finish(f, 0, "a NUL byte in the answer");
    return parse(f, false);
}

static void on_err(void *arg, err_t err)
{
    struct tn_fetch *f = arg;

    if (!f)
        return;
    f->pcb = NULL;   /* lwIP freed it */
    (void)finish(f, 0, err == ERR_RST ? "connection refused or reset" : "connection aborted");
}

static err_t on_connected(void *arg, struct tcp_pcb *pcb, err_t err)
{
    struct tn_fetch *f = arg;

    if (!f)
        return ERR_OK;
    if (err != ERR_OK)
        return finish(f, 0, "connect failed");
    if (tcp_write(pcb, f->req, (u16_t)f->req_len, TCP_WRITE_FLAG_COPY) != ERR_OK)
        return finish(f, 0, "cannot send the request");
    tcp_output(pcb);
    return ERR_OK;
}

/* ---- starting and ending ---- */

static int start(struct tn_fetch *f, const ip_addr_t *dst)
{
    char ip[IPADDR_STRLEN_MAX];
    int n;

    ipaddr_ntoa_r(dst, ip, sizeof ip);
    n = snprintf(f->req, sizeof f->req,
                 IP_IS_V6(dst) ? "GET %s HTTP/1.1\r\nHost: [%s]:%d\r\nUser-Agent: vole\r\nConnection: close\r\n\r\n"
                               : "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: vole\r\nConnection: close\r\n\r\n",
                 VOLE_AGENT_REPORT_PATH, ip, VOLE_TAILNET_REPORT_PORT);
    if (n < 0 || (size_t)n >= sizeof f->req)
        return -1;
    f->req_len = (size_t)n;
    f->pcb = tcp_new_ip_type(IP_GET_TYPE(dst));
    if (!f->pcb)
        return -1;
    tcp_bind_netif(f->pcb, vole_stack_netif(f->t->stack));
    tcp_arg(f->pcb, f);
    tcp_recv(f->pcb, on_recv);
    tcp_err(f->pcb, on_err);
    if (tcp_connect(f->pcb, dst, VOLE_TAILNET_REPORT_PORT, on_connected) != ERR_OK) {
        (void)release(f, false);
        return -1;
    }
    return 0;
}

int vole_tailnet_fetch_report(struct vole_tailnet *t, const char *name, uint32_t timeout_ms,
                              vole_tailnet_report_fn fn, void *ctx, char *err, size_t errlen)
{
    struct tn_fetch *f;
    ip_addr_t dst;

    if (!t->stack) {
        snprintf(err, errlen, "the node has no overlay address yet");
        return -1;
    }
    if (!name || !fn || vole_tailnet_peer_addr(t, name, &dst) < 0) {
        snprintf(err, errlen, "no such peer");
        return -1;
    }
    f = calloc(1, sizeof *f);
    if (!f || !(f->buf = malloc(RC_BUF_MAX + 1))) {
        free(f);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    f->t = t;
    f->fn = fn;
    f->ctx = ctx;
    f->buf[0] = '\0';
    ev_timer_init(&f->timer, on_timer, (double)(timeout_ms ? timeout_ms : RC_DEFAULT_TIMEOUT_MS) / 1000.0, 0.);
    f->timer.data = f;
    if (start(f, &dst) < 0) {
        free(f->buf);
        free(f);
        snprintf(err, errlen, "cannot open a TCP connection in the overlay");
        return -1;
    }
    ev_timer_start(t->loop, &f->timer);
    f->next = t->fetches;
    t->fetches = f;
    return 0;
}

void tn_fetches_end(struct vole_tailnet *t, const char *why)
{
    struct tn_fetch *list = t->fetches;

    t->fetches = NULL;   /* a callback that fetches again starts a new list */
    while (list) {
        struct tn_fetch *f = list;
        list = f->next;
        ev_timer_stop(t->loop, &f->timer);
        if (!f->done) {
            f->status = 0;
            snprintf(f->err, sizeof f->err, "%s", why);
            (void)release(f, false);
        }
        call_and_free(f);
    }
}
