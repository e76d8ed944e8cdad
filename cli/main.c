/* vole: one binary, subcommands as in `wg` and `coder`. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/common.h"

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
};

static const struct command COMMANDS[] = {
    { "server", cmd_server, "run the tailnet server: coordinator, DERP relay, DERP map and STUN" },
    { "agent", cmd_agent, "register an agent with the server and expose its TCP ports" },
    { "forward", cmd_forward, "forward a local TCP port to an agent's port through the tailnet" },
    { "speedtest", cmd_speedtest, "measure TCP throughput to an agent through the tailnet" },
    { "tunnel", cmd_tunnel, "run a WireGuard tunnel from a wg-quick config, with TCP forwards" },
    { "ping", cmd_ping, "ping an agent through the tailnet (or an address through a WireGuard tunnel, -c)" },
    { "stun", cmd_stun, "run a STUN server (binding requests over UDP)" },
    { "netcheck", cmd_netcheck, "probe STUN servers: UDP, public address, NAT mapping behaviour" },
    { "derp", cmd_derp, "run a DERP relay server (Tailscale DERP v2 over HTTP(S) or WebSocket)" },
    { "genkey", cmd_genkey, "print a new private key" },
    { "pubkey", cmd_pubkey, "read a private key on stdin, print its public key" },
};

/* Switches the library reads from the environment itself, wherever a socket
 * or a stack is made (conf/bool.h): checked here once, so that a bad value
 * is an error, not silently the default. */
static const char *const PROCESS_SWITCHES[] = { "VOLE_UDP_NO_OFFLOAD", "VOLE_GRO" };

static int check_switches(const char *cmd)
{
    bool unused;
    for (size_t i = 0; i < sizeof PROCESS_SWITCHES / sizeof PROCESS_SWITCHES[0]; i++)
        if (cli_env_bool(cmd, PROCESS_SWITCHES[i], &unused) < 0)
            return -1;
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: vole COMMAND [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++)
        fprintf(f, "  %-9s %s\n", COMMANDS[i].name, COMMANDS[i].summary);
    fprintf(f, "\n`vole COMMAND --help` describes one command.\n");
}

int main(int argc, char **argv)
{
    /* A peer closing a forwarded connection must not kill the process. */
    signal(SIGPIPE, SIG_IGN);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        printf("vole %s\n", VOLE_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++)
        if (!strcmp(argv[1], COMMANDS[i].name))
            return check_switches(argv[1]) < 0 ? 2 : COMMANDS[i].run(argc - 1, argv + 1);
    fprintf(stderr, "vole: unknown command \"%s\"\n", argv[1]);
    usage(stderr);
    return 2;
}
