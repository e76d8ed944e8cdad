/* vole netcheck [--url URL] [--token TOKEN] [--derp-map FILE] [-o table|json]
 *               [-v] [--insecure] [--ca-file FILE]
 * vole netcheck --stun HOST:PORT [--stun HOST:PORT]... [-o text|json] [-v]
 * Arguments; and the --stun mode: the STUN phase of a netcheck from one UDP
 * socket, as the node would run it: resolve the servers (bounded), probe
 * them with stun/probe, print the report. The DERP report (the default) is
 * cli/netcheck_derp.c. */
#include <errno.h>
#include <ev.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/netcheck_int.h"
#include "diag/netcheck.h"
#include "diag/netcheck_run.h"
#include "io/udp.h"
#include "node/tunnel.h"
#include "stun/probe.h"

static const char USAGE[] =
    "usage: vole netcheck [--url URL] [--token TOKEN] [--derp-map FILE] [-o table|json] [-v]\n"
    "                     [--insecure] [--ca-file FILE]\n"
    "       vole netcheck --stun HOST:PORT [--stun HOST:PORT]... [-o text|json] [-v]\n"
    "\n"
    "Without --stun, as `coder netcheck`: for every node of the DERP map, whether\n"
    "two clients can exchange messages through it, its HTTP(S) latency\n"
    "(/derp/latency-check) and its STUN test; from the STUN answers, whether UDP\n"
    "works, this host's public IPv4/IPv6 address:port and whether the NAT maps\n"
    "differently per destination (MappingVariesByDestIP); the preferred (fastest)\n"
    "DERP region; this host's interfaces and their MTU. Finishes within 30 s.\n"
    "\n"
    "  --url URL            the server, http:// or https:// (default: $VOLE_URL);\n"
    "                       its region (EmbeddedRelay) is reached at this URL\n"
    "  --token TOKEN        any token of the server (default: $VOLE_TOKEN): fetches\n"
    "                       the DERP map and registers the test's two DERP keys\n"
    "  --derp-map FILE      a DERP map (Tailscale DERPMap JSON) instead of the server's\n"
    "  -o, --output FORMAT  table (default; text is the same) or json (Coder's shape)\n"
    "  -v, --verbose        log progress on stderr\n"
    "  --insecure           do not verify TLS certificates (tests only)\n"
    "  --ca-file FILE       trust these CA certificates instead of the system's\n"
    "\n"
    "With --stun, only the STUN phase, from one UDP socket:\n"
    "  -s, --stun HOST:PORT  a STUN server: a.b.c.d:port, [v6]:port, or name:port\n"
    "                        (every address of a name is probed); the port\n"
    "                        defaults to 3478. Repeatable. Finishes within about\n"
    "                        5 s (2 s for name resolution, 3 s for STUN).\n"
    "\n"
    "Exit status 0 when a report was printed (even one saying UDP is blocked or a\n"
    "region is unhealthy), 1 on errors, 2 on usage errors.\n";

#define NETCHECK_RESOLVE_NS 2000000000ull   /* DNS must not eat the run */
#define NETCHECK_MARGIN_NS 500000000ull     /* beyond the STUN phase, in case of a bug */
#define STUN_DEFAULT_PORT "3478"

struct netcheck_run {
    const struct netcheck_args *a;
    struct ev_loop *loop;
    struct vole_udp *udp;
    struct stun_prober prober;
    ev_timer timer;
    uint64_t hard_end;
};

/* ---- arguments ---- */

static int parse_output(const char *v, struct netcheck_args *a)
{
    if (strcmp(v, "json") == 0)
        a->json = true;
    else if (strcmp(v, "text") == 0 || strcmp(v, "table") == 0)
        a->json = false;
    else {
        fprintf(stderr, "vole netcheck: -o: \"%s\" is neither table (text) nor json\n", v);
        return -1;
    }
    return 0;
}

