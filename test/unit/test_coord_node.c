/* coord/node and coord/msg: the node info the coordinator exchanges, in
 * Coder's legacy JSON names, and the message envelopes: exact shapes, round
 * trips, bounds, and an error naming the field for each malformed input. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord/msg.h"
#include "coord/node.h"

#define HEX_A "0101010101010101010101010101010101010101010101010101010101010101"
#define HEX_B "abababababababababababababababababababababababababababababababab"

/* The exact encoding of sample_node(). */
#define NODE_JSON                                                                              \
    "{\"id\":7,\"key\":\"nodekey:" HEX_A "\",\"disco\":\"discokey:" HEX_B "\","               \
    "\"preferred_derp\":999,"                                                                  \
    "\"addresses\":[\"fd7a:115c:a1e0:1:2:3:6440:102/128\",\"100.64.1.2/32\"],"                 \
    "\"allowed_ips\":[\"fd7a:115c:a1e0:1:2:3:6440:102/128\",\"100.64.1.2/32\"],"               \
    "\"endpoints\":[\"192.0.2.1:41641\",\"[2001:db8::1]:5\"],\"name\":\"dev\"}"

static void sample_node(struct coord_node *n)
{
    static const uint8_t v6[16] = {0xfd, 0x7a, 0x11, 0x5c, 0xa1, 0xe0, 0, 1, 0, 2, 0, 3, 100, 64, 1, 2};
    memset(n, 0, sizeof *n);
    n->id = 7;
    memset(n->key, 0x01, sizeof n->key);
    memset(n->disco, 0xab, sizeof n->disco);
    n->preferred_derp = 999;
    n->has_v6 = n->has_v4 = true;
    memcpy(n->v6, v6, 16);
    memcpy(n->v4, (uint8_t[]){100, 64, 1, 2}, 4);
    assert_int_equal(coord_endpoint_parse("192.0.2.1:41641", &n->endpoints[0]), 0);
    assert_int_equal(coord_endpoint_parse("[2001:db8::1]:5", &n->endpoints[1]), 0);
    n->n_endpoints = 2;
    strcpy(n->name, "dev");
}

static void test_node_exact_shape(void **state)
{
    struct coord_node n;
    sample_node(&n);
    char *s = coord_node_encode(&n);
    assert_string_equal(s, NODE_JSON);
    free(s);
}

