/* The agent's report (diag/agent_report.h): tailcfg.NetInfo and the whole
 * body byte for byte, round trips with and without each optional part,
 * bad bodies, and the end-to-end path from the body an agent sent to the
 * agent-side messages of `vole ping`. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag/agent_report.h"

#define URL "https://vole.test/TROUBLESHOOTING.md"

/* ---- NetInfo ----------------------------------------------------------------- */

static char *netinfo_text(enum vole_ping_tristate mv, bool udp, const char *g4, const char *g6, long long derp)
{
    struct vole_ping_netinfo n = { .udp = udp, .mapping_varies = mv, .global_v4 = g4, .global_v6 = g6 };
    json_t *j = vole_netinfo_json(&n, derp);
    assert_non_null(j);
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    assert_non_null(s);
    return s;
}

#define NETINFO_ZEROES                                                                                      \
    "\"HairPinning\":null,\"WorkingIPv6\":null,\"OSHasIPv6\":null,\"WorkingUDP\":null,\"WorkingICMPv4\":null," \
    "\"HavePortMap\":false,\"UPnP\":null,\"PMP\":null,\"PCP\":null,"

static void test_netinfo_golden(void **state)
{
    (void)state;
    char *s = netinfo_text(VOLE_PING_YES, true, "203.0.113.9:41641", "[2001:db8::9]:41641", 999);
    assert_string_equal(s, "{\"MappingVariesByDestIP\":true," NETINFO_ZEROES
                           "\"PreferredDERP\":999,\"LinkType\":\"\",\"DERPLatency\":{},\"DERPLatencyV4\":{},"
                           "\"DERPLatencyV6\":{},\"UDP\":true,\"IPv6\":false,\"IPv4\":false,\"IPv6CanSend\":false,"
                           "\"IPv4CanSend\":false,\"ICMPv4\":false,\"GlobalV4\":\"203.0.113.9:41641\","
                           "\"GlobalV6\":\"[2001:db8::9]:41641\",\"CaptivePortal\":null}");
    free(s);

    s = netinfo_text(VOLE_PING_NO, false, NULL, "", 0);
    assert_non_null(strstr(s, "{\"MappingVariesByDestIP\":false,\"HairPinning\":null,"));
    assert_non_null(strstr(s, "\"PreferredDERP\":0,"));
    assert_non_null(strstr(s, "\"UDP\":false,"));
    assert_non_null(strstr(s, "\"GlobalV4\":\"\",\"GlobalV6\":\"\","));
    free(s);

    s = netinfo_text(VOLE_PING_UNKNOWN, true, NULL, NULL, 1);
    assert_non_null(strstr(s, "{\"MappingVariesByDestIP\":null,\"HairPinning\":null,"));
    free(s);
}

/* What a Coder agent sends: more fields, latencies, nulls. */
static void test_netinfo_decode(void **state)
{
    struct vole_ping_netinfo n;
    long long derp = -1;
    char v4[64], v6[64], err[128];
    (void)state;

    json_t *j = json_loads("{\"MappingVariesByDestIP\":null,\"HairPinning\":false,\"WorkingIPv6\":true,"
                           "\"HavePortMap\":true,\"PreferredDERP\":7,\"LinkType\":\"wifi\","
                           "\"DERPLatency\":{\"7-v4\":0.012},\"UDP\":true,\"GlobalV4\":\"198.51.100.2:3\","
                           "\"GlobalV6\":null,\"FirewallMode\":\"ipt\"}",
                           0, NULL);
    assert_int_equal(vole_netinfo_from_json(j, &n, &derp, v4, v6, err, sizeof err), 0);
    json_decref(j);
    assert_true(n.udp);
    assert_int_equal(n.mapping_varies, VOLE_PING_UNKNOWN);
    assert_int_equal(derp, 7);
    assert_ptr_equal(n.global_v4, v4);
    assert_string_equal(n.global_v4, "198.51.100.2:3");
    assert_string_equal(n.global_v6, "");

    /* Every field missing: Go's zero values. */
    j = json_object();
    assert_int_equal(vole_netinfo_from_json(j, &n, &derp, v4, v6, err, sizeof err), 0);
    json_decref(j);
    assert_false(n.udp);
    assert_int_equal(derp, 0);

    j = json_pack("{s:b}", "MappingVariesByDestIP", 0);
    assert_int_equal(vole_netinfo_from_json(j, &n, &derp, v4, v6, err, sizeof err), 0);
    assert_int_equal(n.mapping_varies, VOLE_PING_NO);
    json_decref(j);
}

