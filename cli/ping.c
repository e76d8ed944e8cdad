/* vole ping -c FILE ADDRESS [-n COUNT] [-t TIMEOUT] [--wait INTERVAL] [-s SIZE]
 * ICMP echo through a tunnel of its own, with Coder's pong lines. */
#include <ev.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "diag/duration.h"
#include "lwip/ip_addr.h"
#include "node/tunnel.h"
#include "stack/ping.h"

static const char USAGE[] =
    "usage: vole ping -c FILE ADDRESS [-n COUNT] [-t TIMEOUT] [--wait INTERVAL] [-s SIZE]\n"
    "\n"
    "Sends ICMP echo requests to ADDRESS (an overlay IPv4 or IPv6 address) through\n"
    "a WireGuard tunnel built from FILE, and prints one line per reply.\n"
    "\n"
    "  -c, --config FILE   wg-quick style config\n"
    "  -n, --num COUNT     number of pings; 0 pings until interrupted (default 0)\n"
    "  -t, --timeout D     how long to wait for each reply (default 5s)\n"
    "      --wait D        pause between pings (default 1s)\n"
    "  -s, --size BYTES    ICMP payload size, 0..65000 (default 56)\n"
    "  -v, --verbose       log handshakes and endpoint changes\n"
    "\n"
    "Exit status 0 if any reply arrived, 1 otherwise.\n";

struct ping_args {
    const char *config, *address;
    long count;
    int64_t timeout, wait;
    long size;
    bool verbose;
};

struct ping_run {
    struct ping_args *a;
    struct ev_loop *loop;
    struct vole_tunnel *tunnel;
    struct vole_pinger *pinger;
    ip_addr_t dst;
    ev_timer timer;          /* the reply timeout, then the wait before the next ping */
    uint16_t seq;
    long sent, received;
    bool waiting_reply;
};

static int parse_duration_flag(const char *flag, const char *v, int64_t *out)
{
    if (vole_duration_parse(v, out) < 0 || *out < 0) {
        fprintf(stderr, "vole ping: %s: \"%s\" is not a duration (e.g. 5s, 500ms)\n", flag, v);
        return -1;
    }
    return 0;
}

static int parse_long_flag(const char *flag, const char *v, long lo, long hi, long *out)
{
    char *end;
    long n = strtol(v, &end, 10);
    if (*v == '\0' || *end != '\0' || n < lo || n > hi) {
        fprintf(stderr, "vole ping: %s: \"%s\" is not a number from %ld to %ld\n", flag, v, lo, hi);
        return -1;
    }
    *out = n;
    return 0;
}

static int parse_args(int argc, char **argv, struct ping_args *a)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' }, { "num", required_argument, NULL, 'n' },
        { "timeout", required_argument, NULL, 't' }, { "wait", required_argument, NULL, 'w' },
        { "size", required_argument, NULL, 's' }, { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
    };
    int c;

    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":c:n:t:s:vh", opts, NULL)) != -1) {
        switch (c) {
        case 'c': a->config = optarg; break;
        case 'n': if (parse_long_flag("-n", optarg, 0, 1000000000L, &a->count) < 0) return -1; break;
        case 't': if (parse_duration_flag("-t", optarg, &a->timeout) < 0) return -1; break;
        case 'w': if (parse_duration_flag("--wait", optarg, &a->wait) < 0) return -1; break;
        case 's': if (parse_long_flag("-s", optarg, 0, 65000, &a->size) < 0) return -1; break;
        case 'v': a->verbose = true; break;
        case 'h': fputs(USAGE, stdout); return 1;
        case ':': fprintf(stderr, "vole ping: flag %s needs a value\n", argv[optind - 1]); return -1;
        default: fprintf(stderr, "vole ping: unknown flag %s\n%s", argv[optind - 1], USAGE); return -1;
        }
    }
    if (optind + 1 != argc) {
        fprintf(stderr, "vole ping: exactly one ADDRESS is needed\n%s", USAGE);
        return -1;
    }
    a->address = argv[optind];
    if (!a->config) {
        fprintf(stderr, "vole ping: -c FILE is required\n%s", USAGE);
        return -1;
    }
    if (a->timeout == 0) {
        fprintf(stderr, "vole ping: -t must be more than 0s\n");
        return -1;
    }
    return 0;
}

static void send_next(struct ping_run *r);
static int cmd_ping_config(int argc, char **argv);

static struct wg_peer *peer_for(struct ping_run *r)
{
    uint8_t addr[16];
    if (IP_IS_V6(&r->dst)) {
        memcpy(addr, ip_2_ip6(&r->dst)->addr, 16);
        return wg_device_lookup(vole_tunnel_device(r->tunnel), 6, addr);
    }
    memcpy(addr, &ip_2_ip4(&r->dst)->addr, 4);
    return wg_device_lookup(vole_tunnel_device(r->tunnel), 4, addr);
}

