/* `vole netcheck` as `coder netcheck`, for fixed measurements: the health
 * rules (EDERP01, EDERP02, ESTUN01, ESTUN02, region and report severity,
 * the preferred region) and the JSON and table exactly. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test/unit/endpoints.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag/netcheck_coder.h"

#define MS 1000000ull

/* Region 1: one relay node with STUN. Region 2: two relay nodes, no STUN. */
static const char MAP[] =
    "{\"Regions\":{"
    "\"1\":{\"RegionID\":1,\"RegionCode\":\"one\",\"RegionName\":\"One\",\"Nodes\":["
    "{\"Name\":\"1a\",\"RegionID\":1,\"HostName\":\"derp1.test\",\"IPv4\":\"192.0.2.1\",\"STUNPort\":3478}]},"
    "\"2\":{\"RegionID\":2,\"RegionCode\":\"two\",\"RegionName\":\"Two\",\"Nodes\":["
    "{\"Name\":\"2a\",\"RegionID\":2,\"HostName\":\"derp2a.test\",\"STUNPort\":-1},"
    "{\"Name\":\"2b\",\"RegionID\":2,\"HostName\":\"derp2b.test\",\"STUNPort\":-1}]}}}";

struct fixture {
    struct derp_map map;
    struct vole_derp_health h;
    struct stun_report stun;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    char err[256];
    assert_non_null(f);
    assert_int_equal(derp_map_parse(MAP, sizeof MAP - 1, &f->map, err, sizeof err), 0);
    assert_int_equal(vole_derp_health_init(&f->h, &f->map), 0);
    f->h.stun = &f->stun;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    vole_derp_health_free(&f->h);
    derp_map_free(&f->map);
    free(f);
    return 0;
}

static void exchanged(struct vole_derp_node_health *n, uint64_t rtt, uint64_t latency)
{
    n->can_exchange_messages = true;
    n->round_trip_ns = rtt;
    n->have_latency = true;
    n->latency_ns = latency;
}

/* Every node fine; region 2 is faster; STUN answered with one mapping. */
static void all_well(struct fixture *f)
{
    exchanged(&f->h.regions[0].nodes[0], 12345678, 20 * MS);
    f->h.regions[0].nodes[0].can_stun = true;
    exchanged(&f->h.regions[1].nodes[0], 3 * MS, 9 * MS);
    exchanged(&f->h.regions[1].nodes[1], 4 * MS, 8 * MS);
    f->stun.udp = f->stun.ipv4 = f->stun.ipv4_can_send = true;
    f->stun.global_v4 = ep4(198, 51, 100, 7, 41641);
    f->stun.mapping_varies_by_dest_ip = STUN_NO;
}

static void test_rules_all_well(void **state)
{
    struct fixture *f = *state;
    all_well(f);
    vole_derp_health_judge(&f->h);
    assert_true(f->h.healthy);
    assert_int_equal(f->h.severity, VOLE_HEALTH_OK);
    assert_int_equal(f->h.warnings.n, 0);
    assert_int_equal(f->h.preferred_derp, 2);
    assert_int_equal(f->h.regions[1].latency_ns, 8 * MS);   /* the best node's */
}

static void test_rules_one_of_two_unhealthy(void **state)
{
    struct fixture *f = *state;
    all_well(f);
    f->h.regions[1].nodes[1].can_exchange_messages = false;
    vole_derp_health_judge(&f->h);
    assert_false(f->h.regions[1].nodes[1].healthy);
    assert_int_equal(f->h.regions[1].nodes[1].severity, VOLE_HEALTH_ERROR);
    assert_true(f->h.regions[1].healthy);
    assert_int_equal(f->h.regions[1].severity, VOLE_HEALTH_WARNING);
    assert_string_equal(f->h.regions[1].warnings.w[0].code, "EDERP02");
    assert_true(f->h.healthy);
    assert_int_equal(f->h.severity, VOLE_HEALTH_WARNING);
}

static void test_rules_two_of_two_unhealthy(void **state)
{
    struct fixture *f = *state;
    all_well(f);
    f->h.regions[1].nodes[0].can_exchange_messages = false;
    f->h.regions[1].nodes[1].can_exchange_messages = false;
    vole_derp_health_judge(&f->h);
    assert_false(f->h.regions[1].healthy);
    assert_int_equal(f->h.regions[1].severity, VOLE_HEALTH_ERROR);
    assert_int_equal(f->h.regions[1].warnings.n, 0);
    assert_false(f->h.healthy);
    assert_int_equal(f->h.severity, VOLE_HEALTH_ERROR);
}

