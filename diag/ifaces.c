/* The small shared pieces of the interface facts: the EIF01 words (one
 * copy, used by the report and by `vole ping`'s issue list) and the link
 * from a set of interfaces to one side of the diagnosis. */
#include <stdio.h>

#include "diag/ifaces.h"

/* Coder's newest text (coder-behaviour.md §1.4). */
void vole_ifaces_mtu_message(char *buf, size_t len, const char *name, int mtu)
{
    snprintf(buf, len,
             "Network interface %s has MTU %d (less than %d), which may degrade the quality "
             "of direct connections or render them unusable.",
             name ? name : "", mtu, VOLE_PING_SAFE_MTU);
}

void vole_ifaces_side(const struct vole_ifaces *x, struct vole_ping_side *side)
{
    side->have_ifaces = true;
    side->ifaces = x->ifaces;
    side->n_ifaces = x->n;
    side->default_route_iface = x->default_route;
}
