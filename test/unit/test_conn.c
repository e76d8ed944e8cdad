/* tailnet/conn end to end in one process on loopback: two vole_conn
 * instances, the DERP server of derp/server.h and a STUN server (stun/server.h
 * on an io/udp.h socket), a DERP map from derp_map_for_server pointing at
 * them, peers fed with vole_conn_upsert_peer (no coordinator), and one lwIP
 * stack per conn so that an ICMP echo proves delivery of inner packets both
 * ways. Every wait is bounded. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/key.h"
#include "derp/client.h"
#include "derp/derpmap.h"
#include "derp/server.h"
#include "disco/disco.h"
#include "io/udp.h"
#include "node/tunnel.h"
#include "stack/ping.h"
#include "stack/stack.h"
#include "stun/server.h"
#include "tailnet/conn.h"
#include "wg/device.h"

#include "test/unit/evloop.h"

#define LIMIT 10.0   /* seconds for one wait; each takes milliseconds on loopback */

/* ---- a STUN server on 127.0.0.1 ---- */

struct stun_srv {
    struct vole_udp *udp;
    struct stun_server core;
};

static void stun_on_datagram(void *ctx, const struct wg_endpoint *src, uint8_t *buf, size_t len)
{
    struct stun_srv *s = ctx;
    uint8_t out[STUN_MAX_RESPONSE];
    size_t n = stun_server_handle(&s->core, buf, len, src, vole_now_ns(), out, sizeof out);
    uint8_t *slot;
    if (n && (slot = vole_udp_tx_slot(s->udp, n))) {
        memcpy(slot, out, n);
        vole_udp_tx_commit(s->udp, src, n);
    }
}

/* ---- one node: a conn with a stack ---- */

struct node {
    struct vole_conn *conn;
    struct vole_stack *stack;
    uint8_t addr4[4];
    int self_changes;
    int paths;
    struct vole_tailnet_path path;   /* the last on_path */
};

static void on_self_changed(void *ctx) { ((struct node *)ctx)->self_changes++; }

static void on_path(void *ctx, const uint8_t key[32], const struct vole_tailnet_path *p)
{
    struct node *n = ctx;
    n->paths++;
    n->path = *p;
}

static int stack_output(void *ctx, struct pbuf *p) { return vole_conn_output(((struct node *)ctx)->conn, p); }

struct fixture {
    struct ev_loop *loop;
    struct vole_derp_server *derp;
    struct stun_srv stun;
    struct derp_map map;
    struct node a, b;
};

/* VOLE_TEST_VERBOSE=1 shows the conns' verbose log while debugging. */
static void log_line(void *ctx, const char *msg) { fprintf(stderr, "  [%s] %s\n", (const char *)ctx, msg); }

static void node_start(struct fixture *f, struct node *n, uint8_t last, const char *url)
{
    struct vole_conn_config cfg = { .server_url = url };
    if (getenv("VOLE_TEST_VERBOSE")) {
        cfg.verbose = true;
        cfg.log = log_line;
        cfg.log_ctx = last == 1 ? "a" : "b";
    }
    struct vole_conn_ops ops = { .ctx = n, .on_self_changed = on_self_changed, .on_path = on_path };
    struct vole_stack_ops sops = { .ctx = n, .output = stack_output };
    struct vole_stack_addr addr = { .family = 4, .addr = { 100, 64, 0, last }, .prefix = 32 };
    char err[256];

    vole_key_generate_private(cfg.private_key);
    n->conn = vole_conn_new(f->loop, &cfg, &ops, err, sizeof err);
    if (!n->conn)
        fail_msg("vole_conn_new: %s", err);
    memcpy(n->addr4, addr.addr, 4);
    n->stack = vole_stack_new(f->loop, VOLE_TAILNET_MTU, &addr, 1, &sops, err, sizeof err);
    if (!n->stack)
        fail_msg("vole_stack_new: %s", err);
    vole_conn_attach_stack(n->conn, n->stack);
    if (vole_conn_set_derp_map(n->conn, &f->map, err, sizeof err) < 0)
        fail_msg("set_derp_map: %s", err);
}

