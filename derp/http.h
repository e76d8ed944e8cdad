/* The DERP server's HTTP/1.1 side, sans-IO (tailscale-wire.md §1.5, §1.9):
 * an incremental request-head parser over http-parser, the routing decision,
 * and the exact response bytes. The server reads one request per connection:
 * it either upgrades (DERP, WebSocket) or answers and closes, so the parser
 * stops at the end of the head and whatever follows (a pipelined ClientInfo)
 * stays with the caller. */
#ifndef VOLE_DERP_HTTP_H
#define VOLE_DERP_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <http_parser.h>

#include "derp/relay.h"

#define DERP_HTTP_HEAD_MAX (16u << 10)     /* request line + headers; more is 431 */
#define DERP_HTTP_URL_MAX 1024             /* a longer request-target is 414 */
#define DERP_HTTP_CHALLENGE_MAX 64         /* X-Tailscale-Challenge echoed only up to this */
#define DERP_HTTP_RESPONSE_MAX 8192        /* the longest response derp_http_respond writes (metrics) */
#define DERP_HTTP_WS_ACCEPT_LEN 28         /* base64 of a SHA-1 */

/* The request headers the server acts on; any other header is skipped. A
 * repeated header's values are joined with ", " (RFC 9110 §5.3).
 * Authorization is last: it has its own, larger room (a bearer token). */
enum derp_http_header {
    DERP_HDR_UPGRADE,
    DERP_HDR_FAST_START,       /* Derp-Fast-Start */
    DERP_HDR_WS_KEY,           /* Sec-WebSocket-Key */
    DERP_HDR_WS_PROTOCOL,      /* Sec-WebSocket-Protocol */
    DERP_HDR_WS_VERSION,       /* Sec-WebSocket-Version */
    DERP_HDR_CHALLENGE,        /* X-Tailscale-Challenge */
    DERP_HDR_AUTHORIZATION,    /* Authorization: for embedders' /api/ routes */
    DERP_HDR_COUNT,
};

/* Room for each value, NUL included; a value that does not fit is marked too
 * long and then matches nothing (it is never truncated into a match). */
#define DERP_HTTP_VALUE_MAX 256
#define DERP_HTTP_AUTH_MAX 2048    /* "Bearer " and a token of up to ~2000 bytes */

struct derp_http_request {
    unsigned method;                          /* enum http_method */
    char url[DERP_HTTP_URL_MAX];              /* the request-target as sent */
    size_t url_len;
    bool url_too_long;
    char value[DERP_HDR_AUTHORIZATION][DERP_HTTP_VALUE_MAX];   /* every header but Authorization */
    char authorization[DERP_HTTP_AUTH_MAX];
    bool present[DERP_HDR_COUNT];
    bool too_long[DERP_HDR_COUNT];
};

enum derp_http_status {
    DERP_HTTP_MORE = 0,        /* all input consumed; the head is not complete */
    DERP_HTTP_DONE = 1,        /* the head is complete; *consumed ends right after it */
    DERP_HTTP_BAD = -1,        /* not HTTP/1.x: 400 and close */
    DERP_HTTP_TOO_LARGE = -2,  /* head over DERP_HTTP_HEAD_MAX: 431 and close */
};

/* Incremental parser state: about 4.6 KiB, needed only until the head is read. */
struct derp_http_parser {
    http_parser p;
    struct derp_http_request req;
    char name[32];             /* the header name being read (longer names are none we want) */
    size_t name_len;
    int cur;                   /* the header whose value is being read, or -1 */
    bool in_value;             /* the last callback was a value: a name starts a new header */
    size_t head_bytes;
    bool done;
};

void derp_http_parser_init(struct derp_http_parser *hp);
/* Feeds bytes; *consumed tells how many were part of the head. After DONE the
 * request is in hp->req and further calls return DONE consuming nothing. */
