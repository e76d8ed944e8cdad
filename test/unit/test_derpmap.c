/* derp/derpmap: Tailscale's DERP map JSON (tailscale-wire.md §2) as Coder
 * emits it, the node URL rules of Coder's client, the node order, and an
 * error message that names the place for every malformed input. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "derp/derpmap.h"

/* A Coder-style map: the embedded relay (999) and one STUN-only region,
 * plus a two-node region with a STUN-only node in the middle. Listed out
 * of order: the reader sorts regions by ID. */
static const char GOOD[] =
    "{\n"
    "  \"HomeParams\": {\"RegionScore\": {\"1\": 0.8}},\n"
    "  \"Regions\": {\n"
    "    \"1000\": {\"EmbeddedRelay\": false, \"RegionID\": 1000, \"RegionCode\": \"coder_stun_1000\",\n"
    "             \"RegionName\": \"Coder STUN 1000\",\n"
    "             \"Nodes\": [{\"Name\": \"1000stun0\", \"RegionID\": 1000, \"HostName\": \"stun.l.google.com\",\n"
    "                        \"STUNOnly\": true, \"STUNPort\": 19302}]},\n"
    "    \"999\": {\"EmbeddedRelay\": true, \"RegionID\": 999, \"RegionCode\": \"coder\",\n"
    "            \"RegionName\": \"Coder Embedded Relay\", \"Latitude\": 0, \"Avoid\": false,\n"
    "            \"Nodes\": [{\"Name\": \"999b\", \"RegionID\": 999, \"HostName\": \"coder.example.com\",\n"
    "                       \"STUNPort\": -1, \"DERPPort\": 3000, \"ForceHTTP\": true}]},\n"
    "    \"1\": {\"RegionID\": 1, \"RegionCode\": \"nyc\", \"RegionName\": \"New York City\",\n"
    "          \"Nodes\": [{\"Name\": \"1a\", \"RegionID\": 1, \"HostName\": \"derp1.example.com\",\n"
    "                     \"IPv4\": \"192.0.2.10\", \"IPv6\": \"2001:db8::10\", \"CanPort80\": true},\n"
    "                    {\"Name\": \"1s\", \"RegionID\": 1, \"HostName\": \"stun1.example.com\", \"STUNOnly\": true},\n"
    "                    {\"Name\": \"1b\", \"HostName\": \"derp1b.example.com\", \"CertName\": \"derp1.example.com\",\n"
    "                     \"DERPPort\": 8443, \"InsecureForTests\": true, \"STUNTestIP\": \"192.0.2.99\",\n"
    "                     \"UnknownFutureField\": [1, 2]}]}\n"
    "  },\n"
    "  \"omitDefaultRegions\": true\n"
    "}\n";

static void parse_ok(const char *json, struct derp_map *m)
{
    char err[256] = "";
    int rc = derp_map_parse(json, strlen(json), m, err, sizeof err);
    if (rc != 0)
        fail_msg("parse failed: %s", err);
}

/* Parses json expecting failure; the message must contain want. */
static void parse_bad(const char *json, const char *want)
{
    struct derp_map m;
    char err[256] = "";
    assert_int_equal(derp_map_parse(json, strlen(json), &m, err, sizeof err), -1);
    if (!strstr(err, want))
        fail_msg("error \"%s\" does not contain \"%s\"", err, want);
    assert_int_equal(m.n_regions, 0);
    assert_null(m.regions);
    derp_map_free(&m);
}

/* ---- a good map ---------------------------------------------------------- */

