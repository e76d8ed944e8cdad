/* The tailnet end to end, in one process on loopback: `vole server`'s
 * runtime, an agent node exposing a loopback TCP service and a client node
 * forwarding a local port to it (docs/TAILNET.md). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <ev.h>

#include "evloop.h"
#include "sockets.h"
#include "server/server.h"
#include "stack/forward.h"
#include "tailnet/node.h"
#include "tailnet_fixture.h"

#define OVERLAY_PORT 7000
#define UP_LEN   (512u << 10)   /* client -> service */
#define DOWN_LEN (128u << 10)   /* service -> client */

/* ---- one node's observations ------------------------------------------- */

struct watch {
    struct tn_node n;                    /* first: the ctx of tn_log and tn_on_peer */
    int n_fatal;
    char fatal[256];
    struct vole_tailnet_path path;       /* the last on_path */
    /* the agent only: the exposed service */
    uint16_t service_port;
    struct vole_forward_remote *fr;
};

static void w_ready(void *ctx, const struct coord_node *self)
{
    struct watch *w = ctx;
    char err[256];

    assert_true(self->id > 0);
    assert_true(self->has_v4 && self->has_v6);
    w->n.ready = true;
    if (w->service_port && !w->fr) {
        w->fr = vole_forward_remote_new(vole_tailnet_stack(w->n.t), OVERLAY_PORT, "127.0.0.1", w->service_port,
                                        err, sizeof err);
        if (!w->fr)
            fail_msg("vole_forward_remote_new: %s", err);
    }
}

static void w_path(void *ctx, const char *name, const struct vole_tailnet_path *path)
{
    struct watch *w = ctx;
    (void)name;
    w->path = *path;
}

static void w_fatal(void *ctx, const char *why)
{
    struct watch *w = ctx;
    w->n_fatal++;
    snprintf(w->fatal, sizeof w->fatal, "%s", why);
}

static void w_stack_gone(void *ctx, struct vole_stack *s)
{
    struct watch *w = ctx;
    (void)s;
    if (w->fr)
        vole_forward_remote_free(w->fr);
    w->fr = NULL;
}

/* ---- the fixture --------------------------------------------------------- */

struct fixture {
    struct ev_loop *loop;
    struct tn_server srv;
};

static struct fixture fx;

static int setup(void **state)
{
    (void)state;
    fx.loop = ev_default_loop(0);
    tn_server_start(&fx.srv, fx.loop, "/tmp/vole-tailnet-XXXXXX");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tn_server_stop(&fx.srv);
    return 0;
}

static struct vole_tailnet *node_new(struct watch *w, const char *who, const char *name, const char *token)
{
    struct vole_tailnet_ops ops = { .ctx = w, .on_ready = w_ready, .on_peer = tn_on_peer, .on_path = w_path,
                                    .on_fatal = w_fatal, .on_stack_gone = w_stack_gone };
    return tn_node_new(&w->n, fx.loop, &fx.srv, who, name, token, true, &ops);
}

static void node_free(struct watch *w)
{
    if (w->fr)
        vole_forward_remote_free(w->fr);
    w->fr = NULL;
    vole_tailnet_free(w->n.t);
    w->n.t = NULL;
}

/* ---- a loopback byte pump: writes out[], then half-closes; reads to EOF -- */

struct pump {
    int fd;
    ev_io rw, ww;
    const uint8_t *out;
    size_t out_len, out_off;
    uint8_t *in;
    size_t in_cap, in_len;
    bool eof, shut, err;
};

static void pump_stop(struct pump *p)
{
    ev_io_stop(fx.loop, &p->rw);
    ev_io_stop(fx.loop, &p->ww);
}

static void pump_write(struct ev_loop *loop, ev_io *w, int revents)
{
    struct pump *p = w->data;
    (void)revents;
    while (p->out_off < p->out_len) {
        ssize_t n = write(p->fd, p->out + p->out_off, p->out_len - p->out_off);
        if (n < 0) {
            if (errno != EAGAIN)
                p->err = true;
            if (errno != EAGAIN)
                ev_io_stop(loop, w);
            return;
        }
        p->out_off += (size_t)n;
    }
    shutdown(p->fd, SHUT_WR);
    p->shut = true;
    ev_io_stop(loop, w);
}

static void pump_read(struct ev_loop *loop, ev_io *w, int revents)
{
    struct pump *p = w->data;
    uint8_t buf[16384];
    (void)revents;
    for (;;) {
        ssize_t n = read(p->fd, buf, sizeof buf);
        if (n < 0) {
            if (errno != EAGAIN) {
                p->err = true;
                ev_io_stop(loop, w);
            }
            return;
        }
        if (n == 0) {
            p->eof = true;
            ev_io_stop(loop, w);
            return;
        }
        if (p->in_len + (size_t)n > p->in_cap) {
            p->err = true;   /* more than was ever sent */
            ev_io_stop(loop, w);
            return;
        }
        memcpy(p->in + p->in_len, buf, (size_t)n);
        p->in_len += (size_t)n;
    }
}

