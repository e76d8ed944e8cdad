/* `vole ping NAME` (coder-behaviour.md §1): shared by cli/ping_node.c (the
 * run: connect, reach, the silent ping, the ping loop) and
 * cli/ping_diagnose.c (gathering the facts, printing the checklist, the issue
 * lists, the verdict and the summary). */
#ifndef VOLE_CLI_PING_NODE_H
#define VOLE_CLI_PING_NODE_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>

#include "coord/node.h"
#include "diag/ping_report.h"
#include "lwip/ip_addr.h"
#include "tailnet/diag.h"
#include "tailnet/node.h"

struct vole_pinger;

struct tping_args {
    struct vole_tailnet_config cfg;
    const char *agent;
    long count;                  /* 0: until interrupted */
    int64_t timeout_ns, wait_ns;
    bool time, utc, json;
    const char *aws_path;        /* --aws-ip-ranges / VOLE_AWS_IP_RANGES */
};

/* One attempt of the loop, kept for -o json. */
struct tping_record {
    int64_t unix_ns;
    bool ok;
    const char *error;           /* static text, when !ok */
    struct vole_ping_pong pong;  /* endpoint points at ep */
    char ep[COORD_ENDPOINT_STR];
};

/* TP_END: the last ping is over; the agent's report is fetched once more
 * (its disco counts, for the firewall check) before the verdict. */
enum tping_phase { TP_CONNECT, TP_REACH, TP_SILENT, TP_NETINFO, TP_REPORT, TP_LOOP, TP_END, TP_DONE };

struct tping {
    struct tping_args a;
    struct ev_loop *loop;
    struct vole_tailnet *t;
    enum tping_phase phase;
    ev_timer deadline;           /* the current phase's limit */
    ev_timer tick;               /* polling while connecting / reaching; the --wait pause */
    struct vole_pinger *pinger;  /* TP_REACH: ICMP echo through WireGuard */
    uint16_t icmp_seq;
    ip_addr_t agent_ip;
    int ping_id;                 /* the disco ping in flight, 0 none */
    uint64_t netinfo_wait_end;   /* TP_NETINFO: monotonic ns */
    int64_t ping_sent_unix_ns;
    int report_status;           /* the agent's report: HTTP status, 0 none */
    char *report_body;
    size_t report_len;
    char report_err[256];
    bool ping_p2p;               /* the silent ping came back direct */
    bool p2p_printed;
    uint64_t loop_start_ns;      /* monotonic */
    long attempts;
    struct vole_ping_summary sum;
    struct tping_record *recs;   /* -o json only */
    size_t n_recs, cap_recs;
    struct tping_record scratch;  /* an attempt that is not kept (table mode, or too many) */
    bool have_last;
    struct tping_record last;    /* the last pong, for the verdict */
    char *last_control_error;
    int rc;
};

/* cli/ping_node.c: 0 when any pong came back, 1 otherwise. */
int tping_run(struct tping *p);
/* ...and what the loop uses of it. */
void tping_arm(ev_timer *w, struct ev_loop *loop, double s);
double tping_secs(int64_t ns);
int64_t tping_unix_ns(void);
/* TP_REPORT: start the loop when it comes; TP_END: finish. */
void tping_fetch_report(struct tping *p, enum tping_phase phase);

/* cli/ping_loop.c */
void tping_start_loop(struct tping *p);      /* diagnostics printed, first ping */
void tping_send_loop_ping(struct tping *p);  /* the next attempt (after --wait) */
void tping_loop_timed_out(struct tping *p);  /* --timeout passed without a pong */

/* cli/ping_diagnose.c */
void tping_print_diagnostics(struct tping *p);
void tping_print_end(struct tping *p);   /* verdict, then summary or JSON */

uint64_t tping_mono_ns(void);

#endif