static void test_good_map(void **state)
{
    struct derp_map m;
    parse_ok(GOOD, &m);
    assert_true(m.omit_default_regions);
    assert_int_equal(m.n_regions, 3);
    assert_int_equal(m.regions[0].region_id, 1);
    assert_int_equal(m.regions[1].region_id, 999);
    assert_int_equal(m.regions[2].region_id, 1000);

    const struct derp_map_region *r = derp_map_region(&m, 999);
    assert_non_null(r);
    assert_string_equal(r->code, "coder");
    assert_string_equal(r->name, "Coder Embedded Relay");
    assert_true(r->embedded_relay);
    assert_int_equal(r->n_nodes, 1);
    assert_string_equal(r->nodes[0].name, "999b");
    assert_int_equal(r->nodes[0].stun_port, -1);
    assert_int_equal(r->nodes[0].derp_port, 3000);
    assert_true(r->nodes[0].force_http);

    r = derp_map_region(&m, 1);
    assert_non_null(r);
    assert_int_equal(r->n_nodes, 3);
    const struct derp_map_node *a = &r->nodes[0], *b = &r->nodes[2];
    assert_string_equal(a->ipv4, "192.0.2.10");
    assert_string_equal(a->ipv6, "2001:db8::10");
    assert_int_equal(a->stun_port, DERP_MAP_STUN_DEFAULT_PORT);   /* absent: 0 -> 3478 */
    assert_true(a->can_port80);
    assert_false(a->stun_only);
    assert_true(r->nodes[1].stun_only);
    assert_int_equal(b->region_id, 1);                           /* absent: the region's */
    assert_true(b->insecure_for_tests);
    assert_string_equal(b->stun_test_ip, "192.0.2.99");
    assert_string_equal(derp_map_node_tls_name(a), "derp1.example.com");
    assert_string_equal(derp_map_node_tls_name(b), "derp1.example.com");   /* CertName */

    assert_int_equal(derp_map_region(&m, 1000)->nodes[0].stun_port, 19302);
    assert_null(derp_map_region(&m, 2));
    derp_map_free(&m);
    assert_int_equal(m.n_regions, 0);
}

static void test_node_order_skips_stun_only(void **state)
{
    struct derp_map m;
    size_t idx = 0;
    parse_ok(GOOD, &m);

    const struct derp_map_region *r = derp_map_region(&m, 1);
    const struct derp_map_node *n = derp_map_next_derp_node(r, &idx);
    assert_non_null(n);
    assert_string_equal(n->name, "1a");
    n = derp_map_next_derp_node(r, &idx);
    assert_non_null(n);
    assert_string_equal(n->name, "1b");
    assert_null(derp_map_next_derp_node(r, &idx));
    assert_null(derp_map_next_derp_node(r, &idx));

    idx = 0;   /* a STUN-only region has nothing to dial */
    assert_null(derp_map_next_derp_node(derp_map_region(&m, 1000), &idx));
    derp_map_free(&m);
}

/* Go's encoding/json matches keys ignoring case; null is as absent. */
static void test_keys_ignore_case(void **state)
{
    struct derp_map m;
    parse_ok("{\"regions\": {\"7\": {\"regionid\": 7, \"REGIONCODE\": \"x\", \"regionname\": null,"
             " \"nodes\": [{\"name\": \"7a\", \"hostname\": \"h\", \"derpport\": 1, \"stunport\": null}]}},"
             " \"OmitDefaultRegions\": false}",
             &m);
    assert_int_equal(m.n_regions, 1);
    assert_string_equal(m.regions[0].code, "x");
    assert_string_equal(m.regions[0].name, "");
    assert_string_equal(m.regions[0].nodes[0].host_name, "h");
    assert_int_equal(m.regions[0].nodes[0].derp_port, 1);
    assert_int_equal(m.regions[0].nodes[0].stun_port, DERP_MAP_STUN_DEFAULT_PORT);
    derp_map_free(&m);

    parse_ok("{\"Regions\": {\"5\": {\"RegionID\": 5}}}", &m);   /* no nodes: valid, nothing to dial */
    assert_int_equal(m.regions[0].n_nodes, 0);
    derp_map_free(&m);
}

/* ---- node URLs (Coder's urlString) -------------------------------------- */