static void test_rules_websocket_is_a_warning(void **state)
{
    struct fixture *f = *state;
    all_well(f);
    f->h.regions[0].nodes[0].uses_websocket = true;
    vole_derp_health_judge(&f->h);
    assert_false(f->h.regions[0].nodes[0].healthy);
    assert_int_equal(f->h.regions[0].nodes[0].severity, VOLE_HEALTH_WARNING);
    assert_string_equal(f->h.regions[0].nodes[0].warnings.w[0].code, "EDERP01");
    assert_int_equal(f->h.regions[0].severity, VOLE_HEALTH_WARNING);   /* one node: its severity */
    assert_false(f->h.regions[0].healthy);
    assert_string_equal(f->h.warnings.w[0].code, "EDERP01");
}

static void test_rules_stun(void **state)
{
    struct fixture *f = *state;
    all_well(f);
    f->h.regions[0].nodes[0].can_stun = false;
    f->stun.mapping_varies_by_dest_ip = STUN_YES;
    vole_derp_health_judge(&f->h);
    /* The node's STUN test failed: it is unhealthy, and no node could STUN. */
    assert_int_equal(f->h.regions[0].nodes[0].severity, VOLE_HEALTH_ERROR);
    assert_string_equal(f->h.regions[0].nodes[0].stun_error, "no STUN response");
    assert_int_equal(f->h.warnings.n, 2);
    assert_string_equal(f->h.warnings.w[0].code, "ESTUN02");
    assert_string_equal(f->h.warnings.w[1].code, "ESTUN01");
    assert_int_equal(f->h.severity, VOLE_HEALTH_ERROR);
}

static void test_rules_no_latency(void **state)
{
    struct fixture *f = *state;
    vole_derp_health_judge(&f->h);
    assert_int_equal(f->h.preferred_derp, 0);
    assert_false(f->h.healthy);
}

/* One region, one node: the whole document, byte for byte. */
static const char ONE_MAP[] =
    "{\"Regions\":{\"9\":{\"RegionID\":9,\"RegionCode\":\"x\",\"RegionName\":\"X\",\"Nodes\":["
    "{\"Name\":\"9a\",\"RegionID\":9,\"HostName\":\"h\",\"STUNPort\":-1}]}}}";

static const char ONE_JSON[] =
    "{\"derp\": {\"healthy\": true, \"severity\": \"ok\", \"warnings\": [], \"dismissed\": false, \"regions\": "
    "{\"9\": {\"healthy\": true, \"severity\": \"ok\", \"warnings\": [], \"error\": null, \"region\": "
    "{\"EmbeddedRelay\": false, \"RegionID\": 9, \"RegionCode\": \"x\", \"RegionName\": \"X\", \"Nodes\": [{\"Name\": \"9a\", \"RegionID\": 9, "
    "\"HostName\": \"h\", \"STUNPort\": -1}]}, \"node_reports\": [{\"healthy\": true, \"severity\": \"ok\", "
    "\"warnings\": [], \"node\": {\"Name\": \"9a\", \"RegionID\": 9, \"HostName\": \"h\", \"STUNPort\": -1}, "
    "\"node_info\": {\"TokenBucketBytesPerSecond\": 0, \"TokenBucketBytesBurst\": 0}, \"can_exchange_messages\": "
    "true, \"round_trip_ping\": \"12.345678ms\", \"round_trip_ping_ms\": 12, \"uses_websocket\": false, "
    "\"client_logs\": [[\"connected\"], []], \"client_errs\": [[], [\"refused\"]], \"error\": null, \"stun\": "
    "{\"Enabled\": false, \"CanSTUN\": false, \"Error\": null, \"PathMTU\": null}}]}}, \"netcheck\": {\"UDP\": false, \"IPv6\": false, "
    "\"IPv4\": false, \"IPv6CanSend\": false, \"IPv4CanSend\": false, \"OSHasIPv6\": true, \"ICMPv4\": false, "
    "\"MappingVariesByDestIP\": null, \"HairPinning\": null, \"UPnP\": null, \"PMP\": null, \"PCP\": null, "
    "\"PreferredDERP\": 9, \"RegionLatency\": {\"9\": 1500000}, \"RegionV4Latency\": {\"9\": 1500000}, "
    "\"RegionV6Latency\": {}, \"GlobalV4\": \"\", \"GlobalV6\": \"\", \"CaptivePortal\": null}, \"netcheck_err\": "
    "null, \"netcheck_logs\": [\"netcheck: hello\"]}, \"interfaces\": {\"severity\": \"ok\"}}";

