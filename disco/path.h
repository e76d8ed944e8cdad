/* Path selection for one peer (tailscale-wire.md §3.4, magicsock's endpoint):
 * which UDP address, if any, carries the peer's WireGuard packets, and which
 * disco pings (and CallMeMaybe) are due. Sans-IO: the caller feeds events and
 * the time (monotonic ns) and sends what the out-struct says; no sockets,
 * clocks or randomness other than libsodium's for TxIDs.
 *
 * Candidates come from three sources, as in magicsock: the coordinator's
 * endpoints (kept until replaced), the peer's last CallMeMaybe (kept until
 * replaced), and sources of pings the peer sent us over UDP (expire 45 s
 * after the last ping). An address in several sources is one candidate. No
 * source ever adds family 0, port 0, an unspecified address, link-local IPv6
 * (unusable without a zone) or an overlay ("Coder IP") address in
 * 100.64.0.0/10 or fd7a:115c:a1e0::/48; IPv4-mapped IPv6 is kept as IPv4;
 * beyond DISCO_PATH_MAX_CANDIDATES new addresses are ignored (all counted in
 * ignored_candidates).
 *
 * A best address that stops answering (magicsock keeps it forever; vole drops
 * it so a dead path ends on DERP alone): once trust has expired, the send
 * path is DERP plus best and full ping rounds resume; every ping to best sent
 * after trust expired that times out without a pong is a miss, and at
 * DISCO_PATH_BEST_MAX_MISSES misses (three heartbeat rounds, some 11-14 s
 * after trust expired while the session is active) best is forgotten. The
 * candidate stays, so the full rounds that continue while the session is
 * active (every heartbeat while there is no best; each candidate at most
 * every 5 s) find it again once it answers. A best whose candidate disappears (replaced endpoint lists, an
 * expired ping source) is forgotten at once, as in magicsock.
 *
 * Times are monotonic ns and never 0 (0 means "never" in the fields). */
#ifndef VOLE_DISCO_PATH_H
#define VOLE_DISCO_PATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "disco/disco.h"
#include "wg/endpoint.h"

#define DISCO_PATH_MS ((uint64_t)1000000)
#define DISCO_PATH_HEARTBEAT       (3000 * DISCO_PATH_MS)    /* heartbeatInterval */
#define DISCO_PATH_TRUST           (6500 * DISCO_PATH_MS)    /* trustUDPAddrDuration */
#define DISCO_PATH_GOOD_ENOUGH     (5 * DISCO_PATH_MS)       /* goodEnoughLatency */
#define DISCO_PATH_UPGRADE         (60000 * DISCO_PATH_MS)   /* upgradeInterval */
#define DISCO_PATH_SESSION_ACTIVE  (45000 * DISCO_PATH_MS)   /* sessionActiveTimeout */
#define DISCO_PATH_PING_INTERVAL   (5000 * DISCO_PATH_MS)    /* discoPingInterval */
#define DISCO_PATH_PING_TIMEOUT    (5000 * DISCO_PATH_MS)    /* pingTimeoutDuration */
#define DISCO_PATH_MAX_CANDIDATES  64
#define DISCO_PATH_MAX_SENT        64    /* pings awaiting a pong; the oldest is forgotten */
#define DISCO_PATH_MAX_PINGS       DISCO_PATH_MAX_CANDIDATES   /* pings one call can ask for */
#define DISCO_PATH_BEST_MAX_MISSES 3     /* unanswered pings to an untrusted best before it is forgotten */

enum disco_path_source {
    DISCO_PATH_FROM_COORD = 1,   /* netmap endpoints */
    DISCO_PATH_FROM_CMM = 2,     /* the peer's CallMeMaybe */
    DISCO_PATH_FROM_PING = 4,    /* a ping's UDP source (lastGotPing) */
};

struct disco_path_candidate {
    struct wg_endpoint addr;
    unsigned sources;            /* enum disco_path_source bits */
    uint64_t last_ping_sent;     /* 0: never */
    uint64_t last_got_ping;      /* FROM_PING: when the peer last pinged from here */
    uint64_t last_pong;          /* 0: never */
    uint64_t latency;            /* of the last pong, ns */
};

struct disco_path_sent {
    uint8_t txid[DISCO_TXID_LEN];
    struct wg_endpoint to;       /* family 0: sent via DERP (a CLI ping) */
    uint64_t at;
    bool used;
};

struct disco_path {
    struct disco_path_candidate cand[DISCO_PATH_MAX_CANDIDATES];
    size_t n_cand;
    struct disco_path_sent sent[DISCO_PATH_MAX_SENT];
    bool has_best;
    struct wg_endpoint best;
    uint64_t best_latency;
    uint64_t trust_until;        /* best is used alone until then */
    uint64_t last_full_ping;     /* 0: never */
    uint64_t last_send;          /* last WireGuard packet to the peer (session activity) */
    uint64_t next_heartbeat;     /* UINT64_MAX: none scheduled */
    unsigned best_misses;        /* pings to best sent after trust expired, timed out unanswered */
    /* Counted drops (never an error for the caller, visible in logs/metrics). */
    uint64_t ignored_candidates; /* unusable, skipped (link-local, overlay) or beyond the cap */
    uint64_t unmatched_pongs;    /* unknown TxID, or its ping had already timed out */
    uint64_t forgotten_pings;    /* sent-ping slots reused before their timeout (table full) */
};