static void url_is(const struct derp_map_node *n, const char *want)
{
    char url[300];
    assert_int_equal(derp_map_node_url(n, url, sizeof url), 0);
    assert_string_equal(url, want);
}

static void test_node_url_rules(void **state)
{
    struct derp_map_node n = {.host_name = "derp.example.com"};

    url_is(&n, "https://derp.example.com/derp");
    n.derp_port = 443;
    url_is(&n, "https://derp.example.com/derp");      /* the default is never written */
    n.derp_port = 8443;
    url_is(&n, "https://derp.example.com:8443/derp");
    n.force_http = true;
    url_is(&n, "http://derp.example.com:8443/derp");
    n.derp_port = 80;
    url_is(&n, "http://derp.example.com/derp");
    n.derp_port = 0;
    url_is(&n, "http://derp.example.com/derp");       /* 0 is the scheme's default */
    n.derp_port = 443;
    url_is(&n, "http://derp.example.com:443/derp");   /* 443 is not http's default */

    struct derp_map_node v4 = {.host_name = "derp.example.com", .ipv4 = "192.0.2.1", .derp_port = 3000};
    url_is(&v4, "https://192.0.2.1:3000/derp");       /* IPv4 wins as the host */
    assert_string_equal(derp_map_node_tls_name(&v4), "derp.example.com");
    strcpy(v4.ipv4, "none");
    url_is(&v4, "https://derp.example.com:3000/derp"); /* "none": no IPv4, so the name */

    struct derp_map_node v6 = {.host_name = "2001:db8::1"};
    url_is(&v6, "https://[2001:db8::1]/derp");

    char small[10];
    assert_int_equal(derp_map_node_url(&n, small, sizeof small), -1);
}

/* ---- malformed and incomplete maps --------------------------------------- */

static void test_malformed_json(void **state)
{
    parse_bad("", "not JSON");
    parse_bad("{\"Regions\": {", "not JSON");
    parse_bad("{\"Regions\": {}} trailing", "not JSON");
    parse_bad("[1, 2]", "must be a JSON object");
    parse_bad("{\"Regions\": []}", "Regions: expected an object");
    parse_bad("{\"Regions\": {\"abc\": {\"RegionID\": 1}}}", "Regions[\"abc\"]: the key is not a region ID");
    parse_bad("{\"Regions\": {\"0\": {\"RegionID\": 0}}}", "Regions[\"0\"]: the key is not a region ID");
    parse_bad("{\"Regions\": {\"1\": 5}}", "Regions[\"1\"]: expected an object");
    parse_bad("{\"Regions\": {\"1\": {\"RegionID\": \"1\"}}}", "Regions[\"1\"].RegionID: expected an integer");
    parse_bad("{\"Regions\": {\"1\": {\"RegionID\": 1.5}}}", "Regions[\"1\"].RegionID: expected an integer");
    parse_bad("{\"Regions\": {\"1\": {\"RegionID\": 2}}}", "Regions[\"1\"].RegionID: differs from the region's key");
    parse_bad("{\"Regions\": {\"1\": {\"RegionID\": 1, \"RegionCode\": 3}}}",
              "Regions[\"1\"].RegionCode: expected a string");
    parse_bad("{\"Regions\": {\"1\": {\"RegionID\": 1, \"Nodes\": {}}}}", "Regions[\"1\"].Nodes: expected an array");
    parse_bad("{\"Regions\": {\"1\": {\"RegionID\": 1, \"Nodes\": [7]}}}",
              "Regions[\"1\"].Nodes[0]: expected an object");
    parse_bad("{\"Regions\": {\"1\": {\"RegionID\": 1, \"Avoid\": \"yes\"}}}",
              "Regions[\"1\"].Avoid: expected true or false");
    parse_bad("{\"Regions\": {}, \"omitDefaultRegions\": 1}", "omitDefaultRegions: expected true or false");
}

