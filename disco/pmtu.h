/* Path MTU discovery for one peer's direct UDP path (issue #7), sans-IO:
 * which WireGuard packet size the path carries, found with padded disco
 * pings sent with don't-fragment, and kept true while the path lives.
 *
 * Sizes here are "wire" sizes, whole IP packets: a probe of wire size W is a
 * disco ping whose UDP payload is W - 28 bytes over IPv4 (W - 48 over IPv6),
 * and a path that carries W carries WireGuard packets with inner packets of
 * W - 28 - 32 bytes (IPv6: W - 48 - 32).
 *
 * The search: when a direct path starts (disco_pmtu_start), one round of
 * probes at once — the floor (an inner packet of DISCO_PMTU_INNER_FLOOR
 * bytes), Tailscale's wire sizes 1280, 1360, 1400, 1500, and Coder's padded
 * ping (a 1310-byte UDP payload, the test for "a 1280-byte inner packet
 * fits") — then a binary search, one probe at a time, between the largest
 * size that got its pong and the smallest that did not, until they are
 * within DISCO_PMTU_RESOLUTION bytes. A probe without a pong within
 * DISCO_PMTU_PROBE_TIMEOUT failed; a size is given up after
 * DISCO_PMTU_TRIES failed probes (one lost datagram is not a small MTU).
 *
 * Black holes: while the caller says the session is active, the confirmed
 * size is probed again every DISCO_PMTU_RECHECK; DISCO_PMTU_TRIES failed
 * rechecks in a row make it the smallest failed size, the floor (if it was
 * confirmed) the largest good one, and the search runs again — the inner MTU
 * drops at once to the floor's, then climbs as probes pass.
 *
 * Times are monotonic ns, never 0. */
#ifndef VOLE_DISCO_PMTU_H
#define VOLE_DISCO_PMTU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "disco/disco.h"

#define DISCO_PMTU_MS ((uint64_t)1000000)
#define DISCO_PMTU_INNER_FLOOR 576           /* below this, no direct path (DERP) */
#define DISCO_PMTU_WG_OVERHEAD 32            /* WireGuard data header 16 + tag 16 */
#define DISCO_PMTU_MAX_WIRE 1500             /* probed ceiling (no jumbo frames) */
#define DISCO_PMTU_CODER_PAYLOAD 1310        /* DISCO_PADDED_LEN: Coder's probe */
#define DISCO_PMTU_RESOLUTION 8              /* search stops when good and failed are this close */
#define DISCO_PMTU_PROBE_TIMEOUT (2000 * DISCO_PMTU_MS)
#define DISCO_PMTU_TRIES 2                   /* failed probes before a size is given up */
#define DISCO_PMTU_RECHECK (3000 * DISCO_PMTU_MS)
#define DISCO_PMTU_MAX_INFLIGHT 8

/* IP + UDP header bytes for a family (4: 28, 6: 48). */
static inline unsigned disco_pmtu_ip_udp(uint8_t family) { return family == 6 ? 48u : 28u; }

struct disco_pmtu_inflight {
    uint8_t txid[DISCO_TXID_LEN];
    uint16_t wire;
    uint64_t sent_at;
    bool used;
    bool recheck;                /* a black-hole recheck of the confirmed size */
};

struct disco_pmtu {
    uint8_t family;              /* 0: stopped */
    uint16_t ok_wire;            /* largest size that got a pong; 0: none yet */
    uint16_t fail_wire;          /* smallest size given up; 0: none */
    uint16_t fail_tries_wire;    /* the size the failures below count for */
    unsigned fail_tries;
    unsigned recheck_misses;
    uint64_t next_recheck;
    bool ladder_sent;
    struct disco_pmtu_inflight inflight[DISCO_PMTU_MAX_INFLIGHT];
    uint64_t probes_sent, pongs, timeouts;   /* counters for logs and tests */
};

/* A probe the caller seals as a disco ping padded so that its UDP payload is
 * udp_payload bytes, and sends with don't-fragment to the path's address. */
struct disco_pmtu_probe {
    uint8_t txid[DISCO_TXID_LEN];
    uint16_t wire;
    size_t udp_payload;
};

struct disco_pmtu_out {
    struct disco_pmtu_probe probes[DISCO_PMTU_MAX_INFLIGHT];
    size_t n;
};

/* What a search step did, for -v logs: a size confirmed, given up, ... */
struct disco_pmtu_event {
    bool confirmed, failed, black_hole;
    uint16_t wire;
};

void disco_pmtu_init(struct disco_pmtu *m);
/* A (new) direct path of this family (4 or 6): everything known is forgotten
 * and the ladder is due at once. */
void disco_pmtu_start(struct disco_pmtu *m, uint8_t family, uint64_t now);
/* No direct path any more: nothing is due; pongs are ignored. */
void disco_pmtu_stop(struct disco_pmtu *m);

/* Probes due now (the ladder, the next search step, a recheck when active),
 * and timeouts of probes in flight (each reported in *ev when not NULL: the
 * last one wins). */
void disco_pmtu_tick(struct disco_pmtu *m, uint64_t now, bool active, struct disco_pmtu_out *out,
                     struct disco_pmtu_event *ev);
/* When tick next has work (a timeout, a recheck, a search step), or UINT64_MAX. */
uint64_t disco_pmtu_next_deadline(const struct disco_pmtu *m);
/* A pong: true if its TxID was one of our probes (consumed), *ev filled. */
bool disco_pmtu_on_pong(struct disco_pmtu *m, const uint8_t txid[DISCO_TXID_LEN], uint64_t now,
                        struct disco_pmtu_event *ev);

/* The inner MTU the path is known to carry: 0 while nothing (not even the
 * floor) is confirmed, else ok_wire minus the headers and WireGuard's 32. */
uint16_t disco_pmtu_inner_mtu(const struct disco_pmtu *m);
/* The floor failed DISCO_PMTU_TRIES times: the path cannot carry the
 * smallest inner packet vole allows; the caller gives it up (DERP). */
bool disco_pmtu_unusable(const struct disco_pmtu *m);
/* The search has converged (or hit the ceiling) and no probe is in flight. */
bool disco_pmtu_settled(const struct disco_pmtu *m);

#endif
