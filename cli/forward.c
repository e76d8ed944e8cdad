/* vole forward NAME --tcp [BIND:]LPORT:RPORT... : a tailnet client that
 * asks the server for a tunnel to agent NAME and, once the agent's node is
 * known, carries each TCP connection to LPORT to the agent's overlay port
 * RPORT (docs/TAILNET.md). */
#include <arpa/inet.h>
#include <ev.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "coord/tokens.h"
#include "stack/forward.h"
#include "tailnet/node.h"

#define MAX_TCP 64

static const char USAGE[] =
    "usage: vole forward NAME --tcp [BIND:]LPORT:RPORT... [--url URL] [--token TOKEN]\n"
    "                    [-v] [--insecure] [--ca-file FILE]\n"
    "\n"
    "Connects to agent NAME through a vole server and forwards local TCP ports to\n"
    "the agent's overlay ports, directly when a UDP path exists, else over DERP.\n"
    "\n"
    "  --tcp SPEC       [BIND:]LPORT:RPORT: listen on BIND:LPORT (BIND defaults to\n"
    "                   127.0.0.1; \"*\" is every interface; IPv6 in brackets; LPORT 0\n"
    "                   picks a free port) and carry each connection to the agent's\n"
    "                   port RPORT (repeatable, at least one)\n"
    "  --url URL        the server, http:// or https:// (default: $VOLE_URL)\n"
    "  --token TOKEN    a client token allowed to reach NAME (default: $VOLE_TOKEN)\n"
    "  --insecure       do not verify the server's TLS certificate (tests only)\n"
    "  --ca-file FILE   trust these CA certificates instead of the system's\n"
    "  -v, --verbose    also log peer updates, DERP and STUN events\n"
    "\n"
    "Runs until SIGINT or SIGTERM.\n";

struct forward {
    struct vole_tailnet_config cfg;
    const char *agent;
    struct vole_tailnet_tcp_spec tcp[MAX_TCP];
    struct vole_forward_local *fl[MAX_TCP];
    size_t n_tcp;
    bool started;        /* listening (the agent's node arrived once) */
    ip_addr_t dst;       /* the agent's address the listeners carry to */
    struct vole_tailnet *t;
    struct ev_loop *loop;
    int rc;
};

static int add_tcp(struct forward *f, const char *spec)
{
    char err[256];

    if (f->n_tcp == MAX_TCP) {
        fprintf(stderr, "vole forward: at most %d --tcp\n", MAX_TCP);
        return -1;
    }
    if (vole_tailnet_tcp_spec_parse(spec, &f->tcp[f->n_tcp], err, sizeof err) < 0) {
        fprintf(stderr, "vole forward: --tcp %s: %s\n", spec, err);
        return -1;
    }
    f->n_tcp++;
    return 0;
}

/* Flags win over the environment. */
static int check_args(struct forward *f)
{
    if (!f->cfg.url)
        f->cfg.url = getenv("VOLE_URL");
    if (!f->cfg.token)
        f->cfg.token = getenv("VOLE_TOKEN");
    if (!f->agent) {
        fprintf(stderr, "vole forward: the agent NAME is required\n%s", USAGE);
        return -1;
    }
    if (!coord_agent_name_valid(f->agent)) {
        fprintf(stderr, "vole forward: agent name \"%s\": use 1-63 of a-z, 0-9 and '-', not at either end\n",
                f->agent);
        return -1;
    }
    if (f->n_tcp == 0) {
        fprintf(stderr, "vole forward: at least one --tcp [BIND:]LPORT:RPORT is required\n%s", USAGE);
        return -1;
    }
    if (!f->cfg.url || !*f->cfg.url) {
        fprintf(stderr, "vole forward: --url URL (or VOLE_URL) is required\n");
        return -1;
    }
    if (!f->cfg.token || !*f->cfg.token) {
        fprintf(stderr, "vole forward: --token TOKEN (or VOLE_TOKEN) is required\n");
        return -1;
    }
    return 0;
}

/* 0 ok, 1 help printed, -1 error printed */
static int parse_args(int argc, char **argv, struct forward *f)
{
    enum { O_URL = 256, O_TOKEN, O_TCP, O_INSECURE, O_CA };
    static const struct option opts[] = {
        { "url", required_argument, NULL, O_URL },     { "token", required_argument, NULL, O_TOKEN },
        { "tcp", required_argument, NULL, O_TCP },     { "insecure", no_argument, NULL, O_INSECURE },
        { "ca-file", required_argument, NULL, O_CA },  { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },            { NULL, 0, NULL, 0 },
    };
    int c;

    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":vh", opts, NULL)) != -1) {
        switch (c) {
        case O_URL: f->cfg.url = optarg; break;
        case O_TOKEN: f->cfg.token = optarg; break;
        case O_TCP: if (add_tcp(f, optarg) < 0) return -1; break;
        case O_INSECURE: f->cfg.insecure = true; break;
        case O_CA: f->cfg.ca_file = optarg; break;
        case 'v': f->cfg.verbose = true; break;
        case 'h': fputs(USAGE, stdout); return 1;
        case ':': fprintf(stderr, "vole forward: flag %s needs a value\n", argv[optind - 1]); return -1;
        default: fprintf(stderr, "vole forward: unknown flag %s\n%s", argv[optind - 1], USAGE); return -1;
        }
    }
    if (optind < argc)
        f->agent = argv[optind++];
    if (optind < argc) {
        fprintf(stderr, "vole forward: unexpected argument \"%s\"\n", argv[optind]);
        return -1;
    }
    return check_args(f);
}