enum derp_http_status derp_http_parse(struct derp_http_parser *hp, const uint8_t *buf, size_t len,
                                      size_t *consumed);

enum derp_http_route {
    DERP_ROUTE_DERP,               /* /derp, Upgrade: DERP (or websocket without derp): 101, then DERP */
    DERP_ROUTE_DERP_FAST,          /* the same with Derp-Fast-Start: 1: no 101, DERP at once */
    DERP_ROUTE_WEBSOCKET,          /* /derp, Upgrade: websocket, subprotocol derp: 101, then DERP in WS */
    DERP_ROUTE_UPGRADE_REQUIRED,   /* /derp without a usable Upgrade: 426 */
    DERP_ROUTE_PROBE,              /* /derp/probe, /derp/latency-check: 200 */
    DERP_ROUTE_NO_CONTENT,         /* /generate_204: 204 with the challenge echo */
    DERP_ROUTE_METRICS,            /* /metrics: 200 Prometheus text */
    DERP_ROUTE_METHOD_NOT_ALLOWED, /* 405 */
    DERP_ROUTE_NOT_FOUND,          /* 404 */
    DERP_ROUTE_BAD_REQUEST,        /* 400: unparsable target, WebSocket without a key or version 13 */
    DERP_ROUTE_URI_TOO_LONG,       /* 414 */
    DERP_ROUTE_API,                /* /api/...: the embedder's (derp/server.h), else 404 */
};

enum derp_http_route derp_http_route(const struct derp_http_request *req);
/* A header's value, or NULL when absent or too long to keep. */
const char *derp_http_header(const struct derp_http_request *req, enum derp_http_header h);
/* Is tok one of the comma-separated tokens of list (exact, as subprotocols
 * are)? A NULL list has none. */
bool derp_http_has_token(const char *list, const char *tok);
/* The path of the request-target (origin or absolute form), without the
 * query. 0, or -1 when the target does not parse or cap is short. */
int derp_http_path(const struct derp_http_request *req, char *out, size_t cap);
/* ≤ 64 characters of [a-zA-Z0-9.-_:] (and not empty): echoed by /generate_204. */
bool derp_http_challenge_valid(const char *c);

/* Exact response bytes; each returns the length written, or 0 if cap is too small. */
size_t derp_http_write_derp_101(char *out, size_t cap, const uint8_t server_pub[DERP_KEY_LEN]);
size_t derp_http_write_ws_101(char *out, size_t cap, const char accept[DERP_HTTP_WS_ACCEPT_LEN + 1]);
/* The same with another subprotocol (NULL: no Sec-WebSocket-Protocol line). */
size_t derp_http_write_ws_101_proto(char *out, size_t cap, const char accept[DERP_HTTP_WS_ACCEPT_LEN + 1],
                                    const char *proto);
/* A complete response for every route but the three upgrades, which have none
 * here; stats feed /metrics. Every response carries Connection: close. HEAD
 * gets the headers only. */
size_t derp_http_respond(char *out, size_t cap, enum derp_http_route route, const struct derp_http_request *req,
                         const struct derp_relay_stats *stats);
/* The status line and headers alone, for a status the parser decided (400, 431). */
size_t derp_http_write_error(char *out, size_t cap, int status);
/* A complete text response with Go's http.Error shape: status (400, 401,
 * 404, 405, 426, 500, 503...), the body (one line, a newline added),
 * Connection: close. A 401 carries WWW-Authenticate: Bearer. */
size_t derp_http_write_text(char *out, size_t cap, int status, const char *line);
/* The status line and headers of a response whose body_len body the caller
 * writes itself (a DERP map can be larger than any fixed buffer). */
size_t derp_http_write_head(char *out, size_t cap, int status, const char *content_type, size_t body_len);
/* The /metrics body (Prometheus text format 0.0.4). */
size_t derp_http_write_metrics(char *out, size_t cap, const struct derp_relay_stats *st);

#endif
