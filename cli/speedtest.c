/* vole speedtest NAME [-t 5s] [--direction down|up] [-d] [--pcap-file F]
 * [-o table|json]: a tailnet client that runs Tailscale's speedtest (v2)
 * against agent NAME's overlay port 3 and prints it as Coder does
 * (coder-behaviour.md §2). Diagnostics go to stderr, the table or the JSON
 * to stdout. */
#include <arpa/inet.h>
#include <ev.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "coord/tokens.h"
#include "diag/duration.h"
#include "diag/speedtest_format.h"
#include "stack/pcap_tap.h"
#include "stack/ping.h"
#include "diag/ping_report.h"
#include "tailnet/diag.h"
#include "tailnet/node.h"
#include "tailnet/speedtest.h"

/* How long to wait for the agent's node, and with -d for a direct path. */
#define AGENT_WAIT_S  30.0
#define DIRECT_WAIT_S 30.0

static const char USAGE[] =
    "usage: vole speedtest NAME [-t DURATION] [--direction down|up] [-d] [--pcap-file FILE]\n"
    "                      [-o table|json] [--url URL] [--token TOKEN] [-v] [--insecure] [--ca-file FILE]\n"
    "\n"
    "Measures TCP throughput to agent NAME through the tailnet (Tailscale's speedtest\n"
    "protocol on the agent's overlay port 3), one row per interval of about 1 s.\n"
    "\n"
    "  -t, --time D       test duration, a Go duration up to 30s (default 5s)\n"
    "  --direction DIR    down: the agent sends (default); up: this machine sends\n"
    "  -d, --direct       wait (up to 30s) for a direct UDP path first; fail without one\n"
    "  --disable-direct-connections  DERP only (VOLE_DISABLE_DIRECT_CONNECTIONS)\n"
    "  --pcap-file FILE   write the tunnel's inner IP packets during the test (pcap, raw IP)\n"
    "  -o, --output FMT   table (default) or json\n"
    "  --url URL          the server, http:// or https:// (default: $VOLE_URL)\n"
    "  --token TOKEN      a client token allowed to reach NAME (default: $VOLE_TOKEN)\n"
    "  --insecure         do not verify the server's TLS certificate (tests only)\n"
    "  --ca-file FILE     trust these CA certificates instead of the system's\n"
    "  -v, --verbose      also log tailnet events\n";

struct speedtest {
    struct vole_tailnet_config cfg;
    const char *agent;
    int64_t duration_ns;
    int direction;
    bool direct;
    bool json;
    const char *pcap_path;

    struct ev_loop *loop;
    struct vole_tailnet *t;
    struct vole_pcap_tap *tap;
    struct vole_pinger *pinger;   /* -d: traffic that starts disco, and the latency */
    uint16_t ping_seq;
    uint64_t ping_rtt_ns;         /* the last reply's; 0 before one */
    ev_timer tick;                /* once a second until the test starts */
    double waited;                /* seconds */
    struct vole_speedtest_client *client;
    bool started, done, printed_header;
    int rc;
};

static int parse_direction(const char *v, int *out)
{
    if (strcmp(v, "down") == 0)
        *out = VOLE_SPEEDTEST_DOWNLOAD;
    else if (strcmp(v, "up") == 0)
        *out = VOLE_SPEEDTEST_UPLOAD;
    else
        return -1;
    return 0;
}

static int check_args(struct speedtest *st)
{
    if (!st->cfg.url)
        st->cfg.url = getenv("VOLE_URL");
    if (!st->cfg.token)
        st->cfg.token = getenv("VOLE_TOKEN");
    if (st->direct && st->cfg.disable_direct) {
        fprintf(stderr, "vole speedtest: --direct (-d) is incompatible with --disable-direct-connections\n");
        return -1;
    }
    if (!st->agent) {
        fprintf(stderr, "vole speedtest: the agent NAME is required\n%s", USAGE);
        return -1;
    }
    if (!coord_agent_name_valid(st->agent)) {
        fprintf(stderr, "vole speedtest: agent name \"%s\": use 1-63 of a-z, 0-9 and '-', not at either end\n",
                st->agent);
        return -1;
    }
    if (!st->cfg.url || !*st->cfg.url) {
        fprintf(stderr, "vole speedtest: --url URL (or VOLE_URL) is required\n");
        return -1;
    }
    if (!st->cfg.token || !*st->cfg.token) {
        fprintf(stderr, "vole speedtest: --token TOKEN (or VOLE_TOKEN) is required\n");
        return -1;
    }
    return 0;
}

