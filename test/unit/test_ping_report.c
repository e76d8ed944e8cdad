/* `vole ping NAME` output, byte for byte, from fixed inputs: the pong,
 * timeout and p2p lines, the checklist, every diagnosis alone and all of
 * them in order, the verdict, the summary table, the JSON document, and the
 * AWS ip-ranges file (coder-behaviour.md §1.3-1.8). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "diag/aws_ranges.h"
#include "diag/ping_report.h"

#define MS 1000000LL
#define SEC (1000 * MS)
#define URL "https://vole.test/TROUBLESHOOTING.md"

/* ---- helpers ----------------------------------------------------------------- */

static const char MAP_JSON[] =
    "{\"Regions\":{"
    "\"1\":{\"RegionID\":1,\"RegionCode\":\"fra\",\"RegionName\":\"Frankfurt\",\"Nodes\":["
    "{\"Name\":\"1a\",\"RegionID\":1,\"HostName\":\"derp1.example\",\"STUNPort\":-1}]},"
    "\"999\":{\"RegionID\":999,\"RegionCode\":\"vole\",\"RegionName\":\"vole Embedded Relay\",\"Nodes\":["
    "{\"Name\":\"999b\",\"RegionID\":999,\"HostName\":\"vole.example\",\"STUNPort\":-1},"
    "{\"Name\":\"999stun0\",\"RegionID\":999,\"HostName\":\"vole.example\",\"STUNOnly\":true,\"STUNPort\":3478}]}}}";

/* The same relays with STUN off everywhere (--block-direct-connections). */
static const char MAP_NO_STUN_JSON[] =
    "{\"Regions\":{\"999\":{\"RegionID\":999,\"RegionCode\":\"vole\",\"RegionName\":\"vole Embedded Relay\","
    "\"Nodes\":[{\"Name\":\"999b\",\"RegionID\":999,\"HostName\":\"vole.example\",\"STUNPort\":-1}]}}}";

static struct derp_map MAP, MAP_NO_STUN;

static int load_maps(void **state)
{
    char err[256];
    (void)state;
    if (derp_map_parse(MAP_JSON, strlen(MAP_JSON), &MAP, err, sizeof err) < 0 ||
        derp_map_parse(MAP_NO_STUN_JSON, strlen(MAP_NO_STUN_JSON), &MAP_NO_STUN, err, sizeof err) < 0) {
        fprintf(stderr, "test map: %s\n", err);
        return -1;
    }
    return 0;
}

static int free_maps(void **state)
{
    (void)state;
    derp_map_free(&MAP);
    derp_map_free(&MAP_NO_STUN);
    return 0;
}

struct capture {
    FILE *f;
    char *buf;
    size_t len;
};

static FILE *cap_open(struct capture *c)
{
    c->buf = NULL;
    c->len = 0;
    c->f = open_memstream(&c->buf, &c->len);
    assert_non_null(c->f);
    return c->f;
}

static void cap_expect(struct capture *c, const char *want)
{
    fclose(c->f);
    assert_string_equal(c->buf, want);
    free(c->buf);
}

/* ---- pong, timeout, p2p lines and Go durations ------------------------------- */

static void expect_pong(const struct vole_ping_pong *p, const struct vole_ping_clock *clk, const char *want)
{
    struct capture c;
    vole_ping_print_pong(cap_open(&c), "dev", p, &MAP, clk);
    cap_expect(&c, want);
}

static void test_pong_lines(void **state)
{
    (void)state;
    struct vole_ping_pong v4 = { .latency_ns = 42 * MS, .direct = true, .endpoint = "198.51.100.7:41641" };
    struct vole_ping_pong v6 = { .latency_ns = 7 * MS, .direct = true, .endpoint = "[2001:db8::1]:41641" };
    struct vole_ping_pong derp = { .latency_ns = 42 * MS, .derp_region = 1 };
    struct vole_ping_pong lost = { .latency_ns = 42 * MS, .derp_region = 7 };

    expect_pong(&v4, NULL, "pong from dev p2p via 198.51.100.7:41641 in 42ms\n");
    expect_pong(&v6, NULL, "pong from dev p2p via [2001:db8::1]:41641 in 7ms\n");
    expect_pong(&derp, NULL, "pong from dev proxied via DERP(Frankfurt) in 42ms\n");
    expect_pong(&lost, NULL, "pong from dev proxied via DERP(unknown) in 42ms\n");
}

/* The round trip is rounded to the millisecond (halves up), then written as
 * Go's Duration.String() would. */
static void test_pong_durations(void **state)
{
    static const struct {
        int64_t ns;
        const char *dur;
    } cases[] = {
        { 0, "0s" },
        { 499999, "0s" },
        { 500000, "1ms" },
        { 41500000, "42ms" },
        { 999499999, "999ms" },
        { 999500000, "1s" },
        { 1234567890, "1.235s" },
        { 10 * SEC, "10s" },
        { 62345 * MS, "1m2.345s" },
        { 60 * SEC, "1m0s" },
        { 3600 * SEC, "1h0m0s" },
        { 3723 * SEC + 400 * MS, "1h2m3.4s" },
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct vole_ping_pong p = { .latency_ns = cases[i].ns, .direct = true, .endpoint = "198.51.100.7:1" };
        char want[128];
        snprintf(want, sizeof want, "pong from dev p2p via 198.51.100.7:1 in %s\n", cases[i].dur);
        expect_pong(&p, NULL, want);
    }
}

static void test_round(void **state)
{
    (void)state;
    assert_int_equal(vole_ping_round(1500000, MS), 2 * MS);
    assert_int_equal(vole_ping_round(1499999, MS), 1 * MS);
    assert_int_equal(vole_ping_round(-1500000, MS), -2 * MS);    /* halves away from zero */
    assert_int_equal(vole_ping_round(-1499999, MS), -1 * MS);
    assert_int_equal(vole_ping_round(INT64_MAX, SEC), INT64_MAX); /* saturates, as Go */
    assert_int_equal(vole_ping_round(INT64_MIN, SEC), INT64_MIN);
}