static void pump_start(struct pump *p, int fd, const uint8_t *out, size_t out_len, uint8_t *in, size_t in_cap)
{
    memset(p, 0, sizeof *p);
    p->fd = fd;
    p->out = out;
    p->out_len = out_len;
    p->in = in;
    p->in_cap = in_cap;
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    ev_io_init(&p->rw, pump_read, fd, EV_READ);
    ev_io_init(&p->ww, pump_write, fd, EV_WRITE);
    p->rw.data = p->ww.data = p;
    ev_io_start(fx.loop, &p->rw);
    ev_io_start(fx.loop, &p->ww);
}

static bool pump_done(const struct pump *p)
{
    return p->err || (p->eof && p->shut);
}

/* The service behind the agent: accepts one connection and pumps DOWN_LEN
 * bytes into it while reading the client's bytes. */
struct service {
    int lfd;
    ev_io aw;
    bool accepted;
    struct pump pump;
    const uint8_t *down;
    uint8_t *got;
};

static void service_accept(struct ev_loop *loop, ev_io *w, int revents)
{
    struct service *s = w->data;
    int fd = accept(s->lfd, NULL, NULL);
    (void)revents;
    if (fd < 0)
        return;
    ev_io_stop(loop, w);
    s->accepted = true;
    pump_start(&s->pump, fd, s->down, DOWN_LEN, s->got, UP_LEN);
}

/* ---- predicates ---------------------------------------------------------- */

struct pair {
    struct watch *agent, *client;
};

static bool both_ready_and_known(void *arg)
{
    struct pair *p = arg;
    bool exposed = !p->agent->service_port || p->agent->fr;
    return tn_met(&p->agent->n, &p->client->n) && exposed;
}

static bool client_direct(void *arg)
{
    struct pair *p = arg;
    return p->client->path.kind == VOLE_PATH_DIRECT && p->agent->path.kind == VOLE_PATH_DIRECT;
}

struct transfer {
    struct pump *client;
    struct service *svc;
};

static bool transfer_done(void *arg)
{
    struct transfer *x = arg;
    return pump_done(x->client) && x->svc->accepted && pump_done(&x->svc->pump);
}

static bool has_fatal(void *arg)
{
    return ((struct watch *)arg)->n_fatal > 0;
}

/* ---- tests ---------------------------------------------------------------- */

static void fill(uint8_t *b, size_t n, uint32_t seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        b[i] = (uint8_t)(seed >> 16);
    }
}

static int connect_loopback(uint16_t port)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

static void check_registered_line(const struct watch *agent)
{
    const char *l = strstr(agent->n.log, "registered as dev, addresses 100.");
    assert_non_null(l);
    assert_non_null(strstr(l, " fd7a:115c:a1e0:"));
}

struct stream_bufs {
    uint8_t *up, *down, *svc_got, *client_got;
};

/* One TCP connection through fl to the service: UP_LEN bytes up, DOWN_LEN
 * down, both compared byte for byte. */
static void stream_once(struct vole_forward_local *fl, struct service *svc, const struct stream_bufs *b,
                        uint32_t seed)
{
    struct pump cp;
    struct transfer x = { &cp, svc };

    fill(b->up, UP_LEN, seed);
    fill(b->down, DOWN_LEN, seed + 1);
    memset(b->svc_got, 0, UP_LEN);
    memset(b->client_got, 0, DOWN_LEN);
    svc->accepted = false;
    svc->down = b->down;
    svc->got = b->svc_got;
    ev_io_start(fx.loop, &svc->aw);
    pump_start(&cp, connect_loopback(vole_forward_local_port(fl)), b->up, UP_LEN, b->client_got, DOWN_LEN);
    if (!run_until(fx.loop, transfer_done, &x, 30))
        fail_msg("transfer stalled: up %zu/%u written, %zu arrived; down %zu/%u written, %zu arrived",
                 cp.out_off, UP_LEN, svc->pump.in_len, svc->pump.out_off, DOWN_LEN, cp.in_len);
    assert_false(cp.err);
    assert_false(svc->pump.err);
    assert_int_equal(svc->pump.in_len, UP_LEN);
    assert_memory_equal(b->svc_got, b->up, UP_LEN);
    assert_int_equal(cp.in_len, DOWN_LEN);
    assert_memory_equal(b->client_got, b->down, DOWN_LEN);
    pump_stop(&cp);
    pump_stop(&svc->pump);
    close(cp.fd);
    close(svc->pump.fd);
}

