/* What `vole ping NAME` prints, sans-IO: every line is a pure function of
 * the facts below, so that the output can be checked byte for byte against
 * coder-behaviour.md §1.3 and §1.7. Nothing here opens a socket or reads a
 * clock: the caller gathers the facts (see docs/CLI.md) and passes them in.
 *
 * Streams, as Coder uses them: the checklist, the issue lists and the
 * verdict go to stderr; pong lines and the summary to stdout (to stderr in
 * JSON mode, where stdout holds only the JSON document). */
#ifndef VOLE_DIAG_PING_REPORT_H
#define VOLE_DIAG_PING_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "derp/derpmap.h"
#include "diag/aws_ranges.h"

/* gVisor/lwIP send up to 1280, WireGuard adds 32, UDP 8, IP 20-60: below
 * this an interface may drop full-size direct packets (§1.4). */
#define VOLE_PING_SAFE_MTU 1378
/* The tailnet's inner MTU (tailnet/conn.h VOLE_TAILNET_MTU). */
#define VOLE_PING_TUNNEL_MTU 1280

/* Where the messages' links point; the anchors are headings of
 * docs/TROUBLESHOOTING.md. vole has no published docs site, so the default
 * names the document in the source tree; the caller may pass a real URL. */
#define VOLE_TROUBLESHOOTING_URL "docs/TROUBLESHOOTING.md"

/* ---- facts about one side (the client, or the agent) -------------------- */

struct vole_ping_ifaddr {
    uint8_t family;          /* 4 or 6 */
    uint8_t addr[16];        /* network order; IPv4 in the first 4 bytes */
    uint8_t prefix_len;
};

struct vole_ping_iface {
    const char *name;
    int mtu;                 /* <= 0: unknown (ignored, as Windows loopback) */
    bool up;                 /* IFF_UP */
    const struct vole_ping_ifaddr *addrs;
    size_t n_addrs;
};

enum vole_ping_tristate { VOLE_PING_UNKNOWN = 0, VOLE_PING_NO, VOLE_PING_YES };

/* The NetInfo facts the rules read (tailcfg.NetInfo's UDP,
 * MappingVariesByDestIP, GlobalV4, GlobalV6). */
struct vole_ping_netinfo {
    bool udp;                                  /* any STUN answer came back */
    enum vole_ping_tristate mapping_varies;    /* hard NAT when YES */
    const char *global_v4;                     /* "ip:port" or "" / NULL */
    const char *global_v6;                     /* "[ip]:port" or "" / NULL */
};

/* Disco evidence of a firewall in front of one endpoint: counted by the
 * side that reports it, over the UDP paths only (never DERP). */
struct vole_ping_disco_counts {
    uint32_t pings_sent;          /* our disco pings to the peer's UDP endpoints */
    uint32_t pongs_received;      /* ...of which were answered */
    uint32_t peer_pings_received; /* the peer's disco pings that reached us over UDP */
};

/* Below this many unanswered pings, silence is not yet evidence (the
 * path logic also gives an address up after 3 missed pings). */
#define VOLE_PING_FIREWALL_MIN_PINGS 3

struct vole_ping_side {
    /* Interfaces; have_ifaces false when the report could not be made
     * (then no MTU check runs for this side). */
    bool have_ifaces;
    const struct vole_ping_iface *ifaces;
    size_t n_ifaces;
    const char *default_route_iface;   /* interface of the default route, or NULL / "" */
    /* NULL until the first netcheck (Coder's nil NetInfo): no STUN/NAT checks. */
    const struct vole_ping_netinfo *netinfo;
    bool have_disco_counts;
    struct vole_ping_disco_counts disco;
};

/* ---- the checklist (Coder's PeerDiagnostics) ----------------------------- */

struct vole_ping_peer_diag {
    long long preferred_derp;        /* our home region; 0: not connected to DERP */
    const struct derp_map *derp_map; /* region names; NULL: every name unknown */
    bool sent_node;                  /* our node reached the coordinator */
    bool received_node;              /* the agent's node came from the coordinator */
    long long peer_preferred_derp;   /* the agent node's preferred_derp */
    const char *const *peer_endpoints;   /* the agent node's endpoints, "ip:port" */
    size_t n_peer_endpoints;
    bool have_handshake;             /* a WireGuard handshake has completed */
    int64_t handshake_age_ns;        /* now - last handshake */
    /* vole's addition (issue #7): the direct path's MTU as path MTU
     * discovery found it (whole IP packets; 0: no direct path or nothing
     * confirmed yet, and no line), the tunnel MTU toward the agent, and
     * whether the search has converged. */
    int path_mtu_wire;
    int inner_mtu;
    bool path_mtu_settled;
};

/* "✔ preferred DERP region: 999 (vole)" ... "✔ Wireguard handshake 12s ago",
 * then vole's path MTU line when a direct path has one: "✔ direct path MTU
 * 1500: full-size tunnel packets fit (tunnel MTU 1280)" or "⚠ direct path
 * MTU 1280 (less than 1378): tunnel MTU lowered to 1216 toward the agent",
 * with " (still probing)" before the search converged. */
void vole_ping_print_checklist(FILE *f, const struct vole_ping_peer_diag *d);

/* ---- the issue lists (Coder's ConnDiags) -------------------------------- */