static void test_pong_time_prefix(void **state)
{
    (void)state;
    struct vole_ping_pong p = { .latency_ns = 42 * MS, .derp_region = 999 };
    /* 2025-05-13T10:20:30Z */
    struct vole_ping_clock utc = { .show = true, .unix_s = 1747131630, .utc_offset_s = 0 };
    struct vole_ping_clock cest = { .show = true, .unix_s = 1747131630, .utc_offset_s = 7200 };
    struct vole_ping_clock ist = { .show = true, .unix_s = 1747131630, .utc_offset_s = -(5 * 3600 + 30 * 60) };
    struct vole_ping_clock off = { .show = false, .unix_s = 1747131630 };

    expect_pong(&p, &utc, "[2025-05-13T10:20:30Z] pong from dev proxied via DERP(vole Embedded Relay) in 42ms\n");
    expect_pong(&p, &cest, "[2025-05-13T12:20:30+02:00] pong from dev proxied via DERP(vole Embedded Relay) in 42ms\n");
    expect_pong(&p, &ist, "[2025-05-13T04:50:30-05:30] pong from dev proxied via DERP(vole Embedded Relay) in 42ms\n");
    expect_pong(&p, &off, "pong from dev proxied via DERP(vole Embedded Relay) in 42ms\n");
}

static void test_timeout_and_failed_lines(void **state)
{
    struct capture c;
    (void)state;

    vole_ping_print_timeout(cap_open(&c), "dev");
    cap_expect(&c, "ping to \"dev\" timed out \n");   /* Coder's space before the newline */
    vole_ping_print_timeout(cap_open(&c), "a\"b\\c\n");
    cap_expect(&c, "ping to \"a\\\"b\\\\c\\n\" timed out \n");   /* Go's %q */
    vole_ping_print_failed(cap_open(&c), "dev", "no route to the agent");
    cap_expect(&c, "ping to \"dev\" failed no route to the agent\n");
}

static void test_p2p_established(void **state)
{
    struct capture c;
    (void)state;

    vole_ping_print_p2p_established(cap_open(&c), 3 * SEC + 1500000LL);
    cap_expect(&c, "p2p connection established in 3.002s\n");
    vole_ping_print_p2p_established(cap_open(&c), 400000LL);
    cap_expect(&c, "p2p connection established in 0s\n");
    vole_ping_print_p2p_established(cap_open(&c), 75 * SEC);
    cap_expect(&c, "p2p connection established in 1m15s\n");
}

static void test_verdict(void **state)
{
    struct capture c;
    struct vole_ping_pong pub = { .direct = true, .endpoint = "198.51.100.7:41641" };
    struct vole_ping_pong lan = { .direct = true, .endpoint = "192.168.1.20:41641" };
    struct vole_ping_pong ula = { .direct = true, .endpoint = "[fd00::20]:41641" };
    struct vole_ping_pong cgnat = { .direct = true, .endpoint = "100.64.0.1:41641" };
    struct vole_ping_pong relayed = { .derp_region = 1 };
    (void)state;

    vole_ping_print_verdict(cap_open(&c), &pub, URL);
    cap_expect(&c, "✔ You are connected directly (p2p)\n");
    vole_ping_print_verdict(cap_open(&c), &lan, URL);
    cap_expect(&c, "✔ You are connected directly (p2p), over a private network\n");
    vole_ping_print_verdict(cap_open(&c), &ula, URL);
    cap_expect(&c, "✔ You are connected directly (p2p), over a private network\n");
    vole_ping_print_verdict(cap_open(&c), &cgnat, URL);   /* Go's IsPrivate: not 100.64/10 */
    cap_expect(&c, "✔ You are connected directly (p2p)\n");
    vole_ping_print_verdict(cap_open(&c), &relayed, URL);
    cap_expect(&c, "❗ You are connected via a DERP relay, not directly (p2p)\n"
                   "   " URL "#common-problems-with-direct-connections\n");
    vole_ping_print_verdict(cap_open(&c), NULL, NULL);
    cap_expect(&c, "❗ You are connected via a DERP relay, not directly (p2p)\n"
                   "   " VOLE_TROUBLESHOOTING_URL "#common-problems-with-direct-connections\n");
}

/* ---- the checklist --------------------------------------------------------------- */

static const char *const PEER_EPS[] = { "198.51.100.7:41641", "[2001:db8::7]:41641", "10.0.0.7:41641" };

static struct vole_ping_peer_diag healthy_peer(void)
{
    return (struct vole_ping_peer_diag){
        .preferred_derp = 999, .derp_map = &MAP, .sent_node = true, .received_node = true,
        .peer_preferred_derp = 1, .peer_endpoints = PEER_EPS, .n_peer_endpoints = 3,
        .have_handshake = true, .handshake_age_ns = 12 * SEC + 500 * MS,
    };
}

static void expect_checklist(const struct vole_ping_peer_diag *d, const char *want)
{
    struct capture c;
    vole_ping_print_checklist(cap_open(&c), d);
    cap_expect(&c, want);
}

static void test_checklist_healthy(void **state)
{
    (void)state;
    struct vole_ping_peer_diag d = healthy_peer();
    expect_checklist(&d, "✔ preferred DERP region: 999 (vole Embedded Relay)\n"
                         "✔ sent local data to vole networking coordinator\n"
                         "✔ received remote agent data from vole networking coordinator\n"
                         "    preferred DERP region: 1 (Frankfurt)\n"
                         "    endpoints: 198.51.100.7:41641, [2001:db8::7]:41641, 10.0.0.7:41641\n"
                         "✔ Wireguard handshake 13s ago\n");
}

static void test_checklist_nothing_yet(void **state)
{
    (void)state;
    struct vole_ping_peer_diag d = { .derp_map = &MAP };
    expect_checklist(&d, "✘ not connected to DERP\n"
                         "✘ have not sent local data to vole networking coordinator\n"
                         "✘ have not received remote agent data from vole networking coordinator\n"
                         "✘ Wireguard is not connected\n");
}

/* Unknown regions, no endpoints (the agent blocks them), and the 5-minute
 * edge of the handshake warning (strictly more than 5 minutes warns). */