static void setup_common(struct fixture *f, bool direct)
{
    struct vole_derp_server_config dc = { .listen = "127.0.0.1:0" };
    struct vole_udp_config uc = { .bind_addr = "127.0.0.1" };
    struct derp_map_stun_addr stun_addr = { .host = "127.0.0.1" };
    struct derp_map_server_params mp = { .host_name = "127.0.0.1", .force_http = true };
    char err[256], url[64];

    f->loop = EV_DEFAULT;
    f->derp = vole_derp_server_new(f->loop, &dc, err, sizeof err);
    if (!f->derp)
        fail_msg("derp server: %s", err);
    assert_int_equal(stun_server_init(&f->stun.core), 0);
    f->stun.udp = vole_udp_open(f->loop, &uc, stun_on_datagram, &f->stun, err, sizeof err);
    if (!f->stun.udp)
        fail_msg("stun socket: %s", err);
    stun_addr.port = vole_udp_local_port(f->stun.udp);
    mp.derp_port = vole_derp_server_port(f->derp);
    mp.stun = &stun_addr;
    mp.n_stun = 1;
    mp.block_direct = !direct;
    if (derp_map_for_server(&f->map, &mp, err, sizeof err) < 0)
        fail_msg("derp map: %s", err);
    snprintf(url, sizeof url, "http://127.0.0.1:%u", vole_derp_server_port(f->derp));
    node_start(f, &f->a, 1, url);
    node_start(f, &f->b, 2, url);
}

static int setup_direct(void **state)
{
    static struct fixture f;
    memset(&f, 0, sizeof f);
    setup_common(&f, true);
    *state = &f;
    return 0;
}

static int setup_derp_only(void **state)
{
    static struct fixture f;
    memset(&f, 0, sizeof f);
    setup_common(&f, false);
    vole_conn_set_block_endpoints(f.a.conn, true);
    vole_conn_set_block_endpoints(f.b.conn, true);
    *state = &f;
    return 0;
}

static void node_stop(struct node *n)
{
    vole_conn_attach_stack(n->conn, NULL);
    vole_stack_free(n->stack);
    vole_conn_free(n->conn);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    node_stop(&f->a);
    node_stop(&f->b);
    vole_udp_close(f->stun.udp);
    vole_derp_server_free(f->derp);
    derp_map_free(&f->map);
    return 0;
}

/* ---- conditions ---- */

static bool both_homed(void *arg)
{
    struct fixture *f = arg;
    struct coord_node a, b;
    vole_conn_self(f->a.conn, &a);
    vole_conn_self(f->b.conn, &b);
    return a.preferred_derp != 0 && b.preferred_derp != 0 &&
           vole_derp_server_stats(f->derp)->clients_current >= 2;
}

struct ping_wait {
    int replies;
};

static void on_reply(void *ctx, uint16_t seq, size_t len, uint64_t rtt) { ((struct ping_wait *)ctx)->replies++; }

static bool got_reply(void *arg) { return ((struct ping_wait *)arg)->replies > 0; }

/* Each node learns the other as the coordinator would tell it. */
static void introduce(struct fixture *f, bool with_endpoints)
{
    struct coord_node na, nb;
    assert_true(run_until(f->loop, both_homed, f, LIMIT));
    vole_conn_self(f->a.conn, &na);
    vole_conn_self(f->b.conn, &nb);
    na.has_v4 = nb.has_v4 = true;
    memcpy(na.v4, f->a.addr4, 4);
    memcpy(nb.v4, f->b.addr4, 4);
    if (!with_endpoints)
        na.n_endpoints = nb.n_endpoints = 0;
    assert_int_equal(vole_conn_upsert_peer(f->a.conn, &nb, "b"), 0);
    assert_int_equal(vole_conn_upsert_peer(f->b.conn, &na, "a"), 0);
    /* A node never takes itself as a peer. */
    assert_int_equal(vole_conn_upsert_peer(f->a.conn, &na, "self"), -1);
}

/* One echo request from a's stack to b's address; true when the reply came back. */
static bool ping_once(struct fixture *f, uint16_t seq, size_t len)
{
    ip_addr_t dst;
    struct ping_wait pw = { 0 };
    struct vole_pinger *pg;
    bool ok;

    IP_ADDR4(&dst, f->b.addr4[0], f->b.addr4[1], f->b.addr4[2], f->b.addr4[3]);
    pg = vole_pinger_new(f->a.stack, &dst, on_reply, &pw);
    assert_non_null(pg);
    assert_int_equal(vole_pinger_send(pg, seq, len), 0);
    ok = run_until(f->loop, got_reply, &pw, LIMIT);
    vole_pinger_free(pg);
    return ok;
}

