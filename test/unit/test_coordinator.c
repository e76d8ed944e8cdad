/* coord/coordinator: the whole coordinator conversation of docs/TAILNET.md
 * against fake sessions that record what they are sent (as the JSON the
 * server would write) and whether they were closed. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord/coordinator.h"

static const char TOKENS[] =
    "{\"agents\": [{\"name\": \"dev\", \"token\": \"agent-dev\"},\n"
    "              {\"name\": \"build\", \"token\": \"agent-build\"},\n"
    "              {\"name\": \"secret\", \"token\": \"agent-secret\"}],\n"
    " \"clients\": [{\"token\": \"client-alice\", \"agents\": [\"dev\", \"build\"]},\n"
    "              {\"token\": \"client-bob\", \"agents\": [\"build\"]}]}\n";

#define MAX_MSGS 64

struct fake {
    char *msgs[MAX_MSGS];
    size_t n, read;
    bool closed;
    char why[128];
    struct coord_session *s;
};

struct world {
    struct coord_tokens tokens;
    struct coord_coordinator *co;
    struct fake fakes[16];
    size_t n_fakes;
};

static void fake_send(void *ctx, void *io, const struct coord_msg *m)
{
    struct fake *f = io;
    assert_false(f->closed);   /* nothing goes to a closed session */
    assert_true(f->n < MAX_MSGS);
    f->msgs[f->n] = coord_msg_encode(m);
    assert_non_null(f->msgs[f->n]);
    f->n++;
}

static void fake_close(void *ctx, void *io, const char *why)
{
    struct fake *f = io;
    assert_false(f->closed);
    f->closed = true;
    f->s = NULL;
    snprintf(f->why, sizeof f->why, "%s", why);
}

static struct world *world_new(bool block_direct)
{
    struct world *w = calloc(1, sizeof *w);
    char err[256];
    struct coord_coordinator_config cfg = {
        .tokens = &w->tokens, .block_direct = block_direct, .derp_map_json = "{\"Regions\":{}}", .max_nodes = 64,
    };
    struct coord_coordinator_ops ops = { .send = fake_send, .close = fake_close };

    assert_int_equal(coord_tokens_parse(TOKENS, strlen(TOKENS), "tokens.json", &w->tokens, err, sizeof err), 0);
    w->co = coord_coordinator_new(&cfg, &ops);
    assert_non_null(w->co);
    return w;
}

static void world_free(struct world *w)
{
    coord_coordinator_free(w->co);
    coord_tokens_free(&w->tokens);
    for (size_t i = 0; i < w->n_fakes; i++)
        for (size_t j = 0; j < w->fakes[i].n; j++)
            free(w->fakes[i].msgs[j]);
    free(w);
}

/* Opens a session and consumes its derp_map message. */
static struct fake *open_as(struct world *w, const char *token, enum coord_role want)
{
    struct fake *f = &w->fakes[w->n_fakes++];
    enum coord_role role;
    f->s = coord_session_open(w->co, f, token, &role);
    assert_int_equal(role, want);
    assert_non_null(f->s);
    assert_int_equal(f->n, 1);
    assert_non_null(strstr(f->msgs[0], "{\"type\":\"derp_map\",\"derp_map\":{\"Regions\":{}}}"));
    f->read = 1;
    return f;
}

/* The next unread message, decoded (into *m, free with coord_msg_free). */
static void next_msg(struct fake *f, enum coord_msg_type type, struct coord_msg *m)
{
    char err[256];
    if (f->read >= f->n)
        fail_msg("no message left; wanted %s", coord_msg_type_name(type));
    const char *j = f->msgs[f->read++];
    assert_int_equal(coord_msg_decode(j, strlen(j), m, err, sizeof err), 0);
    if (m->type != type)
        fail_msg("wanted %s, got %s", coord_msg_type_name(type), j);
}