static void test_checklist_edges(void **state)
{
    (void)state;
    struct vole_ping_peer_diag d = healthy_peer();
    d.preferred_derp = 42;
    d.peer_preferred_derp = 0;
    d.n_peer_endpoints = 0;
    d.handshake_age_ns = 300 * SEC;
    expect_checklist(&d, "✔ preferred DERP region: 42 (unknown)\n"
                         "✔ sent local data to vole networking coordinator\n"
                         "✔ received remote agent data from vole networking coordinator\n"
                         "    preferred DERP region: 0 (unknown)\n"
                         "    endpoints: \n"
                         "✔ Wireguard handshake 5m0s ago\n");
    d.derp_map = NULL;
    d.preferred_derp = 999;
    d.handshake_age_ns = 300 * SEC + 1;
    expect_checklist(&d, "✔ preferred DERP region: 999 (unknown)\n"
                         "✔ sent local data to vole networking coordinator\n"
                         "✔ received remote agent data from vole networking coordinator\n"
                         "    preferred DERP region: 0 (unknown)\n"
                         "    endpoints: \n"
                         "⚠ Wireguard handshake 5m0s ago\n");
    d.handshake_age_ns = 7200 * SEC + 400 * MS;
    d.n_peer_endpoints = 1;
    expect_checklist(&d, "✔ preferred DERP region: 999 (unknown)\n"
                         "✔ sent local data to vole networking coordinator\n"
                         "✔ received remote agent data from vole networking coordinator\n"
                         "    preferred DERP region: 0 (unknown)\n"
                         "    endpoints: 198.51.100.7:41641\n"
                         "⚠ Wireguard handshake 2h0m0s ago\n");
}

/* vole's path MTU line: none without a direct path's figure, a note when
 * full-size packets fit, a warning with the lowered tunnel MTU otherwise. */
static void test_checklist_path_mtu(void **state)
{
    (void)state;
    struct vole_ping_peer_diag d = healthy_peer();
    const char *head = "✔ preferred DERP region: 999 (vole Embedded Relay)\n"
                       "✔ sent local data to vole networking coordinator\n"
                       "✔ received remote agent data from vole networking coordinator\n"
                       "    preferred DERP region: 1 (Frankfurt)\n"
                       "    endpoints: 198.51.100.7:41641, [2001:db8::7]:41641, 10.0.0.7:41641\n"
                       "✔ Wireguard handshake 13s ago\n";
    char want[1024];

    d.path_mtu_wire = 1500;
    d.inner_mtu = 1280;
    d.path_mtu_settled = true;
    snprintf(want, sizeof want, "%s✔ direct path MTU 1500: full-size tunnel packets fit (tunnel MTU 1280)\n", head);
    expect_checklist(&d, want);
    d.path_mtu_wire = 1280;
    d.inner_mtu = 1216;
    snprintf(want, sizeof want, "%s⚠ direct path MTU 1280 (less than 1378): tunnel MTU lowered to 1216 toward the agent\n",
             head);
    expect_checklist(&d, want);
    d.path_mtu_settled = false;
    d.path_mtu_wire = 636;
    d.inner_mtu = 576;
    snprintf(want, sizeof want,
             "%s⚠ direct path MTU 636 (less than 1378): tunnel MTU lowered to 576 toward the agent (still probing)\n", head);
    expect_checklist(&d, want);
    d.path_mtu_wire = 0;
    expect_checklist(&d, head);
}

/* ---- diagnoses ---------------------------------------------------------------------- */

static const struct vole_ping_ifaddr ADDR_PUBLIC[] = { { .family = 4, .addr = { 192, 0, 2, 10 }, .prefix_len = 24 } };
static const struct vole_ping_ifaddr ADDR_LL_ONLY[] = {
    { .family = 4, .addr = { 169, 254, 3, 4 }, .prefix_len = 16 },
    { .family = 6, .addr = { 0xfe, 0x80, [15] = 1 }, .prefix_len = 64 },
};
static const struct vole_ping_ifaddr ADDR_LL_AND_ULA[] = {
    { .family = 6, .addr = { 0xfe, 0x80, [15] = 1 }, .prefix_len = 64 },
    { .family = 6, .addr = { 0xfd, 0x7a, [15] = 2 }, .prefix_len = 48 },
};

static const struct vole_ping_iface CLIENT_IFACES_OK[] = {
    { .name = "lo", .mtu = 65536, .up = true, .addrs = ADDR_PUBLIC, .n_addrs = 1 },
    { .name = "eth0", .mtu = 1500, .up = true, .addrs = ADDR_PUBLIC, .n_addrs = 1 },
    { .name = "exact", .mtu = 1378, .up = true, .addrs = ADDR_PUBLIC, .n_addrs = 1 },
    /* Each low, but skipped: down; no address; only link-local; MTU unknown. */
    { .name = "down0", .mtu = 1280, .up = false, .addrs = ADDR_PUBLIC, .n_addrs = 1 },
    { .name = "bare0", .mtu = 1280, .up = true },
    { .name = "ll0", .mtu = 1280, .up = true, .addrs = ADDR_LL_ONLY, .n_addrs = 2 },
    { .name = "loopback0", .mtu = -1, .up = true, .addrs = ADDR_PUBLIC, .n_addrs = 1 },
};

static const struct vole_ping_iface CLIENT_IFACES_LOW[] = {
    { .name = "eth0", .mtu = 1500, .up = true, .addrs = ADDR_PUBLIC, .n_addrs = 1 },
    { .name = "utun4", .mtu = 1280, .up = true, .addrs = ADDR_LL_AND_ULA, .n_addrs = 2 },
};

static const struct vole_ping_iface AGENT_IFACES_LOW[] = {
    { .name = "wg0", .mtu = 1377, .up = true, .addrs = ADDR_PUBLIC, .n_addrs = 1 },
    { .name = "eth0", .mtu = 1500, .up = true, .addrs = ADDR_PUBLIC, .n_addrs = 1 },
    { .name = "ppp0", .mtu = 1000, .up = true, .addrs = ADDR_PUBLIC, .n_addrs = 1 },
};

static const struct vole_ping_netinfo NI_GOOD = {
    .udp = true, .mapping_varies = VOLE_PING_NO, .global_v4 = "198.51.100.1:41641", .global_v6 = "",
};

/* A client and an agent with nothing to report. */
struct fixture {
    struct vole_ping_netinfo cni, ani;
    struct vole_ping_side client, agent;
    struct vole_ping_diag d;
};

