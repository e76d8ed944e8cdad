/* The node's diagnostics (tailnet/diag.h) end to end, in one process on
 * loopback: the disco CLI ping (via DERP, then direct; unknown peer; a peer
 * that stops answering; cancel), the checklist facts, NetInfo,
 * --disable-direct-connections, the server's block, and the agent's report
 * over overlay TCP port 4. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <ev.h>

#include "diag/agent_report.h"
#include "evloop.h"
#include "lwip/tcp.h"
#include "node/tunnel.h"
#include "stack/stack.h"
#include "server/server.h"
#include "tailnet/diag.h"
#include "tailnet/node.h"
#include "tailnet_fixture.h"

/* ---- one node's record --------------------------------------------------- */

struct watch {
    struct tn_node n;                    /* first: the ctx of tn_log and tn_on_peer */
    int n_fatal;
    struct vole_tailnet_path path;       /* the last on_path */
};

static void w_ready(void *ctx, const struct coord_node *self)
{
    struct watch *w = ctx;
    (void)self;
    w->n.ready = true;
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
    fprintf(stderr, "[%s] fatal: %s\n", w->n.who, why);
}

struct fixture {
    struct ev_loop *loop;
    struct tn_server srv;
    struct watch *agent, *client;
};

static struct fixture fx;

static void node_new(struct watch *w, const char *who, const char *name, const char *token, bool disable_direct)
{
    struct vole_tailnet_ops ops = { .ctx = w, .on_ready = w_ready, .on_peer = tn_on_peer, .on_path = w_path,
                                    .on_fatal = w_fatal };
    memset(w, 0, sizeof *w);
    tn_node_new_opts(&w->n, fx.loop, &fx.srv, who, name, token, true, disable_direct, &ops);
}

static int32_t home_connected(const struct watch *w)
{
    struct vole_tailnet_peer_diag d;
    (void)vole_tailnet_peer_diag(w->n.t, "dev", &d);
    return d.preferred_derp;
}

/* Met, and both on DERP: a packet to a peer not yet on the relay is dropped there. */
static bool met(void *arg)
{
    (void)arg;
    return tn_met(&fx.agent->n, &fx.client->n) && home_connected(fx.agent) != 0 && home_connected(fx.client) != 0;
}

/* A server (blocking or not), agent dev and a client that have met. */
static void world_start(bool block_direct, bool client_disable_direct)
{
    fx.loop = ev_default_loop(0);
    tn_server_start_opts(&fx.srv, fx.loop, "/tmp/vole-tdiag-XXXXXX", block_direct);
    fx.agent = calloc(1, sizeof *fx.agent);
    fx.client = calloc(1, sizeof *fx.client);
    assert_true(fx.agent && fx.client);
    node_new(fx.agent, "agent", "dev", TN_AGENT_TOKEN, false);
    node_new(fx.client, "client", NULL, TN_CLIENT_TOKEN, client_disable_direct);
    assert_int_equal(vole_tailnet_add_tunnel(fx.client->n.t, "dev"), 0);
    if (!run_until(fx.loop, met, NULL, 15))
        fail_msg("nodes did not meet\nagent log:\n%sclient log:\n%s", fx.agent->n.log, fx.client->n.log);
}

static void world_stop(void)
{
    if (fx.client) {
        vole_tailnet_free(fx.client->n.t);
        free(fx.client);
    }
    if (fx.agent) {
        vole_tailnet_free(fx.agent->n.t);
        free(fx.agent);
    }
    fx.client = fx.agent = NULL;
    tn_server_stop(&fx.srv);
}

static int teardown(void **state)
{
    (void)state;
    world_stop();
    return 0;
}

/* ---- the CLI ping ------------------------------------------------------------ */

struct ping_rec {
    int calls;
    bool got;                            /* a pong (not a timeout) */
    struct vole_tailnet_pong pong;
};

static void on_pong(void *ctx, const struct vole_tailnet_pong *pong)
{
    struct ping_rec *r = ctx;
    r->calls++;
    r->got = pong != NULL;
    if (pong)
        r->pong = *pong;
}

static bool ping_done(void *arg)
{
    return ((const struct ping_rec *)arg)->calls > 0;
}

/* One CLI ping from the client to dev, waited for (at most the timeout and a bit). */
static struct ping_rec ping_dev(void)
{
    struct ping_rec r = { 0 };
    char err[128];
    int id = vole_tailnet_ping(fx.client->n.t, "dev", on_pong, &r, err, sizeof err);

