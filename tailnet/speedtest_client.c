/* The speedtest client (Go's RunClientWithConn): connect, send the config
 * line, read {} (or the server's error), then run the test in the client's
 * direction. An uploading client half-closes when done and waits for the
 * server to close, so the server counts the last block before we go. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lwip/tcp.h"

#include "stack/stack.h"
#include "tailnet/speedtest.h"
#include "tailnet/speedtest_int.h"

struct vole_speedtest_client {
    struct st_conn c;
    struct vole_speedtest_client_ops ops;
    int direction;
    int64_t duration_ns;
    uint64_t sent_ns;   /* when the config line went out */
};

static void on_line(struct st_conn *c, const char *line, size_t len)
{
    struct vole_speedtest_client *cl = c->owner;
    char err[256];

    if (vole_speedtest_response_decode(line, len, err, sizeof err) < 0) {
        st_conn_end(c, err);
        return;
    }
    if (cl->ops.on_started)
        cl->ops.on_started(cl->ops.ctx, st_now_ns() - cl->sent_ns);
    st_conn_start_test(c, cl->direction == VOLE_SPEEDTEST_UPLOAD, (uint64_t)cl->duration_ns);
}

static void on_result(struct st_conn *c, const struct vole_speedtest_result *r)
{
    struct vole_speedtest_client *cl = c->owner;
    if (cl->ops.on_result)
        cl->ops.on_result(cl->ops.ctx, r);
}

static void on_end(struct st_conn *c, const char *err)
{
    struct vole_speedtest_client *cl = c->owner;
    if (cl->ops.on_done)
        cl->ops.on_done(cl->ops.ctx, err);
}

static const struct st_conn_ops CLIENT_OPS = { .on_line = on_line, .on_result = on_result, .on_end = on_end };

static err_t on_connected(void *arg, struct tcp_pcb *pcb, err_t err)
{
    struct vole_speedtest_client *cl = arg;
    struct vole_speedtest_config cfg = { VOLE_SPEEDTEST_VERSION, cl->duration_ns, cl->direction };
    char line[128];
    size_t n = vole_speedtest_config_encode(&cfg, line, sizeof line);
    (void)pcb;
    (void)err;   /* lwIP 2.2 always passes ERR_OK; failures go to tcp_err */

    cl->c.in_cb = true;
    st_conn_connected(&cl->c);
    cl->sent_ns = st_now_ns();
    st_conn_write(&cl->c, line, n);
    return st_conn_leave_cb(&cl->c);
}

struct vole_speedtest_client *vole_speedtest_client_new(struct ev_loop *loop, struct vole_stack *s,
                                                        const ip_addr_t *dst, uint16_t port, int direction,
                                                        int64_t duration_ns,
                                                        const struct vole_speedtest_client_ops *ops, char *err,
                                                        size_t errlen)
{
    struct vole_speedtest_client *cl;
    struct tcp_pcb *pcb;
    err_t e;

    if (direction != VOLE_SPEEDTEST_DOWNLOAD && direction != VOLE_SPEEDTEST_UPLOAD) {
        snprintf(err, errlen, "direction %d is neither download nor upload", direction);
        return NULL;
    }
    if (duration_ns <= 0 || duration_ns > VOLE_SPEEDTEST_MAX_NS) {
        snprintf(err, errlen, "duration must be more than 0 and at most 30s");
        return NULL;
    }
    cl = calloc(1, sizeof *cl);
    pcb = cl ? tcp_new_ip_type(IP_GET_TYPE(dst)) : NULL;
    if (!pcb) {
        snprintf(err, errlen, "out of memory");
        free(cl);
        return NULL;
    }
    cl->ops = *ops;
    cl->direction = direction;
    cl->duration_ns = duration_ns;
    cl->c.wait_eof = true;
    tcp_bind_netif(pcb, vole_stack_netif(s));   /* this tunnel, whatever the routes */
    st_conn_init(&cl->c, loop, pcb, ST_CONNECTING, VOLE_SPEEDTEST_HANDSHAKE_S, &CLIENT_OPS, cl);
    e = tcp_connect(pcb, dst, port, on_connected);
    if (e != ERR_OK) {
        snprintf(err, errlen, "connect: lwIP error %d", e);
        st_conn_release(&cl->c);
        free(cl);
        return NULL;
    }
    return cl;
}

const struct vole_speedtest_result *vole_speedtest_client_results(const struct vole_speedtest_client *c, size_t *n)
{
    *n = c->c.reported;
    return c->c.meter.results;
}

void vole_speedtest_client_free(struct vole_speedtest_client *c)
{
    if (!c)
        return;
    st_conn_release(&c->c);
    free(c);
}
