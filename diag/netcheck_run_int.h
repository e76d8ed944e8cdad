/* The netcheck runner's state, shared by netcheck_run.c (the run and the
 * HTTP latency), netcheck_exchange.c (two DERP clients per relay node) and
 * netcheck_stun.c (the STUN phase). */
#ifndef VOLE_DIAG_NETCHECK_RUN_INT_H
#define VOLE_DIAG_NETCHECK_RUN_INT_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>

#include "derp/frame.h"
#include "derp/url.h"
#include "diag/netcheck_pmtu.h"
#include "diag/netcheck_run.h"
#include "stun/probe.h"

struct vole_control;
struct vole_derp_client;
struct vole_nc_http;
struct vole_udp;
struct nc_node;

/* One of a node's two DERP clients: 0 receives, 1 sends. */
struct nc_client {
    struct nc_node *node;
    int idx;
    uint8_t priv[DERP_KEY_LEN], pub[DERP_KEY_LEN];
    struct vole_control *control;     /* while registering and exchanging */
    bool control_done;                /* registered, or gave up registering */
    struct vole_derp_client *derp;
    bool connected;
    char last_err[VOLE_HEALTH_TEXT_MAX];
};

struct nc_node {
    struct vole_netcheck_run *run;
    struct vole_derp_node_health *h;
    const struct derp_map_region *region;
    char derp_url[1024];              /* "" : not a relay (STUN only) */
    bool register_keys;
    struct nc_client c[2];
    ev_timer tick, timeout;
    bool exchange_done;
    struct vole_nc_http *http;
    bool http_done;
};

#define NC_STUN_RESOLVE_S 2.0

struct nc_stun_node {
    struct vole_derp_node_health *h;
    struct derp_resolve *resolve;     /* while looking up HostName */
    bool resolved;
    struct wg_endpoint ep;
    int target;                       /* index in the prober, -1: none */
};

struct nc_stun {
    struct nc_stun_node *nodes;
    size_t n;
    struct vole_udp *udp;
    struct stun_prober prober;
    bool probing, done;
    bool recorded;                    /* the STUN answers are in report and the nodes */
    ev_timer timer;
    uint64_t resolve_end, hard_end;
    struct stun_report report;        /* the final one */
    /* The path MTU phase (netcheck_mtu.c), after the STUN answers. */
    bool mtu_running;
    struct vole_pmtu_prober pmtu;
    struct vole_pmtu_io mtu_io;
    size_t mtu_node[VOLE_PMTU_MAX_SERVERS];   /* the nodes[] index of each server probed */
};

struct vole_netcheck_run {
    struct ev_loop *loop;
    struct vole_netcheck_run_config cfg;
    vole_netcheck_done_fn done_fn;
    void *done_ctx;
    struct vole_derp_health h;
    struct nc_node *nodes;
    size_t n_nodes;
    struct nc_stun stun;
    ev_timer total, fire;
    bool done;
};

void nc_logf(struct vole_netcheck_run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A node or the STUN phase finished: the run ends when all have. */
void nc_check_done(struct vole_netcheck_run *r);

/* netcheck_exchange.c: starts, ends (recording why when unfinished). */
int nc_exchange_start(struct nc_node *n, char *err, size_t errlen);
void nc_exchange_stop(struct nc_node *n, const char *why);

/* netcheck_stun.c */
int nc_stun_start(struct vole_netcheck_run *r, char *err, size_t errlen);
void nc_stun_stop(struct vole_netcheck_run *r);
/* Once: the STUN answers into the report and the nodes. */
void nc_stun_record(struct vole_netcheck_run *r);

/* netcheck_mtu.c: the path MTU to each node that answered STUN, on the STUN
 * phase's socket (diag/netcheck_pmtu.h). start: true when it runs (ending
 * with nc_stun_stop and nc_check_done), false when nothing is to be probed.
 * handle: true when the datagram was one of its answers. record: the
 * results so far into the report and the nodes. */
bool nc_mtu_start(struct vole_netcheck_run *r);
bool nc_mtu_handle(struct vole_netcheck_run *r, const uint8_t *buf, size_t len);
void nc_mtu_record(struct vole_netcheck_run *r);

#endif