/* One disco ping the caller must seal (padded, Coder's version 1) and send over UDP to `to`. */
struct disco_path_ping {
    struct wg_endpoint to;
    uint8_t txid[DISCO_TXID_LEN];
};

struct disco_path_out {
    struct disco_path_ping pings[DISCO_PATH_MAX_PINGS];
    size_t n_pings;
    bool call_me_maybe;          /* send our endpoints to the peer via DERP (unless endpoints are blocked) */
};

/* Where one WireGuard packet to the peer goes. */
struct disco_path_route {
    bool udp;                    /* to udp_addr */
    struct wg_endpoint udp_addr;
    bool derp;                   /* also (or only) via the peer's DERP region */
};

void disco_path_init(struct disco_path *p);

/* The coordinator's endpoint list for the peer (replaces the previous one). */
void disco_path_set_endpoints(struct disco_path *p, const struct wg_endpoint *eps, size_t n, uint64_t now);

/* A WireGuard packet is about to go to the peer (addrForSendLocked): where,
 * and (while untrusted) the pings that are due now, with call_me_maybe set
 * if any ping was asked for. Trusted: udp only, to best. Untrusted: derp, plus
 * udp to best if there is one. Marks the session active (starts the heartbeat). */
void disco_path_send(struct disco_path *p, uint64_t now, struct disco_path_route *route, struct disco_path_out *out);

/* The earliest time disco_path_tick has work (the heartbeat, or the timeout
 * of a ping still awaiting its pong), or UINT64_MAX. */
uint64_t disco_path_next_deadline(const struct disco_path *p);
/* Heartbeat (every 3 s while the session was active within 45 s): ping best,
 * plus a full round when wanted (§3.4), with call_me_maybe set if that round
 * asked for any ping. Heartbeats stop when the session has been idle for 45 s
 * and restart with the next disco_path_send. Also times out unanswered sent
 * pings (possibly forgetting a dead best); ping-learned candidates expire at
 * the start of every full round (magicsock's sendDiscoPingsLocked). The
 * heartbeat ping to best is not held to the 5 s per-candidate interval; full
 * rounds are. */
void disco_path_tick(struct disco_path *p, uint64_t now, struct disco_path_out *out);

/* A Ping from the peer arrived over UDP from src: src becomes a candidate
 * (the caller answers with a Pong to src itself). */
void disco_path_on_ping(struct disco_path *p, const struct wg_endpoint *src, uint64_t now);

/* A Pong from the peer. via_derp: it came over DERP. Returns true if it
 * matched a ping we sent less than 5 s ago (then *latency_ns and *to, the
 * address that ping went to, family 0 for a DERP ping, are set; either may be
 * NULL). The TxID is used up either way. A UDP pong to a ping that went to a
 * current candidate may make `to` the best address (betterAddr) and, if it is
 * the best, trusts it for 6.5 s (trusted while now <= pong time + 6.5 s). A
 * DERP pong, or one for a UDP address that is no longer a candidate, changes
 * nothing but completes the caller's ping. */
bool disco_path_on_pong(struct disco_path *p, const uint8_t txid[DISCO_TXID_LEN], bool via_derp, uint64_t now,
                        uint64_t *latency_ns, struct wg_endpoint *to);

/* A CallMeMaybe from the peer (accepted only via DERP): replaces the CMM
 * candidates, resets every candidate's last_ping_sent and asks for a ping to
 * each of them at once (call_me_maybe stays false). */
void disco_path_on_call_me_maybe(struct disco_path *p, const struct wg_endpoint *eps, size_t n, uint64_t now,
                                 struct disco_path_out *out);

/* A ping sent outside the path's own schedule (a CLI ping via DERP has to =
 * family 0): records the TxID so the pong is matched (`to` is reported back
 * IPv4-mapped IPv6 as IPv4). It does not count as a ping for the 5 s interval. Returns false if the table is full of pings
 * younger than the timeout (the oldest is then reused anyway). */
bool disco_path_note_sent(struct disco_path *p, const uint8_t txid[DISCO_TXID_LEN], const struct wg_endpoint *to,
                          uint64_t now);

/* Forget best at once (path MTU discovery found it cannot carry even the
 * smallest inner packet vole allows, issue #7): the route is DERP until a
 * later pong makes a candidate best again. */
void disco_path_drop_best(struct disco_path *p);

/* The network changed under us (noteConnectivityChange): stop trusting best. */
void disco_path_reset_trust(struct disco_path *p);

/* Current state, for logs and `vole ping`. trusted: has a best and now <= trust_until. */
bool disco_path_best(const struct disco_path *p, struct wg_endpoint *addr, uint64_t *latency_ns);
bool disco_path_trusted(const struct disco_path *p, uint64_t now);

/* betterAddr (Coder's endpoint.go, tailscale-wire.md §3.4): is a (latency la)
 * better than b (lb)? b_valid false (or b of family 0): any valid a wins; an
 * invalid a never does; a == b never does. Points: the faster one gets its
 * latency improvement in percent (integer), +50 loopback, else +20 private
 * (RFC 1918, fc00::/7), +10 IPv6; a wins only with more points and not by
 * <= 1 point against 0 (hysteresis). Exposed for its unit test. */
bool disco_path_better_addr(const struct wg_endpoint *a, uint64_t la, const struct wg_endpoint *b, uint64_t lb,
                            bool b_valid);

#endif
