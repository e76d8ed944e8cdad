/* vole derp [--listen ADDR:PORT] [--tls-cert F --tls-key F] [--key-file F] [-v]
 * A standalone DERP relay server (derp/server.h), open to every client key. */
#include <ev.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "derp/server.h"

#define DEFAULT_LISTEN ":3340"

static const char USAGE[] =
    "usage: vole derp [--listen ADDR:PORT] [--tls-cert FILE --tls-key FILE] [--key-file FILE] [-v]\n"
    "\n"
    "Runs a DERP relay server (Tailscale's DERP v2, as derper): clients upgrade\n"
    "GET /derp to DERP or to WebSocket, and packets are relayed between node keys.\n"
    "Also serves /derp/probe, /derp/latency-check, /generate_204 and /metrics.\n"
    "\n"
    "  -l, --listen ADDR:PORT  listen here (default :3340, all addresses, IPv4 and\n"
    "                          IPv6). ADDR is an IPv4 literal, [IPv6] in brackets,\n"
    "                          or empty, * or [::] for all. Port 0 picks one.\n"
    "      --tls-cert FILE     serve HTTPS with this PEM certificate (chain) ...\n"
    "      --tls-key FILE      ... and this PEM private key; both or neither.\n"
    "                          Without them: plain HTTP, as derper's port 3340.\n"
    "  -k, --key-file FILE     the server's node key (base64 private key, as\n"
    "                          `vole genkey` writes); created with mode 0600 if\n"
    "                          missing. Without it the key is new on every start.\n"
    "  -v, --verbose           print the relay's counters at exit\n"
    "\n"
    "Runs until SIGINT or SIGTERM.\n";

struct derp_args {
    struct vole_derp_server_config cfg;
    bool verbose;
};

enum { OPT_TLS_CERT = 256, OPT_TLS_KEY };

static int check_args(struct derp_args *a, int argc, char **argv)
{
    if (optind < argc) {
        fprintf(stderr, "vole derp: unexpected argument \"%s\"\n%s", argv[optind], USAGE);
        return -1;
    }
    if (!a->cfg.tls_cert != !a->cfg.tls_key) {
        fprintf(stderr, "vole derp: %s needs %s too\n", a->cfg.tls_cert ? "--tls-cert" : "--tls-key",
                a->cfg.tls_cert ? "--tls-key" : "--tls-cert");
        return -1;
    }
    return 0;
}

/* 0 ok, 1 help printed, -1 error printed */
static int parse_args(int argc, char **argv, struct derp_args *a)
{
    static const struct option opts[] = {
        { "listen", required_argument, NULL, 'l' }, { "tls-cert", required_argument, NULL, OPT_TLS_CERT },
        { "tls-key", required_argument, NULL, OPT_TLS_KEY }, { "key-file", required_argument, NULL, 'k' },
        { "verbose", no_argument, NULL, 'v' }, { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
    };
    int c;

    a->cfg.listen = DEFAULT_LISTEN;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":l:k:vh", opts, NULL)) != -1) {
        switch (c) {
        case 'l': a->cfg.listen = optarg; break;
        case OPT_TLS_CERT: a->cfg.tls_cert = optarg; break;
        case OPT_TLS_KEY: a->cfg.tls_key = optarg; break;
        case 'k': a->cfg.key_file = optarg; break;
        case 'v': a->verbose = true; break;
        case 'h': fputs(USAGE, stdout); return 1;
        case ':': fprintf(stderr, "vole derp: flag %s needs a value\n", argv[optind - 1]); return -1;
        default: fprintf(stderr, "vole derp: unknown flag %s\n%s", argv[optind - 1], USAGE); return -1;
        }
    }
    return check_args(a, argc, argv);
}

/* "*:3340" for all addresses, else the address as given with the real port. */
static void print_listening(const struct derp_args *a, const struct vole_derp_server *s)
{
    const char *spec = a->cfg.listen, *colon = strrchr(spec, ':');
    int hlen = (int)(colon - spec);
    uint8_t pub[DERP_KEY_LEN];
    char nodekey[DERP_NODEKEY_TEXT_LEN];

    if (hlen == 0 || !strncmp(spec, "*:", 2) || !strncmp(spec, "[::]:", 5))
        spec = "*", hlen = 1;
    vole_derp_server_public_key(s, pub);
    derp_key_nodekey(nodekey, pub);
    fprintf(stderr, "vole derp: listening on %.*s:%u, %s (key %s)\n", hlen, spec, vole_derp_server_port(s),
            a->cfg.tls_cert ? "HTTPS" : "plain HTTP", nodekey);
}

static void print_stats(const struct derp_relay_stats *st)
{
    fprintf(stderr,
            "vole derp: clients: %llu now, %llu accepted, %llu rejected, %llu failed handshakes, %llu timed out\n"
            "vole derp: relayed: %llu packets (%llu disco), %llu bytes\n"
            "vole derp: dropped: %llu queue_head, %llu queue_tail, %llu unknown_dest, %llu dup_client, "
            "%llu bad_frame\n"
            "vole derp: sent: %llu PeerGone (%llu rate-limited), %llu pongs, %llu keepalives\n",
            (unsigned long long)st->clients_current, (unsigned long long)st->clients_total,
            (unsigned long long)st->accepts_rejected, (unsigned long long)st->handshakes_failed,
            (unsigned long long)st->handshakes_timed_out, (unsigned long long)st->packets_relayed,
            (unsigned long long)st->disco_packets_relayed, (unsigned long long)st->bytes_relayed,
            (unsigned long long)st->drop_queue_head, (unsigned long long)st->drop_queue_tail,
            (unsigned long long)st->drop_unknown_dest, (unsigned long long)st->drop_inactive_dup,
            (unsigned long long)st->drop_bad_frame, (unsigned long long)st->peer_gone_sent,
            (unsigned long long)st->peer_gone_ratelimited, (unsigned long long)st->pings_answered,
            (unsigned long long)st->keepalives_sent);
}

int cmd_derp(int argc, char **argv)
{
    struct derp_args a = {0};
    struct vole_derp_server *s;
    struct ev_loop *loop;
    char err[512];
    int p = parse_args(argc, argv, &a);

    if (p != 0)
        return p > 0 ? 0 : 2;
    loop = ev_default_loop(EVFLAG_AUTO);
    if (!loop) {
        fprintf(stderr, "vole derp: cannot create the event loop\n");
        return 1;
    }
    a.cfg.log = cli_log;
    a.cfg.log_ctx = "derp";
    s = vole_derp_server_new(loop, &a.cfg, err, sizeof err);
    if (!s) {
        fprintf(stderr, "vole derp: %s\n", err);
        return 1;
    }
    print_listening(&a, s);
    cli_stop_on_signals(loop);
    ev_run(loop, 0);
    if (a.verbose)
        print_stats(vole_derp_server_stats(s));
    vole_derp_server_free(s);
    return 0;
}
