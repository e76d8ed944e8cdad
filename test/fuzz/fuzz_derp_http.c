/* libFuzzer target for the DERP server's HTTP side (derp/http.h): the
 * request-head parser, the routing decision, the challenge check and the
 * response writers. The first input byte picks where the rest is cut into two
 * reads; the same bytes are also parsed in one read, and both must agree.
 * Whatever was parsed is routed and answered, and every response must read
 * back as one well-formed HTTP/1.1 response with the status its route names,
 * whatever the request put in it. Built and run by scripts/fuzz.sh. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "derp/http.h"

/* A violated invariant is a crash, so libFuzzer keeps the input. */
static void check(int ok)
{
    if (!ok)
        abort();
}

/* ---- the request side ---- */

/* Every string the parser keeps is NUL-terminated inside its buffer. */
/* Where a header's value is kept: Authorization has a room of its own. */
static const char *stored(const struct derp_http_request *r, int h)
{
    return h == DERP_HDR_AUTHORIZATION ? r->authorization : r->value[h];
}

static void check_request(const struct derp_http_request *r)
{
    check(memchr(r->url, 0, sizeof r->url) != NULL);
    check(memchr(r->authorization, 0, sizeof r->authorization) != NULL);
    if (!r->url_too_long)
        check(strlen(r->url) == r->url_len);
    check(r->url_len < sizeof r->url);
    for (int i = 0; i < DERP_HDR_COUNT; i++) {
        if (i != DERP_HDR_AUTHORIZATION)
            check(memchr(r->value[i], 0, DERP_HTTP_VALUE_MAX) != NULL);
        if (!r->present[i])
            check(stored(r, i)[0] == '\0' && !r->too_long[i]);
    }
}

/* The two parses' requests mean the same. A value that overflowed may hold
 * different partial bytes (it matches nothing either way), so only values
 * that fit are compared. (A NUL in a header value once made a value depend
 * on the split; derp/http.c now refuses control bytes in values.) */
static void check_same_request(const struct derp_http_request *a, const struct derp_http_request *b)
{
    check(a->method == b->method && a->url_too_long == b->url_too_long);
    if (!a->url_too_long)
        check(a->url_len == b->url_len && strcmp(a->url, b->url) == 0);
    for (int i = 0; i < DERP_HDR_COUNT; i++) {
        check(a->present[i] == b->present[i]);
        check(a->too_long[i] == b->too_long[i]);
        if (!a->too_long[i])
            check(strcmp(stored(a, i), stored(b, i)) == 0);
    }
}

struct parsed {
    enum derp_http_status st;
    size_t consumed;           /* of the whole input, over all reads */
};

/* Feeds data in two reads cut at split, as a server loop would: it stops
 * reading at DONE or an error, and otherwise every byte must be taken. A read
 * is never empty (a socket's zero-byte read is EOF, and the server closes). */
static struct parsed parse_split(struct derp_http_parser *hp, const uint8_t *data, size_t size, size_t split)
{
    struct parsed out = {DERP_HTTP_MORE, 0};
    const size_t cuts[3] = {0, split, size};

    derp_http_parser_init(hp);
    for (int i = 0; i < 2 && out.st == DERP_HTTP_MORE; i++) {
        size_t len = cuts[i + 1] - cuts[i], used = (size_t)-1;
        if (len == 0)
            continue;
        out.st = derp_http_parse(hp, data + cuts[i], len, &used);
        check(used <= len);
        check(out.st == DERP_HTTP_MORE || out.st == DERP_HTTP_DONE || out.st == DERP_HTTP_BAD ||
              out.st == DERP_HTTP_TOO_LARGE);
        check(out.st != DERP_HTTP_MORE || used == len);
        out.consumed += used;
    }
    check(hp->head_bytes == out.consumed && out.consumed <= DERP_HTTP_HEAD_MAX + 1);
    if (out.st == DERP_HTTP_DONE) {
        /* The head ends with its blank line; DONE is sticky and takes nothing.
         * http-parser built without HTTP_PARSER_STRICT (Debian's) takes any
         * byte after the blank line's CR as its LF, so only the CR is sure. */
        size_t used = (size_t)-1;
        check(out.consumed >= 2 && out.consumed <= DERP_HTTP_HEAD_MAX);
        check(data[out.consumed - 1] == '\n' || data[out.consumed - 2] == '\r');
        check(derp_http_parse(hp, data + out.consumed, size - out.consumed, &used) == DERP_HTTP_DONE && used == 0);
        check_request(&hp->req);
    }
    return out;
}

