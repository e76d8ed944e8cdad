/* `vole netcheck`'s two modes: --stun (cli/netcheck.c, the STUN phase
 * alone) and the DERP report (cli/netcheck_derp.c, as `coder netcheck`). */
#ifndef VOLE_CLI_NETCHECK_INT_H
#define VOLE_CLI_NETCHECK_INT_H

#include <stdbool.h>
#include <stddef.h>

#define NETCHECK_MAX_SPECS 16

struct netcheck_args {
    const char *specs[NETCHECK_MAX_SPECS];   /* --stun: that mode */
    size_t n_specs;
    bool json, verbose;
    const char *url, *token;                 /* explicit, else $VOLE_URL / $VOLE_TOKEN */
    const char *derp_map_file;
    const char *ca_file;
    bool insecure;
    bool derp_flags;                         /* --url/--token/--derp-map/--ca-file/--insecure given */
};

/* The DERP report; the exit status. */
int netcheck_derp(const struct netcheck_args *a);

#endif
