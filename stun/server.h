/* The STUN server core, sans-IO: one datagram in, at most one small response
 * out, every drop counted. Used by `vole stun` and later by `vole server`.
 *
 * It answers RFC 8489/5389 binding requests with XOR-MAPPED-ADDRESS and
 * classic RFC 3489 requests (no magic cookie) with MAPPED-ADDRESS, always
 * with the source address it saw. It must never be a useful reflector:
 *  - a response carries the mapped address and nothing the request chose, so
 *    its size does not grow with the request (at most STUN_MAX_RESPONSE);
 *  - requests larger than STUN_SERVER_MAX_REQUEST are dropped unparsed;
 *  - responses, indications and malformed messages are never answered, so two
 *    servers (or an echo service) spoofed at each other cannot loop;
 *  - each source (IPv4 address or IPv6 /64) gets a token bucket. */
#ifndef VOLE_STUN_SERVER_H
#define VOLE_STUN_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "stun/stun.h"
#include "wg/endpoint.h"
#include "wg/ratelimit.h"

/* A plain binding request is 20..~100 bytes, but path MTU probes (`vole
 * netcheck`, stun_build_padded_request) pad theirs up to a 1500-byte IPv4
 * packet: 1500 less 20 (IP) and 8 (UDP). Larger is no client we serve. The
 * answer does not grow with the request, so the bound is not about
 * amplification. */
#define STUN_SERVER_MAX_REQUEST 1472

/* Per source. A netcheck run sends each server at most 3 tries per family
 * (0, +100 ms, +300 ms), and a report repeats every ~20 s; a burst of 20 lets
 * six nodes behind one NAT start a report in the same instant, and 50/s
 * sustained serves hundreds of them. A spoofed victim gets at most 50 small
 * responses per second (about 2 KiB/s) from us. */
#define STUN_SERVER_RATE_PER_SEC 50
#define STUN_SERVER_RATE_BURST 20

/* Indexes dropped_malformed by the parser's status. */
#define STUN_SERVER_N_STATUS (STUN_ERR_NO_ADDRESS + 1)

struct stun_server {
    uint64_t answered;              /* success responses, classic included */
    uint64_t answered_classic;      /* of which to RFC 3489 clients */
    uint64_t errors_420;            /* unknown comprehension-required attribute */
    uint64_t dropped_malformed[STUN_SERVER_N_STATUS];  /* by parse status */
    uint64_t dropped_oversized;     /* > STUN_SERVER_MAX_REQUEST */
    uint64_t dropped_would_amplify; /* a 420 would be larger than the request that drew it */
    uint64_t dropped_ratelimited;
    uint64_t dropped_not_request;   /* STUN responses and indications */
    uint64_t dropped_unanswerable;  /* no usable source (port 0), or no room */
    struct wg_ratelimit limit;
};

/* 0, or -1 if libsodium cannot be initialised (no randomness for the
 * limiter's hash key). */
int stun_server_init(struct stun_server *s);

/* Handles one datagram from src received at now_ns (monotonic). Returns the
 * response length written to out, or 0 when the datagram is dropped (and
 * counted). cap >= STUN_MAX_RESPONSE always has room. */
size_t stun_server_handle(struct stun_server *s, const uint8_t *req, size_t len, const struct wg_endpoint *src,
                          uint64_t now_ns, uint8_t *out, size_t cap);

uint64_t stun_server_dropped_malformed(const struct stun_server *s);

/* The counters for logs and -v output: the scalar ones, then one
 * "malformed" per parse status seen, with that status as its reason. Returns
 * how many were written (at most cap). The strings are static. */
struct stun_server_counter {
    const char *name;
    const char *reason;   /* NULL, or stun_status_str() of a malformed drop */
    uint64_t value;
};
#define STUN_SERVER_MAX_COUNTERS (8 + STUN_SERVER_N_STATUS)
size_t stun_server_counters(const struct stun_server *s, struct stun_server_counter *out, size_t cap);

#endif
