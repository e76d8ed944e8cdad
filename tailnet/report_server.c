/* The agent's report over the tunnel (tailnet/diag.h): every agent node
 * listens on overlay TCP port 4, as Coder's agent API does, reads one
 * HTTP/1.1 request (head at most 8 KiB, within 5 s) and answers
 * `GET /api/v0/netcheck` with diag/agent_report.h's JSON: this node's
 * NetInfo, a fresh interface list and the disco counts toward the peer whose
 * overlay address connected. Any other path is 404, another method 405,
 * anything unreadable 400; then the connection closes. lwIP raw TCP, in the
 * node's stack; made with the stack, stopped before it goes. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>

#include "diag/agent_report.h"
#include "diag/ifaces.h"
#include "lwip/tcp.h"
#include "stack/stack.h"
#include "tailnet/conn.h"
#include "tailnet/diag.h"
#include "tailnet/node_int.h"
#include "stack/pcb.h"

#define RS_HEAD_MAX 8192
#define RS_TIMEOUT_S 5.0
#define RS_MAX_CONNS 8
#define RS_NOT_FOUND "{\"message\":\"not found\"}"

struct rs_conn {
    struct tn_report_server *srv;
    struct tcp_pcb *pcb;
    ev_timer deadline;
    char head[RS_HEAD_MAX + 1];
    size_t len;
    char *out;                   /* the whole response, once decided */
    size_t out_len, out_off;
};

struct tn_report_server {
    struct vole_tailnet *t;
    struct tcp_pcb *listen;
    struct rs_conn *conns[RS_MAX_CONNS];
};

static void conn_free(struct rs_conn *c)
{
    struct tn_report_server *srv = c->srv;
    for (size_t i = 0; i < RS_MAX_CONNS; i++)
        if (srv->conns[i] == c)
            srv->conns[i] = NULL;
    ev_timer_stop(srv->t->loop, &c->deadline);
    free(c->out);
    free(c);
}

/* Ends c; graceful: FIN after the queued answer. The value is what an lwIP
 * callback must return (ERR_ABRT once the pcb was aborted). */
static err_t conn_end(struct rs_conn *c, bool graceful)
{
    err_t rc = c->pcb ? vole_pcb_release(c->pcb, graceful) : ERR_OK;

    conn_free(c);
    return rc;
}

/* ---- the answer ---- */

static const char *reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    default: return "Bad Request";
    }
}

static int set_answer(struct rs_conn *c, int status, const char *body)
{
    size_t blen = strlen(body), cap = blen + 256;
    int n;

    c->out = malloc(cap);
    if (!c->out)
        return -1;
    n = snprintf(c->out, cap,
                 "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n%s"
                 "Connection: close\r\n\r\n",
                 status, reason(status), blen, status == 405 ? "Allow: GET\r\n" : "");
    if (n < 0 || (size_t)n + blen > cap)
        return -1;
    memcpy(c->out + n, body, blen);
    c->out_len = (size_t)n + blen;
    return 0;
}

static void peer_ip(const ip_addr_t *a, int *family, uint8_t ip[16])
{
    if (IP_IS_V4(a)) {
        *family = 4;
        memcpy(ip, &ip_2_ip4(a)->addr, 4);
    } else {
        *family = 6;
        memcpy(ip, ip_2_ip6(a)->addr, 16);
    }
}

/* The report, fresh: NetInfo, interfaces, and the asking peer's disco counts. */
static char *report_body(const struct rs_conn *c)
{
    const struct vole_tailnet *t = c->srv->t;
    struct vole_agent_report *r = calloc(1, sizeof *r);
    struct vole_tailnet_netinfo ni;
    struct vole_conn_peer_diag cd;
    const struct tn_peer *p;
    uint8_t ip[16];
    int family;
    char err[256], *body;

    if (!r)
        return NULL;
    if (vole_tailnet_netinfo(t, &ni)) {
        r->have_netinfo = true;
        r->netinfo = ni.ni;
        snprintf(r->global_v4, sizeof r->global_v4, "%s", ni.global_v4);
        snprintf(r->global_v6, sizeof r->global_v6, "%s", ni.global_v6);
        r->netinfo.global_v4 = r->global_v4;
        r->netinfo.global_v6 = r->global_v6;
        r->preferred_derp = ni.preferred_derp;
    }
    r->have_ifaces = vole_ifaces_read(&r->ifaces, err, sizeof err) == 0;
    if (!r->have_ifaces)
        tn_vlogf(t, "report: interfaces not read: %s", err);
    peer_ip(&c->pcb->remote_ip, &family, ip);
    p = tn_peer_by_addr(t, family, ip);
    if (p && vole_conn_peer_diag(t->conn, p->node.key, &cd) == 0) {
        r->have_disco = true;
        r->disco = cd.disco;
    }
    body = vole_agent_report_json(r);
    free(r);
    return body;
}