struct vole_ping_diag {
    bool ping_p2p;               /* the silent first ping came back direct */
    bool verbose;                /* -v: every check, even when p2p */
    bool disable_direct;         /* --disable-direct-connections / VOLE_DISABLE_DIRECT_CONNECTIONS */
    bool server_blocks_direct;   /* the server's --block-direct-connections */
    const struct derp_map *derp_map;     /* NULL: unknown, the STUN rule is skipped */
    const struct vole_ping_side *client; /* NULL: nothing known */
    const struct vole_ping_side *agent;  /* NULL: the agent sent no report */
    const struct vole_aws_ranges *aws;   /* NULL: no AWS check */
    const char *troubleshooting_url;     /* NULL: VOLE_TROUBLESHOOTING_URL */
};

/* The messages, each a malloc'd string (multi-line ones hold their link). */
struct vole_ping_issues {
    char **general, **client, **agent;
    size_t n_general, n_client, n_agent;
};

/* Applies the rules in Coder's order (§1.3) plus vole's VPN and firewall
 * checks. 0, or -1 when out of memory (*out empty then). */
int vole_ping_diagnose(const struct vole_ping_diag *d, struct vole_ping_issues *out);
void vole_ping_issues_free(struct vole_ping_issues *x);

/* The block as Coder writes it: an empty line, the general messages, the
 * client list, the agent list. */
void vole_ping_print_issues(FILE *f, const struct vole_ping_issues *x);

/* The MTU check's filter (§1.4): up, and at least one address that is not
 * link-local. An MTU <= 0 is never low. */
bool vole_ping_iface_counts(const struct vole_ping_iface *i);
bool vole_ping_iface_mtu_low(const struct vole_ping_iface *i);

/* A default route through an interface named like a VPN's (tun, wg, ppp,
 * utun, tap, ipsec, ...). */
bool vole_ping_is_vpn_iface(const char *name);




/* ---- lines ---------------------------------------------------------------- */

/* How a pong came back. */
struct vole_ping_pong {
    int64_t latency_ns;          /* round trip, unrounded */
    bool direct;
    const char *endpoint;        /* direct: "ip:port" / "[ip]:port" */
    long long derp_region;       /* relayed: the region ID */
};

/* --time / --utc: now, as the prefix "[2006-01-02T15:04:05+02:00] ". */
struct vole_ping_clock {
    bool show;
    int64_t unix_s;
    int utc_offset_s;            /* 0 (and --utc) gives "Z" */
};

/* RFC 3339 as Go's time.RFC3339 writes it; buf of 32 bytes. */
const char *vole_ping_rfc3339(char buf[32], int64_t unix_s, int utc_offset_s);

/* Go's Duration.Round(m) for m > 0: halves away from zero. */
int64_t vole_ping_round(int64_t ns, int64_t m);

/* "pong from dev p2p via 198.51.100.7:41641 in 42ms\n" or
 * "pong from dev proxied via DERP(Frankfurt) in 42ms\n". */
void vole_ping_print_pong(FILE *f, const char *name, const struct vole_ping_pong *p,
                          const struct derp_map *m, const struct vole_ping_clock *c);
/* "ping to \"dev\" timed out \n" (with Coder's space before the newline).
 * The name is quoted as Go's %q does; no time prefix, as in Coder. */
void vole_ping_print_timeout(FILE *f, const char *name);
/* "ping to \"dev\" failed <err>\n". */
void vole_ping_print_failed(FILE *f, const char *name, const char *err);
/* "p2p connection established in 1.234s\n" (since the loop started). */
void vole_ping_print_p2p_established(FILE *f, int64_t since_start_ns);
/* "✔ You are connected directly (p2p)[, over a private network]\n" or the
 * DERP verdict with its link. last: the last pong (NULL: none came). */
void vole_ping_print_verdict(FILE *f, const struct vole_ping_pong *last, const char *troubleshooting_url);

/* ---- summary ------------------------------------------------------------ */

/* Coder's pingSummary: float seconds and Welford, with its quirks (the
 * variance in s² shown as seconds). */
struct vole_ping_summary {
    const char *name;
    long total, successful;
    double sum_s, mean_s, m2;
    int64_t min_ns, max_ns;
};

void vole_ping_summary_init(struct vole_ping_summary *s, const char *name);
/* ok false: a timeout or an error (counted in total only). */
void vole_ping_summary_add(struct vole_ping_summary *s, bool ok, int64_t latency_ns);
/* Derived values; false when undefined (no success; variance: fewer than 2). */
bool vole_ping_summary_avg(const struct vole_ping_summary *s, int64_t *ns);
bool vole_ping_summary_variance(const struct vole_ping_summary *s, int64_t *ns);

/* The dashed line and the table (stdout in table mode). */
void vole_ping_print_summary(FILE *f, const struct vole_ping_summary *s);

/* ---- JSON (-o json) ------------------------------------------------------- */

struct vole_ping_json_pong {
    long sequence;
    int64_t unix_ns;             /* when the ping was sent */
    const char *error;           /* NULL: a pong; else "timed out" or the error */
    struct vole_ping_pong pong;  /* when error is NULL */
};

/* The whole document, 2-space indented as Go's MarshalIndent, ending in a
 * newline. malloc'd; NULL when out of memory. */
char *vole_ping_json(const char *name, const struct vole_ping_json_pong *pongs, size_t n,
                     const struct vole_ping_summary *s, const struct derp_map *m);

/* The region's name, or "unknown". */
const char *vole_ping_region_name(const struct derp_map *m, long long id);

#endif
