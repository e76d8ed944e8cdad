/* `vole server` end to end in one process and one libev loop: the runtime
 * of server/server.h on 127.0.0.1 (port 0), raw WebSocket clients written
 * here (io/stream + derp/websocket.h + a hand-made upgrade request) as an
 * agent and clients, a DERP client for admission. Every wait is bounded. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <ev.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "coord/msg.h"
#include "derp/client.h"
#include "derp/derpmap.h"
#include "derp/handshake.h"
#include "derp/websocket.h"
#include "io/stream.h"
#include "server/server.h"

#include "test/unit/evloop.h"

#define LIMIT 5.0   /* seconds for one wait; most take milliseconds */

static const char TOKENS[] =
    "{\"agents\": [{\"name\": \"dev\", \"token\": \"agent-dev\"}, {\"name\": \"prod\", \"token\": \"agent-prod\"}],\n"
    " \"clients\": [{\"token\": \"client-alice\", \"agents\": [\"dev\"]}]}\n";

/* ---- a raw WebSocket coordinator client ---- */

#define MAX_LINES 64

struct wsc {
    struct ev_loop *loop;
    struct vole_stream *st;
    struct vole_ws *ws;
    const char *token, *path, *proto;
    char head[4096];
    size_t head_len;
    int status;
    bool closed;
    char buf[65536];            /* a line being received */
    size_t len;
    char *lines[MAX_LINES];
    size_t n_lines, read;
};

static void wsc_data(void *ctx, struct vole_ws *w, const uint8_t *buf, size_t len)
{
    struct wsc *c = ctx;
    for (size_t i = 0; i < len; i++) {
        if (buf[i] != '\n') {
            assert_true(c->len < sizeof c->buf - 1);
            c->buf[c->len++] = (char)buf[i];
            continue;
        }
        assert_true(c->n_lines < MAX_LINES);
        c->buf[c->len] = '\0';
        c->lines[c->n_lines++] = strdup(c->buf);
        c->len = 0;
    }
}

static void wsc_ws_close(void *ctx, struct vole_ws *w, const char *why)
{
    struct wsc *c = ctx;
    c->closed = true;
    c->ws = NULL;
}

static void wsc_open(void *ctx, struct vole_stream *s)
{
    struct wsc *c = ctx;
    char req[2048], key[VOLE_WS_KEY_LEN + 1];
    vole_ws_client_key(key);
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: %s\r\n"
                     "%s%s%s\r\n",
                     c->path, key, c->proto, c->token ? "Authorization: Bearer " : "", c->token ? c->token : "",
                     c->token ? "\r\n" : "");
    vole_stream_write(s, req, (size_t)n);
}

static void wsc_read(void *ctx, struct vole_stream *s, const uint8_t *buf, size_t len)
{
    struct wsc *c = ctx;
    size_t room = sizeof c->head - 1 - c->head_len, n = len < room ? len : room;
    memcpy(c->head + c->head_len, buf, n);
    c->head_len += n;
    c->head[c->head_len] = '\0';
    char *end = strstr(c->head, "\r\n\r\n");
    if (!end || c->status)
        return;
    c->status = atoi(c->head + 9);
    if (c->status != 101)
        return;   /* the rest (a body) stays in head; the server closes */
    size_t used = (size_t)(end + 4 - c->head) - (c->head_len - n);
    struct vole_ws_ops ops = {.ctx = c, .on_data = wsc_data, .on_close = wsc_ws_close};
    c->ws = vole_ws_new(s, false, &ops);
    assert_non_null(c->ws);
    if (used < len)
        vole_ws_input(c->ws, buf + used, len - used);
}

static void wsc_close(void *ctx, struct vole_stream *s, const char *why)
{
    ((struct wsc *)ctx)->closed = true;
}

static void wsc_start_at(struct wsc *c, struct ev_loop *loop, uint16_t port, const char *path, const char *token,
                         const char *proto)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
    struct vole_stream_ops ops = {.ctx = c, .on_open = wsc_open, .on_read = wsc_read, .on_close = wsc_close};
    char err[200];

    memset(c, 0, sizeof *c);
    c->loop = loop;
    c->token = token;
    c->path = path;
    c->proto = proto;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    c->st = vole_stream_connect(loop, (struct sockaddr *)&sin, sizeof sin, NULL, &ops, err, sizeof err);
    if (!c->st)
        fail_msg("connect: %s", err);
}

