/* Pieces shared by the CLI commands: loading a config with its warnings,
 * logging to stderr, signal handling on the loop. */
#ifndef VOLE_CLI_COMMON_H
#define VOLE_CLI_COMMON_H

#include <stdbool.h>

#include "conf/wgconf.h"

struct ev_loop;

/* Parses FILE; on error prints "vole CMD: <file:line: message>" and returns -1. */
int cli_load_conf(const char *cmd, const char *path, struct vole_conf *conf);
/* A tunnel log callback printing "vole CMD: msg" on stderr (ctx: the command name). */
void cli_log(void *ctx, const char *msg);
/* Stops the loop on SIGINT and SIGTERM. The watchers live as long as the loop. */
void cli_stop_on_signals(struct ev_loop *loop);
/* Was the loop stopped by a signal? */
bool cli_signalled(void);

/* The environment variable NAME, if set and not empty, into *out (as
 * conf/bool.h's vole_parse_bool reads it); on a bad value prints `vole CMD: NAME="v": want true or false` and returns -1. */
int cli_env_bool(const char *cmd, const char *name, bool *out);

#endif
