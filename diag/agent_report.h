/* The report an agent serves to its clients over the tunnel (Coder's
 * `GET http://[agent]:4/api/v0/netcheck`, healthsdk.AgentNetcheckReport,
 * coder-behaviour.md §1.2 step 10 and §1.8): its NetInfo and interfaces, so
 * that `vole ping` can list agent-side issues. vole adds one object Coder
 * lacks, "vole_disco": the agent's disco counts toward the client that asked
 * (for the endpoint-firewall check). Sans-IO: encode and decode only. */
#ifndef VOLE_DIAG_AGENT_REPORT_H
#define VOLE_DIAG_AGENT_REPORT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "diag/ifaces.h"
#include "diag/ping_report.h"

#define VOLE_AGENT_REPORT_PATH "/api/v0/netcheck"
#define VOLE_AGENT_REPORT_MAX 65536   /* a larger body is refused as bad */

struct vole_agent_report {
    bool have_netinfo;                 /* false: "net_info": null (no STUN round yet) */
    struct vole_ping_netinfo netinfo;  /* global_v4/_v6 point at the arrays below */
    char global_v4[64], global_v6[64];
    long long preferred_derp;          /* NetInfo.PreferredDERP, 0 unknown */
    bool have_ifaces;
    struct vole_ifaces ifaces;
    bool have_disco;                   /* "vole_disco" present */
    struct vole_ping_disco_counts disco;
};

/* tailcfg.NetInfo with Go's field names (no tags): MappingVariesByDestIP
 * true/false/null, UDP, GlobalV4, GlobalV6, PreferredDERP, and the other
 * fields at their zero values (false / "" / null / {}). A new reference. */
json_t *vole_netinfo_json(const struct vole_ping_netinfo *n, long long preferred_derp);
/* Reads what vole_netinfo_json writes (and Coder's NetInfo); strings copied
 * into v4/v6 (64 bytes each) and n's pointers set to them. 0 or -1 with err. */
int vole_netinfo_from_json(const json_t *j, struct vole_ping_netinfo *n, long long *preferred_derp,
                           char v4[64], char v6[64], char *err, size_t errlen);

/* {"severity":"ok","warnings":[],"dismissed":false,"net_info":{..}|null,
 * "interfaces":{InterfacesReport},"vole_disco":{"pings_sent":..,
 * "pongs_received":..,"peer_pings_received":..}} (vole_disco only when
 * have_disco), 2-space indented, no final newline. malloc'd; NULL on OOM. */
char *vole_agent_report_json(const struct vole_agent_report *r);

/* The body an agent sent. 0, or -1 with err ("agent report: net_info.UDP:
 * not a boolean"). A missing "interfaces" leaves have_ifaces false. */
int vole_agent_report_parse(const char *body, size_t len, struct vole_agent_report *out, char *err,
                            size_t errlen);

/* Points side at r's facts (interfaces, netinfo or NULL, disco counts). r
 * must outlive side. */
void vole_agent_report_side(const struct vole_agent_report *r, struct vole_ping_side *side);

#endif