/* ---- the report ---------------------------------------------------------------- */

static struct vole_ping_ifaddr v4addr(const char *ip, uint8_t len)
{
    struct vole_ping_ifaddr a = { .family = 4, .prefix_len = len };
    assert_int_equal(inet_pton(AF_INET, ip, a.addr), 1);
    return a;
}

static void add_iface(struct vole_ifaces *x, const char *name, int mtu, const char *ip, uint8_t len)
{
    strcpy(x->names[x->n], name);
    x->addrs[x->n_addrs] = v4addr(ip, len);
    x->ifaces[x->n] = (struct vole_ping_iface){
        .name = x->names[x->n], .mtu = mtu, .up = true, .addrs = &x->addrs[x->n_addrs], .n_addrs = 1
    };
    x->n_addrs++;
    x->n++;
}

static void fixture(struct vole_agent_report *r, bool netinfo, bool ifaces, bool disco)
{
    memset(r, 0, sizeof *r);
    r->have_netinfo = netinfo;
    strcpy(r->global_v4, "203.0.113.9:41641");
    r->netinfo = (struct vole_ping_netinfo){
        .udp = true, .mapping_varies = VOLE_PING_YES, .global_v4 = r->global_v4, .global_v6 = r->global_v6
    };
    r->preferred_derp = 999;
    r->have_ifaces = ifaces;
    add_iface(&r->ifaces, "wg0", 1280, "100.64.0.7", 32);
    add_iface(&r->ifaces, "eth0", 1500, "192.168.1.20", 24);
    strcpy(r->ifaces.default_route, "eth0");
    r->have_disco = disco;
    r->disco = (struct vole_ping_disco_counts){ .pings_sent = 4, .pongs_received = 0, .peer_pings_received = 2 };
}

static const char FULL[] =
    "{\n"
    "  \"severity\": \"ok\",\n"
    "  \"warnings\": [],\n"
    "  \"dismissed\": false,\n"
    "  \"net_info\": {\n"
    "    \"MappingVariesByDestIP\": true,\n"
    "    \"HairPinning\": null,\n"
    "    \"WorkingIPv6\": null,\n"
    "    \"OSHasIPv6\": null,\n"
    "    \"WorkingUDP\": null,\n"
    "    \"WorkingICMPv4\": null,\n"
    "    \"HavePortMap\": false,\n"
    "    \"UPnP\": null,\n"
    "    \"PMP\": null,\n"
    "    \"PCP\": null,\n"
    "    \"PreferredDERP\": 999,\n"
    "    \"LinkType\": \"\",\n"
    "    \"DERPLatency\": {},\n"
    "    \"DERPLatencyV4\": {},\n"
    "    \"DERPLatencyV6\": {},\n"
    "    \"UDP\": true,\n"
    "    \"IPv6\": false,\n"
    "    \"IPv4\": false,\n"
    "    \"IPv6CanSend\": false,\n"
    "    \"IPv4CanSend\": false,\n"
    "    \"ICMPv4\": false,\n"
    "    \"GlobalV4\": \"203.0.113.9:41641\",\n"
    "    \"GlobalV6\": \"\",\n"
    "    \"CaptivePortal\": null\n"
    "  },\n"
    "  \"interfaces\": {\n"
    "    \"severity\": \"warning\",\n"
    "    \"warnings\": [\n"
    "      {\n"
    "        \"code\": \"EIF01\",\n"
    "        \"message\": \"Network interface wg0 has MTU 1280 (less than 1378), which may degrade the quality "
    "of direct connections or render them unusable.\"\n"
    "      }\n"
    "    ],\n"
    "    \"dismissed\": false,\n"
    "    \"interfaces\": [\n"
    "      {\n"
    "        \"name\": \"wg0\",\n"
    "        \"mtu\": 1280,\n"
    "        \"addresses\": [\n"
    "          \"100.64.0.7/32\"\n"
    "        ]\n"
    "      },\n"
    "      {\n"
    "        \"name\": \"eth0\",\n"
    "        \"mtu\": 1500,\n"
    "        \"addresses\": [\n"
    "          \"192.168.1.20/24\"\n"
    "        ]\n"
    "      }\n"
    "    ],\n"
    "    \"default_route_interface\": \"eth0\"\n"
    "  },\n"
    "  \"vole_disco\": {\n"
    "    \"pings_sent\": 4,\n"
    "    \"pongs_received\": 0,\n"
    "    \"peer_pings_received\": 2\n"
    "  }\n"
    "}";