/* Agent and client meet through the server, a TCP stream crosses (kernel
 * socket -> client's vole_forward_local -> WireGuard over DERP or UDP ->
 * agent's vole_forward_remote -> the loopback service, and back); the
 * traffic starts disco, the path becomes direct on loopback, and another
 * stream crosses on it. */
static void test_agent_and_client(void **state)
{
    struct watch *agent = calloc(1, sizeof *agent), *client = calloc(1, sizeof *client);
    struct pair pr = { agent, client };
    struct service svc = { 0 };
    struct stream_bufs b = { malloc(UP_LEN), malloc(DOWN_LEN), malloc(UP_LEN), malloc(DOWN_LEN) };
    struct vole_forward_local *fl;
    ip_addr_t dst;
    char err[256];
    (void)state;

    assert_non_null(agent);
    assert_non_null(client);
    assert_true(b.up && b.down && b.svc_got && b.client_got);
    svc.lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    assert_true(svc.lfd >= 0);
    agent->service_port = listen_loopback(svc.lfd, 4);
    ev_io_init(&svc.aw, service_accept, svc.lfd, EV_READ);
    svc.aw.data = &svc;

    node_new(agent, "agent", "dev", TN_AGENT_TOKEN);
    node_new(client, "client", NULL, TN_CLIENT_TOKEN);
    assert_int_equal(vole_tailnet_add_tunnel(client->n.t, "dev"), 0);
    assert_int_equal(vole_tailnet_add_tunnel(client->n.t, "Not A Name"), -1);

    if (!run_until(fx.loop, both_ready_and_known, &pr, 15))
        fail_msg("nodes did not meet: agent ready %d peer \"%s\", client ready %d peer \"%s\"\nagent log:\n%s"
                 "client log:\n%s", agent->n.ready, agent->n.peer, client->n.ready, client->n.peer, agent->n.log,
                 client->n.log);
    assert_int_equal(agent->n_fatal + client->n_fatal, 0);
    check_registered_line(agent);
    assert_non_null(strstr(client->n.log, "peer dev: node update, "));
    assert_int_equal(vole_tailnet_peer_addr(client->n.t, "dev", &dst), 0);
    assert_true(IP_IS_V4(&dst));
    assert_memory_equal(&ip_2_ip4(&dst)->addr, vole_tailnet_self(agent->n.t)->v4, 4);
    assert_int_equal(vole_tailnet_peer_addr(client->n.t, "nobody", &dst), -1);
    assert_int_equal(vole_tailnet_peer_addr(client->n.t, "dev", &dst), 0);

    fl = vole_forward_local_new(vole_tailnet_stack(client->n.t), NULL, 0, &dst, OVERLAY_PORT, err, sizeof err);
    if (!fl)
        fail_msg("vole_forward_local_new: %s", err);
    stream_once(fl, &svc, &b, 1);

    if (!run_until(fx.loop, client_direct, &pr, 20))
        fail_msg("no direct path: client %d, agent %d\nagent log:\n%sclient log:\n%s", client->path.kind,
                 agent->path.kind, agent->n.log, client->n.log);
    assert_non_null(strstr(client->n.log, "path dev: direct "));
    assert_non_null(strstr(agent->n.log, "path client-"));
    stream_once(fl, &svc, &b, 7);
    {
        struct vole_tailnet_path now;
        vole_tailnet_peer_path(client->n.t, "dev", &now);
        assert_int_equal(now.kind, VOLE_PATH_DIRECT);
        vole_tailnet_peer_path(client->n.t, "nobody", &now);
        assert_int_equal(now.kind, VOLE_PATH_NONE);
    }

    vole_forward_local_free(fl);
    ev_io_stop(fx.loop, &svc.aw);
    close(svc.lfd);
    node_free(client);
    node_free(agent);
    free(b.up);
    free(b.down);
    free(b.svc_got);
    free(b.client_got);
    free(agent);
    free(client);
}

static bool client_lost_dev(void *arg)
{
    const struct watch *w = arg;
    ip_addr_t a;
    return vole_tailnet_peer_addr(w->n.t, "dev", &a) < 0;
}

struct rejoin {
    struct watch *client;
    uint8_t v4[4];
};

static bool client_knows_new_dev(void *arg)
{
    const struct rejoin *r = arg;
    ip_addr_t a;
    return vole_tailnet_peer_addr(r->client->n.t, "dev", &a) == 0 && IP_IS_V4(&a) &&
           memcmp(&ip_2_ip4(&a)->addr, r->v4, 4) == 0;
}

/* The agent goes away (its session is lost) and comes back with a new key:
 * the client forgets the old node and follows the new one's address. */
