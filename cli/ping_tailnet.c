/* The flags of `vole ping NAME` (coder-behaviour.md §1.1); the run is in
 * cli/ping_node.c. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/ping_node.h"
#include "coord/tokens.h"
#include "diag/duration.h"

static const char USAGE[] =
    "usage: vole ping NAME [-n N] [-t TIMEOUT] [--wait D] [--time|--utc] [-o table|json] [-v]\n"
    "                 [--disable-direct-connections] [--aws-ip-ranges FILE]\n"
    "                 [--url URL] [--token TOKEN] [--insecure] [--ca-file FILE]\n"
    "       vole ping -c FILE ADDRESS ...   (ICMP through a WireGuard tunnel; vole ping -c x --help)\n"
    "\n"
    "Pings agent NAME through the tailnet with disco, as `coder ping` does: a\n"
    "checklist and the possible causes of a relayed connection first (stderr), then\n"
    "one line per pong saying whether it came directly (p2p) or through DERP, then\n"
    "the verdict and a summary. Ctrl-C ends it early with the verdict and summary.\n"
    "\n"
    "  -n, --num N          pings to send; 0 (default) pings until interrupted\n"
    "  -t, --timeout D      wait this long for each pong, and for the server and the\n"
    "                       agent to be reached (default 5s)\n"
    "      --wait D         pause between pings (default 1s)\n"
    "      --time           prefix each pong with the local time (RFC 3339)\n"
    "      --utc            the same in UTC\n"
    "  -o, --output FMT     table (default) or json (one document on stdout at the end)\n"
    "  -v, --verbose        every check even when direct, and tailnet events\n"
    "      --disable-direct-connections   DERP only (VOLE_DISABLE_DIRECT_CONNECTIONS)\n"
    "      --aws-ip-ranges FILE   AWS's ip-ranges.json, for the hard-NAT check (VOLE_AWS_IP_RANGES)\n"
    "      --url URL        the server (default: $VOLE_URL)\n"
    "      --token TOKEN    a client token allowed to reach NAME (default: $VOLE_TOKEN)\n"
    "      --insecure       do not verify the server's TLS certificate (tests only)\n"
    "      --ca-file FILE   trust these CA certificates instead of the system's\n"
    "\n"
    "Exit status 0 if any pong came back, 1 otherwise or on errors, 2 on usage errors.\n";

static int bad(const char *flag, const char *v, const char *want)
{
    fprintf(stderr, "vole ping: %s \"%s\": %s\n", flag, v, want);
    return -1;
}

static int parse_count(const char *v, long *out)
{
    char *end;
    long n = strtol(v, &end, 10);
    if (*v == '\0' || *end != '\0' || n < 0 || n > 1000000000L)
        return bad("--num", v, "want a number from 0 to 1000000000");
    *out = n;
    return 0;
}

static int parse_dur(const char *flag, const char *v, bool zero_ok, int64_t *out)
{
    if (vole_duration_parse(v, out) < 0 || *out < 0 || (*out == 0 && !zero_ok))
        return bad(flag, v, zero_ok ? "want a duration (e.g. 1s, 500ms)" : "want a duration above 0 (e.g. 5s)");
    return 0;
}

static int check_args(struct tping_args *a)
{
    if (!a->cfg.url)
        a->cfg.url = getenv("VOLE_URL");
    if (!a->cfg.token)
        a->cfg.token = getenv("VOLE_TOKEN");
    if (!a->aws_path)
        a->aws_path = getenv("VOLE_AWS_IP_RANGES");
    if (!a->agent) {
        fprintf(stderr, "vole ping: the agent NAME is required\n%s", USAGE);
        return -1;
    }
    if (!coord_agent_name_valid(a->agent)) {
        fprintf(stderr, "vole ping: agent name \"%s\": use 1-63 of a-z, 0-9 and '-', not at either end\n", a->agent);
        return -1;
    }
    if (!a->cfg.url || !*a->cfg.url) {
        fprintf(stderr, "vole ping: --url URL (or VOLE_URL) is required\n");
        return -1;
    }
    if (!a->cfg.token || !*a->cfg.token) {
        fprintf(stderr, "vole ping: --token TOKEN (or VOLE_TOKEN) is required\n");
        return -1;
    }
    return 0;
}

/* 0 ok, 1 help printed, -1 error printed */
static int parse_args(int argc, char **argv, struct tping_args *a)
{
    enum { O_WAIT = 256, O_TIME, O_UTC, O_NODIRECT, O_AWS, O_URL, O_TOKEN, O_INSECURE, O_CA };
    static const struct option opts[] = {
        { "num", required_argument, NULL, 'n' },        { "timeout", required_argument, NULL, 't' },
        { "wait", required_argument, NULL, O_WAIT },    { "time", no_argument, NULL, O_TIME },
        { "utc", no_argument, NULL, O_UTC },            { "output", required_argument, NULL, 'o' },
        { "verbose", no_argument, NULL, 'v' },          { "disable-direct-connections", no_argument, NULL, O_NODIRECT },
        { "aws-ip-ranges", required_argument, NULL, O_AWS }, { "url", required_argument, NULL, O_URL },
        { "token", required_argument, NULL, O_TOKEN },  { "insecure", no_argument, NULL, O_INSECURE },
        { "ca-file", required_argument, NULL, O_CA },   { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int c;

    if (cli_env_bool("ping", "VOLE_DISABLE_DIRECT_CONNECTIONS", &a->cfg.disable_direct) < 0)
        return -1;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":n:t:o:vh", opts, NULL)) != -1) {
        switch (c) {
        case 'n': if (parse_count(optarg, &a->count) < 0) return -1; break;
        case 't': if (parse_dur("--timeout", optarg, false, &a->timeout_ns) < 0) return -1; break;
        case O_WAIT: if (parse_dur("--wait", optarg, true, &a->wait_ns) < 0) return -1; break;
        case O_TIME: a->time = true; break;
        case O_UTC: a->utc = true; break;
        case 'o':
            if (strcmp(optarg, "json") != 0 && strcmp(optarg, "table") != 0)
                return bad("--output", optarg, "want table or json");
            a->json = strcmp(optarg, "json") == 0;
            break;
        case 'v': a->cfg.verbose = true; break;
        case O_NODIRECT: a->cfg.disable_direct = true; break;
        case O_AWS: a->aws_path = optarg; break;
        case O_URL: a->cfg.url = optarg; break;
        case O_TOKEN: a->cfg.token = optarg; break;
        case O_INSECURE: a->cfg.insecure = true; break;
        case O_CA: a->cfg.ca_file = optarg; break;
        case 'h': fputs(USAGE, stdout); return 1;
        case ':': fprintf(stderr, "vole ping: flag %s needs a value\n", argv[optind - 1]); return -1;
        default: fprintf(stderr, "vole ping: unknown flag %s\n%s", argv[optind - 1], USAGE); return -1;
        }
    }
    if (optind < argc)
        a->agent = argv[optind++];
    if (optind < argc) {
        fprintf(stderr, "vole ping: unexpected argument \"%s\"\n", argv[optind]);
        return -1;
    }
    return check_args(a);
}

int cmd_ping_tailnet(int argc, char **argv)
{
    struct tping *p = calloc(1, sizeof *p);
    int rc;

    if (!p) {
        fprintf(stderr, "vole ping: out of memory\n");
        return 1;
    }
    p->a.timeout_ns = 5000000000LL;
    p->a.wait_ns = 1000000000LL;
    rc = parse_args(argc, argv, &p->a);
    if (rc != 0) {
        free(p);
        return rc > 0 ? 0 : 2;
    }
    rc = tping_run(p);
    free(p);
    return rc;
}