static void test_report_golden(void **state)
{
    static struct vole_agent_report r;
    (void)state;

    fixture(&r, true, true, true);
    char *s = vole_agent_report_json(&r);
    assert_non_null(s);
    assert_string_equal(s, FULL);
    free(s);

    /* Before the first STUN round, without interfaces or disco counts. */
    fixture(&r, false, false, false);
    s = vole_agent_report_json(&r);
    assert_string_equal(s, "{\n  \"severity\": \"ok\",\n  \"warnings\": [],\n  \"dismissed\": false,\n"
                           "  \"net_info\": null\n}");
    free(s);
}

/* Every combination of the optional parts survives encode, decode, encode. */
static void test_round_trip(void **state)
{
    static struct vole_agent_report r, back;
    char err[160];
    (void)state;

    for (int mask = 0; mask < 8; mask++) {
        fixture(&r, mask & 1, mask & 2, mask & 4);
        char *s = vole_agent_report_json(&r);
        assert_non_null(s);
        assert_int_equal(vole_agent_report_parse(s, strlen(s), &back, err, sizeof err), 0);
        assert_int_equal(back.have_netinfo, (mask & 1) != 0);
        assert_int_equal(back.have_ifaces, (mask & 2) != 0);
        assert_int_equal(back.have_disco, (mask & 4) != 0);
        if (mask & 1) {
            assert_true(back.netinfo.udp);
            assert_int_equal(back.netinfo.mapping_varies, VOLE_PING_YES);
            assert_ptr_equal(back.netinfo.global_v4, back.global_v4);
            assert_string_equal(back.netinfo.global_v4, "203.0.113.9:41641");
            assert_int_equal(back.preferred_derp, 999);
        }
        if (mask & 2) {
            assert_int_equal(back.ifaces.n, 2);
            assert_string_equal(back.ifaces.ifaces[0].name, "wg0");
            assert_string_equal(back.ifaces.default_route, "eth0");
        }
        if (mask & 4)
            assert_memory_equal(&back.disco, &r.disco, sizeof r.disco);
        char *again = vole_agent_report_json(&back);
        assert_string_equal(again, s);
        free(again);
        free(s);
    }
}

static void expect_bad(const char *body, size_t len, const char *want_prefix)
{
    static struct vole_agent_report r;
    char err[256] = "";

    memset(&r, 0x5a, sizeof r);
    assert_int_equal(vole_agent_report_parse(body, len, &r, err, sizeof err), -1);
    if (strncmp(err, want_prefix, strlen(want_prefix)) != 0)
        fail_msg("err \"%s\", want \"%s...\"", err, want_prefix);
    assert_false(r.have_netinfo || r.have_ifaces || r.have_disco);
}

#define BAD(text, want) expect_bad(text, strlen(text), want)

static void test_parse_bad(void **state)
{
    (void)state;
    BAD("{\"net_info\":{\"UDP\":\"yes\"}}", "agent report: net_info.UDP: not a boolean");
    BAD("{\"net_info\":5}", "agent report: net_info: not an object");
    BAD("{\"net_info\":{\"MappingVariesByDestIP\":\"true\"}}",
        "agent report: net_info.MappingVariesByDestIP: not a boolean or null");
    BAD("{\"net_info\":{\"GlobalV4\":17}}", "agent report: net_info.GlobalV4: not a string");
    BAD("{\"net_info\":{\"PreferredDERP\":\"999\"}}", "agent report: net_info.PreferredDERP: not an integer");
    BAD("{\"net_info\":{\"GlobalV6\":\"[2001:db8:1111:2222:3333:4444:5555:6666]:41641-and-then-some-more-text\"}}",
        "agent report: net_info.GlobalV6: longer than 63 bytes");
    BAD("{\"interfaces\":{\"interfaces\":[{\"name\":\"a\",\"mtu\":true}]}}",
        "agent report: interfaces.interfaces[0].mtu: not an integer");
    BAD("{\"interfaces\":[]}", "agent report: interfaces: not an object");
    BAD("{\"vole_disco\":[]}", "agent report: vole_disco: not an object");
    BAD("{\"vole_disco\":{\"pings_sent\":-1,\"pongs_received\":0,\"peer_pings_received\":0}}",
        "agent report: vole_disco.pings_sent: out of range");
    BAD("{\"vole_disco\":{\"pings_sent\":1,\"pongs_received\":4294967296,\"peer_pings_received\":0}}",
        "agent report: vole_disco.pongs_received: out of range");
    BAD("{\"vole_disco\":{\"pings_sent\":1,\"pongs_received\":0}}",
        "agent report: vole_disco.peer_pings_received: missing");
    BAD("[]", "agent report: not an object");
    BAD("", "agent report: not JSON: ");
    BAD("{\"a\":1,\"a\":2}", "agent report: not JSON: ");
    /* A report cut short, anywhere. */
    for (size_t len = 0; len < sizeof FULL - 1; len += 37)
        expect_bad(FULL, len, "agent report: not JSON: ");
}