static int add_spec(struct netcheck_args *a, const char *v)
{
    if (a->n_specs == NETCHECK_MAX_SPECS) {
        fprintf(stderr, "vole netcheck: at most %d --stun servers\n", NETCHECK_MAX_SPECS);
        return -1;
    }
    a->specs[a->n_specs++] = v;
    return 0;
}

enum { O_URL = 256, O_TOKEN, O_DERP_MAP, O_INSECURE, O_CA_FILE };

/* The DERP mode's flags; false for none of them. */
static bool derp_flag(int c, struct netcheck_args *a)
{
    switch (c) {
    case O_URL: a->url = optarg; break;
    case O_TOKEN: a->token = optarg; break;
    case O_DERP_MAP: a->derp_map_file = optarg; break;
    case O_INSECURE: a->insecure = true; break;
    case O_CA_FILE: a->ca_file = optarg; break;
    default: return false;
    }
    a->derp_flags = true;
    return true;
}

/* 0 to go on, 1 after --help, -1 on a usage error. */
static int parse_args(int argc, char **argv, struct netcheck_args *a)
{
    static const struct option opts[] = {
        { "stun", required_argument, NULL, 's' }, { "output", required_argument, NULL, 'o' },
        { "verbose", no_argument, NULL, 'v' }, { "help", no_argument, NULL, 'h' },
        { "url", required_argument, NULL, O_URL }, { "token", required_argument, NULL, O_TOKEN },
        { "derp-map", required_argument, NULL, O_DERP_MAP }, { "insecure", no_argument, NULL, O_INSECURE },
        { "ca-file", required_argument, NULL, O_CA_FILE }, { NULL, 0, NULL, 0 },
    };
    int c;

    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":s:o:vh", opts, NULL)) != -1) {
        if (derp_flag(c, a))
            continue;
        switch (c) {
        case 's': if (add_spec(a, optarg) < 0) return -1; break;
        case 'o': if (parse_output(optarg, a) < 0) return -1; break;
        case 'v': a->verbose = true; break;
        case 'h': fputs(USAGE, stdout); return 1;
        case ':': fprintf(stderr, "vole netcheck: flag %s needs a value\n", argv[optind - 1]); return -1;
        default: fprintf(stderr, "vole netcheck: unknown flag %s\n%s", argv[optind - 1], USAGE); return -1;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "vole netcheck: unexpected argument \"%s\"\n%s", argv[optind], USAGE);
        return -1;
    }
    if (a->n_specs && a->derp_flags) {
        fprintf(stderr, "vole netcheck: --stun probes STUN servers only; it takes none of --url, --token, "
                        "--derp-map, --insecure, --ca-file\n");
        return -1;
    }
    return 0;
}

/* ---- HOST:PORT ---- */

struct host_port {
    char host[256];
    char port[6];
};

static int set_port(struct host_port *hp, const char *spec, const char *p)
{
    char *end;
    long n = strtol(p, &end, 10);
    if (*p < '0' || *p > '9' || *end != '\0' || n < 1 || n > 65535) {
        fprintf(stderr, "vole netcheck: --stun %s: \"%s\" is not a port (1-65535)\n", spec, p);
        return -1;
    }
    snprintf(hp->port, sizeof hp->port, "%ld", n);
    return 0;
}

static int set_host(struct host_port *hp, const char *spec, const char *h, size_t len)
{
    if (len == 0 || len >= sizeof hp->host) {
        fprintf(stderr, "vole netcheck: --stun %s: no usable host\n", spec);
        return -1;
    }
    memcpy(hp->host, h, len);
    hp->host[len] = '\0';
    return 0;
}

/* "[v6]:port", "[v6]", "host:port", "host". A bare IPv6 address is refused:
 * in "fd00::1:3478" nobody can tell where the address ends. */