static int bad_value(const char *flag, const char *v, const char *want)
{
    fprintf(stderr, "vole speedtest: %s \"%s\": %s\n", flag, v, want);
    return -1;
}

/* 0 ok, 1 help printed, -1 error printed */
static int parse_args(int argc, char **argv, struct speedtest *st)
{
    enum { O_URL = 256, O_TOKEN, O_DIRECTION, O_PCAP, O_INSECURE, O_CA, O_NODIRECT };
    static const struct option opts[] = {
        { "time", required_argument, NULL, 't' },         { "direction", required_argument, NULL, O_DIRECTION },
        { "direct", no_argument, NULL, 'd' },             { "pcap-file", required_argument, NULL, O_PCAP },
        { "output", required_argument, NULL, 'o' },       { "url", required_argument, NULL, O_URL },
        { "token", required_argument, NULL, O_TOKEN },    { "insecure", no_argument, NULL, O_INSECURE },
        { "ca-file", required_argument, NULL, O_CA },     { "verbose", no_argument, NULL, 'v' },
        { "disable-direct-connections", no_argument, NULL, O_NODIRECT },
        { "help", no_argument, NULL, 'h' },               { NULL, 0, NULL, 0 },
    };
    int c;

    if (cli_env_bool("speedtest", "VOLE_DISABLE_DIRECT_CONNECTIONS", &st->cfg.disable_direct) < 0)
        return -1;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":t:do:vh", opts, NULL)) != -1) {
        switch (c) {
        case 't':
            if (vole_duration_parse(optarg, &st->duration_ns) < 0 || st->duration_ns <= 0 ||
                st->duration_ns > VOLE_SPEEDTEST_MAX_NS)
                return bad_value("--time", optarg, "want a duration above 0 and at most 30s (e.g. 5s, 1500ms)");
            break;
        case O_DIRECTION:
            if (parse_direction(optarg, &st->direction) < 0)
                return bad_value("--direction", optarg, "want down or up");
            break;
        case 'd': st->direct = true; break;
        case O_NODIRECT: st->cfg.disable_direct = true; break;
        case O_PCAP: st->pcap_path = optarg; break;
        case 'o':
            if (strcmp(optarg, "json") != 0 && strcmp(optarg, "table") != 0)
                return bad_value("--output", optarg, "want table or json");
            st->json = strcmp(optarg, "json") == 0;
            break;
        case O_URL: st->cfg.url = optarg; break;
        case O_TOKEN: st->cfg.token = optarg; break;
        case O_INSECURE: st->cfg.insecure = true; break;
        case O_CA: st->cfg.ca_file = optarg; break;
        case 'v': st->cfg.verbose = true; break;
        case 'h': fputs(USAGE, stdout); return 1;
        case ':': fprintf(stderr, "vole speedtest: flag %s needs a value\n", argv[optind - 1]); return -1;
        default: fprintf(stderr, "vole speedtest: unknown flag %s\n%s", argv[optind - 1], USAGE); return -1;
        }
    }
    if (optind < argc)
        st->agent = argv[optind++];
    if (optind < argc) {
        fprintf(stderr, "vole speedtest: unexpected argument \"%s\"\n", argv[optind]);
        return -1;
    }
    return check_args(st);
}

/* ---- the end -------------------------------------------------------------------- */

static void finish(struct speedtest *st, int rc, const char *why)
{
    if (st->done)
        return;
    st->done = true;
    st->rc = rc;
    if (why)
        fprintf(stderr, "vole speedtest: error: %s\n", why);
    ev_break(st->loop, EVBREAK_ALL);
}

/* "DERP(Frankfurt)" (the region's name, as `coder speedtest` and the pong
 * lines say it; "unknown" for a region not in the map) or "198.18.0.5:41641"
 * or "[2001:db8::1]:41641". */
static const char *path_text(char *buf, size_t len, const struct vole_tailnet_path *p, const struct derp_map *m)
{
    char ip[INET6_ADDRSTRLEN];

    if (p->kind == VOLE_PATH_DIRECT) {
        inet_ntop(p->direct.family == 6 ? AF_INET6 : AF_INET, p->direct.addr, ip, sizeof ip);
        snprintf(buf, len, p->direct.family == 6 ? "[%s]:%u" : "%s:%u", ip, p->direct.port);
    } else if (p->kind == VOLE_PATH_DERP) {
        snprintf(buf, len, "DERP(%s)", vole_ping_region_name(m, p->derp_region));
    } else {
        snprintf(buf, len, "an unknown path");
    }
    return buf;
}

