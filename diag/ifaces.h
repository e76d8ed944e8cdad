/* This host's network interfaces as `vole ping` and `vole netcheck` report
 * them (Coder's healthsdk.InterfacesReport, coder-behaviour.md §1.4): name,
 * MTU and addresses of every interface that is up with an address that is
 * not link-local, the EIF01 warning for an MTU below 1378, and the interface
 * holding the default route (for the VPN check). Reading is the only part
 * that touches the OS (getifaddrs, SIOCGIFMTU, /proc/net/route and
 * /proc/net/ipv6_route); the route-file parsers and the JSON codec are pure
 * so that tests feed them fixed text. */
#ifndef VOLE_DIAG_IFACES_H
#define VOLE_DIAG_IFACES_H

#include <jansson.h>
#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>

#include "diag/ping_report.h"

#define VOLE_IFACES_MAX 64          /* interfaces kept; more are counted in n_skipped */
#define VOLE_IFACES_MAX_ADDRS 256   /* addresses over all interfaces */

/* Owns its storage: ifaces[i].name and .addrs point into it. */
struct vole_ifaces {
    struct vole_ping_iface ifaces[VOLE_IFACES_MAX];
    size_t n;
    char names[VOLE_IFACES_MAX][IF_NAMESIZE];
    struct vole_ping_ifaddr addrs[VOLE_IFACES_MAX_ADDRS];
    size_t n_addrs;
    size_t n_skipped;                  /* beyond the limits, not listed */
    char default_route[IF_NAMESIZE];   /* IPv4's, else IPv6's; "" when none */
};

/* Every interface of this host (up or not; the report filters). 0, or -1
 * with err. */
int vole_ifaces_read(struct vole_ifaces *out, char *err, size_t errlen);

/* The interface of the default route in the text of /proc/net/route (IPv4:
 * destination 00000000, mask 00000000, flags with RTF_UP, lowest metric) or
 * /proc/net/ipv6_route (::/0, RTF_UP, lowest metric, not "lo" rejects).
 * 0 and out filled, or -1 (none / unparsable; out is ""). */
int vole_ifaces_default_route_v4(const char *text, char out[IF_NAMESIZE]);
int vole_ifaces_default_route_v6(const char *text, char out[IF_NAMESIZE]);

/* The EIF01 message (Coder's newest words), into buf. */
void vole_ifaces_mtu_message(char *buf, size_t len, const char *name, int mtu);

/* healthsdk.InterfacesReport: {"severity":"ok"|"warning","warnings":[{"code":
 * "EIF01","message":...}],"dismissed":false,"interfaces":[{"name":..,"mtu":..,
 * "addresses":["ip/len",...]}]}, only the interfaces vole_ping_iface_counts
 * keeps, plus vole's "default_route_interface" (string, "" when none). A new
 * reference, NULL when out of memory. */
json_t *vole_ifaces_report_json(const struct vole_ifaces *x);

/* The reverse, for a report that came over the wire (the agent's). Unknown
 * fields are ignored; a missing "default_route_interface" is "". 0, or -1
 * with err naming the bad field. */
int vole_ifaces_from_report_json(const json_t *j, struct vole_ifaces *out, char *err, size_t errlen);

/* Points side's interface fields at x (have_ifaces, ifaces, n_ifaces,
 * default_route_iface); x must outlive side. */
void vole_ifaces_side(const struct vole_ifaces *x, struct vole_ping_side *side);

#endif