/* ---- the response side ---- */

/* What a client makes of a response, read back with http-parser. */
struct reply {
    bool head_only;            /* the request was HEAD: no body follows the headers */
    bool complete;
    size_t body_len;
    char field[32];
    size_t field_len;          /* more than the buffer: a name that is none of ours */
    bool in_value;             /* the last callback was a value: a name starts a new header */
    bool in_challenge;         /* the value being read is X-Tailscale-Response's */
    int challenge_headers;
    char challenge[DERP_HTTP_CHALLENGE_MAX + 16];
    size_t challenge_len;
};

static int reply_field(http_parser *p, const char *at, size_t len)
{
    struct reply *r = p->data;
    if (r->in_value)
        r->in_value = false, r->field_len = 0;
    if (r->field_len <= sizeof r->field && len <= sizeof r->field - r->field_len) {
        memcpy(r->field + r->field_len, at, len);
        r->field_len += len;
    } else
        r->field_len = sizeof r->field + 1;
    return 0;
}

static int reply_value(http_parser *p, const char *at, size_t len)
{
    struct reply *r = p->data;
    static const char NAME[] = "X-Tailscale-Response";
    if (!r->in_value) {
        r->in_value = true;
        r->in_challenge = r->field_len == sizeof NAME - 1 && memcmp(r->field, NAME, r->field_len) == 0;
        r->challenge_headers += r->in_challenge;
    }
    if (!r->in_challenge)
        return 0;
    check(len <= sizeof r->challenge - r->challenge_len);
    memcpy(r->challenge + r->challenge_len, at, len);
    r->challenge_len += len;
    return 0;
}

static int reply_headers_done(http_parser *p)
{
    struct reply *r = p->data;
    return r->head_only ? 1 : 0;   /* 1: no body, as after a HEAD */
}

static int reply_body(http_parser *p, const char *at, size_t len)
{
    (void)at;
    ((struct reply *)p->data)->body_len += len;
    return 0;
}

static int reply_complete(http_parser *p)
{
    ((struct reply *)p->data)->complete = true;
    return 0;
}

static const http_parser_settings REPLY = {
    .on_header_field = reply_field,
    .on_header_value = reply_value,
    .on_headers_complete = reply_headers_done,
    .on_body = reply_body,
    .on_message_complete = reply_complete,
};

/* out[0..n) is exactly one complete HTTP/1.1 response with this status,
 * closing the connection; returns what was read from it. */
static struct reply read_reply(const char *out, size_t n, int status, bool head_only)
{
    struct reply r = {.head_only = head_only};
    http_parser p;

    check(n > 0 && memchr(out, '\0', n) == NULL);
    http_parser_init(&p, HTTP_RESPONSE);
    p.data = &r;
    size_t used = http_parser_execute(&p, &REPLY, out, n);
    check(HTTP_PARSER_ERRNO(&p) == HPE_OK && used == n && r.complete);
    check(p.http_major == 1 && p.http_minor == 1 && p.status_code == status);
    /* Every answer closes; a 101 hands the connection over instead. */
    check(status == 101 ? p.upgrade : !http_should_keep_alive(&p));
    if (head_only || status == 204)
        check(r.body_len == 0);
    return r;
}

/* Writes with every interesting cap into a buffer of exactly that size, so
 * ASan sees any write past it: a cap with room to spare gives the whole
 * response, a cap short of it gives 0, never a partial one. */
typedef size_t (*writer)(char *out, size_t cap, const void *arg);