/* ---- the request ---- */

static bool is_token(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isupper((unsigned char)s[i]))
            return false;
    return true;
}

/* The status for the head in c->head (complete), before any body. */
static int route(const char *head)
{
    const char *eol = strpbrk(head, "\r\n"), *sp1, *sp2, *q;
    size_t plen;

    if (!eol)
        return 400;
    sp1 = memchr(head, ' ', (size_t)(eol - head));
    sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
    if (!sp1 || !sp2 || !is_token(head, (size_t)(sp1 - head)) || sp1[1] != '/' ||
        (size_t)(eol - sp2 - 1) != 8 || (strncmp(sp2 + 1, "HTTP/1.1", 8) != 0 && strncmp(sp2 + 1, "HTTP/1.0", 8) != 0))
        return 400;
    for (const char *s = sp1 + 1; s < sp2; s++)
        if ((unsigned char)*s <= ' ' || (unsigned char)*s >= 0x7f)
            return 400;
    if ((size_t)(sp1 - head) != 3 || strncmp(head, "GET", 3) != 0)
        return 405;
    q = memchr(sp1 + 1, '?', (size_t)(sp2 - sp1 - 1));
    plen = (size_t)((q ? q : sp2) - (sp1 + 1));
    return plen == strlen(VOLE_AGENT_REPORT_PATH) && strncmp(sp1 + 1, VOLE_AGENT_REPORT_PATH, plen) == 0 ? 200 : 404;
}

static bool head_complete(const struct rs_conn *c)
{
    return strstr(c->head, "\r\n\r\n") || strstr(c->head, "\n\n");
}

/* Writes what lwIP takes now; FIN once all is queued. */
static err_t pump(struct rs_conn *c)
{
    while (c->out_off < c->out_len) {
        size_t n = c->out_len - c->out_off, room = tcp_sndbuf(c->pcb);
        err_t e;
        if (n > 0xffff)
            n = 0xffff;
        if (n > room)
            n = room;
        if (n == 0)
            break;
        e = tcp_write(c->pcb, c->out + c->out_off, (u16_t)n, TCP_WRITE_FLAG_COPY);
        if (e == ERR_MEM)
            break;   /* again from on_sent */
        if (e != ERR_OK)
            return conn_end(c, false);
        c->out_off += n;
    }
    tcp_output(c->pcb);
    return c->out_off == c->out_len ? conn_end(c, true) : ERR_OK;
}

static err_t answer(struct rs_conn *c, int status)
{
    char *body = NULL;
    int rc;

    if (status == 200 && !(body = report_body(c)))
        return conn_end(c, false);
    rc = set_answer(c, status, body ? body : status == 404 ? RS_NOT_FOUND
                                           : status == 405 ? "{\"message\":\"method not allowed\"}"
                                                           : "{\"message\":\"bad request\"}");
    free(body);
    if (rc < 0)
        return conn_end(c, false);
    return pump(c);
}

