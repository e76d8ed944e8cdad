/* `vole netcheck`'s report in Coder's shape (coder-behaviour.md §3): the
 * ClientNetcheckReport JSON {"derp": DERPHealthReport, "interfaces":
 * InterfacesReport}, and a readable table in the style of `tailscale
 * netcheck` (Coder has none; its STUN lines are diag/netcheck.h's). Pure:
 * both render a judged diag/derp_health.h report. */
#ifndef VOLE_DIAG_NETCHECK_CODER_H
#define VOLE_DIAG_NETCHECK_CODER_H

#include <jansson.h>
#include <stdio.h>

#include "diag/derp_health.h"

/* {"derp":...,"interfaces":...}; interfaces is borrowed (NULL: null, when
 * the interfaces could not be read). A new reference, NULL when out of memory. */
json_t *vole_netcheck_coder_json(const struct vole_derp_health *h, json_t *interfaces);

/* The same as Go's json.MarshalIndent(v, "", "  ") lays it out, without the
 * final newline; free() it. NULL when out of memory. */
char *vole_netcheck_coder_json_text(const struct vole_derp_health *h, json_t *interfaces);

/* The table: Tailscale's Report lines (UDP, IPv4, IPv6, mapping, nearest
 * DERP, DERP latency, STUN servers), then the health of each region and
 * node, then the interfaces (read from the InterfacesReport JSON, which may
 * be NULL) and every warning with its code. */
void vole_netcheck_coder_print(FILE *f, const struct vole_derp_health *h, const json_t *interfaces);

#endif
