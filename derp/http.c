/* HTTP/1.1 request heads and responses for the DERP server (derp/http.h). */
#include "derp/http.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "derp/handshake.h"

/* Lower-case names, in enum derp_http_header order. */
static const char *const HEADER_NAMES[DERP_HDR_COUNT] = {
    "upgrade", "derp-fast-start", "sec-websocket-key", "sec-websocket-protocol", "sec-websocket-version",
    "x-tailscale-challenge", "authorization",
};

/* Where a header's value is kept, and how much room it has. */
static char *value_slot(struct derp_http_request *r, int h, size_t *cap)
{
    if (h == DERP_HDR_AUTHORIZATION) {
        *cap = sizeof r->authorization;
        return r->authorization;
    }
    *cap = DERP_HTTP_VALUE_MAX;
    return r->value[h];
}

static struct derp_http_parser *parser_of(http_parser *p)
{
    return p->data;
}

/* Appends to a bounded NUL-terminated buffer; false when it would not fit. */
static bool append(char *dst, size_t cap, size_t *len, const char *src, size_t n)
{
    if (n >= cap - *len)
        return false;
    memcpy(dst + *len, src, n);
    *len += n;
    dst[*len] = '\0';
    return true;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
    struct derp_http_request *r = &parser_of(p)->req;
    if (!r->url_too_long && !append(r->url, sizeof r->url, &r->url_len, at, len))
        r->url_too_long = true;
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
    struct derp_http_parser *hp = parser_of(p);

    if (hp->in_value) {
        hp->in_value = false;
        hp->name_len = 0;
    }
    /* A name too long for the buffer is none of ours: make it unmatchable. */
    if (hp->name_len <= sizeof hp->name && len <= sizeof hp->name - hp->name_len) {
        memcpy(hp->name + hp->name_len, at, len);
        hp->name_len += len;
    } else {
        hp->name_len = sizeof hp->name + 1;
    }
    return 0;
}

static int lookup_header(const char *name, size_t len)
{
    for (int i = 0; i < DERP_HDR_COUNT; i++)
        if (strlen(HEADER_NAMES[i]) == len && strncasecmp(HEADER_NAMES[i], name, len) == 0)
            return i;
    return -1;
}

/* The first value chunk of a header: find out whether it is one we keep. */
static void start_value(struct derp_http_parser *hp)
{
    struct derp_http_request *r = &hp->req;
    size_t len, cap;
    char *v;

    hp->in_value = true;
    hp->cur = hp->name_len <= sizeof hp->name ? lookup_header(hp->name, hp->name_len) : -1;
    if (hp->cur < 0)
        return;
    v = value_slot(r, hp->cur, &cap);
    len = strlen(v);
    if (r->present[hp->cur] && !append(v, cap, &len, ", ", 2))
        r->too_long[hp->cur] = true;
    r->present[hp->cur] = true;
}

/* RFC 9110 §5.5: no control characters but HTAB in a field value. http-parser
 * lets some through (a NUL first byte among them), which would make a stored
 * value depend on how the request was split into reads. */
static bool value_is_clean(const char *at, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)at[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return false;
    }
    return true;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    struct derp_http_parser *hp = parser_of(p);
    struct derp_http_request *r = &hp->req;
    size_t have, cap;
    char *v;

    if (!value_is_clean(at, len))
        return -1;   /* a parse error: 400 */
    if (!hp->in_value)
        start_value(hp);
    if (hp->cur < 0 || r->too_long[hp->cur])
        return 0;
    v = value_slot(r, hp->cur, &cap);
    have = strlen(v);
    if (!append(v, cap, &have, at, len))
        r->too_long[hp->cur] = true;
    return 0;
}

static void trim_trailing_space(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
}

static int on_headers_complete(http_parser *p)
{
    struct derp_http_parser *hp = parser_of(p);

    /* http-parser takes any digit; only HTTP/1.x may upgrade to DERP. */
    if (p->http_major != 1)
        return -1;
    for (int i = 0; i < DERP_HDR_COUNT; i++) {
        size_t cap;
        trim_trailing_space(value_slot(&hp->req, i, &cap));
    }
    hp->req.method = p->method;
    hp->done = true;
    /* 2: no body and nothing more to parse: the parser stops right after the
     * head, which is where an upgraded protocol's bytes begin. */
    return 2;
}

static const http_parser_settings SETTINGS = {
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
};

void derp_http_parser_init(struct derp_http_parser *hp)
{
    memset(hp, 0, sizeof *hp);
    http_parser_init(&hp->p, HTTP_REQUEST);
    hp->p.data = hp;
    hp->cur = -1;
}

