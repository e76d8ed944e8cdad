/* vole tunnel -c FILE [-L [BIND:]LPORT:HOST:PORT]... [-R OPORT:HOST:PORT]... */
#include <arpa/inet.h>
#include <ev.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "conf/key.h"
#include "node/tunnel.h"
#include "stack/forward.h"

#define MAX_FORWARDS 64

static const char USAGE[] =
    "usage: vole tunnel -c FILE [-L [BIND:]LPORT:HOST:PORT]... [-R OPORT:HOST:PORT]...\n"
    "\n"
    "Runs a WireGuard tunnel from a wg-quick style config with a userspace TCP/IP\n"
    "stack: no TUN device, no privileges. Answers ping on its overlay addresses.\n"
    "\n"
    "  -c, --config FILE   wg-quick style config ([Interface] and [Peer] sections)\n"
    "  -L, --local SPEC    listen on this machine at [BIND:]LPORT (BIND defaults to\n"
    "                      127.0.0.1) and carry each TCP connection through the\n"
    "                      tunnel to HOST:PORT\n"
    "  -R, --remote SPEC   accept TCP on overlay port OPORT and connect it to\n"
    "                      HOST:PORT on this machine\n"
    "  -v, --verbose       log handshakes and endpoint changes\n"
    "\n"
    "Runs until SIGINT or SIGTERM.\n";

struct tunnel_args {
    const char *config;
    struct vole_forward_spec local[MAX_FORWARDS], remote[MAX_FORWARDS];
    size_t n_local, n_remote;
    bool verbose;
    struct vole_forward_local *fl[MAX_FORWARDS];
    struct vole_forward_remote *fr[MAX_FORWARDS];
};

static int add_spec(struct vole_forward_spec *arr, size_t *n, const char *spec, bool local)
{
    char err[256];
    if (*n == MAX_FORWARDS) {
        fprintf(stderr, "vole tunnel: at most %d %s forwards\n", MAX_FORWARDS, local ? "-L" : "-R");
        return -1;
    }
    if (vole_forward_spec_parse(spec, local, &arr[*n], err, sizeof err) < 0) {
        fprintf(stderr, "vole tunnel: %s %s: %s\n", local ? "-L" : "-R", spec, err);
        return -1;
    }
    (*n)++;
    return 0;
}

/* 0 ok, 1 help printed, -1 error printed */
static int parse_args(int argc, char **argv, struct tunnel_args *a)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' }, { "local", required_argument, NULL, 'L' },
        { "remote", required_argument, NULL, 'R' }, { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
    };
    int c;

    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":c:L:R:vh", opts, NULL)) != -1) {
        switch (c) {
        case 'c': a->config = optarg; break;
        case 'L': if (add_spec(a->local, &a->n_local, optarg, true) < 0) return -1; break;
        case 'R': if (add_spec(a->remote, &a->n_remote, optarg, false) < 0) return -1; break;
        case 'v': a->verbose = true; break;
        case 'h': fputs(USAGE, stdout); return 1;
        case ':': fprintf(stderr, "vole tunnel: flag %s needs a value\n", argv[optind - 1]); return -1;
        default: fprintf(stderr, "vole tunnel: unknown flag %s\n%s", argv[optind - 1], USAGE); return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "vole tunnel: unexpected argument \"%s\"\n", argv[optind]);
        return -1;
    }
    if (!a->config) {
        fprintf(stderr, "vole tunnel: -c FILE is required\n%s", USAGE);
        return -1;
    }
    return 0;
}

static void print_banner(struct vole_tunnel *t, const struct vole_conf *conf)
{
    uint8_t pub[32];
    char b64[VOLE_KEY_B64_LEN], addr[INET6_ADDRSTRLEN];

    wg_device_public_key(vole_tunnel_device(t), pub);
    vole_key_to_base64(b64, pub);
    fprintf(stderr, "vole tunnel: public key %s, UDP port %u, overlay", b64, vole_tunnel_listen_port(t));
    for (size_t i = 0; i < conf->n_addresses; i++) {
        inet_ntop(conf->addresses[i].family == 4 ? AF_INET : AF_INET6, conf->addresses[i].addr, addr, sizeof addr);
        fprintf(stderr, " %s/%u", addr, conf->addresses[i].cidr);
    }
    fprintf(stderr, "\n");
}

static int start_forwards(struct vole_tunnel *t, struct tunnel_args *a)
{
    char err[256];

    for (size_t i = 0; i < a->n_local; i++) {
        const struct vole_forward_spec *f = &a->local[i];
        a->fl[i] = vole_forward_local_new(vole_tunnel_stack(t), f->has_bind ? f->bind : NULL, f->listen_port,
                                          &f->dst, f->port, err, sizeof err);
        if (!a->fl[i]) {
            fprintf(stderr, "vole tunnel: -L %u:%s:%u: %s\n", f->listen_port, f->host, f->port, err);
            return -1;
        }
    }
    for (size_t i = 0; i < a->n_remote; i++) {
        const struct vole_forward_spec *f = &a->remote[i];
        a->fr[i] = vole_forward_remote_new(vole_tunnel_stack(t), f->listen_port, f->host, f->port, err, sizeof err);
        if (!a->fr[i]) {
            fprintf(stderr, "vole tunnel: -R %u:%s:%u: %s\n", f->listen_port, f->host, f->port, err);
            return -1;
        }
    }
    return 0;
}

int cmd_tunnel(int argc, char **argv)
{
    struct tunnel_args *a = calloc(1, sizeof *a);
    struct vole_conf conf = {0};
    struct vole_tunnel *t = NULL;
    struct vole_tunnel_options opt = { .log = cli_log, .log_ctx = "tunnel" };
    struct ev_loop *loop = ev_default_loop(EVFLAG_AUTO);
    char err[512];
    int rc = 1, p;

    if (!a || !loop) {
        fprintf(stderr, "vole tunnel: out of memory\n");
        free(a);
        return 1;
    }
    p = parse_args(argc, argv, a);
    if (p != 0) {
        free(a);
        return p > 0 ? 0 : 2;
    }
    if (cli_load_conf("tunnel", a->config, &conf) < 0)
        goto out;
    opt.verbose = a->verbose;
    t = vole_tunnel_new(loop, &conf, &opt, err, sizeof err);
    if (!t) {
        fprintf(stderr, "vole tunnel: %s: %s\n", a->config, err);
        goto out;
    }
    if (start_forwards(t, a) < 0)
        goto out;
    print_banner(t, &conf);
    cli_stop_on_signals(loop);
    ev_run(loop, 0);
    if (a->verbose)
        vole_tunnel_log_stats(t);
    rc = 0;
out:
    for (size_t i = 0; i < a->n_local; i++)
        if (a->fl[i])
            vole_forward_local_free(a->fl[i]);
    for (size_t i = 0; i < a->n_remote; i++)
        if (a->fr[i])
            vole_forward_remote_free(a->fr[i]);
    vole_tunnel_free(t);
    vole_conf_free(&conf);
    free(a);
    return rc;
}