static void clean(struct fixture *x)
{
    memset(x, 0, sizeof *x);
    x->cni = NI_GOOD;
    x->ani = NI_GOOD;
    x->ani.global_v4 = "203.0.113.9:41641";
    x->client = (struct vole_ping_side){
        .have_ifaces = true, .ifaces = CLIENT_IFACES_OK, .n_ifaces = 7, .default_route_iface = "eth0",
        .netinfo = &x->cni, .have_disco_counts = true,
        .disco = { .pings_sent = 5, .pongs_received = 5, .peer_pings_received = 4 },
    };
    x->agent = (struct vole_ping_side){
        .have_ifaces = true, .ifaces = CLIENT_IFACES_OK, .n_ifaces = 2, .default_route_iface = "ens5",
        .netinfo = &x->ani,
    };
    x->d = (struct vole_ping_diag){
        .derp_map = &MAP, .client = &x->client, .agent = &x->agent, .troubleshooting_url = URL,
    };
}

static void expect_issues(const struct vole_ping_diag *d, const char *want)
{
    struct vole_ping_issues x;
    struct capture c;

    assert_int_equal(vole_ping_diagnose(d, &x), 0);
    vole_ping_print_issues(cap_open(&c), &x);
    vole_ping_issues_free(&x);
    cap_expect(&c, want);
}

static void test_issues_clean(void **state)
{
    struct fixture x;
    (void)state;
    clean(&x);
    expect_issues(&x.d, "\n");
    x.d.verbose = true;
    expect_issues(&x.d, "\n");
    /* Nothing known about either side: nothing to say, nothing to crash on. */
    struct vole_ping_diag empty = { 0 };
    expect_issues(&empty, "\n");
}

#define CLIENT_HEAD "Possible client-side issues with direct connection:\n\n"
#define AGENT_HEAD "Possible agent-side issues with direct connections:\n\n"

static void test_issue_client_mtu(void **state)
{
    struct fixture x;
    (void)state;
    clean(&x);
    x.client.ifaces = CLIENT_IFACES_LOW;
    x.client.n_ifaces = 2;
    expect_issues(&x.d, "\n" CLIENT_HEAD
                        " - Network interface utun4 has MTU 1280 (less than 1378), which may degrade the quality of "
                        "direct connections or render them unusable.\n" URL "#low-mtu\n\n");
}

/* Two low interfaces: only the last message carries the link. */
static void test_issue_agent_mtu(void **state)
{
    struct fixture x;
    (void)state;
    clean(&x);
    x.agent.ifaces = AGENT_IFACES_LOW;
    x.agent.n_ifaces = 3;
    expect_issues(&x.d, "\n" AGENT_HEAD
                        " - Network interface wg0 has MTU 1377 (less than 1378), which may degrade the quality of "
                        "direct connections or render them unusable.\n\n"
                        " - Network interface ppp0 has MTU 1000 (less than 1378), which may degrade the quality of "
                        "direct connections or render them unusable.\n" URL "#low-mtu\n\n");
    x.agent.have_ifaces = false;   /* the agent's report failed: no check */
    expect_issues(&x.d, "\n");
}

static void test_iface_filter(void **state)
{
    (void)state;
    assert_true(vole_ping_iface_counts(&CLIENT_IFACES_OK[1]));
    assert_false(vole_ping_iface_mtu_low(&CLIENT_IFACES_OK[2]));   /* 1378 is enough */
    for (size_t i = 3; i < 7; i++)
        assert_false(vole_ping_iface_mtu_low(&CLIENT_IFACES_OK[i]));
    assert_true(vole_ping_iface_mtu_low(&CLIENT_IFACES_LOW[1]));    /* link-local and ULA: counts */
}

static void test_issue_disable_direct(void **state)
{
    struct fixture x;
    (void)state;
    clean(&x);
    x.d.disable_direct = true;
    x.cni.udp = false;   /* would be reported, but the local switch explains it all */
    expect_issues(&x.d, "\n❗ Direct connections are disabled locally, by `--disable-direct-connections` or "
                        "`VOLE_DISABLE_DIRECT_CONNECTIONS`.\n   They may still be established over a private network.\n\n");
}

static void test_issue_server_blocks(void **state)
{
    struct fixture x;
    (void)state;
    clean(&x);
    x.d.server_blocks_direct = true;
    x.d.derp_map = &MAP_NO_STUN;   /* as the server sends it then; stopped before that rule */
    expect_issues(&x.d, "\n❗ Your vole administrator has blocked direct connections\n   " URL "#disabled-deployment-wide\n\n");
}

static void test_issue_no_stun(void **state)
{
    struct fixture x;
    (void)state;
    clean(&x);
    x.d.derp_map = &MAP_NO_STUN;
    x.cni.udp = false;   /* no STUN explains that: not reported */
    expect_issues(&x.d, "\n❗ The DERP map is not configured to use STUN\n   " URL "#no-stun-servers\n\n");
}

static void test_issue_client_udp(void **state)
{
    struct fixture x;
    (void)state;
    clean(&x);
    x.cni.udp = false;
    expect_issues(&x.d, "\n" CLIENT_HEAD " - Client could not connect to STUN over UDP\n   " URL "#udp-blocked\n\n");
    x.client.netinfo = NULL;   /* no netcheck yet: unknown, not blocked */
    expect_issues(&x.d, "\n");
}

static void test_issue_client_hard_nat(void **state)
{
    struct fixture x;
    (void)state;
    clean(&x);
    x.cni.mapping_varies = VOLE_PING_YES;
    /* Two spaces before the link: Coder's, byte for byte. */
    expect_issues(&x.d, "\n" CLIENT_HEAD " - Client is potentially behind a hard NAT, as multiple endpoints were "
                        "retrieved from different STUN servers\n  " URL "#endpoint-dependent-nat-hard-nat\n\n");
    x.cni.mapping_varies = VOLE_PING_UNKNOWN;
    expect_issues(&x.d, "\n");
}

static void test_issue_agent_hard_nat(void **state)
{
    struct fixture x;
    (void)state;
    clean(&x);
    x.ani.mapping_varies = VOLE_PING_YES;
    expect_issues(&x.d, "\n" AGENT_HEAD " - Agent is potentially behind a hard NAT, as multiple endpoints were "
                        "retrieved from different STUN servers\n   " URL "#endpoint-dependent-nat-hard-nat\n\n");
}

