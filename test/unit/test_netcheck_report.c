/* The netcheck report as text and JSON, for fixed reports: the lines users
 * know from `tailscale netcheck`, and Tailscale's Report field names. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test/unit/endpoints.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag/netcheck.h"

#define MS 1000000ull

static void add_server(struct stun_report *r, const char *name, struct wg_endpoint server)
{
    struct stun_server_result *s = &r->servers[r->n_servers++];
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", name);
    s->server = server;
    s->error = STUN_PROBE_TIMED_OUT;
}

static void answered(struct stun_report *r, size_t i, uint64_t latency_ns, struct wg_endpoint mapped)
{
    r->servers[i].answered = true;
    r->servers[i].error = STUN_PROBE_OK;
    r->servers[i].latency_ns = latency_ns;
    r->servers[i].mapped = mapped;
}

/* A NAT with one mapping; one server answered, one did not. */
static void easy_nat(struct stun_report *r)
{
    memset(r, 0, sizeof *r);
    add_server(r, "198.18.1.1:3478", ep4(198, 18, 1, 1, 3478));
    add_server(r, "198.18.2.1:3478", ep4(198, 18, 2, 1, 3478));
    answered(r, 0, 1234567, ep4(198, 18, 0, 10, 41641));
    r->udp = r->ipv4 = r->ipv4_can_send = true;
    r->global_v4 = ep4(198, 18, 0, 10, 41641);
    r->mapping_varies_by_dest_ip = STUN_NO;
}

static char *text_of(const struct vole_netcheck_report *rep)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    vole_netcheck_print(f, rep);
    fclose(f);
    return buf;
}

static void expect_text(const struct vole_netcheck_report *rep, const char *want)
{
    char *got = text_of(rep);
    assert_string_equal(got, want);
    free(got);
}

