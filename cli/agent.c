/* vole agent --url URL --token TOKEN --name NAME [--expose OPORT:HOST:PORT]...
 * A tailnet node that registers under its agent name and carries TCP
 * connections to its overlay ports on to HOST:PORT (docs/TAILNET.md). */
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
#include "tailnet/speedtest.h"

#define MAX_EXPOSE 64

static const char USAGE[] =
    "usage: vole agent --url URL --token TOKEN --name NAME [--expose OPORT:HOST:PORT]...\n"
    "                  [-v] [--insecure] [--ca-file FILE]\n"
    "\n"
    "Registers with a vole server as agent NAME and exposes TCP ports to the\n"
    "clients the server lets reach it. Answers ping on its overlay addresses and\n"
    "`vole speedtest` on overlay port 3.\n"
    "\n"
    "  --url URL        the server, http:// or https:// (default: $VOLE_URL)\n"
    "  --token TOKEN    this agent's token (default: $VOLE_TOKEN)\n"
    "  --name NAME      the agent name the token was issued for (default: $VOLE_NAME)\n"
    "  --expose SPEC    OPORT:HOST:PORT: accept TCP on overlay port OPORT and connect\n"
    "                   it to HOST:PORT reached from this machine (repeatable)\n"
    "  --insecure       do not verify the server's TLS certificate (tests only)\n"
    "  --ca-file FILE   trust these CA certificates instead of the system's\n"
    "  -v, --verbose    also log peer updates, DERP and STUN events\n"
    "\n"
    "Runs until SIGINT or SIGTERM.\n";

struct agent {
    struct vole_tailnet_config cfg;
    struct vole_forward_spec expose[MAX_EXPOSE];
    struct vole_forward_remote *fr[MAX_EXPOSE];
    size_t n_expose;
    struct vole_speedtest_server *st;   /* overlay port 3, as Coder's agent */
    struct vole_tailnet *t;
    struct ev_loop *loop;
    int rc;
};

static int add_expose(struct agent *a, const char *spec)
{
    char err[256];

    if (a->n_expose == MAX_EXPOSE) {
        fprintf(stderr, "vole agent: at most %d --expose\n", MAX_EXPOSE);
        return -1;
    }
    if (vole_forward_spec_parse(spec, false, &a->expose[a->n_expose], err, sizeof err) < 0) {
        fprintf(stderr, "vole agent: --expose %s: %s\n", spec, err);
        return -1;
    }
    a->n_expose++;
    return 0;
}

/* Flags win over the environment. */
static int fill_from_env(struct agent *a)
{
    const char *missing = NULL;

    if (!a->cfg.url)
        a->cfg.url = getenv("VOLE_URL");
    if (!a->cfg.token)
        a->cfg.token = getenv("VOLE_TOKEN");
    if (!a->cfg.name)
        a->cfg.name = getenv("VOLE_NAME");
    if (!a->cfg.url || !*a->cfg.url)
        missing = "--url URL (or VOLE_URL)";
    else if (!a->cfg.token || !*a->cfg.token)
        missing = "--token TOKEN (or VOLE_TOKEN)";
    else if (!a->cfg.name || !*a->cfg.name)
        missing = "--name NAME (or VOLE_NAME)";
    if (missing) {
        fprintf(stderr, "vole agent: %s is required\n%s", missing, USAGE);
        return -1;
    }
    if (!coord_agent_name_valid(a->cfg.name)) {
        fprintf(stderr, "vole agent: agent name \"%s\": use 1-63 of a-z, 0-9 and '-', not at either end\n",
                a->cfg.name);
        return -1;
    }
    return 0;
}

