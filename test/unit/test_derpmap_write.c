/* derp/derpmap_write: the DERP map as Go's encoding/json writes Coder's
 * tailcfg structs (field order, omitempty, key order, escaping), the reader
 * taking back what the writer gives, and the map `vole server` publishes:
 * its own region, block-direct, and an extra map merged in. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "derp/derpmap.h"

/* ---- helpers ---------------------------------------------------------------- */

static void parse_ok(const char *json, struct derp_map *m)
{
    char err[256] = "";
    if (derp_map_parse(json, strlen(json), m, err, sizeof err) != 0)
        fail_msg("parse failed: %s\n%s", err, json);
}

/* Field-by-field, so a failure names what differs. */
static void assert_nodes_equal(const struct derp_map_node *a, const struct derp_map_node *b)
{
    assert_string_equal(a->name, b->name);
    assert_int_equal(a->region_id, b->region_id);
    assert_string_equal(a->host_name, b->host_name);
    assert_string_equal(a->cert_name, b->cert_name);
    assert_string_equal(a->ipv4, b->ipv4);
    assert_string_equal(a->ipv6, b->ipv6);
    assert_int_equal(a->stun_port, b->stun_port);
    assert_int_equal(a->stun_only, b->stun_only);
    assert_int_equal(a->derp_port, b->derp_port);
    assert_int_equal(a->insecure_for_tests, b->insecure_for_tests);
    assert_int_equal(a->force_http, b->force_http);
    assert_int_equal(a->can_port80, b->can_port80);
    assert_string_equal(a->stun_test_ip, b->stun_test_ip);
}

static void assert_maps_equal(const struct derp_map *a, const struct derp_map *b)
{
    assert_int_equal(a->omit_default_regions, b->omit_default_regions);
    assert_int_equal(a->n_regions, b->n_regions);
    for (size_t i = 0; i < a->n_regions; i++) {
        const struct derp_map_region *x = &a->regions[i], *y = &b->regions[i];
        assert_int_equal(x->region_id, y->region_id);
        assert_string_equal(x->code, y->code);
        assert_string_equal(x->name, y->name);
        assert_int_equal(x->embedded_relay, y->embedded_relay);
        assert_int_equal(x->avoid, y->avoid);
        assert_int_equal(x->n_nodes, y->n_nodes);
        for (size_t j = 0; j < x->n_nodes; j++)
            assert_nodes_equal(&x->nodes[j], &y->nodes[j]);
    }
}

/* ---- a fixed map ---------------------------------------------------------------- */

/* Built by hand (static storage, never freed): regions 1, 999, 1000 in ID
 * order, so the output shows Go's string key order ("1" < "1000" < "999"),
 * every node field set somewhere, and every omitempty field left zero
 * somewhere. Region 7 has no nodes: Go writes its nil slice as null. */
static struct derp_map_node nodes_1[] = {
    {.name = "1a", .region_id = 1, .host_name = "derp1.example.com", .ipv4 = "192.0.2.10",
     .ipv6 = "2001:db8::10", .stun_port = 3478, .can_port80 = true},
    {.name = "1b", .region_id = 1, .host_name = "derp1b.example.com", .cert_name = "derp1.example.com",
     .stun_port = 3479, .derp_port = 8443, .insecure_for_tests = true, .stun_test_ip = "192.0.2.99"},
};
static struct derp_map_node nodes_999[] = {
    {.name = "999b", .region_id = 999, .host_name = "coder.example.com", .stun_port = -1, .derp_port = 3000,
     .force_http = true},
};
static struct derp_map_node nodes_1000[] = {
    {.name = "1000stun0", .region_id = 1000, .host_name = "stun.l.google.com", .stun_port = 19302,
     .stun_only = true},
};
static struct derp_map_region fixed_regions[] = {
    {.region_id = 1, .code = "nyc", .name = "New York <City> & \"more\"", .avoid = true, .nodes = nodes_1, .n_nodes = 2},
    {.region_id = 7, .code = "empty", .name = "Empty"},
    {.region_id = 999, .code = "coder", .name = "Coder Embedded Relay", .embedded_relay = true, .nodes = nodes_999,
     .n_nodes = 1},
    {.region_id = 1000, .code = "coder_stun_1000", .name = "Coder STUN 1000", .nodes = nodes_1000, .n_nodes = 1},
};
static const struct derp_map FIXED = {.regions = fixed_regions, .n_regions = 4, .omit_default_regions = true};