static void no_more(const struct fake *f)
{
    if (f->read != f->n)
        fail_msg("unexpected message: %s", f->msgs[f->read]);
}

static void expect_error(struct fake *f, const char *text)
{
    struct coord_msg m;
    next_msg(f, COORD_MSG_ERROR, &m);
    assert_string_equal(m.error, text);
    coord_msg_free(&m);
}

static void send_update(struct world *w, struct fake *f, uint8_t keybyte, int derp, const char *name,
                        size_t n_endpoints)
{
    struct coord_msg m = { .type = COORD_MSG_UPDATE_SELF };
    memset(m.node.key, keybyte, COORD_KEY_LEN);
    memset(m.node.disco, keybyte ^ 0xff, COORD_KEY_LEN);
    m.node.preferred_derp = derp;
    snprintf(m.node.name, sizeof m.node.name, "%s", name);
    for (size_t i = 0; i < n_endpoints; i++) {
        char ep[48];
        snprintf(ep, sizeof ep, "192.0.2.%zu:41641", i + 1);
        assert_int_equal(coord_endpoint_parse(ep, &m.node.endpoints[i]), 0);
    }
    m.node.n_endpoints = n_endpoints;
    coord_session_input(w->co, f->s, &m);
}

static void send_simple(struct world *w, struct fake *f, enum coord_msg_type type, const char *agent)
{
    struct coord_msg m = { .type = type };
    snprintf(m.agent, sizeof m.agent, "%s", agent ? agent : "");
    coord_session_input(w->co, f->s, &m);
}

/* A self message: its id, and addresses in the overlay ranges. */
static int64_t expect_self(struct fake *f, bool block)
{
    struct coord_msg m;
    next_msg(f, COORD_MSG_SELF, &m);
    assert_true(m.node.id > 0);
    assert_true(m.node.has_v6 && m.node.has_v4);
    assert_true(coord_v6_in_overlay(m.node.v6));
    assert_true(coord_v4_in_overlay(m.node.v4));
    assert_int_equal(m.block_endpoints, block);
    int64_t id = m.node.id;
    coord_msg_free(&m);
    return id;
}

/* One peer update of kind NODE; returns its id, checks name and endpoints. */
static int64_t expect_node(struct fake *f, const char *name, size_t n_endpoints, int derp)
{
    struct coord_msg m;
    next_msg(f, COORD_MSG_PEER_UPDATES, &m);
    assert_int_equal(m.n_updates, 1);
    assert_int_equal(m.updates[0].kind, COORD_PEER_NODE);
    assert_string_equal(m.updates[0].node.name, name);
    assert_int_equal(m.updates[0].node.n_endpoints, n_endpoints);
    assert_int_equal(m.updates[0].node.preferred_derp, derp);
    assert_int_equal(m.updates[0].node.id, m.updates[0].id);
    assert_true(m.updates[0].node.has_v4 && coord_v4_in_overlay(m.updates[0].node.v4));
    int64_t id = m.updates[0].id;
    coord_msg_free(&m);
    return id;
}

static void expect_gone(struct fake *f, enum coord_peer_kind kind, int64_t id)
{
    struct coord_msg m;
    next_msg(f, COORD_MSG_PEER_UPDATES, &m);
    assert_int_equal(m.n_updates, 1);
    assert_int_equal(m.updates[0].kind, kind);
    assert_int_equal(m.updates[0].id, id);
    coord_msg_free(&m);
}

/* ---- tests ---- */

static void test_unknown_token_rejected(void **state)
{
    struct world *w = world_new(false);
    struct fake f = {0};
    enum coord_role role = COORD_ROLE_AGENT;
    assert_null(coord_session_open(w->co, &f, "nope", &role));
    assert_int_equal(role, COORD_ROLE_REJECTED);
    assert_null(coord_session_open(w->co, &f, "", &role));
    assert_null(coord_session_open(w->co, &f, NULL, &role));
    assert_null(coord_session_open(w->co, &f, "agent-de", &role));
    assert_int_equal(role, COORD_ROLE_REJECTED);
    assert_int_equal(f.n, 0);
    assert_int_equal(coord_session_count(w->co), 0);
    world_free(w);
}