static size_t write_checked(char *full, writer w, const void *arg, uint8_t knob)
{
    size_t n = w(full, DERP_HTTP_RESPONSE_MAX, arg);
    if (n == 0)
        return 0;
    check(n < DERP_HTTP_RESPONSE_MAX);
    const size_t caps[4] = {n + 1, n, n - 1, (size_t)knob * n / 256};
    for (int i = 0; i < 4; i++) {
        char *buf = malloc(caps[i] ? caps[i] : 1);
        size_t m = w(buf, caps[i], arg);
        check(m == 0 || (m == n && caps[i] >= n && memcmp(buf, full, n) == 0));
        check(caps[i] <= n || m == n);
        check(caps[i] >= n || m == 0);
        free(buf);
    }
    return n;
}

struct respond_arg {
    enum derp_http_route route;
    const struct derp_http_request *req;
    const struct derp_relay_stats *stats;
};

static size_t w_respond(char *out, size_t cap, const void *arg)
{
    const struct respond_arg *a = arg;
    return derp_http_respond(out, cap, a->route, a->req, a->stats);
}

static size_t w_error(char *out, size_t cap, const void *arg)
{
    return derp_http_write_error(out, cap, *(const int *)arg);
}

static size_t w_derp_101(char *out, size_t cap, const void *arg)
{
    return derp_http_write_derp_101(out, cap, arg);
}

static size_t w_ws_101(char *out, size_t cap, const void *arg)
{
    return derp_http_write_ws_101(out, cap, arg);
}

static int route_status(enum derp_http_route route)
{
    switch (route) {
    case DERP_ROUTE_PROBE: return 200;
    case DERP_ROUTE_NO_CONTENT: return 204;
    case DERP_ROUTE_METRICS: return 200;
    case DERP_ROUTE_METHOD_NOT_ALLOWED: return 405;
    case DERP_ROUTE_UPGRADE_REQUIRED: return 426;
    case DERP_ROUTE_NOT_FOUND: return 404;
    case DERP_ROUTE_API: return 404;    /* without an embedder's hook (vole derp) */
    case DERP_ROUTE_BAD_REQUEST: return 400;
    case DERP_ROUTE_URI_TOO_LONG: return 414;
    case DERP_ROUTE_DERP:
    case DERP_ROUTE_DERP_FAST:
    case DERP_ROUTE_WEBSOCKET: return 101;
    }
    abort();   /* not a route */
}

static const char *header_value(const struct derp_http_request *r, enum derp_http_header h)
{
    return r->present[h] && !r->too_long[h] ? r->value[h] : NULL;
}

/* Any string the check accepts is safe to echo in a header: 1..64 visible
 * characters, none of them a separator that could end the header. */
static void check_challenge(const char *c)
{
    if (!derp_http_challenge_valid(c))
        return;
    size_t n = strlen(c);
    check(n >= 1 && n <= DERP_HTTP_CHALLENGE_MAX);
    for (size_t i = 0; i < n; i++)
        check(c[i] > ' ' && c[i] < 0x7f && c[i] != ',' && c[i] != ';' && c[i] != '"');
}

