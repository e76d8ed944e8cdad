/* Boolean settings as Go's strconv.ParseBool spells them (Coder's flags and
 * environment variables do): 1, t, true, 0, f, false, any case; "" is false.
 * One parser for the CLI's flags and for the process-wide switches the
 * library reads itself (VOLE_UDP_NO_OFFLOAD in io/udp.c, VOLE_GRO in
 * stack/stack.c), which cli/main.c checks first, so a bad value is an error
 * there and never silently taken for the default. */
#ifndef VOLE_CONF_BOOL_H
#define VOLE_CONF_BOOL_H

#include <stdbool.h>

/* 0 with *out set, or -1 for anything else (*out untouched). */
int vole_parse_bool(const char *v, bool *out);

/* The environment variable name as a boolean: dflt when it is unset, empty
 * or not a boolean. */
bool vole_env_bool(const char *name, bool dflt);

#endif