static uint64_t round_ms(uint64_t ns)
{
    return (ns + 500000) / 1000000;
}

/* ---- the test ------------------------------------------------------------------- */

static void on_started(void *ctx, uint64_t rtt_ns)
{
    struct speedtest *st = ctx;
    struct vole_tailnet_path p;
    char path[96], line[VOLE_SPEEDTEST_LINE_STR_MAX];

    vole_tailnet_peer_path(st->t, st->agent, &p);
    fprintf(stderr, "%" PRIu64 "ms via %s\n", round_ms(rtt_ns), path_text(path, sizeof path, &p, vole_tailnet_derp_map(st->t)));
    fprintf(stderr, "%s\n", vole_speedtest_starting_line(line, st->duration_ns, st->direction));
}

static void on_result(void *ctx, const struct vole_speedtest_result *r)
{
    struct speedtest *st = ctx;
    char line[VOLE_SPEEDTEST_LINE_STR_MAX];
    size_t n;
    const struct vole_speedtest_result *all = vole_speedtest_client_results(st->client, &n);

    if (st->json)
        return;
    if (!st->printed_header) {
        printf("%s\n", vole_speedtest_table_header(line));
        st->printed_header = true;
    }
    if (r->total)
        printf("%s\n", vole_speedtest_table_separator(line));
    /* The first result is being handed out: it is its own base. */
    printf("%s\n", vole_speedtest_table_row(line, r, n ? all[0].start_ns : r->start_ns));
    fflush(stdout);
}

static void close_pcap(struct speedtest *st)
{
    char err[256];

    if (!st->tap)
        return;
    if (st->cfg.verbose)
        fprintf(stderr, "vole speedtest: %" PRIu64 " packets written to %s\n", vole_pcap_tap_count(st->tap),
                st->pcap_path);
    if (vole_pcap_tap_close(st->tap, err, sizeof err) < 0)
        fprintf(stderr, "vole speedtest: --pcap-file %s: %s\n", st->pcap_path, err);
    st->tap = NULL;
}

static void on_done(void *ctx, const char *err)
{
    struct speedtest *st = ctx;
    size_t n;
    const struct vole_speedtest_result *r = vole_speedtest_client_results(st->client, &n);

    close_pcap(st);
    if (err) {
        finish(st, 1, err);
        return;
    }
    if (st->json) {
        char *j = vole_speedtest_json(r, n);
        if (!j) {
            finish(st, 1, "out of memory");
            return;
        }
        fputs(j, stdout);
        free(j);
    }
    finish(st, 0, NULL);
}

static void start_test(struct speedtest *st, const ip_addr_t *dst)
{
    struct vole_speedtest_client_ops ops = { st, on_started, on_result, on_done };
    struct vole_stack *s = vole_tailnet_stack(st->t);
    char err[256], why[320];

    ev_timer_stop(st->loop, &st->tick);
    vole_pinger_free(st->pinger);
    st->pinger = NULL;
    st->started = true;
    if (st->tap)
        vole_pcap_tap_attach(st->tap, s);
    st->client = vole_speedtest_client_new(st->loop, s, dst, VOLE_SPEEDTEST_PORT, st->direction, st->duration_ns,
                                           &ops, err, sizeof err);
    if (!st->client) {
        snprintf(why, sizeof why, "speedtest: %s", err);
        finish(st, 1, why);
    }
}

static void on_ping_reply(void *ctx, uint16_t seq, size_t payload_len, uint64_t rtt_ns)
{
    struct speedtest *st = ctx;
    (void)seq;
    (void)payload_len;
    st->ping_rtt_ns = rtt_ns;
}

/* -d: is the path direct yet? Pings keep traffic (and so disco) going. */
static void check_direct(struct speedtest *st, const ip_addr_t *dst)
{
    struct vole_tailnet_path p;
    char path[96], why[256];

    vole_tailnet_peer_path(st->t, st->agent, &p);
    if (p.kind == VOLE_PATH_DIRECT) {
        start_test(st, dst);
        return;
    }
    if (st->waited >= DIRECT_WAIT_S) {
        snprintf(why, sizeof why, "no direct connection to %s after %.0fs (still via %s)", st->agent, DIRECT_WAIT_S,
                 path_text(path, sizeof path, &p, vole_tailnet_derp_map(st->t)));
        finish(st, 1, why);
        return;
    }
    if (!st->pinger)
        st->pinger = vole_pinger_new(vole_tailnet_stack(st->t), dst, on_ping_reply, st);
    if (st->ping_rtt_ns)
        fprintf(stderr, "Waiting for a direct connection... (%" PRIu64 "ms via %s)\n", round_ms(st->ping_rtt_ns),
                path_text(path, sizeof path, &p, vole_tailnet_derp_map(st->t)));
    if (st->pinger)
        vole_pinger_send(st->pinger, st->ping_seq++, 0);
}