static const char ONE_TABLE[] =
    "Report:\n"
    "\t* UDP: false\n"
    "\t* IPv4: (no addr found)\n"
    "\t* IPv6: no, but OS has support\n"
    "\t* MappingVariesByDestIP: \n"
    "\t* Nearest DERP: X\n"
    "\t* DERP latency:\n"
    "\t\t-   x: 1.5ms   (X)\n"
    "\n"
    "DERP health: ok\n"
    "\t* Region 9 x (X): ok, latency 1.5ms\n"
    "\t\t- 9a (h): ok; messages: 12.3ms; latency-check: 1.5ms; STUN: disabled\n"
    "\n"
    "Interfaces: warning\n"
    "\t* lo: MTU 1280, 127.0.0.1/8\n"
    "\t! EIF01: low\n";

static void test_golden_one_node(void **state)
{
    struct derp_map m;
    struct vole_derp_health h;
    struct stun_report none = {0};
    char err[256], *text = NULL;
    size_t len = 0;
    json_t *ifaces = json_pack("{s:s}", "severity", "ok"), *doc;

    (void)state;
    assert_int_equal(derp_map_parse(ONE_MAP, sizeof ONE_MAP - 1, &m, err, sizeof err), 0);
    assert_int_equal(vole_derp_health_init(&h, &m), 0);
    h.stun = &none;
    h.os_has_ipv6 = true;
    exchanged(&h.regions[0].nodes[0], 12345678, 1500000);
    vole_derp_client_log(&h.regions[0].nodes[0].clients[0], false, "%s", "connected");
    vole_derp_client_log(&h.regions[0].nodes[0].clients[1], true, "%s", "refused");
    vole_derp_health_log(&h, "netcheck: %s", "hello");
    vole_derp_health_judge(&h);

    doc = vole_netcheck_coder_json(&h, ifaces);
    text = json_dumps(doc, JSON_PRESERVE_ORDER);
    assert_string_equal(text, ONE_JSON);
    free(text);
    json_decref(doc);
    json_decref(ifaces);

    ifaces = json_pack("{s:s, s:[{s:s, s:s}], s:[{s:s, s:i, s:[s]}]}", "severity", "warning", "warnings", "code",
                       "EIF01", "message", "low", "interfaces", "name", "lo", "mtu", 1280, "addresses", "127.0.0.1/8");
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    vole_netcheck_coder_print(out, &h, ifaces);
    fclose(out);
    assert_string_equal(text, ONE_TABLE);
    free(text);
    json_decref(ifaces);
    vole_derp_health_free(&h);
    derp_map_free(&m);
}

/* Unreachable: the table says why for each part, and the interfaces
 * report's absence is said too. */
static void test_table_failures(void **state)
{
    struct fixture *f = *state;
    char *text = NULL;
    size_t len = 0;
    FILE *out;

    snprintf(f->h.regions[0].nodes[0].latency_error, VOLE_HEALTH_TEXT_MAX, "connection refused");
    snprintf(f->h.regions[0].nodes[0].stun_error, VOLE_HEALTH_TEXT_MAX, "STUN 192.0.2.1:3478: timed out");
    vole_derp_client_log(&f->h.regions[0].nodes[0].clients[0], true, "%s", "connecting: refused");
    vole_derp_health_judge(&f->h);
    out = open_memstream(&text, &len);
    assert_non_null(out);
    vole_netcheck_coder_print(out, &f->h, NULL);
    fclose(out);
    assert_non_null(strstr(text, "\t* Nearest DERP: unknown (no response to latency probes)\n"));
    assert_non_null(strstr(text, "\t\t- 1a (derp1.test): error; messages: failed (connecting: refused); "
                                 "latency-check: failed (connection refused); STUN: failed (STUN 192.0.2.1:3478: "
                                 "timed out)\n"));
    assert_non_null(strstr(text, "\t! ESTUN01: No STUN servers are available.\n"));
    assert_non_null(strstr(text, "\nInterfaces: unknown (could not be read)\n"));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rules_all_well, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rules_one_of_two_unhealthy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rules_two_of_two_unhealthy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rules_websocket_is_a_warning, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rules_stun, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rules_no_latency, setup, teardown),
        cmocka_unit_test(test_golden_one_node),
        cmocka_unit_test_setup_teardown(test_table_failures, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
