/* Dialling a host: its name looked up (derp_resolve, never blocking the
 * loop), then its addresses connected in turn until one opens. The DERP
 * client and the coordinator client both dial this way; each keeps its own
 * state machine and timers and calls these from its callbacks. */
#ifndef VOLE_DERP_DIAL_H
#define VOLE_DERP_DIAL_H

#include <stddef.h>
#include <stdint.h>

#include "derp/url.h"

#define DERP_DIAL_POLL 0.01   /* seconds between checks of a pending name lookup */

struct derp_dial {
    struct derp_resolve *resolve;   /* while the lookup runs */
    struct derp_addr addrs[DERP_RESOLVE_MAX_ADDRS];
    size_t n_addrs, next;
};

/* Starts connecting one address: 0 when started (its stream reports open or
 * close later), -1 with err for an immediate failure. */
typedef int (*derp_dial_connect_fn)(void *ctx, const struct derp_addr *a, char *err, size_t errlen);

enum derp_dial_status {
    DERP_DIAL_FAILED = -1,      /* err says why; nothing is left running */
    DERP_DIAL_RESOLVING = 0,    /* poll again in DERP_DIAL_POLL */
    DERP_DIAL_CONNECTING = 1,   /* connect_fn started one address */
};

/* Starts the lookup of host:port and polls it once. */
enum derp_dial_status derp_dial_start(struct derp_dial *d, const char *host, uint16_t port,
                                      derp_dial_connect_fn fn, void *ctx, char *err, size_t errlen);
/* Checks the lookup; once it is done, connects the first address that starts. */
enum derp_dial_status derp_dial_poll(struct derp_dial *d, derp_dial_connect_fn fn, void *ctx, char *err,
                                     size_t errlen);
/* The address being connected closed before it opened (why): the next
 * address, or FAILED with err = why (or the last immediate failure). */
enum derp_dial_status derp_dial_next(struct derp_dial *d, const char *why, derp_dial_connect_fn fn, void *ctx,
                                     char *err, size_t errlen);
/* Stops a running lookup (the attempt ended, or the owner is freed). */
void derp_dial_stop(struct derp_dial *d);

#endif