/* The size bound is on the body, before any parsing. */
static void test_parse_size(void **state)
{
    static struct vole_agent_report r;
    char err[160];
    char *body = malloc(VOLE_AGENT_REPORT_MAX + 1);
    (void)state;

    assert_non_null(body);
    memset(body, ' ', VOLE_AGENT_REPORT_MAX + 1);
    body[0] = '{';
    body[1] = '}';
    assert_int_equal(vole_agent_report_parse(body, VOLE_AGENT_REPORT_MAX, &r, err, sizeof err), 0);
    assert_false(r.have_netinfo || r.have_ifaces || r.have_disco);
    assert_int_equal(vole_agent_report_parse(body, VOLE_AGENT_REPORT_MAX + 1, &r, err, sizeof err), -1);
    assert_string_equal(err, "agent report: 65537 bytes, more than 65536");
    free(body);
}

/* ---- end to end: the agent's body to `vole ping`'s messages ----------------- */

static void test_body_to_messages(void **state)
{
    static struct vole_agent_report r;
    struct vole_ping_side agent;
    struct vole_ping_issues out;
    char err[160];
    (void)state;

    assert_int_equal(vole_agent_report_parse(FULL, strlen(FULL), &r, err, sizeof err), 0);
    memset(&agent, 0x5a, sizeof agent);
    vole_agent_report_side(&r, &agent);
    assert_true(agent.have_ifaces);
    assert_ptr_equal(agent.netinfo, &r.netinfo);
    assert_string_equal(agent.default_route_iface, "eth0");

    struct vole_ping_diag d = { .agent = &agent, .troubleshooting_url = URL };
    assert_int_equal(vole_ping_diagnose(&d, &out), 0);
    assert_int_equal(out.n_general, 0);
    assert_int_equal(out.n_agent, 2);
    assert_string_equal(out.agent[0], "Network interface wg0 has MTU 1280 (less than 1378), which may degrade the "
                                      "quality of direct connections or render them unusable.\n" URL "#low-mtu");
    assert_string_equal(out.agent[1], "Agent is potentially behind a hard NAT, as multiple endpoints were retrieved "
                                      "from different STUN servers\n   " URL "#endpoint-dependent-nat-hard-nat");
    /* The agent's 4 unanswered pings while the client's reached it: the
     * client's firewall. */
    assert_int_equal(out.n_client, 1);
    assert_non_null(strstr(out.client[0], "Client firewall may be blocking incoming UDP"));
    vole_ping_issues_free(&out);

    /* No report parts: nothing to say about the agent. */
    const char *bare = "{\"severity\":\"ok\",\"warnings\":[],\"dismissed\":false,\"net_info\":null}";
    assert_int_equal(vole_agent_report_parse(bare, strlen(bare), &r, err, sizeof err), 0);
    vole_agent_report_side(&r, &agent);
    assert_false(agent.have_ifaces);
    assert_null(agent.netinfo);
    assert_false(agent.have_disco_counts);
    assert_int_equal(vole_ping_diagnose(&d, &out), 0);
    assert_int_equal(out.n_general + out.n_client + out.n_agent, 0);
    vole_ping_issues_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_netinfo_golden),
        cmocka_unit_test(test_netinfo_decode),
        cmocka_unit_test(test_report_golden),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_parse_bad),
        cmocka_unit_test(test_parse_size),
        cmocka_unit_test(test_body_to_messages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