static int split_host_port(const char *spec, struct host_port *hp)
{
    const char *colon;

    snprintf(hp->port, sizeof hp->port, "%s", STUN_DEFAULT_PORT);
    if (spec[0] == '[') {
        const char *close = strchr(spec, ']');
        if (!close || (close[1] != '\0' && close[1] != ':')) {
            fprintf(stderr, "vole netcheck: --stun %s: expected [IPv6]:PORT\n", spec);
            return -1;
        }
        if (set_host(hp, spec, spec + 1, (size_t)(close - spec - 1)) < 0)
            return -1;
        return close[1] == ':' ? set_port(hp, spec, close + 2) : 0;
    }
    colon = strchr(spec, ':');
    if (colon && strchr(colon + 1, ':')) {
        fprintf(stderr, "vole netcheck: --stun %s: put an IPv6 address in brackets: [ADDRESS]:PORT\n",
                spec);
        return -1;
    }
    if (set_host(hp, spec, spec, colon ? (size_t)(colon - spec) : strlen(spec)) < 0)
        return -1;
    return colon ? set_port(hp, spec, colon + 1) : 0;
}

/* ---- resolution: every spec at once, with a deadline ---- */

/* Address literals are resolved at once, with no thread. Names go through
 * getaddrinfo_a so that a dead DNS server costs 2 s, not the resolver's
 * retries. Those requests live on the heap and are never freed: glibc's helper
 * thread may still touch a request after gai_error() already reports its
 * result, and the command exits right after the report anyway. */
struct resolve_req {
    struct host_port hp;
    struct addrinfo hints;
    struct gaicb cb;
    bool async;
};

static void add_target(struct stun_probe_target *t, size_t *n, const char *name, const struct wg_endpoint *ep)
{
    for (size_t i = 0; i < *n; i++)
        if (wg_endpoint_equal(&t[i].ep, ep))
            return;   /* the same server twice would fake an unchanged mapping */
    if (*n == STUN_PROBER_MAX_SERVERS) {
        fprintf(stderr, "vole netcheck: more than %d server addresses; skipping the rest\n",
                STUN_PROBER_MAX_SERVERS);
        return;
    }
    t[*n].name = name;
    t[*n].ep = *ep;
    (*n)++;
}

static void log_resolved(const char *name, const struct wg_endpoint *ep)
{
    char buf[64];
    vole_endpoint_format(buf, sizeof buf, ep);
    if (strcmp(buf, name) != 0)   /* say nothing about numeric addresses */
        fprintf(stderr, "vole netcheck: %s is %s\n", name, buf);
}

static void collect(const struct netcheck_args *a, size_t i, struct gaicb *cb, struct stun_probe_target *t,
                    size_t *n)
{
    int rc = gai_error(cb);
    if (rc != 0) {
        fprintf(stderr, "vole netcheck: --stun %s: %s\n", a->specs[i],
                rc == EAI_INPROGRESS ? "name resolution timed out" : gai_strerror(rc));
        return;
    }
    for (const struct addrinfo *ai = cb->ar_result; ai; ai = ai->ai_next) {
        struct wg_endpoint ep = {0};
        vole_sockaddr_to_endpoint(&ep, ai->ai_addr);
        if (ep.family != 4 && ep.family != 6)
            continue;
        if (a->verbose)
            log_resolved(a->specs[i], &ep);
        add_target(t, n, a->specs[i], &ep);
    }
}

/* Polls rather than gai_suspend(): with several lookups finishing together,
 * glibc's gai_suspend can return leaving a wait entry on its stack that a
 * helper thread later writes through (seen as SIGSEGV in __gai_notify). */
static void wait_resolved(struct gaicb *const *list, size_t n)
{
    uint64_t end = vole_now_ns() + NETCHECK_RESOLVE_NS;
    const struct timespec tick = { .tv_sec = 0, .tv_nsec = 5000000L };

    for (;;) {
        bool pending = false;
        for (size_t i = 0; i < n; i++)
            pending |= gai_error(list[i]) == EAI_INPROGRESS;
        if (!pending || vole_now_ns() >= end)
            return;
        nanosleep(&tick, NULL);
    }
}