/* ---- tests ---- */

/* Block-direct: no STUN in the map, no endpoints anywhere. The home is the
 * embedded region, packets go over DERP, and they keep doing so. */
static void test_derp_only(void **state)
{
    struct fixture *f = *state;
    const struct vole_conn_stats *sa = vole_conn_stats(f->a.conn), *sb = vole_conn_stats(f->b.conn);
    struct coord_node self;
    struct vole_tailnet_path p;

    introduce(f, false);
    vole_conn_self(f->a.conn, &self);
    assert_int_equal(self.preferred_derp, 999);
    assert_int_equal(self.n_endpoints, 0);
    assert_int_equal(f->a.path.kind, VOLE_PATH_DERP);
    assert_int_equal(f->a.path.derp_region, 999);

    assert_true(ping_once(f, 1, 64));
    for (uint16_t i = 2; i < 6; i++) {
        assert_true(ping_once(f, i, 1000));
        run_for(f->loop, 0.1);
    }
    vole_conn_peer_path(f->a.conn, (const uint8_t *)self.key, &p);   /* our own key: no such peer */
    assert_int_equal(p.kind, VOLE_PATH_NONE);
    assert_int_equal(f->a.path.kind, VOLE_PATH_DERP);
    assert_int_equal(f->b.path.kind, VOLE_PATH_DERP);
    assert_true(sa->derp_wg_tx >= 6 && sb->derp_wg_tx >= 6);
    assert_true(sa->derp_wg_rx >= 6 && sb->derp_wg_rx >= 6);
    assert_int_equal(sa->udp_wg_tx + sb->udp_wg_tx + sa->udp_wg_rx + sb->udp_wg_rx, 0);
    assert_int_equal(sa->disco_tx_ping + sb->disco_tx_ping + sa->disco_tx_cmm + sb->disco_tx_cmm, 0);
}

static bool both_direct(void *arg)
{
    struct fixture *f = arg;
    return f->a.path.kind == VOLE_PATH_DIRECT && f->b.path.kind == VOLE_PATH_DIRECT;
}

static bool endpoint_listed(const struct coord_node *n, const char *ip, uint16_t port)
{
    uint8_t a[4];
    inet_pton(AF_INET, ip, a);
    for (size_t i = 0; i < n->n_endpoints; i++)
        if (n->endpoints[i].family == 4 && n->endpoints[i].port == port && memcmp(n->endpoints[i].ip, a, 4) == 0)
            return true;
    return false;
}

/* With STUN and endpoints: DERP first, then disco finds the UDP path, on_path
 * says DIRECT with the peer's address, and data flows over UDP only. */
static void test_direct(void **state)
{
    struct fixture *f = *state;
    const struct vole_conn_stats *sa = vole_conn_stats(f->a.conn), *sb = vole_conn_stats(f->b.conn);
    struct coord_node self;
    uint64_t derp_tx, udp_rx;

    introduce(f, true);
    vole_conn_self(f->a.conn, &self);
    assert_int_equal(self.preferred_derp, 999);
    assert_true(sa->stun_rounds >= 1);
    /* The STUN server on loopback sees us as 127.0.0.1:our port. */
    assert_true(endpoint_listed(&self, "127.0.0.1", vole_conn_udp_port(f->a.conn)));
    assert_true(f->a.self_changes >= 1);

    assert_true(ping_once(f, 1, 64));
    assert_true(sa->derp_wg_tx > 0);   /* before any pong, DERP carries the handshake */
    assert_true(run_until(f->loop, both_direct, f, LIMIT));
    assert_int_equal(f->a.path.direct.port, vole_conn_udp_port(f->b.conn));
    assert_int_equal(f->b.path.direct.port, vole_conn_udp_port(f->a.conn));
    assert_true(sa->disco_tx_ping > 0 && sb->disco_rx_ping > 0 && sa->disco_rx_pong > 0);

    derp_tx = sa->derp_wg_tx + sb->derp_wg_tx;
    udp_rx = sb->udp_wg_rx;
    for (uint16_t i = 2; i < 6; i++)
        assert_true(ping_once(f, i, 1200));
    assert_true(sb->udp_wg_rx >= udp_rx + 4);
    assert_int_equal(sa->derp_wg_tx + sb->derp_wg_tx, derp_tx);   /* trusted: UDP alone */
    assert_int_equal(f->a.path.kind, VOLE_PATH_DIRECT);
}