static bool wsc_has_status(void *arg)
{
    struct wsc *c = arg;
    return c->status != 0 || c->closed;
}

static bool wsc_closed(void *arg)
{
    return ((struct wsc *)arg)->closed;
}

/* Connects and upgrades; the derp_map message must come first. */
static void wsc_start(struct wsc *c, struct ev_loop *loop, uint16_t port, const char *token)
{
    wsc_start_at(c, loop, port, "/api/v2/coordinate", token, "vole-coordinate");
    assert_true(run_until(loop, wsc_has_status, c, LIMIT));
    assert_int_equal(c->status, 101);
    assert_non_null(strstr(c->head, "Sec-WebSocket-Protocol: vole-coordinate\r\n"));
}

static void wsc_free(struct wsc *c)
{
    if (c->ws && !c->closed)
        vole_ws_close(c->ws);
    if (!c->closed)
        (void)run_until(c->loop, wsc_closed, c, LIMIT);
    for (size_t i = 0; i < c->n_lines; i++)
        free(c->lines[i]);
}

static bool wsc_has_line(void *arg)
{
    struct wsc *c = arg;
    return c->read < c->n_lines;
}

static void wsc_next(struct wsc *c, enum coord_msg_type type, struct coord_msg *m)
{
    char err[256];
    if (!run_until(c->loop, wsc_has_line, c, LIMIT))
        fail_msg("no %s message came", coord_msg_type_name(type));
    const char *line = c->lines[c->read++];
    if (coord_msg_decode(line, strlen(line), m, err, sizeof err) != 0)
        fail_msg("bad line %s: %s", line, err);
    if (m->type != type)
        fail_msg("wanted %s, got %s", coord_msg_type_name(type), line);
}

static void wsc_send_text(struct wsc *c, const char *text)
{
    assert_non_null(c->ws);
    assert_int_equal(vole_ws_write(c->ws, text, strlen(text)), 0);
}

static void wsc_send(struct wsc *c, const struct coord_msg *m)
{
    char *json = coord_msg_encode(m);
    assert_non_null(json);
    wsc_send_text(c, json);
    wsc_send_text(c, "\n");
    free(json);
}

static void wsc_update(struct wsc *c, const uint8_t key[32], int derp, size_t n_endpoints)
{
    struct coord_msg m = {.type = COORD_MSG_UPDATE_SELF};
    memcpy(m.node.key, key, 32);
    memset(m.node.disco, 0x5a, 32);
    m.node.preferred_derp = derp;
    for (size_t i = 0; i < n_endpoints; i++)
        assert_int_equal(coord_endpoint_parse("198.51.100.7:41641", &m.node.endpoints[i]), 0);
    m.node.n_endpoints = n_endpoints;
    wsc_send(c, &m);
}

static void wsc_expect_derp_map(struct wsc *c, uint16_t port)
{
    struct coord_msg m;
    struct derp_map map;
    char err[256];
    wsc_next(c, COORD_MSG_DERP_MAP, &m);
    assert_int_equal(derp_map_parse(m.derp_map, strlen(m.derp_map), &map, err, sizeof err), 0);
    const struct derp_map_region *r = derp_map_region(&map, 999);
    assert_non_null(r);
    assert_string_equal(r->name, "test-region");
    assert_int_equal(r->nodes[0].derp_port, port);
    assert_string_equal(r->nodes[0].host_name, "127.0.0.1");
    derp_map_free(&map);
    coord_msg_free(&m);
}

static void no_more_lines(struct wsc *c)
{
    if (c->read != c->n_lines)
        fail_msg("unexpected: %s", c->lines[c->read]);
}

/* ---- the server ---- */

struct fixture {
    struct ev_loop *loop;
    struct vole_server *srv;
    char dir[64], tokens[96], state[96];
    uint16_t port;
};