static void test_issue_agent_udp(void **state)
{
    struct fixture x;
    (void)state;
    clean(&x);
    x.ani.udp = false;
    expect_issues(&x.d, "\n" AGENT_HEAD " - Agent could not connect to STUN over UDP\n   " URL "#udp-blocked\n\n");
}

static const char AWS_JSON[] =
    "{\"syncToken\":\"1\",\"createDate\":\"2025-05-13-00-00-00\","
    "\"prefixes\":[{\"ip_prefix\":\"3.5.140.0/22\",\"region\":\"ap-northeast-2\",\"service\":\"AMAZON\"},"
    "{\"ip_prefix\":\"198.51.100.0/25\",\"region\":\"test\",\"service\":\"EC2\"},"
    "{\"ip_prefix\":\"52.95.0.255/17\",\"region\":\"host bits set\",\"service\":\"EC2\"}],"
    "\"ipv6_prefixes\":[{\"ipv6_prefix\":\"2600:1f00::/24\",\"region\":\"us-east-1\",\"service\":\"EC2\"},"
    "{\"ipv6_prefix\":\"2001:db8:aa::/48\",\"region\":\"test\",\"service\":\"EC2\"}]}";

static void parse_aws(struct vole_aws_ranges *r)
{
    char err[256] = "";
    int rc = vole_aws_ranges_parse(AWS_JSON, strlen(AWS_JSON), r, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "aws: %s\n", err);
    assert_int_equal(rc, 0);
}

static void test_issue_client_aws(void **state)
{
    struct fixture x;
    struct vole_aws_ranges aws;
    (void)state;
    clean(&x);
    parse_aws(&aws);
    x.d.aws = &aws;
    /* 198.51.100.1:41641 is in 198.51.100.0/25 once the port is stripped. */
    expect_issues(&x.d, "\n" CLIENT_HEAD " - Client IP address is within an AWS range (AWS uses hard NAT)\n   " URL
                        "#endpoint-dependent-nat-hard-nat\n\n");
    x.cni.global_v4 = "198.51.100.200:41641";
    expect_issues(&x.d, "\n");
    vole_aws_ranges_free(&aws);
}

static void test_issue_agent_aws(void **state)
{
    struct fixture x;
    struct vole_aws_ranges aws;
    (void)state;
    clean(&x);
    parse_aws(&aws);
    x.d.aws = &aws;
    x.cni.global_v4 = "";
    x.ani.global_v4 = "";
    x.ani.global_v6 = "[2001:db8:aa::9]:41641";
    expect_issues(&x.d, "\n" AGENT_HEAD " - Agent IP address is within an AWS range (AWS uses hard NAT)\n   " URL
                        "#endpoint-dependent-nat-hard-nat\n\n");
    vole_aws_ranges_free(&aws);
}

static void test_issue_vpn(void **state)
{
    struct fixture x;
    (void)state;
    clean(&x);
    x.client.default_route_iface = "utun4";
    expect_issues(&x.d, "\n" CLIENT_HEAD " - Client default route goes through utun4, which looks like a VPN; the "
                        "VPN may block or reroute direct connections\n   " URL "#vpn-default-route\n\n");
    x.client.default_route_iface = "eth0";
    x.agent.default_route_iface = "wg0";
    expect_issues(&x.d, "\n" AGENT_HEAD " - Agent default route goes through wg0, which looks like a VPN; the "
                        "VPN may block or reroute direct connections\n   " URL "#vpn-default-route\n\n");
    assert_true(vole_ping_is_vpn_iface("tun0"));
    assert_true(vole_ping_is_vpn_iface("ppp1"));
    assert_false(vole_ping_is_vpn_iface("eth0"));
    assert_false(vole_ping_is_vpn_iface("en0"));
    assert_false(vole_ping_is_vpn_iface(""));
    assert_false(vole_ping_is_vpn_iface(NULL));
}

#define AGENT_FW " - Agent firewall may be blocking incoming UDP, as the client's pings to the agent's endpoints " \
                 "go unanswered while the agent's pings reach the client\n   " URL "#endpoint-firewall\n\n"
#define CLIENT_FW " - Client firewall may be blocking incoming UDP, as the agent's pings to the client's endpoints " \
                  "go unanswered while the client's pings reach the agent\n   " URL "#endpoint-firewall\n\n"

static void test_issue_firewall(void **state)
{
    struct fixture x;
    (void)state;
    clean(&x);
    /* Ours unanswered, theirs arrive: the agent drops what comes in. */
    x.client.disco = (struct vole_ping_disco_counts){ .pings_sent = 3, .pongs_received = 0, .peer_pings_received = 2 };
    expect_issues(&x.d, "\n" AGENT_HEAD AGENT_FW);
    /* The reverse: ours answered, theirs never arrive. */
    x.client.disco = (struct vole_ping_disco_counts){ .pings_sent = 4, .pongs_received = 4, .peer_pings_received = 0 };
    expect_issues(&x.d, "\n" CLIENT_HEAD CLIENT_FW);
    /* Too few pings to judge; or nothing in either direction (UDP blocked both ways, not a firewall). */
    x.client.disco = (struct vole_ping_disco_counts){ .pings_sent = 2, .pongs_received = 0, .peer_pings_received = 2 };
    expect_issues(&x.d, "\n");
    x.client.disco = (struct vole_ping_disco_counts){ .pings_sent = 9, .pongs_received = 0, .peer_pings_received = 0 };
    expect_issues(&x.d, "\n");
    /* The agent's counts say the same about the client, once only. */
    x.client.disco = (struct vole_ping_disco_counts){ .pings_sent = 4, .pongs_received = 4, .peer_pings_received = 0 };
    x.agent.have_disco_counts = true;
    x.agent.disco = (struct vole_ping_disco_counts){ .pings_sent = 4, .pongs_received = 0, .peer_pings_received = 4 };
    expect_issues(&x.d, "\n" CLIENT_HEAD CLIENT_FW);
}

