/* The STUN phase of a netcheck, sans-IO: which requests to send when, which
 * responses are ours, and what they say about the network (UDP works, the
 * public IPv4/IPv6 address:port, whether the NAT mapping depends on the
 * destination). The embedder owns the socket and the clock; see
 * tailscale-wire.md §4.2 for the algorithm this follows.
 *
 * Use: stun_prober_init at t0; then stun_prober_poll whenever the time from
 * stun_prober_deadline has come (it emits the requests due), feed every
 * received datagram to stun_prober_handle, report send outcomes with
 * stun_prober_sent, and stop when stun_prober_done. */
#ifndef VOLE_STUN_PROBE_H
#define VOLE_STUN_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stun/stun.h"
#include "wg/endpoint.h"

#define STUN_PROBER_MAX_SERVERS 32
#define STUN_PROBER_TRIES 3                        /* first send and two retransmissions */
#define STUN_PROBER_PHASE_NS 3000000000ull         /* stunProbeTimeout */
#define STUN_PROBER_FIRST_RETRY_NS 100000000ull    /* defaultInitialRetransmitTime */
#define STUN_PROBER_NEXT_RETRY_NS 200000000ull     /* defaultActiveRetransmitTime */
#define STUN_SERVER_NAME_MAX 272                   /* a 253-byte DNS name, ':' and a port */

struct stun_probe_target {
    const char *name;          /* as the user typed it, e.g. "stun.example.com:3478"; copied */
    struct wg_endpoint ep;     /* one resolved address (family 4 or 6) */
};

/* Unknown until two IPv4 answers can be compared. */
enum stun_tristate { STUN_UNKNOWN = 0, STUN_NO, STUN_YES };

enum stun_probe_error {
    STUN_PROBE_OK = 0,          /* answered */
    STUN_PROBE_TIMED_OUT,       /* sent, no usable answer (yet) */
    STUN_PROBE_SEND_FAILED,     /* every send so far was refused by the OS */
    STUN_PROBE_BAD_RESPONSE,    /* an answer to our txid did not parse: see bad_status */
};

struct stun_server_result {
    char name[STUN_SERVER_NAME_MAX];
    struct wg_endpoint server;
    bool answered;
    uint64_t latency_ns;        /* from the send whose txid was answered */
    struct wg_endpoint mapped;  /* what the server saw; family 0 unless answered */
    enum stun_probe_error error;
    enum stun_status bad_status;
    unsigned path_mtu;          /* the embedder's path MTU probe (diag/netcheck_pmtu.h): the
                                 * largest IP packet answered; 0: not probed or none */
};

/* The determinations (Tailscale's netcheck.Report names in comments). */
struct stun_report {
    bool udp;                   /* UDP: any server answered */
    bool ipv4, ipv6;            /* IPv4, IPv6: an answer with a mapped address of that family */
    bool ipv4_can_send, ipv6_can_send;   /* IPv4CanSend, IPv6CanSend: a send succeeded */
    struct wg_endpoint global_v4, global_v6;   /* GlobalV4, GlobalV6: first answer per family */
    enum stun_tristate mapping_varies_by_dest_ip;   /* MappingVariesByDestIP */
    size_t n_servers;
    struct stun_server_result servers[STUN_PROBER_MAX_SERVERS];
};

/* Per-server sending state; private to probe.c. */
struct stun_probe_slot {
    uint8_t txid[STUN_PROBER_TRIES][STUN_TXID_LEN];   /* a fresh one per send */
    uint64_t sent_at[STUN_PROBER_TRIES];
    unsigned tries;             /* requests emitted */
    unsigned send_failures;     /* of those, refused by the OS */
    uint64_t next_at;           /* when the next try is due */
};

struct stun_prober {
    uint64_t start, phase_end;
    struct stun_probe_slot slots[STUN_PROBER_MAX_SERVERS];
    struct stun_report report;
};

/* Called once per request: send len bytes of buf to dst (buf is valid only
 * during the call). */
typedef void (*stun_emit_fn)(void *ctx, const struct wg_endpoint *dst, const uint8_t *buf, size_t len);

/* 0, or -1 when n is 0 or above STUN_PROBER_MAX_SERVERS or a server has no
 * address. The first requests are due at now. */
int stun_prober_init(struct stun_prober *p, const struct stun_probe_target *targets, size_t n, uint64_t now);

/* Emits every request due at now: the first send of each server, then
 * retransmissions of unanswered ones 100 ms after the first and 200 ms after
 * the second. Nothing is sent once the phase is over. */
void stun_prober_poll(struct stun_prober *p, uint64_t now, stun_emit_fn emit, void *ctx);

/* The embedder's report on the request it last emitted to dst: whether the
 * OS accepted it. Unreported sends count as accepted. */
void stun_prober_sent(struct stun_prober *p, const struct wg_endpoint *dst, bool ok);

/* A received datagram. True when it is a STUN response to one of our
 * requests (consumed, whether or not it parsed); false for anything else,
 * which the caller passes on (disco, WireGuard). src is not checked: the
 * txid is what identifies an answer. */
bool stun_prober_handle(struct stun_prober *p, const struct wg_endpoint *src, const uint8_t *buf,
                        size_t len, uint64_t now);

/* When stun_prober_poll next has something to do: the next retransmission
 * or the end of the phase. */
uint64_t stun_prober_deadline(const struct stun_prober *p);

/* The phase is over: every server answered or gave up on sending, or 3 s passed. */
bool stun_prober_done(const struct stun_prober *p, uint64_t now);

/* Valid at any time; final once stun_prober_done. */
const struct stun_report *stun_prober_report(const struct stun_prober *p);

const char *stun_probe_error_str(enum stun_probe_error e);

#endif