static void fixture_start(struct fixture *f, bool block_direct)
{
    static const char *const stun[] = {"127.0.0.1:0"};
    char err[512] = "";
    FILE *fp;

    memset(f, 0, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/vole-srv-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->tokens, sizeof f->tokens, "%s/tokens.json", f->dir);
    snprintf(f->state, sizeof f->state, "%s/state", f->dir);
    fp = fopen(f->tokens, "w");
    assert_non_null(fp);
    fputs(TOKENS, fp);
    fclose(fp);
    f->loop = ev_loop_new(EVFLAG_AUTO);
    struct vole_server_config cfg = {
        .listen = "127.0.0.1:0", .tokens_file = f->tokens, .stun_listen = stun, .n_stun_listen = 1,
        .block_direct = block_direct, .state_dir = f->state, .region_name = "test-region",
    };
    f->srv = vole_server_new(f->loop, &cfg, err, sizeof err);
    if (!f->srv)
        fail_msg("server: %s", err);
    f->port = vole_server_port(f->srv);
}

static void fixture_stop(struct fixture *f)
{
    char path[128];
    vole_server_free(f->srv);
    run_for(f->loop, 0.05);   /* closed streams finish */
    ev_loop_destroy(f->loop);
    snprintf(path, sizeof path, "%s/derp.key", f->state);
    unlink(path);
    rmdir(f->state);
    unlink(f->tokens);
    rmdir(f->dir);
}

/* ---- tests ---- */

