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

#include "evloop.h"
#include "node/tunnel.h"
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_disable_direct_ping_via_derp, teardown),
        cmocka_unit_test_teardown(test_server_block_ping_via_derp, teardown),
        cmocka_unit_test_teardown(test_ping_direct_and_facts, teardown),
        cmocka_unit_test_teardown(test_ping_cancel_and_limit, teardown),
        cmocka_unit_test_teardown(test_ping_timeout, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