static const char FIXED_JSON[] =
    "{\"Regions\":{"
    "\"1\":{\"EmbeddedRelay\":false,\"RegionID\":1,\"RegionCode\":\"nyc\","
    "\"RegionName\":\"New York \\u003cCity\\u003e \\u0026 \\\"more\\\"\",\"Avoid\":true,\"Nodes\":["
    "{\"Name\":\"1a\",\"RegionID\":1,\"HostName\":\"derp1.example.com\",\"IPv4\":\"192.0.2.10\","
    "\"IPv6\":\"2001:db8::10\",\"STUNPort\":3478,\"CanPort80\":true},"
    "{\"Name\":\"1b\",\"RegionID\":1,\"HostName\":\"derp1b.example.com\",\"CertName\":\"derp1.example.com\","
    "\"STUNPort\":3479,\"DERPPort\":8443,\"InsecureForTests\":true,\"STUNTestIP\":\"192.0.2.99\"}]},"
    "\"1000\":{\"EmbeddedRelay\":false,\"RegionID\":1000,\"RegionCode\":\"coder_stun_1000\","
    "\"RegionName\":\"Coder STUN 1000\",\"Nodes\":["
    "{\"Name\":\"1000stun0\",\"RegionID\":1000,\"HostName\":\"stun.l.google.com\",\"STUNPort\":19302,"
    "\"STUNOnly\":true}]},"
    "\"7\":{\"EmbeddedRelay\":false,\"RegionID\":7,\"RegionCode\":\"empty\",\"RegionName\":\"Empty\","
    "\"Nodes\":null},"
    "\"999\":{\"EmbeddedRelay\":true,\"RegionID\":999,\"RegionCode\":\"coder\","
    "\"RegionName\":\"Coder Embedded Relay\",\"Nodes\":["
    "{\"Name\":\"999b\",\"RegionID\":999,\"HostName\":\"coder.example.com\",\"STUNPort\":-1,"
    "\"DERPPort\":3000,\"ForceHTTP\":true}]}"
    "},\"omitDefaultRegions\":true}";

static void test_exact_json(void **state)
{
    char *json = derp_map_to_json(&FIXED);
    assert_non_null(json);
    assert_string_equal(json, FIXED_JSON);
    free(json);
}

/* An empty map still has its Regions (no omitempty there), and a false
 * omitDefaultRegions is left out. */
static void test_empty_map(void **state)
{
    struct derp_map m = {0};
    char *json = derp_map_to_json(&m);
    assert_non_null(json);
    assert_string_equal(json, "{\"Regions\":{}}");
    free(json);
}

/* Go's escaping: named escapes, \u00XX for other control bytes, U+2028,
 * invalid UTF-8 as \ufffd, valid multi-byte text as is. */
static void test_string_escaping(void **state)
{
    struct derp_map_region r = {.region_id = 5, .code = "c",
                                .name = "a\tb\n\x01\\/\xe2\x80\xa8\xff\xc3\xa9\x08\x0c\xed\xa0\x80"};
    struct derp_map m = {.regions = &r, .n_regions = 1};
    char *json = derp_map_to_json(&m);
    assert_non_null(json);
    assert_non_null(strstr(json, "\"RegionName\":\"a\\tb\\n\\u0001\\\\/\\u2028\\ufffd\xc3\xa9\\b\\f"
                                 "\\ufffd\\ufffd\\ufffd\""));
    free(json);
}

/* ---- round trip ------------------------------------------------------------------ */

static void test_round_trip_fixed(void **state)
{
    struct derp_map back;
    char *json = derp_map_to_json(&FIXED);
    assert_non_null(json);
    parse_ok(json, &back);
    assert_maps_equal(&FIXED, &back);
    derp_map_free(&back);
    free(json);
}

/* Parse → write → parse gives the same structs, for a map written by
 * someone else (keys out of order, fields absent, unknown fields). */
static void test_round_trip_foreign(void **state)
{
    static const char in[] =
        "{\"regions\":{\"2\":{\"RegionID\":2,\"Nodes\":[{\"Name\":\"2a\",\"HostName\":\"h\",\"Latitude\":1}]},"
        "\"12\":{\"RegionID\":12,\"RegionCode\":\"x\",\"Nodes\":[]}}}";
    struct derp_map a, b;
    parse_ok(in, &a);
    char *json = derp_map_to_json(&a);
    assert_non_null(json);
    parse_ok(json, &b);
    assert_maps_equal(&a, &b);
    char *again = derp_map_to_json(&b);
    assert_string_equal(json, again);   /* the writer is a fixed point */
    free(again);
    free(json);
    derp_map_free(&a);
    derp_map_free(&b);
}

/* ---- the server's map --------------------------------------------------------------- */

static const struct derp_map_stun_addr TWO_STUN[] = {{NULL, 3478}, {"198.18.0.2", 3479}};

