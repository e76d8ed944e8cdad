/* `vole netcheck`'s measurements on the libev loop (coder-behaviour.md §3):
 * for every DERP node of a map, in parallel and within 10 s each, a message
 * exchange between two DERP clients (relay nodes), the HTTP(S) latency of
 * GET /derp/latency-check (relay nodes), and a STUN test (nodes with STUN);
 * the STUN answers of all nodes, from one UDP socket, also make the
 * netcheck's UDP, GlobalV4/V6 and MappingVariesByDestIP. Everything ends
 * within the overall timeout, whatever the network does.
 *
 * vole server admits a DERP key only while a coordinator session holds it
 * (docs/TAILNET.md), so for the embedded region (reached at cfg->url) each
 * of the two keys is first registered with an update_self over its own
 * coordinator session with cfg->token, as a client node would; the sessions
 * end with the exchange. */
#ifndef VOLE_DIAG_NETCHECK_RUN_H
#define VOLE_DIAG_NETCHECK_RUN_H

#include <stdbool.h>
#include <stddef.h>

#include "derp/derpmap.h"
#include "diag/derp_health.h"

struct ev_loop;
struct vole_netcheck_run;

#define VOLE_NETCHECK_NODE_TIMEOUT 10.0    /* seconds per DERP node, as Coder */
#define VOLE_NETCHECK_TOTAL_TIMEOUT 30.0   /* the whole run, as `coder netcheck` */
#define VOLE_NETCHECK_SEND_EVERY 1.0       /* the exchange's sender, as Coder */

struct vole_netcheck_run_config {
    const struct derp_map *map;   /* borrowed; must outlive the run and its report */
    const char *url;              /* the server's base URL; EmbeddedRelay regions are dialled here. NULL: none */
    const char *token;            /* registers the exchange's keys at url's coordinator. NULL: no registering */
    const char *ca_file;          /* NULL: system CAs */
    bool insecure;                /* skip TLS verification */
    double node_timeout;          /* 0: VOLE_NETCHECK_NODE_TIMEOUT */
    double total_timeout;         /* 0: VOLE_NETCHECK_TOTAL_TIMEOUT */
    void (*log)(void *ctx, const char *msg);   /* progress (-v); NULL: quiet */
    void *log_ctx;
};

/* The report is complete and judged: print it, then free the run. */
typedef void (*vole_netcheck_done_fn)(void *ctx, struct vole_netcheck_run *r);

/* Starts everything; done follows from the loop. NULL with err when out of
 * memory or the UDP socket cannot be opened. */
struct vole_netcheck_run *vole_netcheck_run_start(struct ev_loop *loop, const struct vole_netcheck_run_config *cfg,
                                                  vole_netcheck_done_fn done, void *ctx, char *err, size_t errlen);
/* The report (valid until the run is freed; final once done was called). */
const struct vole_derp_health *vole_netcheck_run_report(const struct vole_netcheck_run *r);
bool vole_netcheck_run_done(const struct vole_netcheck_run *r);
/* Stops whatever still runs. Safe from inside done. */
void vole_netcheck_run_free(struct vole_netcheck_run *r);

/* Tailscale's OSHasIPv6: can an IPv6 socket be bound to [::1]? */
bool vole_netcheck_os_has_ipv6(void);

#endif
