/* A netcheck report as people read it (text, in the style of `tailscale
 * netcheck`) and as programs read it (JSON with the field names of
 * Tailscale's netcheck.Report, which `coder netcheck` also embeds). Today the
 * report is the STUN phase; diag/netcheck_coder.h adds the DERP regions. */
#ifndef VOLE_DIAG_NETCHECK_H
#define VOLE_DIAG_NETCHECK_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "diag/duration.h"
#include "stun/probe.h"

struct vole_netcheck_report {
    const struct stun_report *stun;
    bool os_has_ipv6;      /* OSHasIPv6: this host can open an IPv6 socket */
};

/* The text report, tab-indented as Tailscale prints it, ending in a newline. */
void vole_netcheck_print(FILE *f, const struct vole_netcheck_report *r);
/* Its two parts, for reports that put more between them (the DERP
 * report of diag/netcheck_coder.h): "Report:" through
 * MappingVariesByDestIP, and the "STUN servers:" list. */
void vole_netcheck_print_head(FILE *f, const struct vole_netcheck_report *r);
void vole_netcheck_print_servers(FILE *f, const struct vole_netcheck_report *r);

/* The JSON object (a new reference; NULL when out of memory). */
json_t *vole_netcheck_json(const struct vole_netcheck_report *r);

/* The same, indented by two spaces, without a final newline; free() it.
 * NULL when out of memory. */
char *vole_netcheck_json_text(const struct vole_netcheck_report *r);

/* Latency as the text report shows it: Go duration format, rounded to
 * 0.1 ms like `tailscale netcheck` ("1.2ms"), or to 1 µs below 1 ms so that
 * a LAN or loopback answer does not print as "0s". */
const char *vole_netcheck_latency_str(char buf[VOLE_DURATION_STR_MAX], uint64_t ns);

#endif
