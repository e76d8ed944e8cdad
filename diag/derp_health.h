/* The DERP/STUN health report of `vole netcheck`, sans-IO: what was
 * measured per DERP node (message exchange, STUN, HTTP latency), the rules
 * that turn it into node, region and report health (Coder's derphealth,
 * coder-behaviour.md §3: EDERP01, EDERP02, ESTUN01, ESTUN02), and the
 * report as Coder's healthsdk.DERPHealthReport JSON. The runner
 * (diag/netcheck_run.h) fills the measurements; everything here is pure. */
#ifndef VOLE_DIAG_DERP_HEALTH_H
#define VOLE_DIAG_DERP_HEALTH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "derp/derpmap.h"
#include "stun/probe.h"

enum vole_health_severity { VOLE_HEALTH_OK = 0, VOLE_HEALTH_WARNING, VOLE_HEALTH_ERROR };

#define VOLE_HEALTH_MAX_WARNINGS 8
#define VOLE_HEALTH_TEXT_MAX 200
#define VOLE_DERP_HEALTH_LINES 8      /* log lines and errors kept per DERP client */
#define VOLE_DERP_HEALTH_NC_LOGS 32   /* netcheck_logs kept */

/* health.Message: {"code":"EDERP01","message":"..."} */
struct vole_health_message {
    const char *code;
    char message[VOLE_HEALTH_TEXT_MAX];
};

struct vole_health_warnings {
    struct vole_health_message w[VOLE_HEALTH_MAX_WARNINGS];
    size_t n;   /* more than the room are dropped (counted nowhere: 8 is plenty) */
};

/* One DERP client's lines (client_logs[i], client_errs[i]). */
struct vole_derp_client_lines {
    char logs[VOLE_DERP_HEALTH_LINES][VOLE_HEALTH_TEXT_MAX];
    size_t n_logs;
    char errs[VOLE_DERP_HEALTH_LINES][VOLE_HEALTH_TEXT_MAX];
    size_t n_errs;
};

struct vole_derp_node_health {
    const struct derp_map_node *node;
    /* measured */
    bool can_exchange_messages;
    uint64_t round_trip_ns;                   /* when can_exchange_messages */
    bool uses_websocket;
    struct vole_derp_client_lines clients[2]; /* the receiver's, the sender's */
    bool stun_enabled;                        /* STUNPort != -1 */
    bool can_stun;
    char stun_error[VOLE_HEALTH_TEXT_MAX];    /* "" : none (JSON null) */
    unsigned path_mtu;                        /* largest padded STUN probe answered, IP bytes; 0: none */
    bool have_latency;                        /* GET /derp/latency-check answered 2xx */
    uint64_t latency_ns;
    char latency_error[VOLE_HEALTH_TEXT_MAX]; /* why not, for logs and the table */
    char error[VOLE_HEALTH_TEXT_MAX];         /* "" : none (JSON null) */
    /* judged (vole_derp_health_judge) */
    bool healthy;
    enum vole_health_severity severity;
    struct vole_health_warnings warnings;
};

struct vole_derp_region_health {
    const struct derp_map_region *region;
    struct vole_derp_node_health *nodes;      /* the region's nodes, in the map's order */
    size_t n_nodes;
    char error[VOLE_HEALTH_TEXT_MAX];         /* "" : none */
    /* judged */
    bool healthy;
    enum vole_health_severity severity;
    struct vole_health_warnings warnings;
    bool have_latency;                        /* the best node's HTTP latency */
    uint64_t latency_ns;
};

struct vole_derp_health {
    const struct derp_map *map;               /* borrowed; outlives the report */
    struct vole_derp_region_health *regions;  /* the map's regions, in its order */
    size_t n_regions;
    const struct stun_report *stun;           /* the netcheck's STUN phase; NULL: none ran */
    bool os_has_ipv6;
    char netcheck_err[VOLE_HEALTH_TEXT_MAX];  /* "" : none */
    char logs[VOLE_DERP_HEALTH_NC_LOGS][VOLE_HEALTH_TEXT_MAX];
    size_t n_logs;
    /* judged */
    bool healthy;
    enum vole_health_severity severity;
    struct vole_health_warnings warnings;
    long long preferred_derp;                 /* the lowest-latency region; 0 when none answered */
};

/* The health texts (Coder's words). */
#define VOLE_HEALTH_MSG_WEBSOCKET \
    "Node uses WebSockets because the \"Upgrade: DERP\" header may be blocked on the load balancer."
#define VOLE_HEALTH_MSG_ONE_NODE_UNHEALTHY \
    "Region is operational, but performance might be degraded as one node is unhealthy."
#define VOLE_HEALTH_MSG_NO_STUN "No STUN servers are available."
#define VOLE_HEALTH_MSG_MAPPING_VARIES "STUN returned different addresses; you may be behind a hard NAT."

/* Regions and nodes for map, zeroed, with stun_enabled set per node. 0, or
 * -1 when out of memory (h is then empty; free is still safe). */
int vole_derp_health_init(struct vole_derp_health *h, const struct derp_map *map);
void vole_derp_health_free(struct vole_derp_health *h);

/* Appends a line (printf-style) to a client's logs or errors, or to the
 * report's netcheck_logs; beyond the room, the line is dropped. */
void vole_derp_client_log(struct vole_derp_client_lines *c, bool is_err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void vole_derp_health_log(struct vole_derp_health *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The rules: every node, every region, then the report (§3). */
void vole_derp_node_judge(struct vole_derp_node_health *n);
void vole_derp_region_judge(struct vole_derp_region_health *r);
void vole_derp_health_judge(struct vole_derp_health *h);

const char *vole_health_severity_str(enum vole_health_severity s);

/* The "derp" object of `coder netcheck` (healthsdk.DERPHealthReport), after
 * judging. A new reference, NULL when out of memory. */
json_t *vole_derp_health_json(const struct vole_derp_health *h);

/* Tailscale's netcheck.Report (the "netcheck" member), from h->stun and the
 * region latencies; every field, with opt.Bool unknowns as null. */
json_t *vole_derp_netcheck_json(const struct vole_derp_health *h);

#endif