static void expect_json(const struct vole_netcheck_report *rep, const char *want)
{
    char *got = vole_netcheck_json_text(rep);
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void test_text_easy_nat(void **state)
{
    struct stun_report s;
    struct vole_netcheck_report rep = { .stun = &s, .os_has_ipv6 = true };
    (void)state;

    easy_nat(&s);
    expect_text(&rep,
                "Report:\n"
                "\t* UDP: true\n"
                "\t* IPv4: yes, 198.18.0.10:41641\n"
                "\t* IPv6: no, but OS has support\n"
                "\t* MappingVariesByDestIP: false\n"
                "\t* STUN servers:\n"
                "\t\t- 198.18.1.1:3478: 1.2ms (mapped 198.18.0.10:41641)\n"
                "\t\t- 198.18.2.1:3478: timed out\n");
}

static void test_json_easy_nat(void **state)
{
    struct stun_report s;
    struct vole_netcheck_report rep = { .stun = &s, .os_has_ipv6 = true };
    (void)state;

    easy_nat(&s);
    expect_json(&rep,
                "{\n"
                "  \"UDP\": true,\n"
                "  \"IPv6\": false,\n"
                "  \"IPv4\": true,\n"
                "  \"IPv6CanSend\": false,\n"
                "  \"IPv4CanSend\": true,\n"
                "  \"OSHasIPv6\": true,\n"
                "  \"MappingVariesByDestIP\": false,\n"
                "  \"GlobalV4\": \"198.18.0.10:41641\",\n"
                "  \"GlobalV6\": \"\",\n"
                "  \"STUN\": [\n"
                "    {\n"
                "      \"server\": \"198.18.1.1:3478\",\n"
                "      \"address\": \"198.18.1.1:3478\",\n"
                "      \"latency_ms\": 1.235,\n"
                "      \"mapped\": \"198.18.0.10:41641\",\n"
                "      \"error\": null\n"
                "    },\n"
                "    {\n"
                "      \"server\": \"198.18.2.1:3478\",\n"
                "      \"address\": \"198.18.2.1:3478\",\n"
                "      \"latency_ms\": null,\n"
                "      \"mapped\": null,\n"
                "      \"error\": \"timed out\"\n"
                "    }\n"
                "  ]\n"
                "}");
}

/* UDP blocked, no IPv6 in the OS: the "nothing works" report. */
static void test_udp_blocked(void **state)
{
    struct stun_report s = {0};
    struct vole_netcheck_report rep = { .stun = &s, .os_has_ipv6 = false };
    (void)state;

    add_server(&s, "198.18.1.1:3478", ep4(198, 18, 1, 1, 3478));
    s.ipv4_can_send = true;
    expect_text(&rep,
                "Report:\n"
                "\t* UDP: false\n"
                "\t* IPv4: (no addr found)\n"
                "\t* IPv6: no, unavailable in OS\n"
                "\t* MappingVariesByDestIP: \n"
                "\t* STUN servers:\n"
                "\t\t- 198.18.1.1:3478: timed out\n");
    char *j = vole_netcheck_json_text(&rep);
    assert_non_null(j);
    assert_non_null(strstr(j, "\"UDP\": false,"));
    assert_non_null(strstr(j, "\"MappingVariesByDestIP\": null,"));
    assert_non_null(strstr(j, "\"GlobalV4\": \"\","));
    free(j);
}

/* A hard NAT seen through a DNS name with two addresses, plus an IPv6 server
 * and one whose sends failed. */
static void test_text_hard_nat_and_ipv6(void **state)
{
    struct stun_report s = {0};
    struct vole_netcheck_report rep = { .stun = &s, .os_has_ipv6 = true };
    (void)state;

    add_server(&s, "stun.example.net:3478", ep4(198, 18, 1, 1, 3478));
    add_server(&s, "stun.example.net:3478", ep4(198, 18, 2, 1, 3478));
    add_server(&s, "[2001:db8::1]:3478", ep6(1, 3478));
    add_server(&s, "[2001:db8::2]:3478", ep6(2, 3478));
    answered(&s, 0, 12 * MS + 340000, ep4(198, 18, 0, 10, 1024));
    answered(&s, 1, 450000, ep4(198, 18, 0, 10, 1025));
    answered(&s, 2, 2000 * MS, ep6(0x10, 41641));
    s.servers[1].path_mtu = 1280;   /* the netcheck's path MTU phase */
    s.servers[3].error = STUN_PROBE_SEND_FAILED;
    s.udp = s.ipv4 = s.ipv6 = s.ipv4_can_send = s.ipv6_can_send = true;
    s.global_v4 = ep4(198, 18, 0, 10, 1024);
    s.global_v6 = ep6(0x10, 41641);
    s.mapping_varies_by_dest_ip = STUN_YES;
    expect_text(&rep,
                "Report:\n"
                "\t* UDP: true\n"
                "\t* IPv4: yes, 198.18.0.10:1024\n"
                "\t* IPv6: yes, [2001:db8::10]:41641\n"
                "\t* MappingVariesByDestIP: true\n"
                "\t* STUN servers:\n"
                "\t\t- stun.example.net:3478 (198.18.1.1:3478): 12.3ms (mapped 198.18.0.10:1024)\n"
                "\t\t- stun.example.net:3478 (198.18.2.1:3478): 450\xc2\xb5s (mapped 198.18.0.10:1025), path MTU 1280\n"
                "\t\t- [2001:db8::1]:3478: 2s (mapped [2001:db8::10]:41641)\n"
                "\t\t- [2001:db8::2]:3478: send failed\n");
    char *j = vole_netcheck_json_text(&rep);
    assert_non_null(j);
    assert_non_null(strstr(j, "\"MappingVariesByDestIP\": true,"));
    assert_non_null(strstr(j, "\"GlobalV6\": \"[2001:db8::10]:41641\","));
    assert_non_null(strstr(j, "\"latency_ms\": 12.34,"));
    assert_non_null(strstr(j, "\"latency_ms\": 0.45,"));
    assert_non_null(strstr(j, "\"latency_ms\": 2000.0,"));
    assert_non_null(strstr(j, "\"error\": \"send failed\""));
    free(j);
}

static void test_bad_response_text(void **state)
{
    struct stun_report s = {0};
    struct vole_netcheck_report rep = { .stun = &s, .os_has_ipv6 = true };
    char want[256];
    (void)state;

    add_server(&s, "198.18.1.1:3478", ep4(198, 18, 1, 1, 3478));
    s.servers[0].error = STUN_PROBE_BAD_RESPONSE;
    s.servers[0].bad_status = STUN_ERR_NO_ADDRESS;
    snprintf(want, sizeof want, "\t\t- 198.18.1.1:3478: bad response (%s)\n", stun_status_str(STUN_ERR_NO_ADDRESS));
    char *got = text_of(&rep);
    assert_non_null(strstr(got, want));
    free(got);
}

static void test_latency_rounding(void **state)
{
    char buf[VOLE_DURATION_STR_MAX];
    (void)state;

    assert_string_equal(vole_netcheck_latency_str(buf, 1234567), "1.2ms");
    assert_string_equal(vole_netcheck_latency_str(buf, 1250000), "1.3ms");   /* halves away from zero, as Go */
    assert_string_equal(vole_netcheck_latency_str(buf, 999999), "1ms");
    assert_string_equal(vole_netcheck_latency_str(buf, 87654), "88\xc2\xb5s");
    assert_string_equal(vole_netcheck_latency_str(buf, 0), "0s");
    assert_string_equal(vole_netcheck_latency_str(buf, 3000 * MS), "3s");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_easy_nat),
        cmocka_unit_test(test_json_easy_nat),
        cmocka_unit_test(test_udp_blocked),
        cmocka_unit_test(test_text_hard_nat_and_ipv6),
        cmocka_unit_test(test_bad_response_text),
        cmocka_unit_test(test_latency_rounding),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
