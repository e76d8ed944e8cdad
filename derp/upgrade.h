/* The client side of DERP's HTTP upgrade (tailscale-wire.md §1.5), sans-IO:
 * the GET request ("Upgrade: DERP", or WebSocket with subprotocol "derp") and
 * an incremental reader of the response (http-parser in response mode) that
 * stops at the end of the headers, where the upgraded byte stream begins. */
#ifndef VOLE_DERP_UPGRADE_H
#define VOLE_DERP_UPGRADE_H

#include <http_parser.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "derp/url.h"

#define DERP_UPGRADE_USER_AGENT "vole-derp/1"
#define DERP_UPGRADE_RESPONSE_MAX 16384     /* a 101 is ~150 bytes; anything this long is not a DERP server */
#define DERP_UPGRADE_WS_KEY_LEN 24          /* base64 of 16 bytes */
#define DERP_UPGRADE_SUBPROTOCOL_MAX 64

/* Writes the request into out. websocket: ws_key is the Sec-WebSocket-Key.
 * extra_header: one "Name: value" line without CRLF, or NULL. Headers after
 * Host and User-Agent are sorted by name, as Go writes them. Returns the
 * length, or 0 when cap is too small or extra_header is malformed. */
size_t derp_upgrade_request(char *out, size_t cap, const struct derp_url *u, bool websocket, const char *ws_key,
                            const char *extra_header);
/* The same WebSocket upgrade for another service on the server (the
 * coordinator): path (origin-form, e.g. "/api/v2/coordinate") instead of the
 * URL's, and subprotocol (an RFC 9110 token of at most
 * DERP_UPGRADE_SUBPROTOCOL_MAX bytes) instead of "derp". ws_key must be
 * base64. 0 when cap is too small or any argument is malformed. */
size_t derp_upgrade_ws_request(char *out, size_t cap, const struct derp_url *u, const char *path,
                               const char *subprotocol, const char *ws_key, const char *extra_header);
/* Is s one "Name: value" header line (token name, no CR/LF)? */
bool derp_upgrade_header_ok(const char *s);

/* A captured response header value (truncated beyond its buffer). */
struct derp_upgrade_value {
    char v[80];
    size_t len;
};

struct derp_upgrade_response {
    http_parser parser;
    size_t total;                      /* bytes consumed so far */
    bool done;
    int status;
    /* header capture: the name being read, and where its value goes */
    char name[40];
    size_t name_len;
    bool in_value;
    struct derp_upgrade_value *target;
    struct derp_upgrade_value upgrade, ws_accept, ws_protocol, derp_key;
};

enum derp_upgrade_status {
    DERP_UPGRADE_DONE = 1,     /* headers complete: status and headers set */
    DERP_UPGRADE_MORE = 0,
    DERP_UPGRADE_BAD = -1,     /* not HTTP, or longer than DERP_UPGRADE_RESPONSE_MAX */
};

void derp_upgrade_response_init(struct derp_upgrade_response *r);
/* Consumes from buf; on DONE, *used is where the headers end: the rest of buf
 * is the upgraded stream's first bytes. */
enum derp_upgrade_status derp_upgrade_response_feed(struct derp_upgrade_response *r, const uint8_t *buf,
                                                    size_t len, size_t *used);

/* After DONE: NULL if the response completes the upgrade asked for, else why
 * not. websocket: expected_accept is Sec-WebSocket-Accept for our key. */
const char *derp_upgrade_check(const struct derp_upgrade_response *r, bool websocket, const char *expected_accept);
/* The same for a WebSocket upgrade to subprotocol (the server may also name
 * none). */
const char *derp_upgrade_check_ws(const struct derp_upgrade_response *r, const char *expected_accept,
                                  const char *subprotocol);

#endif