static void test_self_and_registration(void **state)
{
    struct world *w = world_new(false);
    struct fake *a = open_as(w, "agent-dev", COORD_ROLE_AGENT);
    uint8_t key[32];
    memset(key, 0x11, sizeof key);

    assert_false(coord_key_registered(w->co, key));
    send_update(w, a, 0x11, 0, "", 2);
    int64_t id = expect_self(a, false);
    assert_int_equal(id, coord_session_id(a->s));
    assert_true(coord_key_registered(w->co, key));
    /* The same node again: no new self, nothing else. */
    send_update(w, a, 0x11, 0, "dev", 2);
    no_more(a);
    coord_session_closed(w->co, a->s);
    assert_false(coord_key_registered(w->co, key));
    assert_int_equal(coord_session_count(w->co), 0);
    world_free(w);
}

static void test_agent_name_checked(void **state)
{
    struct world *w = world_new(false);
    struct fake *a = open_as(w, "agent-dev", COORD_ROLE_AGENT);
    uint8_t key[32];
    memset(key, 0x12, sizeof key);

    send_update(w, a, 0x12, 1, "prod", 0);
    expect_error(a, "name \"prod\" does not match the token");
    assert_true(a->closed);
    no_more(a);
    assert_false(coord_key_registered(w->co, key));
    world_free(w);
}

static void test_key_change_refused(void **state)
{
    struct world *w = world_new(false);
    struct fake *c = open_as(w, "client-alice", COORD_ROLE_CLIENT);
    send_update(w, c, 0x21, 1, "", 0);
    expect_self(c, false);
    send_update(w, c, 0x22, 1, "", 0);
    expect_error(c, "node.key: a session keeps the key it registered first");
    assert_true(c->closed);
    world_free(w);
}

static void test_unknown_and_forbidden_agent_same_error(void **state)
{
    struct world *w = world_new(false);
    struct fake *bob = open_as(w, "client-bob", COORD_ROLE_CLIENT);
    struct fake *sec = open_as(w, "agent-secret", COORD_ROLE_AGENT);

    send_update(w, sec, 0x31, 1, "secret", 1);
    expect_self(sec, false);
    send_update(w, bob, 0x32, 1, "", 1);
    expect_self(bob, false);
    send_simple(w, bob, COORD_MSG_ADD_TUNNEL, "secret");   /* exists, connected, forbidden */
    expect_error(bob, "agent \"secret\": not found or not allowed");
    send_simple(w, bob, COORD_MSG_ADD_TUNNEL, "ghost");    /* does not exist */
    expect_error(bob, "agent \"ghost\": not found or not allowed");
    send_simple(w, bob, COORD_MSG_ADD_TUNNEL, "dev");      /* exists, offline, forbidden */
    expect_error(bob, "agent \"dev\": not found or not allowed");
    assert_false(bob->closed);   /* the session stays */
    no_more(bob);
    no_more(sec);                /* and the agent heard nothing of it */
    world_free(w);
}

static void test_agent_cannot_add_tunnel(void **state)
{
    struct world *w = world_new(false);
    struct fake *a = open_as(w, "agent-dev", COORD_ROLE_AGENT);
    send_simple(w, a, COORD_MSG_ADD_TUNNEL, "build");
    expect_error(a, "add_tunnel: only clients open tunnels");
    assert_false(a->closed);
    world_free(w);
}

/* Agent and client exchange nodes once both have a home region, and again
 * on every change; an identical update sends nothing. */
