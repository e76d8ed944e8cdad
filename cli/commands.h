/* Subcommands of the vole CLI. argv[0] is the subcommand name (as with wg),
 * argc counts it; each returns the process exit status. */
#ifndef VOLE_CLI_COMMANDS_H
#define VOLE_CLI_COMMANDS_H

#define VOLE_VERSION "0.1.0"

int cmd_genkey(int argc, char **argv);
int cmd_pubkey(int argc, char **argv);
int cmd_tunnel(int argc, char **argv);
int cmd_ping(int argc, char **argv);
int cmd_ping_tailnet(int argc, char **argv);   /* vole ping NAME (no -c) */
int cmd_stun(int argc, char **argv);
int cmd_netcheck(int argc, char **argv);
int cmd_derp(int argc, char **argv);
int cmd_server(int argc, char **argv);
int cmd_agent(int argc, char **argv);
int cmd_forward(int argc, char **argv);
int cmd_speedtest(int argc, char **argv);

#endif
