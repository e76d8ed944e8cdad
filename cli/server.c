/* vole server --listen ADDR:PORT --tokens FILE [--stun-listen ADDR:PORT]...
 *   [--tls-cert F --tls-key F] [--block-direct-connections] [--state-dir DIR]
 *   [--region-id N] [--region-name NAME] [--derp-map FILE]
 * The tailnet's server (server/server.h): DERP, the coordinator and the DERP
 * map on one TCP port, STUN on UDP. Every flag has an environment variable;
 * a flag given on the command line wins. */
#include <ev.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "conf/bool.h"
#include "derp/derpmap.h"
#include "server/server.h"

static const char USAGE[] =
    "usage: vole server --listen ADDR:PORT --tokens FILE [--stun-listen ADDR:PORT]...\n"
    "                   [--tls-cert FILE --tls-key FILE] [--block-direct-connections]\n"
    "                   [--state-dir DIR] [--region-id N] [--region-name NAME] [--derp-map FILE]\n"
    "\n"
    "Runs the tailnet's server: on one TCP port (HTTP/1.1, or HTTPS with a\n"
    "certificate) the DERP relay (/derp), the coordinator (/api/v2/coordinate,\n"
    "WebSocket) and the DERP map (/api/v2/derp-map); STUN on UDP.\n"
    "\n"
    "  -l, --listen ADDR:PORT        TCP address (VOLE_LISTEN). ADDR is an IPv4\n"
    "                                literal, [IPv6] in brackets, or empty, * or\n"
    "                                [::] for all addresses. Port 0 picks one.\n"
    "  -t, --tokens FILE             agent and client tokens (VOLE_TOKENS):\n"
    "                                {\"agents\":[{\"name\":\"dev\",\"token\":\"...\"}],\n"
    "                                 \"clients\":[{\"token\":\"...\",\"agents\":[\"dev\"]}]}\n"
    "  -s, --stun-listen ADDR:PORT   a STUN listener, repeatable (VOLE_STUN_LISTEN,\n"
    "                                comma-separated); default: the --listen\n"
    "                                address, UDP port 3478; \"off\": no STUN at all\n"
    "      --tls-cert FILE           serve HTTPS with this PEM certificate ...\n"
    "      --tls-key FILE            ... and key (VOLE_TLS_CERT, VOLE_TLS_KEY)\n"
    "      --block-direct-connections  never hand out endpoints: all traffic goes\n"
    "                                through DERP (VOLE_BLOCK_DIRECT=true|1|false|0)\n"
    "      --state-dir DIR           keeps the server key (DIR/derp.key); created\n"
    "                                with mode 0700 (VOLE_STATE_DIR). Without it\n"
    "                                the key is new on every start.\n"
    "      --region-id N             this server's DERP region (VOLE_REGION_ID;\n"
    "                                default 999)\n"
    "      --region-name NAME        its name (VOLE_REGION_NAME; default: the host name)\n"
    "      --derp-map FILE           more regions, Tailscale DERPMap JSON (VOLE_DERP_MAP)\n"
    "\n"
    "Runs until SIGINT or SIGTERM.\n";

#define ENV_STUN_MAX 1024

struct server_args {
    struct vole_server_config cfg;
    const char *stun[VOLE_SERVER_MAX_STUN];
    size_t n_stun;
    bool stun_from_flags;
    char env_stun[ENV_STUN_MAX];    /* VOLE_STUN_LISTEN, split in place */
};

enum { OPT_TLS_CERT = 256, OPT_TLS_KEY, OPT_BLOCK, OPT_STATE, OPT_REGION_ID, OPT_REGION_NAME, OPT_DERP_MAP };

/* "off": no STUN at all (the map then has none, as a deployment without
 * STUN servers has); it cannot be mixed with listeners. */
static int add_stun(struct server_args *a, const char *spec, const char *from)
{
    if (strcmp(spec, "off") == 0 || a->cfg.no_stun) {
        if (a->n_stun || (a->cfg.no_stun && strcmp(spec, "off") != 0)) {
            fprintf(stderr, "vole server: %s: \"off\" cannot be combined with STUN listeners\n", from);
            return -1;
        }
        a->cfg.no_stun = true;
        return 0;
    }
    if (a->n_stun == VOLE_SERVER_MAX_STUN) {
        fprintf(stderr, "vole server: %s: at most %d STUN listeners\n", from, VOLE_SERVER_MAX_STUN);
        return -1;
    }
    a->stun[a->n_stun++] = spec;
    return 0;
}

static int parse_region_id(const char *v, long long *out, const char *from)
{
    char *end;
    long long n = strtoll(v, &end, 10);

    if (*v < '0' || *v > '9' || *end || n < 1 || n > DERP_MAP_MAX_REGION_ID) {
        fprintf(stderr, "vole server: %s: want a region ID from 1 to %lld, not \"%s\"\n", from,
                DERP_MAP_MAX_REGION_ID, v);
        return -1;
    }
    *out = n;
    return 0;
}

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