static void release(struct resolve_req *r)
{
    if (r->async) {
        if (gai_error(&r->cb) == EAI_INPROGRESS)
            (void)gai_cancel(&r->cb);
        return;   /* see struct resolve_req */
    }
    if (r->cb.ar_result)
        freeaddrinfo(r->cb.ar_result);
    free(r);
}

/* An address literal needs no lookup: resolve it here, on this thread. */
static bool resolve_literal(struct resolve_req *r)
{
    struct addrinfo hints = r->hints, *res = NULL;
    hints.ai_flags |= AI_NUMERICHOST;
    if (getaddrinfo(r->hp.host, r->hp.port, &hints, &res) != 0)
        return false;
    r->cb.ar_result = res;
    return true;
}

/* Fills t; returns how many, -1 when a spec is malformed (a usage error),
 * -2 on other errors. */
static int resolve_all(const struct netcheck_args *a, struct stun_probe_target *t)
{
    struct resolve_req *reqs[NETCHECK_MAX_SPECS] = {0};
    struct gaicb *async[NETCHECK_MAX_SPECS];
    size_t n = 0, k, n_async = 0;
    int rc = 0;

    for (k = 0; k < a->n_specs; k++) {
        struct resolve_req *r = reqs[k] = calloc(1, sizeof *r);
        if (!r) {
            fprintf(stderr, "vole netcheck: out of memory\n");
            rc = -2;
            break;
        }
        if (split_host_port(a->specs[k], &r->hp) < 0) {
            rc = -1;
            break;
        }
        r->hints = (struct addrinfo){ .ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICSERV };
        r->cb = (struct gaicb){ .ar_name = r->hp.host, .ar_service = r->hp.port, .ar_request = &r->hints };
        r->async = !resolve_literal(r);
        if (r->async)
            async[n_async++] = &r->cb;
    }
    if (rc == 0 && n_async && getaddrinfo_a(GAI_NOWAIT, async, (int)n_async, NULL) != 0) {
        fprintf(stderr, "vole netcheck: cannot start name resolution: %s\n", strerror(errno));
        rc = -2;
    }
    if (rc != 0)
        for (k = 0; k < a->n_specs; k++)
            if (reqs[k])
                reqs[k]->async = false;   /* nothing was submitted */
    if (rc == 0) {
        wait_resolved(async, n_async);
        for (k = 0; k < a->n_specs; k++)
            collect(a, k, &reqs[k]->cb, t, &n);
    }
    for (k = 0; k < a->n_specs; k++)
        if (reqs[k])
            release(reqs[k]);
    return rc == 0 ? (int)n : rc;
}

/* ---- the probe loop ---- */

/* Sends now, not at the loop's batch flush, so that the OS's verdict on
 * this very datagram (IPv4CanSend/IPv6CanSend) is known. */
static void emit(void *ctx, const struct wg_endpoint *dst, const uint8_t *buf, size_t len)
{
    struct netcheck_run *r = ctx;
    const struct vole_udp_stats *st = vole_udp_stats(r->udp);
    uint64_t failed = st->tx_errors + st->tx_dropped;
    uint8_t *slot = vole_udp_tx_slot(r->udp, len);
    bool ok;

    if (slot) {
        memcpy(slot, buf, len);
        vole_udp_tx_commit(r->udp, dst, len);
        vole_udp_flush(r->udp);
    }
    ok = slot && st->tx_errors + st->tx_dropped == failed;
    stun_prober_sent(&r->prober, dst, ok);
    if (r->a->verbose) {
        char ep[64];
        vole_endpoint_format(ep, sizeof ep, dst);
        fprintf(stderr, "vole netcheck: binding request to %s%s\n", ep, ok ? "" : ": send failed");
    }
}

static void arm(struct netcheck_run *r)
{
    uint64_t now = vole_now_ns(), at = stun_prober_deadline(&r->prober);
    if (at > r->hard_end)
        at = r->hard_end;
    ev_timer_stop(r->loop, &r->timer);
    ev_timer_set(&r->timer, at > now ? (double)(at - now) / 1e9 : 0., 0.);
    ev_timer_start(r->loop, &r->timer);
}