/* Starts once the stack exists and the agent's node is known. */
static void try_start(struct speedtest *st)
{
    ip_addr_t dst;

    if (st->started || st->done || !vole_tailnet_stack(st->t) || vole_tailnet_peer_addr(st->t, st->agent, &dst) < 0)
        return;
    if (st->direct)
        check_direct(st, &dst);
    else
        start_test(st, &dst);
}

static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct speedtest *st = w->data;
    char why[256];
    ip_addr_t dst;
    (void)loop;
    (void)revents;

    st->waited += 1;
    if (vole_tailnet_stack(st->t) && vole_tailnet_peer_addr(st->t, st->agent, &dst) == 0) {
        try_start(st);
        return;
    }
    if (st->waited >= AGENT_WAIT_S) {
        snprintf(why, sizeof why, "agent \"%s\" did not come online within %.0fs", st->agent, AGENT_WAIT_S);
        finish(st, 1, why);
    }
}

/* ---- the node ------------------------------------------------------------------- */

static void on_ready(void *ctx, const struct coord_node *self)
{
    (void)self;
    try_start(ctx);
}

static void on_peer(void *ctx, const char *name, const struct coord_node *node)
{
    struct speedtest *st = ctx;
    (void)node;
    if (strcmp(name, st->agent) == 0)
        try_start(st);
}

static void on_stack_gone(void *ctx, struct vole_stack *s)
{
    struct speedtest *st = ctx;
    (void)s;
    vole_pinger_free(st->pinger);
    st->pinger = NULL;
    if (st->tap)
        vole_pcap_tap_attach(st->tap, NULL);
    if (st->client) {
        vole_speedtest_client_free(st->client);
        st->client = NULL;
        finish(st, 1, "the server gave this node new addresses during the test");
    }
}

static void on_fatal(void *ctx, const char *why)
{
    finish(ctx, 1, why);
}

static int run(struct speedtest *st)
{
    struct vole_tailnet_ops ops = {
        .ctx = st, .on_ready = on_ready, .on_peer = on_peer, .on_stack_gone = on_stack_gone, .on_fatal = on_fatal,
    };
    char err[512];

    st->loop = ev_default_loop(EVFLAG_AUTO);
    if (!st->loop) {
        fprintf(stderr, "vole speedtest: error: no event loop\n");
        return 1;
    }
    st->cfg.log = cli_log;
    st->cfg.log_ctx = "speedtest";
    st->t = vole_tailnet_new(st->loop, &st->cfg, &ops, err, sizeof err);
    if (!st->t || vole_tailnet_add_tunnel(st->t, st->agent) < 0) {
        fprintf(stderr, "vole speedtest: error: %s\n", !st->t ? err : "bad agent name");
        vole_tailnet_free(st->t);
        return 1;
    }
    ev_timer_init(&st->tick, on_tick, 1.0, 1.0);
    st->tick.data = st;
    ev_timer_start(st->loop, &st->tick);
    cli_stop_on_signals(st->loop);
    ev_run(st->loop, 0);
    if (!st->done)
        finish(st, 1, cli_signalled() ? "interrupted" : "stopped");
    ev_timer_stop(st->loop, &st->tick);
    vole_pinger_free(st->pinger);
    vole_speedtest_client_free(st->client);
    close_pcap(st);
    vole_tailnet_free(st->t);
    return st->rc;
}

int cmd_speedtest(int argc, char **argv)
{
    struct speedtest *st = calloc(1, sizeof *st);
    char err[256];
    int p;

    if (!st) {
        fprintf(stderr, "vole speedtest: out of memory\n");
        return 1;
    }
    st->duration_ns = VOLE_SPEEDTEST_DEFAULT_NS;
    st->direction = VOLE_SPEEDTEST_DOWNLOAD;
    p = parse_args(argc, argv, st);
    if (p != 0) {
        free(st);
        return p > 0 ? 0 : 2;
    }
    /* Open the file first: a bad path fails before any network work. */
    if (st->pcap_path) {
        st->tap = vole_pcap_tap_open(st->pcap_path, err, sizeof err);
        if (!st->tap) {
            fprintf(stderr, "vole speedtest: --pcap-file %s: %s\n", st->pcap_path, err);
            free(st);
            return 1;
        }
    }
    p = run(st);
    free(st);
    return p;
}