static void build_ok(struct derp_map *m, const struct derp_map_server_params *p)
{
    char err[256] = "";
    if (derp_map_for_server(m, p, err, sizeof err) != 0)
        fail_msg("derp_map_for_server: %s", err);
}

static void test_server_defaults(void **state)
{
    struct derp_map_server_params p = {.host_name = "vole.example.com", .stun = TWO_STUN, .n_stun = 2};
    struct derp_map m;
    build_ok(&m, &p);
    char *json = derp_map_to_json(&m);
    assert_non_null(json);
    assert_string_equal(json,
        "{\"Regions\":{\"999\":{\"EmbeddedRelay\":true,\"RegionID\":999,\"RegionCode\":\"vole\","
        "\"RegionName\":\"vole.example.com\",\"Nodes\":["
        "{\"Name\":\"999b\",\"RegionID\":999,\"HostName\":\"vole.example.com\",\"STUNPort\":-1},"
        "{\"Name\":\"999stun0\",\"RegionID\":999,\"HostName\":\"vole.example.com\",\"STUNPort\":3478,"
        "\"STUNOnly\":true},"
        "{\"Name\":\"999stun1\",\"RegionID\":999,\"HostName\":\"198.18.0.2\",\"STUNPort\":3479,"
        "\"STUNOnly\":true}]}}}");
    free(json);
    derp_map_free(&m);
}

static void test_server_options(void **state)
{
    struct derp_map_server_params p = {.region_id = 901, .region_code = "lab", .region_name = "Lab",
                                       .host_name = "10.0.0.1", .derp_port = 8080, .force_http = true,
                                       .insecure_for_tests = true, .stun = TWO_STUN, .n_stun = 1};
    struct derp_map m;
    build_ok(&m, &p);
    const struct derp_map_region *r = derp_map_region(&m, 901);
    assert_non_null(r);
    assert_string_equal(r->code, "lab");
    assert_string_equal(r->name, "Lab");
    assert_int_equal(r->n_nodes, 2);
    char url[128];
    assert_int_equal(derp_map_node_url(&r->nodes[0], url, sizeof url), 0);
    assert_string_equal(url, "http://10.0.0.1:8080/derp");
    assert_true(r->nodes[0].insecure_for_tests);
    assert_string_equal(r->nodes[1].name, "901stun0");

    /* What the server serves, the client reads back unchanged. */
    struct derp_map back;
    char *json = derp_map_to_json(&m);
    assert_non_null(json);
    parse_ok(json, &back);
    assert_maps_equal(&m, &back);
    derp_map_free(&back);
    free(json);
    derp_map_free(&m);
}

/* Every node of every region, the extra map's too, gets STUNPort -1, and
 * STUN-only nodes go; relay nodes keep their order. */
static void test_block_direct(void **state)
{
    /* 998: FIXED already has a 999 (see test_merge_clash). */
    struct derp_map_server_params p = {.region_id = 998, .host_name = "vole.example.com", .stun = TWO_STUN,
                                       .n_stun = 2, .block_direct = true, .extra = &FIXED};
    struct derp_map m;
    build_ok(&m, &p);
    assert_int_equal(m.n_regions, 5);
    for (size_t i = 0; i < m.n_regions; i++)
        for (size_t j = 0; j < m.regions[i].n_nodes; j++) {
            assert_int_equal(m.regions[i].nodes[j].stun_port, -1);
            assert_false(m.regions[i].nodes[j].stun_only);
        }
    const struct derp_map_region *own = derp_map_region(&m, 998);
    assert_non_null(own);
    assert_int_equal(own->n_nodes, 1);
    assert_string_equal(own->nodes[0].name, "998b");
    const struct derp_map_region *r1 = derp_map_region(&m, 1);
    assert_int_equal(r1->n_nodes, 2);
    assert_string_equal(r1->nodes[0].name, "1a");
    assert_string_equal(r1->nodes[1].name, "1b");
    assert_int_equal(derp_map_region(&m, 1000)->n_nodes, 0);

    char *json = derp_map_to_json(&m);
    assert_non_null(json);
    assert_null(strstr(json, "STUNOnly"));
    assert_null(strstr(json, "\"STUNPort\":3"));
    assert_non_null(strstr(json, "\"998\":{\"EmbeddedRelay\":true,\"RegionID\":998,\"RegionCode\":\"vole\","
                                 "\"RegionName\":\"vole.example.com\",\"Nodes\":[{\"Name\":\"998b\","
                                 "\"RegionID\":998,\"HostName\":\"vole.example.com\",\"STUNPort\":-1}]}"));
    assert_non_null(strstr(json, "\"1000\":{\"EmbeddedRelay\":false,\"RegionID\":1000,"
                                 "\"RegionCode\":\"coder_stun_1000\",\"RegionName\":\"Coder STUN 1000\","
                                 "\"Nodes\":null}"));
    free(json);
    derp_map_free(&m);
    /* The extra map is copied, not changed. */
    assert_int_equal(FIXED.regions[3].n_nodes, 1);
    assert_int_equal(FIXED.regions[0].nodes[0].stun_port, 3478);
}