static void test_tunnel_exchange(void **state)
{
    struct world *w = world_new(false);
    struct fake *a = open_as(w, "agent-dev", COORD_ROLE_AGENT);
    struct fake *c = open_as(w, "client-alice", COORD_ROLE_CLIENT);

    send_update(w, a, 0x41, 999, "dev", 2);
    int64_t aid = expect_self(a, false);
    send_simple(w, c, COORD_MSG_ADD_TUNNEL, "dev");
    no_more(c);   /* the client has no home region yet */
    send_update(w, c, 0x42, 0, "dev", 1);   /* a client cannot pose as an agent */
    int64_t cid = expect_self(c, false);
    no_more(c);
    no_more(a);
    send_update(w, c, 0x42, 999, "", 1);
    assert_int_equal(expect_node(a, "", 1, 999), cid);
    assert_int_equal(expect_node(c, "dev", 2, 999), aid);
    no_more(a);
    no_more(c);
    /* The agent moves: the client hears; the same node again: nobody hears. */
    send_update(w, a, 0x41, 998, "", 3);
    assert_int_equal(expect_node(c, "dev", 3, 998), aid);
    send_update(w, a, 0x41, 998, "", 3);
    no_more(c);
    no_more(a);
    /* A repeated add_tunnel re-sends both ways. */
    send_simple(w, c, COORD_MSG_ADD_TUNNEL, "dev");
    expect_node(c, "dev", 3, 998);
    expect_node(a, "", 1, 999);
    world_free(w);
}

/* Tunnel added after both are ready: exchanged at once. */
static void test_tunnel_after_ready(void **state)
{
    struct world *w = world_new(false);
    struct fake *c = open_as(w, "client-alice", COORD_ROLE_CLIENT);
    struct fake *a = open_as(w, "agent-build", COORD_ROLE_AGENT);
    send_update(w, c, 0x51, 1, "", 0);
    expect_self(c, false);
    send_update(w, a, 0x52, 1, "build", 0);
    expect_self(a, false);
    no_more(a);
    send_simple(w, c, COORD_MSG_ADD_TUNNEL, "build");
    expect_node(c, "build", 0, 1);
    expect_node(a, "", 0, 1);
    world_free(w);
}

static void test_block_direct(void **state)
{
    struct world *w = world_new(true);
    struct fake *a = open_as(w, "agent-dev", COORD_ROLE_AGENT);
    struct fake *c = open_as(w, "client-alice", COORD_ROLE_CLIENT);
    send_update(w, a, 0x61, 999, "", 4);
    expect_self(a, true);
    send_update(w, c, 0x62, 999, "", 4);
    expect_self(c, true);
    send_simple(w, c, COORD_MSG_ADD_TUNNEL, "dev");
    expect_node(c, "dev", 0, 999);
    expect_node(a, "", 0, 999);
    /* A change of endpoints alone still counts as a change, still stripped. */
    send_update(w, a, 0x61, 999, "", 5);
    expect_node(c, "dev", 0, 999);
    world_free(w);
}

static void test_disconnect_and_lost(void **state)
{
    struct world *w = world_new(false);
    struct fake *a = open_as(w, "agent-dev", COORD_ROLE_AGENT);
    struct fake *c = open_as(w, "client-alice", COORD_ROLE_CLIENT);
    struct fake *c2 = open_as(w, "client-alice", COORD_ROLE_CLIENT);
    send_update(w, a, 0x71, 1, "", 0);
    int64_t aid = expect_self(a, false);
    send_update(w, c, 0x72, 1, "", 0);
    int64_t cid = expect_self(c, false);
    send_update(w, c2, 0x73, 1, "", 0);
    expect_self(c2, false);
    send_simple(w, c, COORD_MSG_ADD_TUNNEL, "dev");
    expect_node(c, "dev", 0, 1);
    expect_node(a, "", 0, 1);
    send_simple(w, c2, COORD_MSG_ADD_TUNNEL, "dev");
    expect_node(c2, "dev", 0, 1);
    expect_node(a, "", 0, 1);
    /* The client says goodbye: the agent hears DISCONNECTED, the session closes. */
    send_simple(w, c, COORD_MSG_DISCONNECT, NULL);
    assert_true(c->closed);
    expect_gone(a, COORD_PEER_DISCONNECTED, cid);
    no_more(c2);
    /* The agent's connection drops: its remaining client hears LOST. */
    coord_session_closed(w->co, a->s);
    expect_gone(c2, COORD_PEER_LOST, aid);
    no_more(c2);
    /* The agent comes back (same key): sent again to the client with a tunnel. */
    struct fake *a2 = open_as(w, "agent-dev", COORD_ROLE_AGENT);
    send_update(w, a2, 0x71, 1, "", 0);
    int64_t aid2 = expect_self(a2, false);
    assert_true(aid2 != aid);
    assert_int_equal(expect_node(c2, "dev", 0, 1), aid2);
    expect_node(a2, "", 0, 1);
    world_free(w);
}