    if (id <= 0)
        fail_msg("vole_tailnet_ping: %s", err);
    assert_int_equal(r.calls, 0);   /* never from inside the call */
    assert_true(run_until(fx.loop, ping_done, &r, 7));
    return r;
}

static bool endpoint_is_agents(const struct wg_endpoint *ep)
{
    const struct coord_node *self = vole_tailnet_self(fx.agent->n.t);
    for (size_t i = 0; i < self->n_endpoints; i++)
        if (self->endpoints[i].family == ep->family && self->endpoints[i].port == ep->port &&
            memcmp(self->endpoints[i].ip, ep->addr, ep->family == 4 ? 4 : 16) == 0)
            return true;
    return false;
}

static long long region(void)
{
    return vole_server_region_id(fx.srv.server);
}

/* The client blocks direct paths itself: the ping goes via DERP, its node
 * carries no endpoint, no STUN runs, and the path stays DERP. */
static void test_disable_direct_ping_via_derp(void **state)
{
    struct vole_tailnet_netinfo ni;
    struct vole_tailnet_path path;
    struct ping_rec r;
    (void)state;

    world_start(false, true);
    r = ping_dev();
    assert_true(r.got);
    assert_false(r.pong.direct);
    assert_int_equal(r.pong.derp_region, region());
    assert_true(r.pong.latency_ns > 0 && r.pong.latency_ns < VOLE_TAILNET_PING_TIMEOUT_NS);
    assert_int_equal(vole_tailnet_self(fx.client->n.t)->n_endpoints, 0);
    assert_false(vole_tailnet_netinfo(fx.client->n.t, &ni));
    assert_false(vole_tailnet_server_blocks_direct(fx.client->n.t));
    /* Pings again, with the agent's heartbeat running: never direct. */
    for (int i = 0; i < 3; i++) {
        r = ping_dev();
        assert_true(r.got);
        assert_false(r.pong.direct);
    }
    run_for(fx.loop, 1.0);
    vole_tailnet_peer_path(fx.client->n.t, "dev", &path);
    assert_int_equal(path.kind, VOLE_PATH_DERP);
    assert_int_equal(path.derp_region, region());
    /* The agent was never told where the client is. */
    {
        struct vole_tailnet_peer_diag d;
        assert_int_equal(vole_tailnet_peer_diag(fx.agent->n.t, fx.agent->n.peer, &d), 0);
        assert_int_equal(d.n_peer_endpoints, 0);
        assert_int_equal(d.disco.peer_pings_received, 0);
    }
}

/* The server blocks direct paths: the same, said by the server. */
static void test_server_block_ping_via_derp(void **state)
{
    struct vole_tailnet_netinfo ni;
    struct ping_rec r;
    (void)state;

    world_start(true, false);
    r = ping_dev();
    assert_true(r.got);
    assert_false(r.pong.direct);
    assert_int_equal(r.pong.derp_region, region());
    assert_true(vole_tailnet_server_blocks_direct(fx.client->n.t));
    assert_false(vole_tailnet_netinfo(fx.agent->n.t, &ni));
    assert_int_equal(vole_tailnet_self(fx.agent->n.t)->n_endpoints, 0);
    assert_non_null(vole_tailnet_derp_map(fx.client->n.t));
}

/* Direct on loopback: pings until one is answered from the agent's UDP
 * address; the checklist facts and NetInfo along the way. */