/* ---- merging ---------------------------------------------------------------------- */

static void test_merge(void **state)
{
    static const char extra_json[] =
        "{\"Regions\":{\"1\":{\"RegionID\":1,\"RegionCode\":\"nyc\",\"RegionName\":\"NYC\","
        "\"Nodes\":[{\"Name\":\"1a\",\"HostName\":\"derp1.example.com\"}]},"
        "\"2000\":{\"RegionID\":2000,\"RegionCode\":\"far\",\"RegionName\":\"Far\",\"Nodes\":["
        "{\"Name\":\"2000a\",\"HostName\":\"far.example.com\",\"STUNPort\":-1},"
        "{\"Name\":\"2000s\",\"HostName\":\"stun.far.example.com\",\"STUNOnly\":true}]}},"
        "\"omitDefaultRegions\":true}";
    struct derp_map extra, m;
    parse_ok(extra_json, &extra);
    struct derp_map_server_params p = {.host_name = "vole.example.com", .stun = TWO_STUN, .n_stun = 1,
                                       .extra = &extra};
    build_ok(&m, &p);
    assert_int_equal(m.n_regions, 3);
    assert_int_equal(m.regions[0].region_id, 1);     /* sorted by ID, as the reader keeps them */
    assert_int_equal(m.regions[1].region_id, 999);
    assert_int_equal(m.regions[2].region_id, 2000);
    assert_true(m.omit_default_regions);
    assert_nodes_equal(&m.regions[2].nodes[1], &extra.regions[1].nodes[1]);
    assert_int_equal(m.regions[1].n_nodes, 2);

    /* Served and read back: the same map. */
    struct derp_map back;
    char *json = derp_map_to_json(&m);
    assert_non_null(json);
    parse_ok(json, &back);
    assert_maps_equal(&m, &back);
    derp_map_free(&back);
    free(json);
    derp_map_free(&m);
    derp_map_free(&extra);
}

static void test_merge_clash(void **state)
{
    struct derp_map_server_params p = {.host_name = "vole.example.com", .extra = &FIXED};
    struct derp_map m;
    char err[256] = "";
    assert_int_equal(derp_map_for_server(&m, &p, err, sizeof err), -1);
    assert_non_null(strstr(err, "--derp-map: region 999 is this server's own region"));
    assert_non_null(strstr(err, "--region-id"));
    assert_int_equal(m.n_regions, 0);
    assert_null(m.regions);
    derp_map_free(&m);   /* still safe */

    p.region_id = 1;
    assert_int_equal(derp_map_for_server(&m, &p, err, sizeof err), -1);
    assert_non_null(strstr(err, "region 1 is"));
}

static void test_bad_params(void **state)
{
    static const struct derp_map_stun_addr bad_stun[] = {{NULL, 0}};
    struct derp_map m;
    char err[256];
    struct derp_map_server_params p = {0};

    assert_int_equal(derp_map_for_server(&m, &p, err, sizeof err), -1);
    assert_non_null(strstr(err, "host name is missing"));

    p.host_name = "h";
    p.region_id = -3;
    assert_int_equal(derp_map_for_server(&m, &p, err, sizeof err), -1);
    assert_non_null(strstr(err, "region ID -3"));

    p.region_id = 0;
    p.derp_port = 70000;
    assert_int_equal(derp_map_for_server(&m, &p, err, sizeof err), -1);
    assert_non_null(strstr(err, "DERP port 70000"));

    p.derp_port = 0;
    p.stun = bad_stun;
    p.n_stun = 1;
    assert_int_equal(derp_map_for_server(&m, &p, err, sizeof err), -1);
    assert_non_null(strstr(err, "STUN port 0"));

    char longname[300];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    p.n_stun = 0;
    p.host_name = longname;
    assert_int_equal(derp_map_for_server(&m, &p, err, sizeof err), -1);
    assert_non_null(strstr(err, "too long"));
    assert_null(m.regions);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_json),
        cmocka_unit_test(test_empty_map),
        cmocka_unit_test(test_string_escaping),
        cmocka_unit_test(test_round_trip_fixed),
        cmocka_unit_test(test_round_trip_foreign),
        cmocka_unit_test(test_server_defaults),
        cmocka_unit_test(test_server_options),
        cmocka_unit_test(test_block_direct),
        cmocka_unit_test(test_merge),
        cmocka_unit_test(test_merge_clash),
        cmocka_unit_test(test_bad_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