static err_t on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    struct rs_conn *c = arg;
    size_t room;

    if (!c) {
        if (p)
            pbuf_free(p);
        return ERR_OK;
    }
    if (!p || err != ERR_OK) {
        if (p)
            pbuf_free(p);
        /* The peer closed before a whole head: nothing to answer. */
        return c->out ? ERR_OK : conn_end(c, false);
    }
    tcp_recved(pcb, p->tot_len);
    if (c->out) {   /* answered: the rest (a body) is not read */
        pbuf_free(p);
        return ERR_OK;
    }
    room = RS_HEAD_MAX - c->len;
    c->len += pbuf_copy_partial(p, c->head + c->len, (u16_t)(p->tot_len < room ? p->tot_len : room), 0);
    c->head[c->len] = '\0';
    pbuf_free(p);
    if (memchr(c->head, '\0', c->len))
        return answer(c, 400);   /* a NUL in the head */
    if (head_complete(c))
        return answer(c, route(c->head));
    if (c->len == RS_HEAD_MAX)
        return answer(c, 400);   /* head over 8 KiB */
    return ERR_OK;
}

static err_t on_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
    struct rs_conn *c = arg;
    (void)pcb;
    (void)len;
    return c && c->out ? pump(c) : ERR_OK;
}

static void on_err(void *arg, err_t err)
{
    struct rs_conn *c = arg;
    (void)err;
    if (!c)
        return;
    c->pcb = NULL;   /* lwIP freed it */
    conn_free(c);
}

static void on_deadline(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    (void)conn_end(w->data, false);
}

static err_t on_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
    struct tn_report_server *srv = arg;
    struct rs_conn *c = NULL;
    size_t slot = RS_MAX_CONNS;

    if (err != ERR_OK || !pcb || !srv)
        return ERR_VAL;
    for (size_t i = 0; i < RS_MAX_CONNS && slot == RS_MAX_CONNS; i++)
        if (!srv->conns[i])
            slot = i;
    if (slot < RS_MAX_CONNS)
        c = calloc(1, sizeof *c);
    if (!c) {
        tn_vlogf(srv->t, "report: connection refused (%s)", slot == RS_MAX_CONNS ? "too many" : "out of memory");
        tcp_abort(pcb);
        return ERR_ABRT;
    }
    c->srv = srv;
    c->pcb = pcb;
    srv->conns[slot] = c;
    ev_timer_init(&c->deadline, on_deadline, RS_TIMEOUT_S, 0.);
    c->deadline.data = c;
    ev_timer_start(srv->t->loop, &c->deadline);
    tcp_arg(pcb, c);
    tcp_recv(pcb, on_recv);
    tcp_sent(pcb, on_sent);
    tcp_err(pcb, on_err);
    return ERR_OK;
}

void tn_report_server_start(struct vole_tailnet *t)
{
    struct tn_report_server *srv;
    struct tcp_pcb *pcb;
    err_t e;

    if (!t->cfg.name || !t->stack || t->report)
        return;   /* clients serve nothing */
    srv = calloc(1, sizeof *srv);
    pcb = srv ? tcp_new_ip_type(IPADDR_TYPE_ANY) : NULL;
    if (!pcb) {
        free(srv);
        tn_logf(t, "report: not served on overlay port %d: out of memory", VOLE_TAILNET_REPORT_PORT);
        return;
    }
    srv->t = t;
    tcp_bind_netif(pcb, vole_stack_netif(t->stack));
    e = tcp_bind(pcb, IP_ANY_TYPE, VOLE_TAILNET_REPORT_PORT);
    if (e == ERR_OK)
        srv->listen = tcp_listen_with_backlog_and_err(pcb, RS_MAX_CONNS, &e);
    if (!srv->listen) {
        tn_logf(t, "report: not served on overlay port %d: %s", VOLE_TAILNET_REPORT_PORT,
                e == ERR_USE ? "in use" : "listen failed");
        tcp_close(pcb);
        free(srv);
        return;
    }
    tcp_arg(srv->listen, srv);
    tcp_accept(srv->listen, on_accept);
    t->report = srv;
}

void tn_report_server_stop(struct vole_tailnet *t)
{
    struct tn_report_server *srv = t->report;

    if (!srv)
        return;
    for (size_t i = 0; i < RS_MAX_CONNS; i++)
        if (srv->conns[i])
            (void)conn_end(srv->conns[i], false);
    tcp_arg(srv->listen, NULL);
    tcp_accept(srv->listen, NULL);
    tcp_close(srv->listen);
    free(srv);
    t->report = NULL;
}