static void test_ping_direct_and_facts(void **state)
{
    struct vole_tailnet_peer_diag d, ad;
    struct vole_tailnet_netinfo ni;
    struct ping_rec r = { 0 };
    char err[128];
    int i;
    (void)state;

    world_start(false, false);
    assert_false(vole_tailnet_server_blocks_direct(fx.client->n.t));
    for (i = 0; i < 10; i++) {
        r = ping_dev();
        assert_true(r.got);
        if (r.pong.direct)
            break;
        assert_int_equal(r.pong.derp_region, region());
    }
    if (i == 10)
        fail_msg("no direct pong in 10 pings\nclient log:\n%s", fx.client->n.log);
    assert_true(endpoint_is_agents(&r.pong.endpoint));
    /* Once trusted, the ping goes to the best address alone. */
    r = ping_dev();
    assert_true(r.got && r.pong.direct);
    assert_true(endpoint_is_agents(&r.pong.endpoint));

    assert_int_equal(vole_tailnet_peer_diag(fx.client->n.t, "dev", &d), 0);
    assert_true(d.received_node);
    assert_true(d.sent_node);
    assert_int_equal(d.preferred_derp, region());
    assert_int_equal(d.peer_preferred_derp, region());
    assert_int_equal(d.n_peer_endpoints, vole_tailnet_self(fx.agent->n.t)->n_endpoints);
    assert_true(d.n_peer_endpoints > 0);
    assert_non_null(strchr(d.peer_endpoints[0], ':'));
    assert_true(d.disco.pings_sent >= 2);
    assert_true(d.disco.pongs_received >= 2);
    assert_true(d.disco.pongs_received <= d.disco.pings_sent);
    assert_int_equal(vole_tailnet_peer_diag(fx.agent->n.t, fx.agent->n.peer, &ad), 0);
    assert_true(ad.disco.peer_pings_received >= 2);

    /* Unknown peers. */
    assert_int_equal(vole_tailnet_peer_diag(fx.client->n.t, "nobody", &d), -1);
    assert_false(d.received_node);
    assert_int_equal(vole_tailnet_ping(fx.client->n.t, "nobody", on_pong, &r, err, sizeof err), -1);
    assert_string_equal(err, "no such peer");

    /* NetInfo after STUN (the fixture's server answers STUN on loopback). */
    assert_true(vole_tailnet_netinfo(fx.client->n.t, &ni));
    assert_true(ni.ni.udp);
    assert_ptr_equal(ni.ni.global_v4, ni.global_v4);
    assert_true(strncmp(ni.global_v4, "127.0.0.1:", 10) == 0);
    assert_int_equal(ni.preferred_derp, region());
}

/* Cancelled: no call, even though the pong comes. Too many: refused. */
static void test_ping_cancel_and_limit(void **state)
{
    struct ping_rec r = { 0 }, many[VOLE_TAILNET_PINGS_MAX];
    int ids[VOLE_TAILNET_PINGS_MAX];
    char err[128];
    int id;
    (void)state;

    world_start(false, false);
    id = vole_tailnet_ping(fx.client->n.t, "dev", on_pong, &r, err, sizeof err);
    assert_true(id > 0);
    vole_tailnet_ping_cancel(fx.client->n.t, id);
    vole_tailnet_ping_cancel(fx.client->n.t, id);   /* finished ids are ignored */
    vole_tailnet_ping_cancel(fx.client->n.t, 12345);
    run_for(fx.loop, 1.0);
    assert_int_equal(r.calls, 0);

    memset(many, 0, sizeof many);
    for (int i = 0; i < VOLE_TAILNET_PINGS_MAX; i++) {
        ids[i] = vole_tailnet_ping(fx.client->n.t, "dev", on_pong, &many[i], err, sizeof err);
        assert_true(ids[i] > 0);
    }
    assert_int_equal(vole_tailnet_ping(fx.client->n.t, "dev", on_pong, &r, err, sizeof err), -1);
    assert_string_equal(err, "too many pings in flight");
    for (int i = 0; i < VOLE_TAILNET_PINGS_MAX; i++)
        assert_true(run_until(fx.loop, ping_done, &many[i], 7));
    for (int i = 0; i < VOLE_TAILNET_PINGS_MAX; i++)
        assert_int_equal(many[i].calls, 1);
}

/* The agent goes away right after the pings left: a timeout (NULL), once. */
static void test_ping_timeout(void **state)
{
    struct ping_rec r = { 0 };
    char err[128];
    uint64_t t0;
    (void)state;

    world_start(false, false);
    assert_true(vole_tailnet_ping(fx.client->n.t, "dev", on_pong, &r, err, sizeof err) > 0);
    t0 = vole_now_ns();
    vole_tailnet_free(fx.agent->n.t);
    free(fx.agent);
    fx.agent = NULL;
    assert_true(run_until(fx.loop, ping_done, &r, 8));
    assert_int_equal(r.calls, 1);
    assert_false(r.got);
    assert_true(vole_now_ns() - t0 >= VOLE_TAILNET_PING_TIMEOUT_NS - 100000000ull);
    run_for(fx.loop, 0.3);
    assert_int_equal(r.calls, 1);
}

/* ---- the agent's report ------------------------------------------------------ */

struct report_rec {
    int calls;
    int status;
    char body[VOLE_AGENT_REPORT_MAX + 1];
    size_t len;
    char err[256];
};

static void on_report(void *ctx, int status, const char *body, size_t len, const char *err)
{
    struct report_rec *r = ctx;
    r->calls++;
    r->status = status;
    r->len = len < VOLE_AGENT_REPORT_MAX ? len : VOLE_AGENT_REPORT_MAX;
    if (body)
        memcpy(r->body, body, r->len);
    r->body[r->len] = '\0';
    snprintf(r->err, sizeof r->err, "%s", err ? err : "");
}