#define NODE_IN_1(fields) "{\"Regions\": {\"1\": {\"RegionID\": 1, \"Nodes\": [{\"Name\": \"1a\", \"HostName\": \"h\"}, {" fields "}]}}}"

static void test_malformed_nodes(void **state)
{
    parse_bad(NODE_IN_1("\"Name\": \"1b\", \"HostName\": \"h\", \"STUNPort\": -2"),
              "Regions[\"1\"].Nodes[1].STUNPort: out of range");
    parse_bad(NODE_IN_1("\"Name\": \"1b\", \"HostName\": \"h\", \"DERPPort\": 70000"),
              "Regions[\"1\"].Nodes[1].DERPPort: out of range");
    parse_bad(NODE_IN_1("\"Name\": \"1b\", \"HostName\": \"h\", \"DERPPort\": -1"),
              "Regions[\"1\"].Nodes[1].DERPPort: out of range");
    parse_bad(NODE_IN_1("\"Name\": \"1b\", \"HostName\": \"h\", \"RegionID\": 2"),
              "Regions[\"1\"].Nodes[1].RegionID: differs from its region's");
    parse_bad(NODE_IN_1("\"Name\": \"1b\", \"HostName\": \"h\", \"STUNOnly\": 1"),
              "Regions[\"1\"].Nodes[1].STUNOnly: expected true or false");
    parse_bad(NODE_IN_1("\"Name\": \"1b\", \"HostName\": \"h\", \"IPv4\": false"),
              "Regions[\"1\"].Nodes[1].IPv4: expected a string");
    parse_bad(NODE_IN_1("\"Name\": \"1b\", \"HostName\": \"h\\u0000x\""),
              "not JSON");   /* jansson refuses \u0000 itself */

    char big[600];
    memset(big, 'a', 300);
    big[300] = '\0';
    char json[1024];
    snprintf(json, sizeof json, NODE_IN_1("\"Name\": \"1b\", \"HostName\": \"%s\""), big);
    parse_bad(json, "Regions[\"1\"].Nodes[1].HostName: too long");
}

static void test_missing_fields(void **state)
{
    parse_bad("{}", "Regions: missing");
    parse_bad("{\"Regions\": null}", "Regions: missing");
    parse_bad("{\"Regions\": {\"3\": {\"RegionCode\": \"x\"}}}", "Regions[\"3\"].RegionID: missing");
    parse_bad(NODE_IN_1("\"HostName\": \"h\""), "Regions[\"1\"].Nodes[1].Name: missing");
    parse_bad(NODE_IN_1("\"Name\": \"1b\""), "Regions[\"1\"].Nodes[1].HostName: missing");
    parse_bad(NODE_IN_1("\"Name\": \"1b\", \"HostName\": \"\""), "Regions[\"1\"].Nodes[1].HostName: missing");
}

/* ---- files --------------------------------------------------------------- */

static void test_load_file(void **state)
{
    char path[] = "/tmp/vole-derpmap-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, GOOD, strlen(GOOD)), (ssize_t)strlen(GOOD));
    close(fd);

    struct derp_map m;
    char err[256];
    assert_int_equal(derp_map_load(path, &m, err, sizeof err), 0);
    assert_int_equal(m.n_regions, 3);
    derp_map_free(&m);

    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\"Regions\": {\"1\": {}}}", f);
    fclose(f);
    assert_int_equal(derp_map_load(path, &m, err, sizeof err), -1);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "Regions[\"1\"].RegionID: missing"));
    unlink(path);

    assert_int_equal(derp_map_load(path, &m, err, sizeof err), -1);
    assert_non_null(strstr(err, "No such file"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_map),
        cmocka_unit_test(test_node_order_skips_stun_only),
        cmocka_unit_test(test_keys_ignore_case),
        cmocka_unit_test(test_node_url_rules),
        cmocka_unit_test(test_malformed_json),
        cmocka_unit_test(test_malformed_nodes),
        cmocka_unit_test(test_missing_fields),
        cmocka_unit_test(test_load_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