static void fail(struct forward *f, const char *why)
{
    fprintf(stderr, "vole forward: error: %s\n", why);
    f->rc = 1;
    ev_break(f->loop, EVBREAK_ALL);
}

static void stop_listening(struct forward *f)
{
    for (size_t i = 0; i < f->n_tcp; i++) {
        if (f->fl[i])
            vole_forward_local_free(f->fl[i]);
        f->fl[i] = NULL;
    }
}

static void print_listening(const struct forward *f, size_t i)
{
    const struct vole_tailnet_tcp_spec *s = &f->tcp[i];
    const char *host = !s->has_bind ? "127.0.0.1" : !*s->bind || strcmp(s->bind, "*") == 0 ? "*" : s->bind;
    bool v6 = strchr(host, ':') != NULL;

    fprintf(stderr, "vole forward: listening on %s%s%s:%u -> %s:%u\n", v6 ? "[" : "", host, v6 ? "]" : "",
            vole_forward_local_port(f->fl[i]), f->agent, s->rport);
}

/* Listeners carry to one agent address: (re)made when it first becomes
 * known and whenever it changes (the agent restarted with a new key).
 * A port that worked before is expected to bind again. */
static void start_listening(struct forward *f)
{
    struct vole_stack *s = vole_tailnet_stack(f->t);
    ip_addr_t dst;
    char err[256], why[600];
    bool first = !f->started;

    if (!s || vole_tailnet_peer_addr(f->t, f->agent, &dst) < 0)
        return;
    if (f->started && ip_addr_eq(&dst, &f->dst))
        return;
    stop_listening(f);
    f->dst = dst;
    f->started = true;
    for (size_t i = 0; i < f->n_tcp; i++) {
        struct vole_tailnet_tcp_spec *spec = &f->tcp[i];
        f->fl[i] = vole_forward_local_new(s, spec->has_bind ? spec->bind : NULL, spec->lport, &dst, spec->rport,
                                          err, sizeof err);
        if (!f->fl[i]) {
            snprintf(why, sizeof why, "--tcp %s%s%u:%u: %s", spec->has_bind ? spec->bind : "",
                     spec->has_bind ? ":" : "", spec->lport, spec->rport, err);
            fail(f, why);
            return;
        }
        /* A port the kernel picked is kept for a restart. */
        spec->lport = vole_forward_local_port(f->fl[i]);
        if (first)
            print_listening(f, i);
    }
}

static void on_ready(void *ctx, const struct coord_node *self)
{
    (void)self;
    start_listening(ctx);
}

static void on_peer(void *ctx, const char *name, const struct coord_node *node)
{
    struct forward *f = ctx;
    (void)node;
    if (strcmp(name, f->agent) == 0)
        start_listening(f);
}

static void on_stack_gone(void *ctx, struct vole_stack *s)
{
    struct forward *f = ctx;
    (void)s;
    stop_listening(f);
    f->started = false;
}

static void on_fatal(void *ctx, const char *why)
{
    fail(ctx, why);
}

int cmd_forward(int argc, char **argv)
{
    struct forward *f = calloc(1, sizeof *f);
    struct vole_tailnet_ops ops = {
        .on_ready = on_ready, .on_peer = on_peer, .on_stack_gone = on_stack_gone, .on_fatal = on_fatal,
    };
    char err[512];
    int p;

    if (!f) {
        fprintf(stderr, "vole forward: out of memory\n");
        return 1;
    }
    p = parse_args(argc, argv, f);
    if (p != 0) {
        free(f);
        return p > 0 ? 0 : 2;
    }
    f->loop = ev_default_loop(EVFLAG_AUTO);
    f->cfg.log = cli_log;
    f->cfg.log_ctx = "forward";
    ops.ctx = f;
    f->t = f->loop ? vole_tailnet_new(f->loop, &f->cfg, &ops, err, sizeof err) : NULL;
    if (!f->t || vole_tailnet_add_tunnel(f->t, f->agent) < 0) {
        fprintf(stderr, "vole forward: error: %s\n", !f->loop ? "no event loop" : !f->t ? err : "bad agent name");
        vole_tailnet_free(f->t);
        free(f);
        return 1;
    }
    cli_stop_on_signals(f->loop);
    ev_run(f->loop, 0);
    p = f->rc;
    stop_listening(f);
    vole_tailnet_free(f->t);
    free(f);
    return p;
}
