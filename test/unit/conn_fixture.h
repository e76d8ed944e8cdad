/* Two tailnet data planes (tailnet/conn.h) in one process on loopback, for
 * test_conn.c and test_conn_pmtu.c: the DERP server of derp/server.h, a STUN
 * server (stun/server.h on an io/udp.h socket), a DERP map from
 * derp_map_for_server pointing at them, and one lwIP stack per conn with an
 * IPv4 and an IPv6 overlay address. Peers are fed with vole_conn_upsert_peer
 * as the coordinator would (no coordinator). VOLE_TEST_VERBOSE=1 shows the
 * conns' verbose log. Include after cmocka.h and test/unit/evloop.h. */
#ifndef VOLE_TEST_CONN_FIXTURE_H
#define VOLE_TEST_CONN_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/key.h"
#include "derp/derpmap.h"
#include "derp/server.h"
#include "io/udp.h"
#include "node/tunnel.h"
#include "stack/stack.h"
#include "stun/server.h"
#include "tailnet/conn.h"

#define CF_LIMIT 10.0   /* seconds for one wait; each takes milliseconds on loopback */

struct cf_stun {
    struct vole_udp *udp;
    struct stun_server core;
};

static void cf_stun_on_datagram(void *ctx, const struct wg_endpoint *src, uint8_t *buf, size_t len)
{
    struct cf_stun *s = ctx;
    uint8_t out[STUN_MAX_RESPONSE];
    size_t n = stun_server_handle(&s->core, buf, len, src, vole_now_ns(), out, sizeof out);
    uint8_t *slot;
    if (n && (slot = vole_udp_tx_slot(s->udp, n))) {
        memcpy(slot, out, n);
        vole_udp_tx_commit(s->udp, src, n);
    }
}

struct node {
    struct vole_conn *conn;
    struct vole_stack *stack;
    uint8_t v4[4], v6[16];
    uint8_t key[32];                 /* set by cf_introduce */
    int self_changes;
    int paths;
    struct vole_tailnet_path path;   /* the last on_path */
};

static void cf_on_self_changed(void *ctx) { ((struct node *)ctx)->self_changes++; }

static void cf_on_path(void *ctx, const uint8_t key[32], const struct vole_tailnet_path *p)
{
    struct node *n = ctx;
    (void)key;
    n->paths++;
    n->path = *p;
}

static int cf_stack_output(void *ctx, struct pbuf *p) { return vole_conn_output(((struct node *)ctx)->conn, p); }

struct fixture {
    struct ev_loop *loop;
    struct vole_derp_server *derp;
    struct cf_stun stun;
    struct derp_map map;
    struct node a, b;
};

static void cf_log_line(void *ctx, const char *msg) { fprintf(stderr, "  [%s] %s\n", (const char *)ctx, msg); }

static void cf_node_start(struct fixture *f, struct node *n, uint8_t last, const char *url)
{
    struct vole_conn_config cfg = { .server_url = url };
    struct vole_conn_ops ops = { .ctx = n, .on_self_changed = cf_on_self_changed, .on_path = cf_on_path };
    struct vole_stack_ops sops = { .ctx = n, .output = cf_stack_output };
    struct vole_stack_addr addrs[2] = {
        { .family = 4, .addr = { 100, 64, 0, last }, .prefix = 32 },
        { .family = 6, .addr = { 0xfd, 0x7a, 0x11, 0x5c, 0xa1, 0xe0, [15] = last }, .prefix = 128 },
    };
    char err[256];

    if (getenv("VOLE_TEST_VERBOSE")) {
        cfg.verbose = true;
        cfg.log = cf_log_line;
        cfg.log_ctx = last == 1 ? "a" : "b";
    }
    vole_key_generate_private(cfg.private_key);
    n->conn = vole_conn_new(f->loop, &cfg, &ops, err, sizeof err);
    if (!n->conn)
        fail_msg("vole_conn_new: %s", err);
    memcpy(n->v4, addrs[0].addr, 4);
    memcpy(n->v6, addrs[1].addr, 16);
    n->stack = vole_stack_new(f->loop, VOLE_TAILNET_MTU, addrs, 2, &sops, err, sizeof err);
    if (!n->stack)
        fail_msg("vole_stack_new: %s", err);
    vole_conn_attach_stack(n->conn, n->stack);
    if (vole_conn_set_derp_map(n->conn, &f->map, err, sizeof err) < 0)
        fail_msg("set_derp_map: %s", err);
}

/* The servers, the map (direct false: the server's block-direct, no STUN in
 * the map) and both nodes. */
static void cf_setup(struct fixture *f, bool direct)
{
    struct vole_derp_server_config dc = { .listen = "127.0.0.1:0" };
    struct vole_udp_config uc = { .bind_addr = "127.0.0.1" };
    struct derp_map_stun_addr stun_addr = { .host = "127.0.0.1" };
    struct derp_map_server_params mp = { .host_name = "127.0.0.1", .force_http = true };
    char err[256], url[64];

    memset(f, 0, sizeof *f);
    f->loop = EV_DEFAULT;
    f->derp = vole_derp_server_new(f->loop, &dc, err, sizeof err);
    if (!f->derp)
        fail_msg("derp server: %s", err);
    assert_int_equal(stun_server_init(&f->stun.core), 0);
    f->stun.udp = vole_udp_open(f->loop, &uc, cf_stun_on_datagram, &f->stun, err, sizeof err);
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
    cf_node_start(f, &f->a, 1, url);
    cf_node_start(f, &f->b, 2, url);
}

static void cf_teardown(struct fixture *f)
{
    struct node *nodes[2] = { &f->a, &f->b };
    for (int i = 0; i < 2; i++) {
        vole_conn_attach_stack(nodes[i]->conn, NULL);
        vole_stack_free(nodes[i]->stack);
        vole_conn_free(nodes[i]->conn);
    }
    vole_udp_close(f->stun.udp);
    vole_derp_server_free(f->derp);
    derp_map_free(&f->map);
}

/* Both nodes have a home region and a DERP connection. */
static bool cf_both_homed(void *arg)
{
    struct fixture *f = arg;
    struct coord_node a, b;
    vole_conn_self(f->a.conn, &a);
    vole_conn_self(f->b.conn, &b);
    return a.preferred_derp != 0 && b.preferred_derp != 0 && vole_derp_server_stats(f->derp)->clients_current >= 2;
}

/* Each node learns the other as the coordinator would tell it, once both
 * are homed: keys, both overlay addresses, and (with_endpoints) endpoints. */
static void cf_introduce(struct fixture *f, bool with_endpoints)
{
    struct coord_node na, nb;
    assert_true(run_until(f->loop, cf_both_homed, f, CF_LIMIT));
    vole_conn_self(f->a.conn, &na);
    vole_conn_self(f->b.conn, &nb);
    memcpy(f->a.key, na.key, 32);
    memcpy(f->b.key, nb.key, 32);
    na.has_v4 = nb.has_v4 = na.has_v6 = nb.has_v6 = true;
    memcpy(na.v4, f->a.v4, 4);
    memcpy(nb.v4, f->b.v4, 4);
    memcpy(na.v6, f->a.v6, 16);
    memcpy(nb.v6, f->b.v6, 16);
    if (!with_endpoints)
        na.n_endpoints = nb.n_endpoints = 0;
    assert_int_equal(vole_conn_upsert_peer(f->a.conn, &nb, "b"), 0);
    assert_int_equal(vole_conn_upsert_peer(f->b.conn, &na, "a"), 0);
}

#endif