static bool report_done(void *arg)
{
    return ((const struct report_rec *)arg)->calls > 0;
}

static bool agent_has_netinfo(void *arg)
{
    struct vole_tailnet_netinfo ni;
    (void)arg;
    return vole_tailnet_netinfo(fx.agent->n.t, &ni);
}

static bool has_iface(const struct vole_agent_report *rep, const char *name)
{
    for (size_t i = 0; i < rep->ifaces.n; i++)
        if (strcmp(rep->ifaces.ifaces[i].name, name) == 0)
            return true;
    return false;
}

/* The client fetches dev's report through the tunnel: 200 and a body the
 * report parser takes, with the agent's interfaces and its disco counts
 * toward this client; the TCP traffic also made a WireGuard handshake. */
static void test_fetch_report(void **state)
{
    struct report_rec *r = calloc(1, sizeof *r);
    struct vole_agent_report *rep = calloc(1, sizeof *rep);
    struct vole_tailnet_peer_diag d;
    struct ping_rec pr;
    char err[256];
    (void)state;

    assert_true(r && rep);
    world_start(false, false);
    pr = ping_dev();   /* disco over UDP toward the agent, so that it has counts */
    assert_true(pr.got);
    assert_true(run_until(fx.loop, agent_has_netinfo, NULL, 10));
    assert_int_equal(vole_tailnet_fetch_report(fx.client->n.t, "dev", 5000, on_report, r, err, sizeof err), 0);
    assert_int_equal(r->calls, 0);   /* never from inside the call */
    assert_true(run_until(fx.loop, report_done, r, 7));
    if (r->status != 200)
        fail_msg("status %d (%s)\nagent log:\n%s", r->status, r->err, fx.agent->n.log);
    if (vole_agent_report_parse(r->body, r->len, rep, err, sizeof err) < 0)
        fail_msg("%s in:\n%s", err, r->body);
    assert_true(rep->have_ifaces);
    assert_true(has_iface(rep, "lo"));
    assert_true(rep->have_disco);
    assert_true(rep->disco.peer_pings_received >= 1);
    assert_true(rep->have_netinfo);
    assert_true(rep->netinfo.udp);
    assert_int_equal(rep->preferred_derp, region());
    assert_int_equal(r->calls, 1);

    assert_int_equal(vole_tailnet_peer_diag(fx.client->n.t, "dev", &d), 0);
    assert_true(d.have_handshake);
    assert_true(d.handshake_age_ns < 30 * 1000000000ull);

    assert_int_equal(vole_tailnet_fetch_report(fx.client->n.t, "nobody", 5000, on_report, r, err, sizeof err), -1);
    assert_string_equal(err, "no such peer");

    /* Freed with a fetch pending: ended (status 0) before free returns. */
    memset(r, 0, sizeof *r);
    assert_int_equal(vole_tailnet_fetch_report(fx.client->n.t, "dev", 5000, on_report, r, err, sizeof err), 0);
    vole_tailnet_free(fx.client->n.t);
    free(fx.client);
    fx.client = NULL;
    assert_int_equal(r->calls, 1);
    assert_int_equal(r->status, 0);
    assert_true(r->err[0] != '\0');
    free(r);
    free(rep);
}

/* A client node serves nothing: status 0 with why, within the timeout. */
static void test_fetch_from_client_fails(void **state)
{
    struct report_rec *r = calloc(1, sizeof *r);
    char err[256];
    uint64_t t0;
    (void)state;

    assert_non_null(r);
    world_start(false, false);
    t0 = vole_now_ns();
    assert_int_equal(vole_tailnet_fetch_report(fx.agent->n.t, fx.agent->n.peer, 3000, on_report, r, err, sizeof err),
                     0);
    assert_true(run_until(fx.loop, report_done, r, 5));
    assert_int_equal(r->calls, 1);
    assert_int_equal(r->status, 0);
    assert_true(r->err[0] != '\0');
    assert_true(vole_now_ns() - t0 < 3500000000ull);
    free(r);
}

/* ---- raw requests to port 4 ---- */

struct raw {
    struct tcp_pcb *pcb;
    const char *req;
    size_t req_len;
    char resp[4096];
    size_t len;
    bool end;
};

static err_t raw_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    struct raw *r = arg;
    (void)err;
    if (!p) {
        r->end = true;
        tcp_arg(pcb, NULL);
        tcp_recv(pcb, NULL);
        tcp_err(pcb, NULL);
        r->pcb = NULL;
        if (tcp_close(pcb) != ERR_OK) {
            tcp_abort(pcb);
            return ERR_ABRT;
        }
        return ERR_OK;
    }
    tcp_recved(pcb, p->tot_len);
    if (p->tot_len < sizeof r->resp - 1 - r->len)
        r->len += pbuf_copy_partial(p, r->resp + r->len, p->tot_len, 0);
    r->resp[r->len] = '\0';
    pbuf_free(p);
    return ERR_OK;
}