/* Direct already: only the MTU warnings, unless -v. */
static void test_issues_p2p_stops_early(void **state)
{
    struct fixture x;
    (void)state;
    clean(&x);
    x.d.ping_p2p = true;
    x.client.ifaces = CLIENT_IFACES_LOW;
    x.client.n_ifaces = 2;
    x.cni.mapping_varies = VOLE_PING_YES;
    x.d.disable_direct = true;
    const char *mtu = CLIENT_HEAD " - Network interface utun4 has MTU 1280 (less than 1378), which may degrade the "
                                  "quality of direct connections or render them unusable.\n" URL "#low-mtu\n\n";
    char want[2048];
    snprintf(want, sizeof want, "\n%s", mtu);
    expect_issues(&x.d, want);
    x.d.verbose = true;
    snprintf(want, sizeof want,
             "\n❗ Direct connections are disabled locally, by `--disable-direct-connections` or "
             "`VOLE_DISABLE_DIRECT_CONNECTIONS`.\n   They may still be established over a private network.\n\n"
             "%s - Client is potentially behind a hard NAT, as multiple endpoints were retrieved from different STUN "
             "servers\n  " URL "#endpoint-dependent-nat-hard-nat\n\n", mtu);
    expect_issues(&x.d, want);
}

/* Everything at once, -v: Coder's order, then vole's checks. */
static void test_issues_all_in_order(void **state)
{
    struct fixture x;
    struct vole_aws_ranges aws;
    (void)state;
    clean(&x);
    parse_aws(&aws);
    x.d.aws = &aws;
    x.d.verbose = true;
    x.d.disable_direct = true;
    x.d.server_blocks_direct = true;
    x.client.ifaces = CLIENT_IFACES_LOW;
    x.client.n_ifaces = 2;
    x.agent.ifaces = AGENT_IFACES_LOW;
    x.agent.n_ifaces = 1;
    x.cni.udp = false;
    x.cni.mapping_varies = VOLE_PING_YES;
    x.ani.udp = false;
    x.ani.mapping_varies = VOLE_PING_YES;
    x.ani.global_v4 = "3.5.141.7:41641";
    x.client.default_route_iface = "tun0";
    x.agent.default_route_iface = "wg1";
    x.client.disco = (struct vole_ping_disco_counts){ .pings_sent = 3, .pongs_received = 0, .peer_pings_received = 1 };
    x.agent.have_disco_counts = true;
    x.agent.disco = (struct vole_ping_disco_counts){ .pings_sent = 3, .pongs_received = 0, .peer_pings_received = 1 };
    expect_issues(&x.d,
        "\n"
        "❗ Direct connections are disabled locally, by `--disable-direct-connections` or "
        "`VOLE_DISABLE_DIRECT_CONNECTIONS`.\n   They may still be established over a private network.\n"
        "❗ Your vole administrator has blocked direct connections\n   " URL "#disabled-deployment-wide\n"
        "\n"
        CLIENT_HEAD
        " - Network interface utun4 has MTU 1280 (less than 1378), which may degrade the quality of direct "
        "connections or render them unusable.\n" URL "#low-mtu\n\n"
        " - Client could not connect to STUN over UDP\n   " URL "#udp-blocked\n\n"
        " - Client is potentially behind a hard NAT, as multiple endpoints were retrieved from different STUN "
        "servers\n  " URL "#endpoint-dependent-nat-hard-nat\n\n"
        " - Client IP address is within an AWS range (AWS uses hard NAT)\n   " URL "#endpoint-dependent-nat-hard-nat\n\n"
        " - Client default route goes through tun0, which looks like a VPN; the VPN may block or reroute direct "
        "connections\n   " URL "#vpn-default-route\n\n"
        CLIENT_FW
        AGENT_HEAD
        " - Network interface wg0 has MTU 1377 (less than 1378), which may degrade the quality of direct "
        "connections or render them unusable.\n" URL "#low-mtu\n\n"
        " - Agent is potentially behind a hard NAT, as multiple endpoints were retrieved from different STUN "
        "servers\n   " URL "#endpoint-dependent-nat-hard-nat\n\n"
        " - Agent could not connect to STUN over UDP\n   " URL "#udp-blocked\n\n"
        " - Agent IP address is within an AWS range (AWS uses hard NAT)\n   " URL "#endpoint-dependent-nat-hard-nat\n\n"
        " - Agent default route goes through wg1, which looks like a VPN; the VPN may block or reroute direct "
        "connections\n   " URL "#vpn-default-route\n\n"
        AGENT_FW);
    vole_aws_ranges_free(&aws);
}

/* ---- summary ------------------------------------------------------------------------ */

static void test_summary_welford_quirk(void **state)
{
    struct vole_ping_summary s;
    struct capture c;
    int64_t v;
    (void)state;

    vole_ping_summary_init(&s, "dev");
    vole_ping_summary_add(&s, true, 100 * MS);
    vole_ping_summary_add(&s, true, 200 * MS);
    vole_ping_summary_add(&s, false, 0);
    vole_ping_summary_add(&s, true, 300 * MS);
    /* Coder's test: 0.1/0.2/0.3 s give a "variance" of 9.999999ms (s², shown as s). */
    assert_true(vole_ping_summary_variance(&s, &v));
    assert_int_equal(v, 9999999);
    vole_ping_print_summary(cap_open(&c), &s);
    cap_expect(&c, "---------------------------------------------------------------\n"
                   "WORKSPACE  TOTAL  SUCCESSFUL  MIN    AVG    MAX    VARIANCE    \n"
                   "dev        4      3           100ms  200ms  300ms  9.999999ms  \n");
}