static void answer(const struct derp_http_request *req, const struct derp_relay_stats *stats, uint8_t knob)
{
    static char full[DERP_HTTP_RESPONSE_MAX];
    static const uint8_t SERVER_PUB[DERP_KEY_LEN] = {
        0x49, 0x3e, 0x82, 0xfc, 0x74, 0x46, 0x4a, 0x59, 0x26, 0x88, 0x17, 0x62, 0x3d, 0x20, 0x53, 0xc5,
        0xeb, 0x8e, 0x2c, 0xc4, 0xa9, 0x88, 0xb4, 0xfe, 0xe1, 0x79, 0xec, 0x6b, 0x01, 0x0d, 0x53, 0x1d};
    static const char ACCEPT[DERP_HTTP_WS_ACCEPT_LEN + 1] = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

    const enum derp_http_route route = derp_http_route(req);
    const int status = route_status(route);
    const struct respond_arg arg = {route, req, stats};
    size_t n = write_checked(full, w_respond, &arg, knob);

    /* What each route needs from the request. */
    check((route == DERP_ROUTE_URI_TOO_LONG) == req->url_too_long);
    if (route == DERP_ROUTE_DERP || route == DERP_ROUTE_DERP_FAST || route == DERP_ROUTE_WEBSOCKET)
        check(header_value(req, DERP_HDR_UPGRADE) != NULL);
    if (route == DERP_ROUTE_DERP_FAST)
        check(header_value(req, DERP_HDR_FAST_START) && strcmp(header_value(req, DERP_HDR_FAST_START), "1") == 0);
    if (route == DERP_ROUTE_WEBSOCKET)
        check(req->method == HTTP_GET && header_value(req, DERP_HDR_WS_KEY) && *header_value(req, DERP_HDR_WS_KEY) &&
              header_value(req, DERP_HDR_WS_VERSION) && strcmp(header_value(req, DERP_HDR_WS_VERSION), "13") == 0);
    if (route == DERP_ROUTE_PROBE || route == DERP_ROUTE_METRICS)
        check(req->method == HTTP_GET || req->method == HTTP_HEAD);

    if (status == 101) {
        /* The upgrades have no response here: the server writes its 101. */
        check(n == 0);
        n = route == DERP_ROUTE_WEBSOCKET ? write_checked(full, w_ws_101, ACCEPT, knob)
                                          : write_checked(full, w_derp_101, SERVER_PUB, knob);
        (void)read_reply(full, n, 101, true);
        return;
    }
    bool head_only = req->method == HTTP_HEAD && (route == DERP_ROUTE_PROBE || route == DERP_ROUTE_METRICS);
    struct reply r = read_reply(full, n, status, head_only);

    /* The challenge is echoed once, exactly, when valid; else not at all. */
    const char *c = header_value(req, DERP_HDR_CHALLENGE);
    if (c)
        check_challenge(c);
    if (route == DERP_ROUTE_NO_CONTENT && c && derp_http_challenge_valid(c)) {
        static const char PREFIX[] = "response ";
        check(r.challenge_headers == 1 && r.challenge_len == sizeof PREFIX - 1 + strlen(c) &&
              memcmp(r.challenge, PREFIX, sizeof PREFIX - 1) == 0 &&
              memcmp(r.challenge + sizeof PREFIX - 1, c, strlen(c)) == 0);
    } else
        check(r.challenge_headers == 0);
}

static void answer_error(enum derp_http_status st, uint8_t knob)
{
    static char full[DERP_HTTP_RESPONSE_MAX];
    int status = st == DERP_HTTP_TOO_LARGE ? 431 : 400;
    size_t n = write_checked(full, w_error, &status, knob);
    (void)read_reply(full, n, status, false);
    /* Any other status is a 500. */
    status = 1000 + knob;
    n = write_checked(full, w_error, &status, knob);
    (void)read_reply(full, n, 500, false);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct derp_http_parser split, whole;   /* 2.6 KiB each: off the stack */

    if (size == 0)
        return 0;
    const uint8_t knob = data[0];
    data++;
    size--;

    struct parsed a = parse_split(&split, data, size, (size_t)knob * size / 256);
    struct parsed b = parse_split(&whole, data, size, size);
    check(a.st == b.st);
    if (a.st == DERP_HTTP_DONE) {
        check(a.consumed == b.consumed);
        check_same_request(&split.req, &whole.req);
        /* Whatever follows the head (pipelined bytes) feeds /metrics; the
         * rest of the counters are at their widest. */
        struct derp_relay_stats stats;
        size_t rest = size - a.consumed;
        memset(&stats, 0xff, sizeof stats);
        memcpy(&stats, data + a.consumed, rest < sizeof stats ? rest : sizeof stats);
        answer(&split.req, &stats, knob);
    } else if (a.st != DERP_HTTP_MORE)
        answer_error(a.st, knob);

    /* The challenge check on raw bytes too, up to a bit past its limit. */
    char text[DERP_HTTP_CHALLENGE_MAX + 8];
    size_t n = size < sizeof text - 1 ? size : sizeof text - 1;
    memcpy(text, data, n);
    text[n] = '\0';
    check_challenge(text);
    return 0;
}