static void raw_err(void *arg, err_t err)
{
    struct raw *r = arg;
    (void)err;
    r->pcb = NULL;
    r->end = true;
}

static err_t raw_connected(void *arg, struct tcp_pcb *pcb, err_t err)
{
    struct raw *r = arg;
    size_t off = 0;
    (void)err;
    while (off < r->req_len) {
        size_t n = r->req_len - off > 4096 ? 4096 : r->req_len - off;
        if (tcp_write(pcb, r->req + off, (u16_t)n, TCP_WRITE_FLAG_COPY) != ERR_OK)
            break;
        off += n;
    }
    tcp_output(pcb);
    return ERR_OK;
}

static bool raw_done(void *arg)
{
    return ((const struct raw *)arg)->end;
}

/* Sends req from the client's stack to dev:4; the whole answer. */
static void raw_request(struct raw *r, const char *req, size_t len)
{
    ip_addr_t dst;

    memset(r, 0, sizeof *r);
    r->req = req;
    r->req_len = len;
    assert_int_equal(vole_tailnet_peer_addr(fx.client->n.t, "dev", &dst), 0);
    r->pcb = tcp_new_ip_type(IP_GET_TYPE(&dst));
    assert_non_null(r->pcb);
    tcp_bind_netif(r->pcb, vole_stack_netif(vole_tailnet_stack(fx.client->n.t)));
    tcp_arg(r->pcb, r);
    tcp_recv(r->pcb, raw_recv);
    tcp_err(r->pcb, raw_err);
    assert_int_equal(tcp_connect(r->pcb, &dst, VOLE_TAILNET_REPORT_PORT, raw_connected), ERR_OK);
    if (!run_until(fx.loop, raw_done, r, 8)) {
        tcp_arg(r->pcb, NULL);
        tcp_abort(r->pcb);
        fail_msg("no answer to %.40s", req);
    }
}

#define RAW(r, lit) raw_request((r), (lit), sizeof(lit) - 1)

static void test_bad_requests(void **state)
{
    static const char big_prefix[] = "GET /api/v0/netcheck HTTP/1.1\r\nX: ";
    char *big = malloc(9000);
    struct raw *r = calloc(1, sizeof *r);
    (void)state;

    assert_true(big && r);
    world_start(false, false);
    RAW(r, "POST /api/v0/netcheck HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_true(strncmp(r->resp, "HTTP/1.1 405 ", 13) == 0);
    RAW(r, "GET /nope HTTP/1.1\r\n\r\n");
    assert_true(strncmp(r->resp, "HTTP/1.1 404 ", 13) == 0);
    assert_non_null(strstr(r->resp, "\r\n\r\n{\"message\":\"not found\"}"));
    RAW(r, "garbage\r\n\r\n");
    assert_true(strncmp(r->resp, "HTTP/1.1 400 ", 13) == 0);
    RAW(r, "GET /api/v0/netcheck HTTP/2\r\n\r\n");
    assert_true(strncmp(r->resp, "HTTP/1.1 400 ", 13) == 0);
    memset(big, 'a', 9000);
    memcpy(big, big_prefix, sizeof big_prefix - 1);
    raw_request(r, big, 9000);
    assert_true(strncmp(r->resp, "HTTP/1.1 400 ", 13) == 0);
    /* And a good one still works, with a query string. */
    RAW(r, "GET /api/v0/netcheck?x=1 HTTP/1.0\r\n\r\n");
    assert_true(strncmp(r->resp, "HTTP/1.1 200 ", 13) == 0);
    assert_non_null(strstr(r->resp, "Content-Type: application/json\r\n"));
    free(big);
    free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_disable_direct_ping_via_derp, teardown),
        cmocka_unit_test_teardown(test_server_block_ping_via_derp, teardown),
        cmocka_unit_test_teardown(test_ping_direct_and_facts, teardown),
        cmocka_unit_test_teardown(test_ping_cancel_and_limit, teardown),
        cmocka_unit_test_teardown(test_ping_timeout, teardown),
        cmocka_unit_test_teardown(test_fetch_report, teardown),
        cmocka_unit_test_teardown(test_fetch_from_client_fails, teardown),
        cmocka_unit_test_teardown(test_bad_requests, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