static void test_node_round_trip(void **state)
{
    struct coord_node n, back;
    char err[256] = "";
    sample_node(&n);
    char *s = coord_node_encode(&n);
    if (coord_node_decode(s, strlen(s), &back, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_memory_equal(&n, &back, sizeof n);   /* both were zeroed first */
    free(s);
}

/* A fresh node: what a node sends before the server assigned anything. */
static void test_node_minimal_and_unknown_fields(void **state)
{
    const char *json = "{\"key\":\"nodekey:" HEX_A "\",\"disco\":\"discokey:" HEX_B "\","
                       "\"as_of\":\"2024-01-01T00:00:00Z\",\"derp_latency\":{\"999-v4\":0.01},"
                       "\"derp_forced_websockets\":{},\"allowed_ips\":[\"junk\"],\"future\":[1,{}]}";
    struct coord_node n;
    char err[256] = "";
    if (coord_node_decode(json, strlen(json), &n, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_int_equal(n.id, 0);
    assert_int_equal(n.key[31], 0x01);
    assert_int_equal(n.disco[0], 0xab);
    assert_int_equal(n.preferred_derp, 0);
    assert_false(n.has_v6 || n.has_v4);
    assert_int_equal(n.n_endpoints, 0);
    assert_string_equal(n.name, "");
    char *s = coord_node_encode(&n);
    assert_string_equal(s, "{\"id\":0,\"key\":\"nodekey:" HEX_A "\",\"disco\":\"discokey:" HEX_B "\","
                           "\"preferred_derp\":0,\"addresses\":[],\"allowed_ips\":[],\"endpoints\":[],"
                           "\"name\":\"\"}");
    free(s);
}

static void test_endpoints(void **state)
{
    struct coord_endpoint ep;
    char out[COORD_ENDPOINT_STR];
    static const char *const good[] = {"1.2.3.4:1", "[::1]:65535", "[fe80::1:2]:41641", "0.0.0.0:80"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        assert_int_equal(coord_endpoint_parse(good[i], &ep), 0);
        coord_endpoint_format(&ep, out);
        assert_string_equal(out, good[i]);
    }
    assert_int_equal(coord_endpoint_parse("[2001:db8::1]:443", &ep), 0);
    assert_int_equal(ep.family, 6);
    assert_int_equal(ep.port, 443);
    static const char *const bad[] = {"1.2.3.4", "1.2.3.4:0", "1.2.3.4:65536", "1.2.3.4:080", "1.2.3.4:-1",
                                      "1.2.3:5", "::1:5", "[::1]", "[1.2.3.4]:5", "2001:db8::1:443",
                                      "[::1:5", "host:80", ":80", "1.2.3.4: 80", ""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (coord_endpoint_parse(bad[i], &ep) == 0)
            fail_msg("accepted \"%s\"", bad[i]);
}

static void test_overlay_ranges(void **state)
{
    assert_true(coord_v4_in_overlay((uint8_t[]){100, 64, 0, 1}));
    assert_true(coord_v4_in_overlay((uint8_t[]){100, 127, 255, 254}));
    assert_false(coord_v4_in_overlay((uint8_t[]){100, 128, 0, 1}));
    assert_false(coord_v4_in_overlay((uint8_t[]){100, 63, 255, 255}));
    assert_false(coord_v4_in_overlay((uint8_t[]){10, 64, 0, 1}));
    uint8_t v6[16] = {0xfd, 0x7a, 0x11, 0x5c, 0xa1, 0xe0, 0xff};
    assert_true(coord_v6_in_overlay(v6));
    v6[5] = 0xe1;
    assert_false(coord_v6_in_overlay(v6));
}

struct bad {
    const char *json;
    const char *want;
};

#define KD "\"key\":\"nodekey:" HEX_A "\",\"disco\":\"discokey:" HEX_B "\""

static const struct bad BAD_NODES[] = {
    {"[]", "node: not an object"},
    {"{\"disco\":\"discokey:" HEX_B "\"}", "node.key: missing"},
    {"{\"key\":\"nodekey:" HEX_A "\"}", "node.disco: missing"},
    {"{\"key\":5,\"disco\":\"discokey:" HEX_B "\"}", "node.key: not a string"},
    {"{\"key\":\"mkey:" HEX_A "\",\"disco\":\"discokey:" HEX_B "\"}", "node.key: does not start with \"nodekey:\""},
    {"{\"key\":\"nodekey:0101\",\"disco\":\"discokey:" HEX_B "\"}", "node.key: not \"nodekey:\" and 64 hex digits"},
    {"{\"key\":\"nodekey:" HEX_A "\",\"disco\":\"discokey:" "zz" HEX_B "\"}", "node.disco: not \"discokey:\""},
    {"{" KD ",\"id\":-1}", "node.id: -1 is out of range"},
    {"{" KD ",\"id\":1.5}", "node.id: not an integer"},
    {"{" KD ",\"preferred_derp\":\"999\"}", "node.preferred_derp: not an integer"},
    {"{" KD ",\"preferred_derp\":2147483648}", "node.preferred_derp: 2147483648 is out of range 0..2147483647"},
    {"{" KD ",\"addresses\":\"100.64.0.1/32\"}", "node.addresses: not an array"},
    {"{" KD ",\"addresses\":[\"100.64.0.1\"]}", "node.addresses[0]: not an address/bits prefix"},
    {"{" KD ",\"addresses\":[\"100.64.0.1/24\"]}", "node.addresses[0]: not an IPv6 /128 or IPv4 /32 prefix"},
    {"{" KD ",\"addresses\":[\"10.0.0.1/32\"]}", "node.addresses[0]: not in 100.64.0.0/10"},
    {"{" KD ",\"addresses\":[\"fd7a:115c:a1e1::1/128\"]}", "node.addresses[0]: not in fd7a:115c:a1e0::/48"},
    {"{" KD ",\"addresses\":[\"100.64.0.1/32\",\"100.64.0.2/32\"]}", "node.addresses[1]: a second IPv4 address"},
    {"{" KD ",\"addresses\":[\"fd7a:115c:a1e0::1/128\",\"fd7a:115c:a1e0::2/128\"]}",
     "node.addresses[1]: a second IPv6 address"},
    {"{" KD ",\"addresses\":[\"100.64.0.1/32\",\"fd7a:115c:a1e0::1/128\",\"100.64.0.2/32\"]}",
     "node.addresses: more than 2 entries"},
    {"{" KD ",\"endpoints\":[\"1.2.3.4:5\",7]}", "node.endpoints[1]: not a string"},
    {"{" KD ",\"endpoints\":[\"1.2.3.4\"]}", "node.endpoints[0]: not ip:port or [ipv6]:port"},
    {"{" KD ",\"name\":[]}", "node.name: not a string"},
    {"{" KD ",\"name\":\"0123456789012345678901234567890123456789012345678901234567890123\"}",
     "node.name: longer than 63 bytes"},
    {"{" KD ",\"key\":\"nodekey:" HEX_A "\"}", "not JSON: duplicate object key"},
    {"{" KD, "not JSON: "},
};

static void test_bad_nodes(void **state)
{
    for (size_t i = 0; i < sizeof BAD_NODES / sizeof *BAD_NODES; i++) {
        struct coord_node n;
        char err[256] = "";
        if (coord_node_decode(BAD_NODES[i].json, strlen(BAD_NODES[i].json), &n, err, sizeof err) != -1)
            fail_msg("case %zu parsed", i);
        if (strncmp(err, BAD_NODES[i].want, strlen(BAD_NODES[i].want)) != 0)
            fail_msg("case %zu: got \"%s\", want \"%s\"", i, err, BAD_NODES[i].want);
        assert_int_equal(n.n_endpoints, 0);
    }
}

static void test_endpoint_bound(void **state)
{
    char json[4096];
    int off = snprintf(json, sizeof json, "{" KD ",\"endpoints\":[");
    for (int i = 0; i < COORD_MAX_ENDPOINTS + 1; i++)
        off += snprintf(json + off, sizeof json - (size_t)off, "%s\"192.0.2.1:%d\"", i ? "," : "", i + 1);
    snprintf(json + off, sizeof json - (size_t)off, "]}");
    struct coord_node n;
    char err[256] = "";
    assert_int_equal(coord_node_decode(json, strlen(json), &n, err, sizeof err), -1);
    assert_string_equal(err, "node.endpoints: more than 32 entries");
    /* Exactly the bound is fine. */
    char *last = strrchr(json, ',');
    strcpy(last, "]}");
    assert_int_equal(coord_node_decode(json, strlen(json), &n, err, sizeof err), 0);
    assert_int_equal(n.n_endpoints, COORD_MAX_ENDPOINTS);
    assert_int_equal(n.endpoints[31].port, 32);
}

/* ---- message envelopes ---- */

static char *round_trip(const struct coord_msg *m, struct coord_msg *back)
{
    char err[256] = "";
    char *s = coord_msg_encode(m);
    assert_non_null(s);
    if (coord_msg_decode(s, strlen(s), back, err, sizeof err) != 0)
        fail_msg("%s: %s", s, err);
    assert_int_equal(back->type, m->type);
    return s;
}

static void test_msg_update_self(void **state)
{
    struct coord_msg m = {.type = COORD_MSG_UPDATE_SELF}, back;
    sample_node(&m.node);
    char *s = round_trip(&m, &back);
    assert_string_equal(s, "{\"type\":\"update_self\",\"node\":" NODE_JSON "}");
    assert_memory_equal(&back.node, &m.node, sizeof m.node);
    coord_msg_free(&back);
    free(s);
}

static void test_msg_small_ones(void **state)
{
    struct coord_msg back;
    struct coord_msg dis = {.type = COORD_MSG_DISCONNECT};
    char *s = round_trip(&dis, &back);
    assert_string_equal(s, "{\"type\":\"disconnect\"}");
    free(s);

    struct coord_msg add = {.type = COORD_MSG_ADD_TUNNEL, .agent = "dev"};
    s = round_trip(&add, &back);
    assert_string_equal(s, "{\"type\":\"add_tunnel\",\"agent\":\"dev\"}");
    assert_string_equal(back.agent, "dev");
    free(s);

    struct coord_msg e = {.type = COORD_MSG_ERROR, .error = "agent \"dev\" is not reachable with this token"};
    s = round_trip(&e, &back);
    assert_string_equal(s, "{\"type\":\"error\",\"error\":\"agent \\\"dev\\\" is not reachable with this token\"}");
    assert_string_equal(back.error, e.error);
    free(s);
}

static void test_msg_derp_map(void **state)
{
    char map[] = "{\"Regions\":{\"999\":{\"RegionID\":999,\"Nodes\":[]}}}";
    struct coord_msg m = {.type = COORD_MSG_DERP_MAP, .derp_map = map}, back;
    char *s = round_trip(&m, &back);
    assert_string_equal(s, "{\"type\":\"derp_map\",\"derp_map\":{\"Regions\":{\"999\":{\"RegionID\":999,\"Nodes\":[]}}}}");
    assert_string_equal(back.derp_map, map);
    coord_msg_free(&back);
    free(s);

    char err[128];
    const char *bad = "{\"type\":\"derp_map\",\"derp_map\":[1]}";
    assert_int_equal(coord_msg_decode(bad, strlen(bad), &back, err, sizeof err), -1);
    assert_string_equal(err, "derp_map: not an object");
    struct coord_msg nomap = {.type = COORD_MSG_DERP_MAP};
    assert_null(coord_msg_encode(&nomap));
}

static void test_msg_self(void **state)
{
    struct coord_msg m = {.type = COORD_MSG_SELF, .block_endpoints = true}, back;
    sample_node(&m.node);
    m.node.n_endpoints = 0;
    char *s = round_trip(&m, &back);
    assert_non_null(strstr(s, "\"endpoints\":[],\"name\":\"dev\"},\"block_endpoints\":true}"));
    assert_true(back.block_endpoints);
    assert_memory_equal(back.node.v6, m.node.v6, 16);
    free(s);
}

static void test_msg_peer_updates(void **state)
{
    struct coord_peer_update u[3] = {
        {.id = 7, .kind = COORD_PEER_NODE},
        {.id = 8, .kind = COORD_PEER_LOST, .reason = "connection dropped"},
        {.id = 9, .kind = COORD_PEER_DISCONNECTED},
    };
    sample_node(&u[0].node);
    struct coord_msg m = {.type = COORD_MSG_PEER_UPDATES, .updates = u, .n_updates = 3}, back;
    char *s = round_trip(&m, &back);
    assert_string_equal(s, "{\"type\":\"peer_updates\",\"peer_updates\":["
                           "{\"id\":7,\"kind\":\"NODE\",\"node\":" NODE_JSON "},"
                           "{\"id\":8,\"kind\":\"LOST\",\"reason\":\"connection dropped\"},"
                           "{\"id\":9,\"kind\":\"DISCONNECTED\"}]}");
    assert_int_equal(back.n_updates, 3);
    assert_memory_equal(&back.updates[0].node, &u[0].node, sizeof u[0].node);
    assert_int_equal(back.updates[1].kind, COORD_PEER_LOST);
    assert_string_equal(back.updates[1].reason, "connection dropped");
    assert_int_equal(back.updates[2].id, 9);
    assert_int_equal(back.updates[2].kind, COORD_PEER_DISCONNECTED);
    coord_msg_free(&back);
    assert_null(back.updates);
    free(s);

    m.n_updates = 0;   /* nothing to say is not a message */
    assert_null(coord_msg_encode(&m));
    m.type = (enum coord_msg_type)42;
    assert_null(coord_msg_encode(&m));
}

static const struct bad BAD_MSGS[] = {
    {"", "not JSON: "},
    {"[1]", "not a JSON object"},
    {"{}", "type: missing"},
    {"{\"type\":3}", "type: not a string"},
    {"{\"type\":\"hello\"}", "type: unknown message type \"hello\""},
    {"{\"type\":\"update_self\"}", "node: missing"},
    {"{\"type\":\"update_self\",\"node\":null}", "node: missing"},
    {"{\"type\":\"update_self\",\"node\":{\"key\":\"nodekey:" HEX_A "\"}}", "node.disco: missing"},
    {"{\"type\":\"self\",\"node\":{" KD "},\"block_endpoints\":1}", "block_endpoints: not a boolean"},
    {"{\"type\":\"add_tunnel\"}", "agent: missing"},
    {"{\"type\":\"add_tunnel\",\"agent\":\"Dev!\"}", "agent: not an agent name"},
    {"{\"type\":\"error\"}", "error: missing"},
    {"{\"type\":\"peer_updates\"}", "peer_updates: missing"},
    {"{\"type\":\"peer_updates\",\"peer_updates\":{}}", "peer_updates: not an array"},
    {"{\"type\":\"peer_updates\",\"peer_updates\":[]}", "peer_updates: empty"},
    {"{\"type\":\"peer_updates\",\"peer_updates\":[1]}", "peer_updates[0]: not an object"},
    {"{\"type\":\"peer_updates\",\"peer_updates\":[{\"kind\":\"LOST\"}]}", "peer_updates[0].id: missing"},
    {"{\"type\":\"peer_updates\",\"peer_updates\":[{\"id\":1}]}", "peer_updates[0].kind: missing"},
    {"{\"type\":\"peer_updates\",\"peer_updates\":[{\"id\":1,\"kind\":\"LOST\"},{\"id\":2,\"kind\":\"GONE\"}]}",
     "peer_updates[1].kind: unknown kind \"GONE\""},
    {"{\"type\":\"peer_updates\",\"peer_updates\":[{\"id\":1,\"kind\":\"NODE\"}]}", "peer_updates[0].node: missing"},
    {"{\"type\":\"peer_updates\",\"peer_updates\":[{\"id\":1,\"kind\":\"NODE\",\"node\":{" KD ",\"endpoints\":[\"x\"]}}]}",
     "peer_updates[0].node.endpoints[0]: not ip:port or [ipv6]:port"},
    {"{\"type\":\"peer_updates\",\"peer_updates\":[{\"id\":1,\"kind\":\"LOST\",\"reason\":false}]}",
     "peer_updates[0].reason: not a string"},
};

static void test_bad_msgs(void **state)
{
    for (size_t i = 0; i < sizeof BAD_MSGS / sizeof *BAD_MSGS; i++) {
        struct coord_msg m;
        char err[256] = "";
        if (coord_msg_decode(BAD_MSGS[i].json, strlen(BAD_MSGS[i].json), &m, err, sizeof err) != -1)
            fail_msg("case %zu parsed", i);
        if (strncmp(err, BAD_MSGS[i].want, strlen(BAD_MSGS[i].want)) != 0)
            fail_msg("case %zu: got \"%s\", want \"%s\"", i, err, BAD_MSGS[i].want);
        assert_null(m.updates);
        assert_int_equal(m.n_updates, 0);
    }
}

static void test_msg_bounds_and_unknown_fields(void **state)
{
    struct coord_msg m;
    char err[256] = "";
    const char *ok = "{\"type\":\"disconnect\",\"reason\":\"bye\",\"v\":2}";
    assert_int_equal(coord_msg_decode(ok, strlen(ok), &m, err, sizeof err), 0);
    assert_int_equal(m.type, COORD_MSG_DISCONNECT);

    size_t n = COORD_MSG_MAX_LEN + 1;
    char *big = malloc(n);
    memset(big, ' ', n);
    assert_int_equal(coord_msg_decode(big, n, &m, err, sizeof err), -1);
    assert_string_equal(err, "message longer than 262144 bytes");
    free(big);

    char many[8192];
    int off = snprintf(many, sizeof many, "{\"type\":\"peer_updates\",\"peer_updates\":[");
    for (int i = 0; i <= COORD_MSG_MAX_UPDATES; i++)
        off += snprintf(many + off, sizeof many - (size_t)off, "%s{\"id\":%d,\"kind\":\"LOST\"}", i ? "," : "", i);
    snprintf(many + off, sizeof many - (size_t)off, "]}");
    assert_int_equal(coord_msg_decode(many, strlen(many), &m, err, sizeof err), -1);
    assert_string_equal(err, "peer_updates: more than 64 entries");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_node_exact_shape),
        cmocka_unit_test(test_node_round_trip),
        cmocka_unit_test(test_node_minimal_and_unknown_fields),
        cmocka_unit_test(test_endpoints),
        cmocka_unit_test(test_overlay_ranges),
        cmocka_unit_test(test_bad_nodes),
        cmocka_unit_test(test_endpoint_bound),
        cmocka_unit_test(test_msg_update_self),
        cmocka_unit_test(test_msg_small_ones),
        cmocka_unit_test(test_msg_self),
        cmocka_unit_test(test_msg_derp_map),
        cmocka_unit_test(test_msg_peer_updates),
        cmocka_unit_test(test_bad_msgs),
        cmocka_unit_test(test_msg_bounds_and_unknown_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
