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
#include "test/unit/conn_fixture.h"

#define LIMIT CF_LIMIT

static int setup_direct(void **state)
{
    static struct fixture f;
    cf_setup(&f, true);
    *state = &f;
    return 0;
}

static int setup_derp_only(void **state)
{
    static struct fixture f;
    cf_setup(&f, false);
    vole_conn_set_block_endpoints(f.a.conn, true);
    vole_conn_set_block_endpoints(f.b.conn, true);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    cf_teardown(*state);
    return 0;
}

/* A socket that only sends. */
static void ignore_datagram(void *ctx, const struct wg_endpoint *src, uint8_t *buf, size_t len)
{
    (void)ctx;
    (void)src;
    (void)buf;
    (void)len;
}

/* ---- conditions ---- */

struct ping_wait {
    int replies;
};

static void on_reply(void *ctx, uint16_t seq, size_t len, uint64_t rtt) { ((struct ping_wait *)ctx)->replies++; }

static bool got_reply(void *arg) { return ((struct ping_wait *)arg)->replies > 0; }

/* Each node learns the other as the coordinator would tell it; a node
 * never takes itself as a peer. */
static void introduce(struct fixture *f, bool with_endpoints)
{
    struct coord_node na;
    cf_introduce(f, with_endpoints);
    vole_conn_self(f->a.conn, &na);
    assert_int_equal(vole_conn_upsert_peer(f->a.conn, &na, "self"), -1);
}

/* One echo request from a's stack to b's address; true when the reply came back. */
static bool ping_once(struct fixture *f, uint16_t seq, size_t len)
{
    ip_addr_t dst;
    struct ping_wait pw = { 0 };
    struct vole_pinger *pg;
    bool ok;

    IP_ADDR4(&dst, f->b.v4[0], f->b.v4[1], f->b.v4[2], f->b.v4[3]);
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
    u = vole_udp_open(f->loop, &uc, ignore_datagram, NULL, err, sizeof err);
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

/* The coordinator's race: a learns b and starts its handshake before b has
 * heard of a. b keeps the initiation (not a WireGuard retry 5 s later) and
 * answers as soon as a becomes its peer: the echo comes back well inside
 * REKEY_TIMEOUT. */
static void test_early_initiation_replayed(void **state)
{
    struct fixture *f = *state;
    const struct vole_conn_stats *sb = vole_conn_stats(f->b.conn);
    struct coord_node na, nb;
    ip_addr_t dst;
    struct ping_wait pw = { 0 };
    struct vole_pinger *pg;

    assert_true(run_until(f->loop, cf_both_homed, f, LIMIT));
    vole_conn_self(f->a.conn, &na);
    vole_conn_self(f->b.conn, &nb);
    na.has_v4 = nb.has_v4 = true;
    memcpy(na.v4, f->a.v4, 4);
    memcpy(nb.v4, f->b.v4, 4);
    assert_int_equal(vole_conn_upsert_peer(f->a.conn, &nb, "b"), 0);
    IP_ADDR4(&dst, f->b.v4[0], f->b.v4[1], f->b.v4[2], f->b.v4[3]);
    pg = vole_pinger_new(f->a.stack, &dst, on_reply, &pw);
    assert_non_null(pg);
    assert_int_equal(vole_pinger_send(pg, 1, 8), 0);
    run_for(f->loop, 0.5);
    assert_int_equal(sb->held_initiations, 1);
    assert_int_equal(pw.replies, 0);
    assert_int_equal(vole_conn_upsert_peer(f->b.conn, &na, "a"), 0);
    assert_int_equal(sb->replayed_initiations, 1);
    /* The staged echo goes once the session is up: well before a retry. */
    assert_true(run_until(f->loop, got_reply, &pw, 2.0));
    vole_pinger_free(pg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_derp_only, setup_derp_only, teardown),
        cmocka_unit_test_setup_teardown(test_direct, setup_direct, teardown),
        cmocka_unit_test_setup_teardown(test_bad_disco_dropped, setup_direct, teardown),
        cmocka_unit_test_setup_teardown(test_derp_unknown_sender_dropped, setup_derp_only, teardown),
        cmocka_unit_test_setup_teardown(test_early_initiation_replayed, setup_derp_only, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