/* A second connection of the same agent replaces the first. */
static void test_agent_replaced(void **state)
{
    struct world *w = world_new(false);
    struct fake *a = open_as(w, "agent-dev", COORD_ROLE_AGENT);
    struct fake *c = open_as(w, "client-alice", COORD_ROLE_CLIENT);
    send_update(w, a, 0x81, 1, "", 0);
    int64_t aid = expect_self(a, false);
    send_update(w, c, 0x82, 1, "", 0);
    expect_self(c, false);
    send_simple(w, c, COORD_MSG_ADD_TUNNEL, "dev");
    expect_node(c, "dev", 0, 1);
    expect_node(a, "", 0, 1);
    struct fake *a2 = open_as(w, "agent-dev", COORD_ROLE_AGENT);
    send_update(w, a2, 0x83, 2, "", 0);
    expect_error(a, "replaced by a newer connection");
    assert_true(a->closed);
    int64_t aid2 = expect_self(a2, false);
    expect_gone(c, COORD_PEER_LOST, aid);
    assert_int_equal(expect_node(c, "dev", 0, 2), aid2);
    expect_node(a2, "", 0, 1);
    uint8_t k[32];
    memset(k, 0x81, sizeof k);
    assert_false(coord_key_registered(w->co, k));
    world_free(w);
}

/* Another principal's key cannot be taken over; the same client's can. */
static void test_key_ownership(void **state)
{
    struct world *w = world_new(false);
    struct fake *a = open_as(w, "agent-dev", COORD_ROLE_AGENT);
    struct fake *bob = open_as(w, "client-bob", COORD_ROLE_CLIENT);
    send_update(w, a, 0x91, 1, "", 0);
    expect_self(a, false);
    send_update(w, bob, 0x91, 1, "", 0);
    expect_error(bob, "node key is in use by another node");
    assert_true(bob->closed);
    assert_false(a->closed);

    struct fake *c1 = open_as(w, "client-alice", COORD_ROLE_CLIENT);
    struct fake *c2 = open_as(w, "client-alice", COORD_ROLE_CLIENT);
    send_update(w, c1, 0x92, 1, "", 0);
    int64_t id1 = expect_self(c1, false);
    send_update(w, c2, 0x92, 1, "", 0);
    expect_error(c1, "replaced by a newer connection");
    assert_true(c1->closed);
    assert_true(expect_self(c2, false) != id1);
    uint8_t k[32];
    memset(k, 0x92, sizeof k);
    assert_true(coord_key_registered(w->co, k));
    world_free(w);
}