enum derp_http_status derp_http_parse(struct derp_http_parser *hp, const uint8_t *buf, size_t len,
                                      size_t *consumed)
{
    /* Feed at most one byte past the limit, so an endless head is caught by
     * our limit rather than by http-parser's own (80 KiB) as malformed. */
    size_t room = DERP_HTTP_HEAD_MAX + 1 - hp->head_bytes;
    size_t n = len < room ? len : room, used;

    *consumed = 0;
    if (hp->done)
        return DERP_HTTP_DONE;
    used = http_parser_execute(&hp->p, &SETTINGS, (const char *)buf, n);
    hp->head_bytes += used;
    *consumed = used;
    if (hp->done)
        return hp->head_bytes > DERP_HTTP_HEAD_MAX ? DERP_HTTP_TOO_LARGE : DERP_HTTP_DONE;
    if (HTTP_PARSER_ERRNO(&hp->p) != HPE_OK)
        return DERP_HTTP_BAD;
    return hp->head_bytes > DERP_HTTP_HEAD_MAX ? DERP_HTTP_TOO_LARGE : DERP_HTTP_MORE;
}

/* ---- routing ---- */

const char *derp_http_header(const struct derp_http_request *r, enum derp_http_header h)
{
    if ((unsigned)h >= DERP_HDR_COUNT || !r->present[h] || r->too_long[h])
        return NULL;
    return h == DERP_HDR_AUTHORIZATION ? r->authorization : r->value[h];
}

static const char *header(const struct derp_http_request *r, enum derp_http_header h)
{
    return derp_http_header(r, h);
}

bool derp_http_has_token(const char *list, const char *tok)
{
    size_t tlen = strlen(tok);

    while (list && *list) {
        const char *end = strchr(list, ',');
        size_t n = end ? (size_t)(end - list) : strlen(list);
        while (n > 0 && (*list == ' ' || *list == '\t'))
            list++, n--;
        while (n > 0 && (list[n - 1] == ' ' || list[n - 1] == '\t'))
            n--;
        if (n == tlen && memcmp(list, tok, n) == 0)
            return true;
        list = end ? end + 1 : NULL;
    }
    return false;
}

/* The path of the request-target (origin or absolute form), without query. */
int derp_http_path(const struct derp_http_request *r, char *out, size_t cap)
{
    struct http_parser_url u;
    size_t off, len;

    http_parser_url_init(&u);
    if (http_parser_parse_url(r->url, r->url_len, r->method == HTTP_CONNECT, &u) != 0)
        return -1;
    if (!(u.field_set & (1u << UF_PATH))) {
        snprintf(out, cap, "/");
        return 0;
    }
    off = u.field_data[UF_PATH].off;
    len = u.field_data[UF_PATH].len;
    if (len >= cap)
        return -1;
    memcpy(out, r->url + off, len);
    out[len] = '\0';
    return 0;
}

static bool get_or_head(const struct derp_http_request *r)
{
    return r->method == HTTP_GET || r->method == HTTP_HEAD;
}

/* /derp. As upstream's handler, the method is not checked for raw DERP (the
 * Upgrade header decides); a WebSocket handshake is RFC 6455's: GET, a key,
 * version 13. */
static enum derp_http_route route_derp(const struct derp_http_request *r)
{
    const char *up = header(r, DERP_HDR_UPGRADE), *ver = header(r, DERP_HDR_WS_VERSION);
    const char *fast = header(r, DERP_HDR_FAST_START);

    if (!up)
        return DERP_ROUTE_UPGRADE_REQUIRED;
    if (strcasecmp(up, "websocket") == 0 && derp_http_has_token(header(r, DERP_HDR_WS_PROTOCOL), "derp")) {
        if (r->method != HTTP_GET)
            return DERP_ROUTE_METHOD_NOT_ALLOWED;
        if (!header(r, DERP_HDR_WS_KEY) || !*header(r, DERP_HDR_WS_KEY) || !ver || strcmp(ver, "13") != 0)
            return DERP_ROUTE_BAD_REQUEST;
        return DERP_ROUTE_WEBSOCKET;
    }
    /* websocket without the derp subprotocol: legacy clients speaking raw DERP. */
    if (strcasecmp(up, "derp") != 0 && strcasecmp(up, "websocket") != 0)
        return DERP_ROUTE_UPGRADE_REQUIRED;
    return fast && strcmp(fast, "1") == 0 ? DERP_ROUTE_DERP_FAST : DERP_ROUTE_DERP;
}