static void arm(struct ping_run *r, int64_t ns)
{
    ev_timer_stop(r->loop, &r->timer);
    ev_timer_set(&r->timer, (double)ns / 1e9, 0.);
    ev_timer_start(r->loop, &r->timer);
}

static bool done(const struct ping_run *r)
{
    return r->a->count && r->sent >= r->a->count;
}

/* After a reply or a timeout: stop, or pause --wait and ping again. */
static void next_or_stop(struct ping_run *r)
{
    r->waiting_reply = false;
    if (done(r)) {
        ev_break(r->loop, EVBREAK_ALL);
        return;
    }
    arm(r, r->a->wait);
}

static void on_reply(void *ctx, uint16_t seq, size_t payload_len, uint64_t rtt_ns)
{
    struct ping_run *r = ctx;
    char dur[VOLE_DURATION_STR_MAX], ep[80] = "(unknown)";
    struct wg_peer *peer;
    (void)payload_len;

    if (!r->waiting_reply || seq != r->seq)
        return;   /* a late reply to a ping that already timed out */
    peer = peer_for(r);
    if (peer) {
        struct wg_peer_info info;
        wg_peer_get_info(peer, &info);
        vole_endpoint_format(ep, sizeof ep, &info.endpoint);
    }
    /* Coder rounds the round trip to the millisecond before printing it. */
    int64_t rounded = (int64_t)((rtt_ns + 500000) / 1000000) * 1000000;
    printf("pong from %s p2p via %s in %s\n", r->a->address, ep, vole_duration_format(dur, rounded));
    fflush(stdout);
    r->received++;
    next_or_stop(r);
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct ping_run *r = w->data;
    (void)loop;
    (void)revents;
    if (r->waiting_reply) {
        printf("ping to \"%s\" timed out \n", r->a->address);
        fflush(stdout);
        next_or_stop(r);
        return;
    }
    send_next(r);
}

static void send_next(struct ping_run *r)
{
    r->seq++;
    r->sent++;
    r->waiting_reply = true;
    if (vole_pinger_send(r->pinger, r->seq, (size_t)r->a->size) != 0) {
        printf("ping to \"%s\" failed no route through the tunnel\n", r->a->address);
        fflush(stdout);
        next_or_stop(r);
        return;
    }
    arm(r, r->a->timeout);
}

static int run(struct ping_run *r, struct vole_conf *conf)
{
    struct vole_tunnel_options opt = {
        .log = cli_log, .log_ctx = "ping", .verbose = r->a->verbose, .ephemeral_port_fallback = true,
    };
    char err[512];

    r->tunnel = vole_tunnel_new(r->loop, conf, &opt, err, sizeof err);
    if (!r->tunnel) {
        fprintf(stderr, "vole ping: %s: %s\n", r->a->config, err);
        return 1;
    }
    if (!peer_for(r)) {
        fprintf(stderr, "vole ping: no peer in %s has %s in its AllowedIPs\n", r->a->config, r->a->address);
        return 1;
    }
    r->pinger = vole_pinger_new(vole_tunnel_stack(r->tunnel), &r->dst, on_reply, r);
    if (!r->pinger) {
        fprintf(stderr, "vole ping: cannot create an ICMP socket in the stack\n");
        return 1;
    }
    ev_timer_init(&r->timer, on_timer, 0., 0.);
    r->timer.data = r;
    cli_stop_on_signals(r->loop);
    send_next(r);
    ev_run(r->loop, 0);
    return r->received > 0 ? 0 : 1;
}

/* -c FILE (or --config) selects the WireGuard-config mode; without it,
 * `vole ping NAME` pings an agent through the tailnet. */
static bool has_config_flag(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strncmp(argv[i], "-c", 2) == 0 || strcmp(argv[i], "--config") == 0 ||
            strncmp(argv[i], "--config=", 9) == 0)
            return true;
    }
    return false;
}

int cmd_ping(int argc, char **argv)
{
    if (!has_config_flag(argc, argv))
        return cmd_ping_tailnet(argc, argv);
    return cmd_ping_config(argc, argv);
}

static int cmd_ping_config(int argc, char **argv)
{
    struct ping_args a = { .timeout = 5000000000LL, .wait = 1000000000LL, .size = 56 };
    struct ping_run r = { .a = &a, .loop = ev_default_loop(EVFLAG_AUTO) };
    struct vole_conf conf = {0};
    int p = parse_args(argc, argv, &a), rc = 1;

    if (p != 0)
        return p > 0 ? 0 : 2;
    if (!ipaddr_aton(a.address, &r.dst)) {
        fprintf(stderr, "vole ping: \"%s\" is not an IPv4 or IPv6 address\n", a.address);
        return 2;
    }
    if (cli_load_conf("ping", a.config, &conf) < 0)
        return 1;
    rc = run(&r, &conf);
    if (r.pinger)
        vole_pinger_free(r.pinger);
    if (r.loop)
        ev_timer_stop(r.loop, &r.timer);
    vole_tunnel_free(r.tunnel);
    vole_conf_free(&conf);
    return rc;
}