/* A client never learns of an agent outside its token, however it is set up. */
static void test_visibility(void **state)
{
    struct world *w = world_new(false);
    struct fake *dev = open_as(w, "agent-dev", COORD_ROLE_AGENT);
    struct fake *alice = open_as(w, "client-alice", COORD_ROLE_CLIENT);
    struct fake *bob = open_as(w, "client-bob", COORD_ROLE_CLIENT);
    send_update(w, bob, 0xa1, 1, "", 0);
    expect_self(bob, false);
    send_simple(w, bob, COORD_MSG_ADD_TUNNEL, "dev");
    expect_error(bob, "agent \"dev\": not found or not allowed");
    send_update(w, dev, 0xa2, 1, "", 0);
    expect_self(dev, false);
    send_update(w, alice, 0xa3, 1, "", 0);
    expect_self(alice, false);
    send_simple(w, alice, COORD_MSG_ADD_TUNNEL, "dev");
    expect_node(alice, "dev", 0, 1);
    expect_node(dev, "", 0, 1);
    send_update(w, dev, 0xa2, 2, "", 1);
    expect_node(alice, "dev", 1, 2);
    coord_session_closed(w->co, dev->s);
    no_more(bob);
    no_more(dev);
    world_free(w);
}

static void test_bad_input(void **state)
{
    struct world *w = world_new(false);
    struct fake *a = open_as(w, "agent-dev", COORD_ROLE_AGENT);
    struct fake *c = open_as(w, "client-alice", COORD_ROLE_CLIENT);
    struct fake *c2 = open_as(w, "client-alice", COORD_ROLE_CLIENT);
    send_update(w, a, 0xb1, 1, "", 0);
    int64_t aid = expect_self(a, false);
    send_update(w, c, 0xb2, 1, "", 0);
    expect_self(c, false);
    send_simple(w, c, COORD_MSG_ADD_TUNNEL, "dev");
    expect_node(c, "dev", 0, 1);
    expect_node(a, "", 0, 1);
    /* A server-only message from a node: error and close. */
    send_simple(w, c2, COORD_MSG_SELF, NULL);
    expect_error(c2, "unexpected message \"self\" from a node");
    assert_true(c2->closed);
    /* Negative home region. */
    struct fake *c3 = open_as(w, "client-bob", COORD_ROLE_CLIENT);
    send_update(w, c3, 0xb3, -1, "", 0);
    expect_error(c3, "node.preferred_derp: negative");
    assert_true(c3->closed);
    /* The embedder's own complaint: told, peers see LOST. */
    coord_session_fail(w->co, a->s, "line too long");
    expect_error(a, "line too long");
    assert_true(a->closed);
    expect_gone(c, COORD_PEER_LOST, aid);
    world_free(w);
}

static void test_addresses_stable(void **state)
{
    struct world *w = world_new(false);
    struct fake *c = open_as(w, "client-alice", COORD_ROLE_CLIENT);
    struct coord_msg m1, m2;
    send_update(w, c, 0xc1, 0, "", 0);
    next_msg(c, COORD_MSG_SELF, &m1);
    coord_session_closed(w->co, c->s);
    struct fake *c2 = open_as(w, "client-alice", COORD_ROLE_CLIENT);
    send_update(w, c2, 0xc1, 0, "", 0);
    next_msg(c2, COORD_MSG_SELF, &m2);
    assert_memory_equal(m1.node.v4, m2.node.v4, 4);
    assert_memory_equal(m1.node.v6, m2.node.v6, 16);
    coord_msg_free(&m1);
    coord_msg_free(&m2);
    world_free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unknown_token_rejected),
        cmocka_unit_test(test_self_and_registration),
        cmocka_unit_test(test_agent_name_checked),
        cmocka_unit_test(test_key_change_refused),
        cmocka_unit_test(test_unknown_and_forbidden_agent_same_error),
        cmocka_unit_test(test_agent_cannot_add_tunnel),
        cmocka_unit_test(test_tunnel_exchange),
        cmocka_unit_test(test_tunnel_after_ready),
        cmocka_unit_test(test_block_direct),
        cmocka_unit_test(test_disconnect_and_lost),
        cmocka_unit_test(test_agent_replaced),
        cmocka_unit_test(test_key_ownership),
        cmocka_unit_test(test_visibility),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_addresses_stable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