/* Unrounded durations; µs counts as one column; nothing to average. */
static void test_summary_edges(void **state)
{
    struct vole_ping_summary s;
    struct capture c;
    int64_t v;
    (void)state;

    vole_ping_summary_init(&s, "a-much-longer-name");
    vole_ping_summary_add(&s, false, 0);
    assert_false(vole_ping_summary_avg(&s, &v));
    vole_ping_print_summary(cap_open(&c), &s);
    cap_expect(&c, "----------------------------------------------------------------------\n"
                   "WORKSPACE           TOTAL  SUCCESSFUL  MIN    AVG    MAX    VARIANCE  \n"
                   "a-much-longer-name  1      0           <nil>  <nil>  <nil>  <nil>     \n");

    vole_ping_summary_init(&s, "dev");
    vole_ping_summary_add(&s, true, 41234567);
    vole_ping_print_summary(cap_open(&c), &s);
    cap_expect(&c, "-------------------------------------------------------------------------------\n"
                   "WORKSPACE  TOTAL  SUCCESSFUL  MIN          AVG          MAX          VARIANCE  \n"
                   "dev        1      1           41.234567ms  41.234567ms  41.234567ms  <nil>     \n");
    vole_ping_summary_add(&s, true, 41235567);
    assert_true(vole_ping_summary_variance(&s, &v));
    vole_ping_print_summary(cap_open(&c), &s);
    cap_expect(&c, "-------------------------------------------------------------------------------\n"
                   "WORKSPACE  TOTAL  SUCCESSFUL  MIN          AVG          MAX          VARIANCE  \n"
                   "dev        2      2           41.234567ms  41.235067ms  41.235567ms  0s        \n");
    vole_ping_summary_init(&s, "dev");
    vole_ping_summary_add(&s, true, 999);
    vole_ping_summary_add(&s, true, 1500);
    vole_ping_print_summary(cap_open(&c), &s);
    cap_expect(&c, "---------------------------------------------------------------\n"
                   "WORKSPACE  TOTAL  SUCCESSFUL  MIN    AVG      MAX    VARIANCE  \n"
                   "dev        2      2           999ns  1.249µs  1.5µs  0s        \n");
}

/* ---- JSON ---------------------------------------------------------------------------- */

static void test_json_document(void **state)
{
    struct vole_ping_summary s;
    (void)state;
    const struct vole_ping_json_pong pongs[] = {
        { .sequence = 1, .unix_ns = 1747131630123456789LL,
          .pong = { .latency_ns = 41234567, .direct = false, .derp_region = 1 } },
        { .sequence = 2, .unix_ns = 1747131631000000000LL, .error = "timed out" },
        { .sequence = 3, .unix_ns = 1747131632500000000LL,
          .pong = { .latency_ns = 7 * MS, .direct = true, .endpoint = "198.51.100.7:41641" } },
    };
    vole_ping_summary_init(&s, "dev");
    vole_ping_summary_add(&s, true, 41234567);
    vole_ping_summary_add(&s, false, 0);
    vole_ping_summary_add(&s, true, 7 * MS);
    char *got = vole_ping_json("dev", pongs, 3, &s, &MAP);
    assert_non_null(got);
    assert_string_equal(got,
        "{\n"
        "  \"workspace\": \"dev\",\n"
        "  \"pongs\": [\n"
        "    {\n"
        "      \"sequence\": 1,\n"
        "      \"time\": \"2025-05-13T10:20:30.123456789Z\",\n"
        "      \"latency_ms\": 41.234567,\n"
        "      \"direct\": false,\n"
        "      \"derp_region\": \"Frankfurt\"\n"
        "    },\n"
        "    {\n"
        "      \"sequence\": 2,\n"
        "      \"time\": \"2025-05-13T10:20:31Z\",\n"
        "      \"error\": \"timed out\"\n"
        "    },\n"
        "    {\n"
        "      \"sequence\": 3,\n"
        "      \"time\": \"2025-05-13T10:20:32.5Z\",\n"
        "      \"latency_ms\": 7,\n"
        "      \"direct\": true\n"
        "    }\n"
        "  ],\n"
        "  \"summary\": {\n"
        "    \"total\": 3,\n"
        "    \"successful\": 2,\n"
        "    \"min_ms\": 7,\n"
        "    \"avg_ms\": 24.117283,\n"
        "    \"max_ms\": 41.234567,\n"
        "    \"variance_ms\": 0.586002\n"
        "  }\n"
        "}\n");
    free(got);
}

/* No pings at all, and a name that Go's encoder escapes. */
static void test_json_empty_and_escaping(void **state)
{
    struct vole_ping_summary s;
    (void)state;
    vole_ping_summary_init(&s, "x");
    char *got = vole_ping_json("a\"<b>&\\\n\x01\xe2\x80\xa8\xff", NULL, 0, &s, &MAP);
    assert_non_null(got);
    assert_string_equal(got,
        "{\n"
        "  \"workspace\": \"a\\\"\\u003cb\\u003e\\u0026\\\\\\n\\u0001\\u2028\\ufffd\",\n"
        "  \"pongs\": [],\n"
        "  \"summary\": {\n"
        "    \"total\": 0,\n"
        "    \"successful\": 0\n"
        "  }\n"
        "}\n");
    free(got);
}

/* ---- the AWS ranges file ---------------------------------------------------------- */

static void test_aws_matching(void **state)
{
    struct vole_aws_ranges r;
    (void)state;
    parse_aws(&r);
    assert_int_equal(r.n_prefixes, 5);
    assert_true(vole_aws_ranges_contains(&r, "3.5.140.1"));
    assert_true(vole_aws_ranges_contains(&r, "3.5.143.255:41641"));      /* port stripped */
    assert_false(vole_aws_ranges_contains(&r, "3.5.144.0:41641"));
    assert_true(vole_aws_ranges_contains(&r, "52.95.127.1"));            /* host bits cleared */
    assert_false(vole_aws_ranges_contains(&r, "52.95.128.1"));
    assert_true(vole_aws_ranges_contains(&r, "2600:1f18::1"));           /* bare IPv6 */
    assert_true(vole_aws_ranges_contains(&r, "[2600:1f18::1]:41641"));
    assert_false(vole_aws_ranges_contains(&r, "[2600:2000::1]:41641"));
    assert_false(vole_aws_ranges_contains(&r, "not an address"));
    assert_false(vole_aws_ranges_contains(&r, "[2600:1f18::1"));
    assert_false(vole_aws_ranges_contains(&r, ""));
    assert_false(vole_aws_ranges_contains(NULL, "3.5.140.1"));
    vole_aws_ranges_free(&r);

    /* Private, loopback and link-local addresses never match (Coder's CheckIP). */
    static const char PRIVATE_JSON[] =
        "{\"prefixes\":[{\"ip_prefix\":\"0.0.0.0/0\"}],\"ipv6_prefixes\":[{\"ipv6_prefix\":\"::/0\"}]}";
    assert_int_equal(vole_aws_ranges_parse(PRIVATE_JSON, strlen(PRIVATE_JSON), &r, NULL, 0), 0);
    assert_true(vole_aws_ranges_contains(&r, "8.8.8.8:53"));
    assert_false(vole_aws_ranges_contains(&r, "10.1.2.3:41641"));
    assert_false(vole_aws_ranges_contains(&r, "172.31.0.1"));
    assert_false(vole_aws_ranges_contains(&r, "192.168.0.1"));
    assert_false(vole_aws_ranges_contains(&r, "127.0.0.1"));
    assert_false(vole_aws_ranges_contains(&r, "169.254.169.254"));
    assert_false(vole_aws_ranges_contains(&r, "[fe80::1]:1"));
    assert_false(vole_aws_ranges_contains(&r, "[fd7a:115c:a1e0::1]:1"));
    assert_false(vole_aws_ranges_contains(&r, "::1"));
    vole_aws_ranges_free(&r);
}

