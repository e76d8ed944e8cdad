/* The speedtest server on an agent's overlay port (Coder's agent runs
 * speedtest.ServeConn on port 3): read the client's line, answer {} or the
 * error, then do the opposite of the client's direction. The server's own
 * results are only logged, never sent. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lwip/tcp.h"
#include "io/logf.h"

#include "diag/speedtest_format.h"
#include "stack/stack.h"
#include "tailnet/speedtest.h"
#include "tailnet/speedtest_int.h"

struct srv_conn {
    struct st_conn c;            /* first: st_conn's owner is the srv_conn */
    struct vole_speedtest_server *srv;
    char peer[64];
    bool in_use;
};

struct vole_speedtest_server {
    struct tcp_pcb *listen;
    struct ev_loop *loop;
    void (*log)(void *ctx, const char *msg);
    void *log_ctx;
    struct srv_conn *conns[VOLE_SPEEDTEST_MAX_CONNS];
};

static void logf_(const struct vole_speedtest_server *srv, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void logf_(const struct vole_speedtest_server *srv, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vole_vlogf(srv->log, srv->log_ctx, fmt, ap);
    va_end(ap);
}

static void on_line(struct st_conn *c, const char *line, size_t len)
{
    struct srv_conn *sc = c->owner;
    struct vole_speedtest_config cfg;
    char err[256], out[512];
    size_t n;

    if (vole_speedtest_config_decode(line, len, &cfg, err, sizeof err) < 0) {
        logf_(sc->srv, "speedtest: %s: %s", sc->peer, err);
        n = vole_speedtest_response_encode(err, out, sizeof out);
        if (n && st_conn_write(c, out, n) == 0)
            st_conn_end(c, NULL);   /* the error line, then FIN, as Go's deferred Close */
        return;
    }
    n = vole_speedtest_response_encode(NULL, out, sizeof out);
    if (st_conn_write(c, out, n) < 0)
        return;
    /* The client's download is our upload. */
    st_conn_start_test(c, cfg.direction == VOLE_SPEEDTEST_DOWNLOAD, (uint64_t)cfg.time_ns);
}

static void on_end(struct st_conn *c, const char *err)
{
    struct srv_conn *sc = c->owner;
    struct vole_speedtest_server *srv = sc->srv;
    const struct vole_speedtest_meter *m = &c->meter;

    if (err) {
        logf_(srv, "speedtest: %s: test ended: %s", sc->peer, err);
    } else if (m->n_results && m->results[m->n_results - 1].total) {
        const struct vole_speedtest_result *t = &m->results[m->n_results - 1];
        logf_(srv, "speedtest: %s: test ended: %s %.4f MBits in %.2f s, %.4f Mbits/sec", sc->peer,
              m->sender ? "sent" : "received", vole_speedtest_megabits(t), (double)(t->end_ns - t->start_ns) / 1e9,
              vole_speedtest_mbits_per_second(t));
    } else {
        logf_(srv, "speedtest: %s: test ended", sc->peer);
    }
    for (size_t i = 0; i < VOLE_SPEEDTEST_MAX_CONNS; i++)
        if (srv->conns[i] == sc)
            srv->conns[i] = NULL;
    st_conn_release(c);
    free(sc);
}

static const struct st_conn_ops SRV_OPS = { .on_line = on_line, .on_end = on_end };

static err_t on_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
    struct vole_speedtest_server *srv = arg;
    struct srv_conn *sc;
    size_t slot = VOLE_SPEEDTEST_MAX_CONNS;
    char ip[IPADDR_STRLEN_MAX];

    if (err != ERR_OK || !pcb || !srv)
        return ERR_VAL;
    for (size_t i = 0; i < VOLE_SPEEDTEST_MAX_CONNS && slot == VOLE_SPEEDTEST_MAX_CONNS; i++)
        if (!srv->conns[i])
            slot = i;
    sc = slot < VOLE_SPEEDTEST_MAX_CONNS ? calloc(1, sizeof *sc) : NULL;
    ipaddr_ntoa_r(&pcb->remote_ip, ip, sizeof ip);
    if (!sc) {
        logf_(srv, "speedtest: %s: refused: %s", ip, slot == VOLE_SPEEDTEST_MAX_CONNS ? "too many tests" : "out of memory");
        tcp_abort(pcb);
        return ERR_ABRT;
    }
    sc->srv = srv;
    snprintf(sc->peer, sizeof sc->peer, IP_IS_V6(&pcb->remote_ip) ? "[%s]:%u" : "%s:%u", ip, pcb->remote_port);
    srv->conns[slot] = sc;
    logf_(srv, "speedtest: accepted connection from %s", sc->peer);
    st_conn_init(&sc->c, srv->loop, pcb, ST_HANDSHAKE, VOLE_SPEEDTEST_HANDSHAKE_S, &SRV_OPS, sc);
    return ERR_OK;
}

struct vole_speedtest_server *vole_speedtest_server_new(struct ev_loop *loop, struct vole_stack *s, uint16_t port,
                                                        void (*log)(void *ctx, const char *msg), void *log_ctx,
                                                        char *err, size_t errlen)
{
    struct vole_speedtest_server *srv = calloc(1, sizeof *srv);
    struct tcp_pcb *pcb = srv ? tcp_new_ip_type(IPADDR_TYPE_ANY) : NULL;
    err_t e;

    if (!pcb) {
        snprintf(err, errlen, "out of memory");
        free(srv);
        return NULL;
    }
    srv->loop = loop;
    srv->log = log;
    srv->log_ctx = log_ctx;
    tcp_bind_netif(pcb, vole_stack_netif(s));
    e = tcp_bind(pcb, IP_ANY_TYPE, port);
    if (e == ERR_OK)
        srv->listen = tcp_listen_with_backlog_and_err(pcb, VOLE_SPEEDTEST_MAX_CONNS, &e);
    if (!srv->listen) {
        snprintf(err, errlen, e == ERR_USE ? "overlay port %u is already in use" : "listen on overlay port %u failed",
                 port);
        tcp_close(pcb);
        free(srv);
        return NULL;
    }
    tcp_arg(srv->listen, srv);
    tcp_accept(srv->listen, on_accept);
    return srv;
}

void vole_speedtest_server_free(struct vole_speedtest_server *srv)
{
    if (!srv)
        return;
    for (size_t i = 0; i < VOLE_SPEEDTEST_MAX_CONNS; i++) {
        if (srv->conns[i]) {
            st_conn_release(&srv->conns[i]->c);
            free(srv->conns[i]);
        }
    }
    tcp_arg(srv->listen, NULL);
    tcp_accept(srv->listen, NULL);
    tcp_close(srv->listen);
    free(srv);
}