/* Disco from a stranger, or from a peer whose box does not open: counted,
 * never given to WireGuard. */
static void test_bad_disco_dropped(void **state)
{
    struct fixture *f = *state;
    const struct vole_conn_stats *sa = vole_conn_stats(f->a.conn);
    const struct wg_device_stats *wa = wg_device_stats(vole_conn_device(f->a.conn));
    struct vole_udp_config uc = { .bind_addr = "127.0.0.1" };
    struct wg_endpoint dst = { .family = 4, .addr = { 127, 0, 0, 1 }, .port = vole_conn_udp_port(f->a.conn) };
    struct coord_node nb;
    struct vole_udp *u;
    uint8_t pkt[200], *slot;
    char err[256];
    uint64_t wg_before = wa->rx_short + wa->rx_unknown_type + wa->rx_bad_mac1;

    introduce(f, true);
    vole_conn_self(f->b.conn, &nb);
    u = vole_udp_open(f->loop, &uc, stun_on_datagram, NULL, err, sizeof err);
    assert_non_null(u);

    static const uint8_t magic[DISCO_MAGIC_LEN] = { 0x54, 0x53, 0xF0, 0x9F, 0x92, 0xAC };   /* "TS💬" */

    memcpy(pkt, magic, sizeof magic);
    randombytes_buf(pkt + 6, sizeof pkt - 6);   /* an unknown sender key, a random "box" */
    slot = vole_udp_tx_slot(u, sizeof pkt);
    memcpy(slot, pkt, sizeof pkt);
    vole_udp_tx_commit(u, &dst, sizeof pkt);
    memcpy(pkt + 6, nb.disco, 32);              /* b's disco key, a box that does not open */
    slot = vole_udp_tx_slot(u, sizeof pkt);
    memcpy(slot, pkt, sizeof pkt);
    vole_udp_tx_commit(u, &dst, sizeof pkt);
    run_for(f->loop, 0.3);

    assert_int_equal(sa->drop_disco_unknown_sender, 1);
    assert_int_equal(sa->drop_disco_bad_box, 1);
    assert_int_equal(wa->rx_short + wa->rx_unknown_type + wa->rx_bad_mac1, wg_before);
    assert_int_equal(sa->udp_wg_rx, 0);
    vole_udp_close(u);
}

/* A DERP packet from a key that is no peer: dropped and counted. */
static void on_intruder_state(void *ctx, bool connected, const char *why) { *(bool *)ctx = connected; }
static bool is_true(void *arg) { return *(bool *)arg; }

static void test_derp_unknown_sender_dropped(void **state)
{
    struct fixture *f = *state;
    const struct vole_conn_stats *sa = vole_conn_stats(f->a.conn);
    struct vole_derp_client_config cc = { 0 };
    struct vole_derp_client_ops ops = { 0 };
    struct vole_derp_client *cl;
    struct coord_node na;
    bool connected = false;
    char err[256], url[64];
    const uint8_t junk[40] = { 4, 0, 0, 0 };

    introduce(f, false);
    vole_conn_self(f->a.conn, &na);
    snprintf(url, sizeof url, "http://127.0.0.1:%u/derp", vole_derp_server_port(f->derp));
    cc.url = url;
    vole_key_generate_private(cc.private_key);
    ops.ctx = &connected;
    ops.on_state = on_intruder_state;
    cl = vole_derp_client_new(f->loop, &cc, &ops, err, sizeof err);
    assert_non_null(cl);
    assert_true(run_until(f->loop, is_true, &connected, LIMIT));
    assert_int_equal(vole_derp_client_send(cl, na.key, junk, sizeof junk), 0);
    run_for(f->loop, 0.3);
    assert_int_equal(sa->drop_derp_unknown_sender, 1);
    assert_int_equal(sa->derp_wg_rx, 0);
    vole_derp_client_free(cl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_derp_only, setup_derp_only, teardown),
        cmocka_unit_test_setup_teardown(test_direct, setup_direct, teardown),
        cmocka_unit_test_setup_teardown(test_bad_disco_dropped, setup_direct, teardown),
        cmocka_unit_test_setup_teardown(test_derp_unknown_sender_dropped, setup_derp_only, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
