/* STUN Binding (RFC 8489, with RFC 5389 and RFC 3489 compatibility) as
 * Tailscale uses it: the request vole sends, the responses its server builds,
 * and the parsers for both sides (tailscale-wire.md §4.1). Sans-IO: bytes in,
 * bytes out; the caller owns sockets, timers and transaction ids. */
#ifndef VOLE_STUN_STUN_H
#define VOLE_STUN_STUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wg/endpoint.h"

#define STUN_HEADER_LEN 20
#define STUN_TXID_LEN 12
#define STUN_REQUEST_LEN 40              /* vole's Tailscale-compatible request */
#define STUN_MAGIC_COOKIE 0x2112A442u
#define STUN_MAX_RESPONSE 64             /* no response vole's server builds is larger */
#define STUN_CLASSIC_TXID_LEN 16         /* RFC 3489: the cookie's 4 bytes belong to the id */
#define STUN_SOFTWARE "tailnode"         /* derper answers only requests carrying this */

/* CHANGE-REQUEST flags (RFC 3489 §11.2.4, kept by RFC 5780). */
#define STUN_CHANGE_IP   0x04
#define STUN_CHANGE_PORT 0x02

/* Cheap check for the shared-socket demux: len >= 20, top two bits zero, magic cookie. */
bool stun_is(const uint8_t *b, size_t len);

/* The 40-byte binding request: SOFTWARE "tailnode" then FINGERPRINT (Tailscale's derper
 * ignores anything else). Byte-exact with the reference vector. */
void stun_build_request(uint8_t out[STUN_REQUEST_LEN], const uint8_t txid[STUN_TXID_LEN]);

/* The same request grown to exactly len bytes, for path MTU probes: SOFTWARE
 * "tailnode", then a comprehension-optional filler (STUN_ATTR_PROBE_PADDING),
 * then FINGERPRINT, so derper and vole answer it like the plain one. Not
 * RFC 5780's PADDING (0x0026): that asks the server to pad its answer, which
 * vole's server refuses (420) and a path MTU probe does not need. len is
 * STUN_PADDED_REQUEST_MIN..65532 and a multiple of 4; returns len, or 0 when
 * it is not. */
#define STUN_PADDED_REQUEST_MIN (STUN_REQUEST_LEN + 4)
size_t stun_build_padded_request(uint8_t *out, size_t len, const uint8_t txid[STUN_TXID_LEN]);

enum stun_status {
    STUN_OK = 0,
    STUN_ERR_NOT_STUN,          /* not a STUN message at all */
    STUN_ERR_TRUNCATED,         /* header length beyond the datagram, attribute overrun */
    STUN_ERR_BAD_LENGTH,        /* message length not a multiple of 4, etc. */
    STUN_ERR_NOT_BINDING,       /* another method or class than expected */
    STUN_ERR_BAD_FINGERPRINT,   /* FINGERPRINT present but wrong, or not last */
    STUN_ERR_UNKNOWN_REQUIRED,  /* comprehension-required attribute we do not know (answer 420) */
    STUN_ERR_NO_ADDRESS,        /* a response without any mapped address */
};
const char *stun_status_str(enum stun_status s);

/* A binding request as a server sees it. classic: an RFC 3489 request (no magic cookie:
 * the 16 bytes after the length are the transaction id). unknown[]: the comprehension-
 * required attribute types not understood (for the 420 error's UNKNOWN-ATTRIBUTES). */
struct stun_request {
    bool classic;
    uint8_t txid[16];            /* 12 bytes (RFC 5389+) or 16 (RFC 3489, cookie-less) */
    bool has_software, software_is_tailnode, has_fingerprint;
    uint16_t unknown[4]; size_t n_unknown;
    /* CHANGE-REQUEST's flags (STUN_CHANGE_IP | STUN_CHANGE_PORT), 0 when absent. A
     * request with a flag set cannot be honoured by a server with one address, so
     * 0x0003 is also listed in unknown[] (RFC 5780's 420); a server that prefers
     * silence for classic clients can look here. stun-client sends flags 0, 4, 2. */
    uint8_t change_flags;
};

/* STUN_OK, or STUN_ERR_UNKNOWN_REQUIRED with *req complete (classic, txid, unknown[]) so
 * that stun_build_error_420 can answer it; any other status: drop the datagram. Trailing
 * bytes beyond the header length are ignored. A datagram shorter than the header gives
 * STUN_ERR_TRUNCATED; leading bits other than 00 give STUN_ERR_NOT_STUN. Authentication
 * attributes are known but ignored: vole's server, like derper, is open. */
enum stun_status stun_parse_request(const uint8_t *b, size_t len, struct stun_request *req);

/* Responses a server sends: success with XOR-MAPPED-ADDRESS (RFC 5389+; plus MAPPED-ADDRESS
 * only for classic requests, where XOR-MAPPED-ADDRESS does not exist), or error 420 with
 * UNKNOWN-ATTRIBUTES. Return the length written (<= STUN_MAX_RESPONSE), 0 if out is too small.
 * A modern success is exactly derper's: header and XOR-MAPPED-ADDRESS, no SOFTWARE or
 * FINGERPRINT. stun_build_success returns 0 too for a mapped family of 0. */
size_t stun_build_success(uint8_t *out, size_t cap, const struct stun_request *req, const struct wg_endpoint *mapped);
size_t stun_build_error_420(uint8_t *out, size_t cap, const struct stun_request *req);

/* A binding success response as a client sees it: XOR-MAPPED-ADDRESS (0x0020), else the
 * non-standard 0x8020, else MAPPED-ADDRESS (0x0001); IPv4-mapped IPv6 unmapped; trailing
 * bytes beyond the header length ignored; fingerprint checked only if present.
 * The magic cookie is required (vole never sends classic requests). A chosen address
 * attribute with a bad length or family gives STUN_ERR_BAD_LENGTH. *mapped has family 0
 * unless STUN_OK; txid is written once the header is valid. */
enum stun_status stun_parse_response(const uint8_t *b, size_t len, uint8_t txid[STUN_TXID_LEN], struct wg_endpoint *mapped);

#endif