/* 0 ok, 1 help printed, -1 error printed */
static int parse_args(int argc, char **argv, struct agent *a)
{
    enum { O_URL = 256, O_TOKEN, O_NAME, O_EXPOSE, O_INSECURE, O_CA };
    static const struct option opts[] = {
        { "url", required_argument, NULL, O_URL },       { "token", required_argument, NULL, O_TOKEN },
        { "name", required_argument, NULL, O_NAME },     { "expose", required_argument, NULL, O_EXPOSE },
        { "insecure", no_argument, NULL, O_INSECURE },   { "ca-file", required_argument, NULL, O_CA },
        { "verbose", no_argument, NULL, 'v' },           { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int c;

    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":vh", opts, NULL)) != -1) {
        switch (c) {
        case O_URL: a->cfg.url = optarg; break;
        case O_TOKEN: a->cfg.token = optarg; break;
        case O_NAME: a->cfg.name = optarg; break;
        case O_EXPOSE: if (add_expose(a, optarg) < 0) return -1; break;
        case O_INSECURE: a->cfg.insecure = true; break;
        case O_CA: a->cfg.ca_file = optarg; break;
        case 'v': a->cfg.verbose = true; break;
        case 'h': fputs(USAGE, stdout); return 1;
        case ':': fprintf(stderr, "vole agent: flag %s needs a value\n", argv[optind - 1]); return -1;
        default: fprintf(stderr, "vole agent: unknown flag %s\n%s", argv[optind - 1], USAGE); return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "vole agent: unexpected argument \"%s\"\n", argv[optind]);
        return -1;
    }
    return fill_from_env(a);
}

static void stop_exposing(struct agent *a)
{
    for (size_t i = 0; i < a->n_expose; i++) {
        if (a->fr[i])
            vole_forward_remote_free(a->fr[i]);
        a->fr[i] = NULL;
    }
    vole_speedtest_server_free(a->st);
    a->st = NULL;
}

static void fail(struct agent *a, const char *why)
{
    fprintf(stderr, "vole agent: error: %s\n", why);
    a->rc = 1;
    ev_break(a->loop, EVBREAK_ALL);
}

static void on_ready(void *ctx, const struct coord_node *self)
{
    struct agent *a = ctx;
    char err[256], why[600];
    (void)self;

    a->st = vole_speedtest_server_new(a->loop, vole_tailnet_stack(a->t), VOLE_SPEEDTEST_PORT, cli_log, "agent", err,
                                      sizeof err);
    if (!a->st) {
        snprintf(why, sizeof why, "speedtest on overlay port %u: %s", VOLE_SPEEDTEST_PORT, err);
        fail(a, why);
        return;
    }
    for (size_t i = 0; i < a->n_expose; i++) {
        const struct vole_forward_spec *f = &a->expose[i];
        a->fr[i] = vole_forward_remote_new(vole_tailnet_stack(a->t), f->listen_port, f->host, f->port, err,
                                           sizeof err);
        if (!a->fr[i]) {
            snprintf(why, sizeof why, "--expose %u:%s:%u: %s", f->listen_port, f->host, f->port, err);
            fail(a, why);
            return;
        }
        fprintf(stderr, "vole agent: exposing overlay port %u -> %s:%u\n", f->listen_port, f->host, f->port);
    }
}

static void on_stack_gone(void *ctx, struct vole_stack *s)
{
    (void)s;
    stop_exposing(ctx);
}

static void on_fatal(void *ctx, const char *why)
{
    fail(ctx, why);
}

int cmd_agent(int argc, char **argv)
{
    struct agent *a = calloc(1, sizeof *a);
    struct vole_tailnet_ops ops = { .on_ready = on_ready, .on_stack_gone = on_stack_gone, .on_fatal = on_fatal };
    char err[512];
    int p;

    if (!a) {
        fprintf(stderr, "vole agent: out of memory\n");
        return 1;
    }
    p = parse_args(argc, argv, a);
    if (p != 0) {
        free(a);
        return p > 0 ? 0 : 2;
    }
    a->loop = ev_default_loop(EVFLAG_AUTO);
    a->cfg.log = cli_log;
    a->cfg.log_ctx = "agent";
    ops.ctx = a;
    a->t = a->loop ? vole_tailnet_new(a->loop, &a->cfg, &ops, err, sizeof err) : NULL;
    if (!a->t) {
        fprintf(stderr, "vole agent: error: %s\n", a->loop ? err : "no event loop");
        free(a);
        return 1;
    }
    cli_stop_on_signals(a->loop);
    ev_run(a->loop, 0);
    p = a->rc;
    stop_exposing(a);
    vole_tailnet_free(a->t);
    free(a);
    return p;
}