static bool is_probe_path(const char *path)
{
    return strcmp(path, "/derp/probe") == 0 || strcmp(path, "/derp/latency-check") == 0;
}

enum derp_http_route derp_http_route(const struct derp_http_request *req)
{
    char path[DERP_HTTP_URL_MAX];

    if (req->url_too_long)
        return DERP_ROUTE_URI_TOO_LONG;
    if (derp_http_path(req, path, sizeof path) < 0)
        return DERP_ROUTE_BAD_REQUEST;
    if (strcmp(path, "/derp") == 0)
        return route_derp(req);
    if (is_probe_path(path))
        return get_or_head(req) ? DERP_ROUTE_PROBE : DERP_ROUTE_METHOD_NOT_ALLOWED;
    /* Any method, as upstream's ServeNoContent. */
    if (strcmp(path, "/generate_204") == 0)
        return DERP_ROUTE_NO_CONTENT;
    if (strcmp(path, "/metrics") == 0)
        return get_or_head(req) ? DERP_ROUTE_METRICS : DERP_ROUTE_METHOD_NOT_ALLOWED;
    if (strncmp(path, "/api/", 5) == 0)
        return DERP_ROUTE_API;
    return DERP_ROUTE_NOT_FOUND;
}

bool derp_http_challenge_valid(const char *c)
{
    size_t n = strlen(c);

    if (n == 0 || n > DERP_HTTP_CHALLENGE_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = c[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                  ch == '.' || ch == '-' || ch == '_' || ch == ':';
        if (!ok)
            return false;
    }
    return true;
}

/* ---- responses ---- */

/* snprintf into out; 0 when it did not fit. */
static size_t put(char *out, size_t cap, size_t at, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static size_t put(char *out, size_t cap, size_t at, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (at >= cap)
        return 0;
    va_start(ap, fmt);
    n = vsnprintf(out + at, cap - at, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap - at)
        return 0;
    return at + (size_t)n;
}

size_t derp_http_write_derp_101(char *out, size_t cap, const uint8_t server_pub[DERP_KEY_LEN])
{
    char hex[2 * DERP_KEY_LEN + 1];

    derp_key_hex(hex, server_pub);
    return put(out, cap, 0,
               "HTTP/1.1 101 Switching Protocols\r\n"
               "Upgrade: DERP\r\n"
               "Connection: Upgrade\r\n"
               "Derp-Version: %d\r\n"
               "Derp-Public-Key: %s\r\n"
               "\r\n",
               DERP_PROTOCOL_VERSION, hex);
}

size_t derp_http_write_ws_101_proto(char *out, size_t cap, const char accept[DERP_HTTP_WS_ACCEPT_LEN + 1],
                                    const char *proto)
{
    size_t at = put(out, cap, 0,
                    "HTTP/1.1 101 Switching Protocols\r\n"
                    "Upgrade: websocket\r\n"
                    "Connection: Upgrade\r\n"
                    "Sec-WebSocket-Accept: %s\r\n",
                    accept);
    if (at && proto)
        at = put(out, cap, at, "Sec-WebSocket-Protocol: %s\r\n", proto);
    return at ? put(out, cap, at, "\r\n") : 0;
}

size_t derp_http_write_ws_101(char *out, size_t cap, const char accept[DERP_HTTP_WS_ACCEPT_LEN + 1])
{
    return derp_http_write_ws_101_proto(out, cap, accept, "derp");
}

struct response {
    int status;
    const char *reason;
    const char *headers;       /* extra header lines, each ending in CRLF */
    const char *content_type;  /* NULL: none */
    const char *body;
    size_t body_len;
    bool head_only;            /* HEAD: the headers a GET would get, no body */
};

static size_t write_response(char *out, size_t cap, const struct response *r)
{
    size_t at = put(out, cap, 0, "HTTP/1.1 %d %s\r\n%s", r->status, r->reason, r->headers ? r->headers : "");

    if (at && r->content_type)
        at = put(out, cap, at, "Content-Type: %s\r\n", r->content_type);
    /* A 204 has no body and must not announce one (RFC 9110 §8.6). */
    if (at && r->status != 204)
        at = put(out, cap, at, "Content-Length: %zu\r\n", r->body_len);
    if (at)
        at = put(out, cap, at, "Connection: close\r\n\r\n");
    if (!at || r->head_only || r->body_len == 0)
        return at;
    if (r->body_len > cap - at)
        return 0;
    memcpy(out + at, r->body, r->body_len);
    return at + r->body_len;
}

static const char TEXT_PLAIN[] = "text/plain; charset=utf-8";

/* An error with Go's http.Error shape: text body ending in a newline. */
static size_t write_text(char *out, size_t cap, int status, const char *reason, const char *body)
{
    struct response r = {
        .status = status, .reason = reason, .headers = "X-Content-Type-Options: nosniff\r\n",
        .content_type = TEXT_PLAIN, .body = body, .body_len = strlen(body),
    };
    return write_response(out, cap, &r);
}

size_t derp_http_write_error(char *out, size_t cap, int status)
{
    switch (status) {
    case 400: return write_text(out, cap, 400, "Bad Request", "400 Bad Request\n");
    case 414: return write_text(out, cap, 414, "URI Too Long", "414 URI Too Long\n");
    case 431:
        return write_text(out, cap, 431, "Request Header Fields Too Large", "431 Request Header Fields Too Large\n");
    default: return write_text(out, cap, 500, "Internal Server Error", "500 Internal Server Error\n");
    }
}

static const char *reason_phrase(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 426: return "Upgrade Required";
    case 503: return "Service Unavailable";
    default: return "Internal Server Error";
    }
}

size_t derp_http_write_text(char *out, size_t cap, int status, const char *line)
{
    char body[512];
    struct response r = {
        .status = status, .reason = reason_phrase(status),
        .headers = status == 401 ? "Www-Authenticate: Bearer\r\nX-Content-Type-Options: nosniff\r\n"
                                 : "X-Content-Type-Options: nosniff\r\n",
        .content_type = TEXT_PLAIN, .body = body,
    };
    int n = snprintf(body, sizeof body, "%s\n", line);

    if (n < 0 || (size_t)n >= sizeof body)
        return 0;
    r.body_len = (size_t)n;
    return write_response(out, cap, &r);
}

size_t derp_http_write_head(char *out, size_t cap, int status, const char *content_type, size_t body_len)
{
    struct response r = {
        .status = status, .reason = reason_phrase(status), .content_type = content_type, .body_len = body_len,
        .head_only = true,
    };
    return write_response(out, cap, &r);
}

/* ---- /metrics ---- */

struct metric {
    const char *name, *type, *help;
    size_t offset;             /* of the uint64_t in struct derp_relay_stats */
};

#define STAT(f) offsetof(struct derp_relay_stats, f)

static const struct metric METRICS[] = {
    { "derp_current_connections", "gauge", "Client connections registered now (duplicates of a key too).", STAT(clients_current) },
    { "derp_current_home_connections", "gauge", "Clients whose last NotePreferred said this is their home.",
      STAT(clients_home) },
    { "derp_accepts_total", "counter", "Clients that completed the handshake.", STAT(clients_total) },
    { "derp_accepts_rejected_total", "counter", "Clients refused by the admission hook.", STAT(accepts_rejected) },
    { "derp_handshakes_failed_total", "counter", "Handshakes that failed (bad ClientInfo).", STAT(handshakes_failed) },
    { "derp_handshakes_timed_out_total", "counter", "Handshakes not done within 10 s.", STAT(handshakes_timed_out) },
    { "derp_packets_relayed_total", "counter", "Packets delivered as RecvPacket.", STAT(packets_relayed) },
    { "derp_bytes_relayed_total", "counter", "Payload bytes delivered as RecvPacket.", STAT(bytes_relayed) },
    { "derp_disco_packets_relayed_total", "counter", "Disco packets among those relayed.", STAT(disco_packets_relayed) },
    { "derp_peer_gone_sent_total", "counter", "PeerGone frames sent.", STAT(peer_gone_sent) },
    { "derp_peer_gone_ratelimited_total", "counter", "PeerGone(NotHere) frames held back by the rate limit.",
      STAT(peer_gone_ratelimited) },
    { "derp_peer_gone_dropped_total", "counter", "PeerGone frames dropped on a full control queue.",
      STAT(peer_gone_dropped) },
    { "derp_mesh_frames_refused_total", "counter", "Mesh frames from non-mesh clients (which are closed).",
      STAT(mesh_frames_refused) },
    { "derp_pings_answered_total", "counter", "Client pings answered with a pong.", STAT(pings_answered) },
    { "derp_keepalives_sent_total", "counter", "KeepAlive frames sent.", STAT(keepalives_sent) },
};

/* Reasons as upstream's derpserver names them where it has one. */
static const struct metric DROPS[] = {
    { "queue_head", NULL, NULL, STAT(drop_queue_head) },
    { "queue_tail", NULL, NULL, STAT(drop_queue_tail) },
    { "unknown_dest", NULL, NULL, STAT(drop_unknown_dest) },
    { "dup_client", NULL, NULL, STAT(drop_inactive_dup) },
    { "bad_frame", NULL, NULL, STAT(drop_bad_frame) },
};

static unsigned long long stat_value(const struct derp_relay_stats *st, size_t offset)
{
    uint64_t v;
    memcpy(&v, (const char *)st + offset, sizeof v);
    return (unsigned long long)v;
}

size_t derp_http_write_metrics(char *out, size_t cap, const struct derp_relay_stats *st)
{
    size_t at = 0;

    for (size_t i = 0; i < sizeof METRICS / sizeof METRICS[0]; i++) {
        const struct metric *m = &METRICS[i];
        at = put(out, cap, at, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", m->name, m->help, m->name, m->type, m->name,
                 stat_value(st, m->offset));
        if (!at)
            return 0;
    }
    at = put(out, cap, at, "# HELP derp_packets_dropped_total Packets dropped, by reason.\n"
                           "# TYPE derp_packets_dropped_total counter\n");
    for (size_t i = 0; at && i < sizeof DROPS / sizeof DROPS[0]; i++)
        at = put(out, cap, at, "derp_packets_dropped_total{reason=\"%s\"} %llu\n", DROPS[i].name,
                 stat_value(st, DROPS[i].offset));
    return at;
}

static size_t respond_no_content(char *out, size_t cap, const struct derp_http_request *req)
{
    const char *c = header(req, DERP_HDR_CHALLENGE);
    bool echo = c && derp_http_challenge_valid(c);
    char headers[160 + DERP_HTTP_CHALLENGE_MAX];
    struct response r = { .status = 204, .reason = "No Content", .headers = headers };

    /* A valid challenge has at most DERP_HTTP_CHALLENGE_MAX characters; the
     * precision says so to the compiler's truncation check. */
    snprintf(headers, sizeof headers, "Cache-Control: no-cache, no-store, must-revalidate, no-transform, max-age=0\r\n");
    if (echo)
        snprintf(headers + strlen(headers), sizeof headers - strlen(headers), "X-Tailscale-Response: response %.*s\r\n",
                 DERP_HTTP_CHALLENGE_MAX, c);
    return write_response(out, cap, &r);
}

static size_t respond_metrics(char *out, size_t cap, const struct derp_http_request *req,
                              const struct derp_relay_stats *stats)
{
    char body[DERP_HTTP_RESPONSE_MAX - 256];
    struct response r = {
        .status = 200, .reason = "OK", .content_type = "text/plain; version=0.0.4; charset=utf-8", .body = body,
        .head_only = req->method == HTTP_HEAD,
    };

    r.body_len = derp_http_write_metrics(body, sizeof body, stats);
    if (r.body_len == 0)
        return derp_http_write_error(out, cap, 500);
    return write_response(out, cap, &r);
}

static size_t respond_method_not_allowed(char *out, size_t cap, const struct derp_http_request *req)
{
    char path[DERP_HTTP_URL_MAX];
    bool probe = derp_http_path(req, path, sizeof path) == 0 && is_probe_path(path);

    /* upstream's ProbeHandler text, for the paths it serves */
    return write_text(out, cap, 405, "Method Not Allowed", probe ? "bogus probe method\n" : "method not allowed\n");
}

size_t derp_http_respond(char *out, size_t cap, enum derp_http_route route, const struct derp_http_request *req,
                         const struct derp_relay_stats *stats)
{
    struct response probe = {
        .status = 200, .reason = "OK", .headers = "Access-Control-Allow-Origin: *\r\n",
    };

    switch (route) {
    case DERP_ROUTE_PROBE: return write_response(out, cap, &probe);
    case DERP_ROUTE_NO_CONTENT: return respond_no_content(out, cap, req);
    case DERP_ROUTE_METRICS: return respond_metrics(out, cap, req, stats);
    case DERP_ROUTE_METHOD_NOT_ALLOWED: return respond_method_not_allowed(out, cap, req);
    case DERP_ROUTE_UPGRADE_REQUIRED:
        return write_text(out, cap, 426, "Upgrade Required", "DERP requires connection upgrade\n");
    case DERP_ROUTE_NOT_FOUND:
    case DERP_ROUTE_API: return write_text(out, cap, 404, "Not Found", "404 page not found\n");
    case DERP_ROUTE_URI_TOO_LONG: return derp_http_write_error(out, cap, 414);
    case DERP_ROUTE_BAD_REQUEST: return derp_http_write_error(out, cap, 400);
    case DERP_ROUTE_DERP:
    case DERP_ROUTE_DERP_FAST:
    case DERP_ROUTE_WEBSOCKET: break;
    }
    return 0;
}