/* Poll, then either stop or wait for the next deadline. */
static void step(struct netcheck_run *r)
{
    uint64_t now = vole_now_ns();
    stun_prober_poll(&r->prober, now, emit, r);
    if (stun_prober_done(&r->prober, now) || now >= r->hard_end)
        ev_break(r->loop, EVBREAK_ALL);
    else
        arm(r);
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    step(w->data);
}

static void log_datagram(const struct wg_endpoint *src, size_t len, bool ours)
{
    char ep[64];
    vole_endpoint_format(ep, sizeof ep, src);
    fprintf(stderr, "vole netcheck: %zu bytes from %s: %s\n", len, ep,
            ours ? "STUN response to one of our requests" : "not ours, ignored");
}

static void on_datagram(void *ctx, const struct wg_endpoint *src, uint8_t *buf, size_t len)
{
    struct netcheck_run *r = ctx;
    bool ours = stun_prober_handle(&r->prober, src, buf, len, vole_now_ns());
    if (r->a->verbose)
        log_datagram(src, len, ours);
    if (ours && stun_prober_done(&r->prober, vole_now_ns()))
        ev_break(r->loop, EVBREAK_ALL);
}

static int probe(struct netcheck_run *r, const struct stun_probe_target *t, size_t n)
{
    struct vole_udp_config uc = { .port = 0 };
    char err[256];

    r->udp = vole_udp_open(r->loop, &uc, on_datagram, r, err, sizeof err);
    if (!r->udp) {
        fprintf(stderr, "vole netcheck: %s\n", err);
        return -1;
    }
    if (r->a->verbose)
        fprintf(stderr, "vole netcheck: probing %zu servers from UDP port %u\n", n, vole_udp_local_port(r->udp));
    uint64_t now = vole_now_ns();
    (void)stun_prober_init(&r->prober, t, n, now);   /* n is 1..MAX, families 4/6 */
    r->hard_end = now + STUN_PROBER_PHASE_NS + NETCHECK_MARGIN_NS;
    ev_timer_init(&r->timer, on_timer, 0., 0.);
    r->timer.data = r;
    cli_stop_on_signals(r->loop);
    step(r);
    ev_run(r->loop, 0);
    ev_timer_stop(r->loop, &r->timer);
    return cli_signalled() ? -1 : 0;
}

static int print_report(const struct netcheck_run *r)
{
    struct vole_netcheck_report rep = { .stun = stun_prober_report(&r->prober), .os_has_ipv6 = vole_netcheck_os_has_ipv6() };
    char *j;

    if (!r->a->json) {
        vole_netcheck_print(stdout, &rep);
        return 0;
    }
    j = vole_netcheck_json_text(&rep);
    if (!j) {
        fprintf(stderr, "vole netcheck: out of memory\n");
        return 1;
    }
    printf("%s\n", j);
    free(j);
    return 0;
}

int cmd_netcheck(int argc, char **argv)
{
    struct netcheck_args a = {0};
    struct stun_probe_target targets[STUN_PROBER_MAX_SERVERS];
    struct netcheck_run *r;
    int p = parse_args(argc, argv, &a), n, rc;

    if (p != 0)
        return p > 0 ? 0 : 2;
    if (a.n_specs == 0)
        return netcheck_derp(&a);
    n = resolve_all(&a, targets);
    if (n <= 0) {
        if (n == 0)
            fprintf(stderr, "vole netcheck: no STUN server could be resolved\n");
        return n == -1 ? 2 : 1;
    }
    /* The prober is a few KiB; keep it off the stack. */
    r = calloc(1, sizeof *r);
    if (!r) {
        fprintf(stderr, "vole netcheck: out of memory\n");
        return 1;
    }
    r->a = &a;
    r->loop = ev_default_loop(EVFLAG_AUTO);
    rc = probe(r, targets, (size_t)n) < 0 ? 1 : print_report(r);
    if (r->udp)
        vole_udp_close(r->udp);
    free(r);
    return rc;
}