/* The environment first; flags override what they name. */
static int read_env(struct server_args *a)
{
    const char *v;

    a->cfg.listen = env("VOLE_LISTEN");
    a->cfg.tokens_file = env("VOLE_TOKENS");
    a->cfg.tls_cert = env("VOLE_TLS_CERT");
    a->cfg.tls_key = env("VOLE_TLS_KEY");
    a->cfg.state_dir = env("VOLE_STATE_DIR");
    a->cfg.region_name = env("VOLE_REGION_NAME");
    a->cfg.derp_map_file = env("VOLE_DERP_MAP");
    if ((v = env("VOLE_BLOCK_DIRECT")) && vole_parse_bool(v, &a->cfg.block_direct) < 0) {
        fprintf(stderr, "vole server: VOLE_BLOCK_DIRECT: want true or false (1, 0), not \"%s\"\n", v);
        return -1;
    }
    if ((v = env("VOLE_REGION_ID")) && parse_region_id(v, &a->cfg.region_id, "VOLE_REGION_ID") < 0)
        return -1;
    if ((v = env("VOLE_STUN_LISTEN"))) {
        if (strlen(v) >= sizeof a->env_stun) {
            fprintf(stderr, "vole server: VOLE_STUN_LISTEN: too long\n");
            return -1;
        }
        strcpy(a->env_stun, v);
        for (char *save = NULL, *tok = strtok_r(a->env_stun, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
            if (*tok && add_stun(a, tok, "VOLE_STUN_LISTEN") < 0)
                return -1;
    }
    return 0;
}

static int check_args(struct server_args *a, int argc, char **argv)
{
    if (optind < argc) {
        fprintf(stderr, "vole server: unexpected argument \"%s\"\n%s", argv[optind], USAGE);
        return -1;
    }
    if (!a->cfg.listen || !a->cfg.tokens_file) {
        fprintf(stderr, "vole server: %s is required\n%s",
                !a->cfg.listen ? "--listen (or VOLE_LISTEN)" : "--tokens (or VOLE_TOKENS)", USAGE);
        return -1;
    }
    if (!a->cfg.tls_cert != !a->cfg.tls_key) {
        fprintf(stderr, "vole server: %s needs %s too\n", a->cfg.tls_cert ? "--tls-cert" : "--tls-key",
                a->cfg.tls_cert ? "--tls-key" : "--tls-cert");
        return -1;
    }
    a->cfg.stun_listen = a->stun;
    a->cfg.n_stun_listen = a->n_stun;
    return 0;
}

static int take_flag(struct server_args *a, int c, char **argv)
{
    switch (c) {
    case 'l': a->cfg.listen = optarg; return 0;
    case 't': a->cfg.tokens_file = optarg; return 0;
    case 's':
        if (!a->stun_from_flags) {
            a->n_stun = 0;   /* the flags replace VOLE_STUN_LISTEN's list */
            a->cfg.no_stun = false;
        }
        a->stun_from_flags = true;
        return add_stun(a, optarg, "--stun-listen");
    case OPT_TLS_CERT: a->cfg.tls_cert = optarg; return 0;
    case OPT_TLS_KEY: a->cfg.tls_key = optarg; return 0;
    case OPT_BLOCK: a->cfg.block_direct = true; return 0;
    case OPT_STATE: a->cfg.state_dir = optarg; return 0;
    case OPT_REGION_ID: return parse_region_id(optarg, &a->cfg.region_id, "--region-id");
    case OPT_REGION_NAME: a->cfg.region_name = optarg; return 0;
    case OPT_DERP_MAP: a->cfg.derp_map_file = optarg; return 0;
    case 'h': fputs(USAGE, stdout); return 1;
    case ':': fprintf(stderr, "vole server: flag %s needs a value\n", argv[optind - 1]); return -1;
    default: fprintf(stderr, "vole server: unknown flag %s\n%s", argv[optind - 1], USAGE); return -1;
    }
}

/* 0 ok, 1 help printed, -1 error printed */
static int parse_args(int argc, char **argv, struct server_args *a)
{
    static const struct option opts[] = {
        { "listen", required_argument, NULL, 'l' },
        { "tokens", required_argument, NULL, 't' },
        { "stun-listen", required_argument, NULL, 's' },
        { "tls-cert", required_argument, NULL, OPT_TLS_CERT },
        { "tls-key", required_argument, NULL, OPT_TLS_KEY },
        { "block-direct-connections", no_argument, NULL, OPT_BLOCK },
        { "state-dir", required_argument, NULL, OPT_STATE },
        { "region-id", required_argument, NULL, OPT_REGION_ID },
        { "region-name", required_argument, NULL, OPT_REGION_NAME },
        { "derp-map", required_argument, NULL, OPT_DERP_MAP },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int c, r;

    if (read_env(a) < 0)
        return -1;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":l:t:s:h", opts, NULL)) != -1)
        if ((r = take_flag(a, c, argv)) != 0)
            return r;
    return check_args(a, argc, argv);
}

static void print_listening(const struct vole_server *s)
{
    fprintf(stderr, "vole server: listening on %s (region %lld \"%s\")\n", vole_server_listen_text(s),
            vole_server_region_id(s), vole_server_region_name(s));
    for (size_t i = 0; i < vole_server_n_stun(s); i++)
        fprintf(stderr, "vole server: STUN on %s\n", vole_server_stun_text(s, i));
}

int cmd_server(int argc, char **argv)
{
    struct server_args a;
    struct vole_server *s;
    struct ev_loop *loop;
    char err[512];
    int p;

    memset(&a, 0, sizeof a);
    p = parse_args(argc, argv, &a);
    if (p != 0)
        return p > 0 ? 0 : 2;
    loop = ev_default_loop(EVFLAG_AUTO);
    if (!loop) {
        fprintf(stderr, "vole server: cannot create the event loop\n");
        return 1;
    }
    a.cfg.log = cli_log;
    a.cfg.log_ctx = "server";
    s = vole_server_new(loop, &a.cfg, err, sizeof err);
    if (!s) {
        fprintf(stderr, "vole server: %s\n", err);
        return 1;
    }
    print_listening(s);
    cli_stop_on_signals(loop);
    ev_run(loop, 0);
    vole_server_free(s);
    return 0;
}