static void test_agent_restart(void **state)
{
    struct watch *agent = calloc(1, sizeof *agent), *client = calloc(1, sizeof *client);
    struct pair pr = { agent, client };
    struct rejoin rj = { client, { 0 } };
    (void)state;

    assert_non_null(agent);
    assert_non_null(client);
    node_new(client, "client", NULL, TN_CLIENT_TOKEN);
    assert_int_equal(vole_tailnet_add_tunnel(client->n.t, "dev"), 0);
    node_new(agent, "agent", "dev", TN_AGENT_TOKEN);
    if (!run_until(fx.loop, both_ready_and_known, &pr, 15))
        fail_msg("nodes did not meet\nclient log:\n%s", client->n.log);
    node_free(agent);
    if (!run_until(fx.loop, client_lost_dev, client, 10))
        fail_msg("the client still knows dev\nclient log:\n%s", client->n.log);
    assert_non_null(strstr(client->n.log, "peer dev: "));

    memset(agent, 0, sizeof *agent);
    node_new(agent, "agent", "dev", TN_AGENT_TOKEN);
    if (!run_until(fx.loop, both_ready_and_known, &pr, 15))
        fail_msg("the agent did not come back\nclient log:\n%s", client->n.log);
    memcpy(rj.v4, vole_tailnet_self(agent->n.t)->v4, 4);
    if (!run_until(fx.loop, client_knows_new_dev, &rj, 10))
        fail_msg("the client did not follow the new agent\nclient log:\n%s", client->n.log);
    assert_int_equal(client->n_fatal + agent->n_fatal, 0);
    node_free(agent);
    node_free(client);
    free(agent);
    free(client);
}

/* A tunnel the client's token does not allow, and one to an agent that does
 * not exist, get the same words; the node goes on running. */
static void test_refused_tunnel(void **state)
{
    struct watch *client = calloc(1, sizeof *client);
    (void)state;

    assert_non_null(client);
    node_new(client, "client", NULL, TN_CLIENT_TOKEN);
    assert_int_equal(vole_tailnet_add_tunnel(client->n.t, "prod"), 0);
    if (!run_until(fx.loop, has_fatal, client, 10))
        fail_msg("no error for a refused tunnel; log:\n%s", client->n.log);
    assert_string_equal(client->fatal, "agent \"prod\": not found or not allowed");

    client->n_fatal = 0;
    assert_int_equal(vole_tailnet_add_tunnel(client->n.t, "nosuch"), 0);
    if (!run_until(fx.loop, has_fatal, client, 10))
        fail_msg("no error for an unknown agent; log:\n%s", client->n.log);
    assert_string_equal(client->fatal, "agent \"nosuch\": not found or not allowed");
    node_free(client);
    free(client);
}

static void test_bad_token(void **state)
{
    struct watch *client = calloc(1, sizeof *client);
    (void)state;

    assert_non_null(client);
    node_new(client, "client", NULL, "not-a-token");
    if (!run_until(fx.loop, has_fatal, client, 10))
        fail_msg("no error for a bad token; log:\n%s", client->n.log);
    assert_string_equal(client->fatal, "server refused the token (401)");
    assert_false(client->n.ready);
    node_free(client);
    free(client);
}

/* An agent whose name is not its token's is told so. */
static void test_wrong_agent_name(void **state)
{
    struct watch *agent = calloc(1, sizeof *agent);
    (void)state;

    assert_non_null(agent);
    node_new(agent, "agent", "prod", TN_AGENT_TOKEN);
    if (!run_until(fx.loop, has_fatal, agent, 10))
        fail_msg("no error for a wrong name; log:\n%s", agent->n.log);
    assert_string_equal(agent->fatal, "name \"prod\" does not match the token");
    node_free(agent);
    free(agent);
}

static void test_bad_config(void **state)
{
    struct vole_tailnet_config cfg = { .url = fx.srv.url, .token = TN_CLIENT_TOKEN, .name = "Bad_Name" };
    char err[256] = "";
    (void)state;

    assert_null(vole_tailnet_new(fx.loop, &cfg, NULL, err, sizeof err));
    assert_non_null(strstr(err, "agent name \"Bad_Name\""));
    cfg.name = NULL;
    cfg.token = "";
    assert_null(vole_tailnet_new(fx.loop, &cfg, NULL, err, sizeof err));
    assert_string_equal(err, "no token");
    cfg.token = TN_CLIENT_TOKEN;
    cfg.url = "ftp://x";
    assert_null(vole_tailnet_new(fx.loop, &cfg, NULL, err, sizeof err));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_agent_and_client),
        cmocka_unit_test(test_agent_restart),
        cmocka_unit_test(test_refused_tunnel),
        cmocka_unit_test(test_bad_token),
        cmocka_unit_test(test_wrong_agent_name),
        cmocka_unit_test(test_bad_config),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