static void expect_aws_error(const char *json, const char *want)
{
    struct vole_aws_ranges r;
    char err[256] = "";
    assert_int_equal(vole_aws_ranges_parse(json, strlen(json), &r, err, sizeof err), -1);
    assert_string_equal(err, want);
    assert_null(r.prefixes);
    assert_int_equal(r.n_prefixes, 0);
    vole_aws_ranges_free(&r);
}

static void test_aws_bad_input(void **state)
{
    (void)state;
    expect_aws_error("", "not JSON: '[' or '{' expected near end of file (line 1, column 0)");
    expect_aws_error("[]", "not a JSON object");
    expect_aws_error("{\"ipv6_prefixes\":[]}", "prefixes: missing, or not a list");
    expect_aws_error("{\"prefixes\":[]}", "ipv6_prefixes: missing, or not a list");
    expect_aws_error("{\"prefixes\":[{\"ip_prefix\":\"1.2.3.0/24\"},{\"ip_prefix\":7}],\"ipv6_prefixes\":[]}",
                     "prefixes[1].ip_prefix: missing, or not a string");
    expect_aws_error("{\"prefixes\":[{\"ip_prefix\":\"3.5.140.0/33\"}],\"ipv6_prefixes\":[]}",
                     "prefixes[0].ip_prefix: \"3.5.140.0/33\" is not an IPv4 prefix");
    expect_aws_error("{\"prefixes\":[{\"ip_prefix\":\"2600::/24\"}],\"ipv6_prefixes\":[]}",
                     "prefixes[0].ip_prefix: \"2600::/24\" is not an IPv4 prefix");
    expect_aws_error("{\"prefixes\":[],\"ipv6_prefixes\":[{\"ipv6_prefix\":\"2600::\"}]}",
                     "ipv6_prefixes[0].ipv6_prefix: \"2600::\" is not an IPv6 prefix");
    expect_aws_error("{\"prefixes\":[{\"ip_prefix\":\"1.2.3.0/-1\"}],\"ipv6_prefixes\":[]}",
                     "prefixes[0].ip_prefix: \"1.2.3.0/-1\" is not an IPv4 prefix");
}

static void test_aws_file(void **state)
{
    struct vole_aws_ranges r;
    char path[] = "/tmp/vole-aws-XXXXXX", err[512] = "", want[600];
    int fd;
    (void)state;

    assert_int_equal(vole_aws_ranges_load("/nonexistent/ip-ranges.json", &r, err, sizeof err), -1);
    assert_string_equal(err, "/nonexistent/ip-ranges.json: No such file or directory");

    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, AWS_JSON, strlen(AWS_JSON)), (ssize_t)strlen(AWS_JSON));
    close(fd);
    assert_int_equal(vole_aws_ranges_load(path, &r, err, sizeof err), 0);
    assert_int_equal(r.n_prefixes, 5);
    vole_aws_ranges_free(&r);

    fd = open(path, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "<html>", 6), 6);
    close(fd);
    assert_int_equal(vole_aws_ranges_load(path, &r, err, sizeof err), -1);
    snprintf(want, sizeof want, "%s: not JSON: '[' or '{' expected near '<' (line 1, column 1)", path);
    assert_string_equal(err, want);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pong_lines),
        cmocka_unit_test(test_pong_durations),
        cmocka_unit_test(test_round),
        cmocka_unit_test(test_pong_time_prefix),
        cmocka_unit_test(test_timeout_and_failed_lines),
        cmocka_unit_test(test_p2p_established),
        cmocka_unit_test(test_verdict),
        cmocka_unit_test(test_checklist_healthy),
        cmocka_unit_test(test_checklist_nothing_yet),
        cmocka_unit_test(test_checklist_edges),
        cmocka_unit_test(test_checklist_path_mtu),
        cmocka_unit_test(test_issues_clean),
        cmocka_unit_test(test_issue_client_mtu),
        cmocka_unit_test(test_issue_agent_mtu),
        cmocka_unit_test(test_iface_filter),
        cmocka_unit_test(test_issue_disable_direct),
        cmocka_unit_test(test_issue_server_blocks),
        cmocka_unit_test(test_issue_no_stun),
        cmocka_unit_test(test_issue_client_udp),
        cmocka_unit_test(test_issue_client_hard_nat),
        cmocka_unit_test(test_issue_agent_hard_nat),
        cmocka_unit_test(test_issue_agent_udp),
        cmocka_unit_test(test_issue_client_aws),
        cmocka_unit_test(test_issue_agent_aws),
        cmocka_unit_test(test_issue_vpn),
        cmocka_unit_test(test_issue_firewall),
        cmocka_unit_test(test_issues_p2p_stops_early),
        cmocka_unit_test(test_issues_all_in_order),
        cmocka_unit_test(test_summary_welford_quirk),
        cmocka_unit_test(test_summary_edges),
        cmocka_unit_test(test_json_document),
        cmocka_unit_test(test_json_empty_and_escaping),
        cmocka_unit_test(test_aws_matching),
        cmocka_unit_test(test_aws_bad_input),
        cmocka_unit_test(test_aws_file),
    };
    return cmocka_run_group_tests(tests, load_maps, free_maps);
}