static void test_config_errors(void **state)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    char err[512] = "", dir[] = "/tmp/vole-srv-XXXXXX", path[64];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/t.json", dir);
    FILE *fp = fopen(path, "w");
    fputs("{\"agents\": [{\"name\": \"dev\", \"token\": \"a\"}], \"clients\": [{\"token\": \"b\", \"agents\": [\"x\"]}]}",
          fp);
    fclose(fp);
    struct vole_server_config cfg = {.listen = "127.0.0.1:0", .tokens_file = path};
    assert_null(vole_server_new(loop, &cfg, err, sizeof err));
    /* one line naming the file and the place */
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "clients[0].agents[0]"));
    assert_null(strchr(err, '\n'));
    cfg.tokens_file = "/nonexistent/tokens.json";
    assert_null(vole_server_new(loop, &cfg, err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/tokens.json"));
    unlink(path);
    rmdir(dir);
    ev_loop_destroy(loop);
}

static void test_unauthorized(void **state)
{
    struct fixture f;
    struct wsc c;
    fixture_start(&f, false);
    static const char *const bad[] = {NULL, "", "nope", "agent-de"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        wsc_start_at(&c, f.loop, f.port, "/api/v2/coordinate", bad[i], "vole-coordinate");
        assert_true(run_until(f.loop, wsc_closed, &c, LIMIT));
        assert_int_equal(c.status, 401);
        assert_non_null(strstr(c.head, "\r\n\r\ninvalid token\n"));
        wsc_free(&c);
        wsc_start_at(&c, f.loop, f.port, "/api/v2/derp-map", bad[i], "x");
        assert_true(run_until(f.loop, wsc_closed, &c, LIMIT));
        assert_int_equal(c.status, 401);
        wsc_free(&c);
    }
    /* A good token with the wrong subprotocol: a 400, not an upgrade. */
    wsc_start_at(&c, f.loop, f.port, "/api/v2/coordinate", "client-alice", "derp");
    assert_true(run_until(f.loop, wsc_closed, &c, LIMIT));
    assert_int_equal(c.status, 400);
    wsc_free(&c);
    /* Unknown /api/ paths: 404; DERP's own routes still served. */
    wsc_start_at(&c, f.loop, f.port, "/api/v2/other", "client-alice", "x");
    assert_true(run_until(f.loop, wsc_closed, &c, LIMIT));
    assert_int_equal(c.status, 404);
    wsc_free(&c);
    assert_int_equal(vole_server_sessions(f.srv), 0);
    fixture_stop(&f);
}

static void test_derp_map_endpoint(void **state)
{
    struct fixture f;
    struct wsc c;
    struct derp_map map;
    char err[256];
    fixture_start(&f, false);
    wsc_start_at(&c, f.loop, f.port, "/api/v2/derp-map", "agent-prod", "x");
    assert_true(run_until(f.loop, wsc_closed, &c, LIMIT));
    assert_int_equal(c.status, 200);
    assert_non_null(strstr(c.head, "Content-Type: application/json\r\n"));
    const char *body = strstr(c.head, "\r\n\r\n") + 4;
    assert_int_equal(derp_map_parse(body, strlen(body), &map, err, sizeof err), 0);
    const struct derp_map_region *r = derp_map_region(&map, 999);
    assert_non_null(r);
    assert_true(r->embedded_relay);
    assert_int_equal(r->n_nodes, 2);
    assert_int_equal(r->nodes[0].derp_port, f.port);
    assert_true(r->nodes[0].force_http);
    assert_true(r->nodes[1].stun_only);
    assert_int_equal(r->nodes[1].stun_port, vole_server_stun_port(f.srv, 0));
    char want[32];
    snprintf(want, sizeof want, "127.0.0.1:%u", vole_server_stun_port(f.srv, 0));
    assert_string_equal(vole_server_stun_text(f.srv, 0), want);
    assert_string_equal(r->nodes[1].host_name, "127.0.0.1");
    derp_map_free(&map);
    wsc_free(&c);
    /* The key file was created in the state directory, 0600. */
    char path[128];
    struct stat st;
    snprintf(path, sizeof path, "%s/derp.key", f.state);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(stat(f.state, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    fixture_stop(&f);
}

static int64_t expect_self(struct wsc *c, bool block)
{
    struct coord_msg m;
    wsc_next(c, COORD_MSG_SELF, &m);
    assert_true(m.node.id > 0);
    assert_true(m.node.has_v4 && coord_v4_in_overlay(m.node.v4));
    assert_true(m.node.has_v6 && coord_v6_in_overlay(m.node.v6));
    assert_int_equal(m.block_endpoints, block);
    int64_t id = m.node.id;
    coord_msg_free(&m);
    return id;
}

static void expect_peer(struct wsc *c, enum coord_peer_kind kind, int64_t id, const char *name, size_t n_endpoints)
{
    struct coord_msg m;
    wsc_next(c, COORD_MSG_PEER_UPDATES, &m);
    assert_int_equal(m.n_updates, 1);
    assert_int_equal(m.updates[0].kind, kind);
    assert_int_equal(m.updates[0].id, id);
    if (kind == COORD_PEER_NODE) {
        assert_string_equal(m.updates[0].node.name, name);
        assert_int_equal(m.updates[0].node.n_endpoints, n_endpoints);
    }
    coord_msg_free(&m);
}

/* ---- DERP admission ---- */

struct derp_peer {
    struct vole_derp_client *c;
    struct derp_keypair kp;
    int ups, downs;
};

static void dp_packet(void *ctx, const uint8_t src[DERP_KEY_LEN], const uint8_t *pkt, size_t len) {}
static void dp_state(void *ctx, bool up, const char *why)
{
    struct derp_peer *p = ctx;
    if (up)
        p->ups++;
    else
        p->downs++;
}

static void derp_start(struct derp_peer *p, struct ev_loop *loop, uint16_t port, const struct derp_keypair *kp)
{
    char url[64], err[200];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/derp", port);
    struct vole_derp_client_config cfg = {.url = url};
    struct vole_derp_client_ops ops = {.ctx = p, .on_packet = dp_packet, .on_state = dp_state};
    memset(p, 0, sizeof *p);
    p->kp = *kp;
    memcpy(cfg.private_key, kp->priv, DERP_KEY_LEN);
    p->c = vole_derp_client_new(loop, &cfg, &ops, err, sizeof err);
    if (!p->c)
        fail_msg("derp client: %s", err);
}

static bool dp_decided(void *arg)
{
    struct derp_peer *p = arg;
    return p->ups || p->downs || vole_derp_client_last_error(p->c)[0];
}

/* Connects a DERP client with kp; true when the server admitted it. */
static bool derp_admitted(struct ev_loop *loop, uint16_t port, const struct derp_keypair *kp)
{
    struct derp_peer p;
    derp_start(&p, loop, port, kp);
    assert_true(run_until(loop, dp_decided, &p, LIMIT));
    bool up = p.ups > 0;
    vole_derp_client_free(p.c);
    return up;
}

/* The whole conversation: agent and client register, tunnel, exchange,
 * lines split and joined across WebSocket messages, errors, disconnect. */
static void test_conversation(void **state)
{
    struct fixture f;
    struct wsc agent, client;
    struct derp_keypair akey, ckey;
    struct coord_msg m;
    fixture_start(&f, false);
    derp_keypair_generate(&akey);
    derp_keypair_generate(&ckey);

    /* Before any registration DERP refuses the key. */
    assert_false(derp_admitted(f.loop, f.port, &akey));

    wsc_start(&agent, f.loop, f.port, "agent-dev");
    wsc_expect_derp_map(&agent, f.port);
    wsc_update(&agent, akey.pub, 999, 2);
    int64_t aid = expect_self(&agent, false);
    assert_true(derp_admitted(f.loop, f.port, &akey));
    assert_false(derp_admitted(f.loop, f.port, &ckey));

    wsc_start(&client, f.loop, f.port, "client-alice");
    wsc_expect_derp_map(&client, f.port);
    /* A forbidden agent and an unknown one: the same words; still open. */
    wsc_send_text(&client, "{\"type\":\"add_tunnel\",\"agent\":\"prod\"}\n{\"type\":\"add_tu");
    wsc_send_text(&client, "nnel\",\"agent\":\"nosuch\"}\n");
    wsc_next(&client, COORD_MSG_ERROR, &m);
    assert_string_equal(m.error, "agent \"prod\": not found or not allowed");
    coord_msg_free(&m);
    wsc_next(&client, COORD_MSG_ERROR, &m);
    assert_string_equal(m.error, "agent \"nosuch\": not found or not allowed");
    coord_msg_free(&m);
    wsc_send_text(&client, "{\"type\":\"add_tunnel\",\"agent\":\"dev\"}\n");
    wsc_update(&client, ckey.pub, 999, 1);
    int64_t cid = expect_self(&client, false);
    expect_peer(&client, COORD_PEER_NODE, aid, "dev", 2);
    expect_peer(&agent, COORD_PEER_NODE, cid, "", 1);
    assert_true(derp_admitted(f.loop, f.port, &ckey));
    assert_int_equal(vole_server_sessions(f.srv), 2);

    /* The agent's node changes: the client hears. */
    wsc_update(&agent, akey.pub, 999, 1);
    expect_peer(&client, COORD_PEER_NODE, aid, "dev", 1);

    /* The client says goodbye: DISCONNECTED; its key leaves DERP. */
    wsc_send_text(&client, "{\"type\":\"disconnect\"}\n");
    expect_peer(&agent, COORD_PEER_DISCONNECTED, cid, NULL, 0);
    assert_true(run_until(f.loop, wsc_closed, &client, LIMIT));
    assert_false(derp_admitted(f.loop, f.port, &ckey));
    wsc_free(&client);

    /* Another client; then the agent's connection drops: LOST. */
    wsc_start(&client, f.loop, f.port, "client-alice");
    wsc_expect_derp_map(&client, f.port);
    wsc_update(&client, ckey.pub, 999, 0);
    cid = expect_self(&client, false);
    wsc_send_text(&client, "{\"type\":\"add_tunnel\",\"agent\":\"dev\"}\n");
    expect_peer(&client, COORD_PEER_NODE, aid, "dev", 1);
    expect_peer(&agent, COORD_PEER_NODE, cid, "", 0);
    vole_stream_close(agent.st, false);   /* no close frame: a lost connection */
    expect_peer(&client, COORD_PEER_LOST, aid, NULL, 0);
    wsc_free(&agent);
    assert_false(derp_admitted(f.loop, f.port, &akey));

    /* The agent reconnects: sent again to the client. */
    wsc_start(&agent, f.loop, f.port, "agent-dev");
    wsc_expect_derp_map(&agent, f.port);
    wsc_update(&agent, akey.pub, 999, 0);
    int64_t aid2 = expect_self(&agent, false);
    expect_peer(&client, COORD_PEER_NODE, aid2, "dev", 0);
    expect_peer(&agent, COORD_PEER_NODE, cid, "", 0);
    no_more_lines(&client);

    /* A line that is not a message: error, then the server closes. */
    wsc_send_text(&client, "{\"type\":\"bogus\"}\n");
    wsc_next(&client, COORD_MSG_ERROR, &m);
    assert_non_null(strstr(m.error, "bad message"));
    coord_msg_free(&m);
    assert_true(run_until(f.loop, wsc_closed, &client, LIMIT));
    expect_peer(&agent, COORD_PEER_LOST, cid, NULL, 0);
    wsc_free(&client);
    wsc_free(&agent);
    fixture_stop(&f);
}

static void test_name_mismatch_and_block_direct(void **state)
{
    struct fixture f;
    struct wsc agent, client;
    struct derp_keypair akey, ckey;
    struct coord_msg m;
    fixture_start(&f, true);
    derp_keypair_generate(&akey);
    derp_keypair_generate(&ckey);

    wsc_start(&agent, f.loop, f.port, "agent-dev");
    wsc_expect_derp_map(&agent, f.port);
    struct coord_msg up = {.type = COORD_MSG_UPDATE_SELF};
    memcpy(up.node.key, akey.pub, 32);
    snprintf(up.node.name, sizeof up.node.name, "prod");
    wsc_send(&agent, &up);
    wsc_next(&agent, COORD_MSG_ERROR, &m);
    assert_string_equal(m.error, "name \"prod\" does not match the token");
    coord_msg_free(&m);
    assert_true(run_until(f.loop, wsc_closed, &agent, LIMIT));
    wsc_free(&agent);

    wsc_start(&agent, f.loop, f.port, "agent-dev");
    wsc_expect_derp_map(&agent, f.port);
    wsc_update(&agent, akey.pub, 999, 3);
    int64_t aid = expect_self(&agent, true);
    wsc_start(&client, f.loop, f.port, "client-alice");
    wsc_expect_derp_map(&client, f.port);
    wsc_update(&client, ckey.pub, 999, 3);
    int64_t cid = expect_self(&client, true);
    wsc_send_text(&client, "{\"type\":\"add_tunnel\",\"agent\":\"dev\"}\n");
    expect_peer(&client, COORD_PEER_NODE, aid, "dev", 0);   /* endpoints withheld */
    expect_peer(&agent, COORD_PEER_NODE, cid, "", 0);
    wsc_free(&client);
    expect_peer(&agent, COORD_PEER_LOST, cid, NULL, 0);
    wsc_free(&agent);
    fixture_stop(&f);
}

/* A line over the bound closes the session with an error, not a hang. */
static void test_line_too_long(void **state)
{
    struct fixture f;
    struct wsc c;
    struct coord_msg m;
    fixture_start(&f, false);
    wsc_start(&c, f.loop, f.port, "client-alice");
    wsc_expect_derp_map(&c, f.port);
    char *big = malloc(COORD_MSG_MAX_LEN + 16);
    memset(big, 'x', COORD_MSG_MAX_LEN + 15);
    big[COORD_MSG_MAX_LEN + 15] = '\0';
    wsc_send_text(&c, big);
    free(big);
    wsc_next(&c, COORD_MSG_ERROR, &m);
    assert_non_null(strstr(m.error, "too long"));
    coord_msg_free(&m);
    assert_true(run_until(f.loop, wsc_closed, &c, LIMIT));
    wsc_free(&c);
    assert_int_equal(vole_server_sessions(f.srv), 0);
    fixture_stop(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_unauthorized),
        cmocka_unit_test(test_derp_map_endpoint),
        cmocka_unit_test(test_conversation),
        cmocka_unit_test(test_name_mismatch_and_block_direct),
        cmocka_unit_test(test_line_too_long),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
