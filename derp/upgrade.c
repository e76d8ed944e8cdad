#include "derp/upgrade.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- the request -------------------------------------------------------- */

/* RFC 9110 tchar: what a header name may contain. */
static bool is_tchar(unsigned char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

bool derp_upgrade_header_ok(const char *s)
{
    const char *colon = s ? strchr(s, ':') : NULL;
    if (!colon || colon == s)
        return false;
    for (const char *p = s; p < colon; p++)
        if (!is_tchar((unsigned char)*p))
            return false;
    /* No CR or LF (header injection) and no other control byte but tab. */
    for (const char *p = colon + 1; *p; p++)
        if (((unsigned char)*p < 0x20 && *p != '\t') || *p == 0x7f)
            return false;
    return true;
}

struct header_line {
    const char *name;          /* compared up to the ':' */
    const char *line;          /* "Name: value" */
};

static int by_name(const void *a, const void *b)
{
    const char *x = ((const struct header_line *)a)->name, *y = ((const struct header_line *)b)->name;
    size_t xl = strcspn(x, ":"), yl = strcspn(y, ":");
    int c = strncasecmp(x, y, xl < yl ? xl : yl);
    return c ? c : (xl > yl) - (xl < yl);
}

/* Go writes Host and User-Agent first, then the rest sorted by name; names
 * in Go's canonical form (Sec-Websocket-Key) as a Go client puts them on
 * the wire. ws_lines: the key and subprotocol lines, or NULL for DERP's own
 * upgrade. */
static size_t sorted_headers(struct header_line *h, const char *const ws_lines[2], const char *extra_header)
{
    size_t n = 0;
    h[n++] = (struct header_line){"Connection", "Connection: Upgrade"};
    if (ws_lines) {
        h[n++] = (struct header_line){"Sec-Websocket-Key", ws_lines[0]};
        h[n++] = (struct header_line){"Sec-Websocket-Protocol", ws_lines[1]};
        h[n++] = (struct header_line){"Sec-Websocket-Version", "Sec-Websocket-Version: 13"};
        h[n++] = (struct header_line){"Upgrade", "Upgrade: websocket"};
    } else {
        h[n++] = (struct header_line){"Upgrade", "Upgrade: DERP"};
    }
    if (extra_header)
        h[n++] = (struct header_line){extra_header, extra_header};
    qsort(h, n, sizeof *h, by_name);
    return n;
}

static size_t write_request(char *out, size_t cap, const struct derp_url *u, const char *path,
                            const char *const ws_lines[2], const char *extra_header)
{
    struct header_line h[8];
    size_t n = sorted_headers(h, ws_lines, extra_header);
    int w = snprintf(out, cap, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\n", path, u->authority,
                     DERP_UPGRADE_USER_AGENT);
    size_t len = w < 0 ? cap : (size_t)w;
    for (size_t i = 0; i < n && len < cap; i++) {
        w = snprintf(out + len, cap - len, "%s\r\n", h[i].line);
        len += w < 0 ? cap : (size_t)w;
    }
    if (len < cap) {
        w = snprintf(out + len, cap - len, "\r\n");
        len += w < 0 ? cap : (size_t)w;
    }
    return len < cap ? len : 0;
}

/* An origin-form request-target: "/" and then no space or control byte. */
static bool path_ok(const char *path)
{
    if (!path || path[0] != '/')
        return false;
    for (const char *p = path; *p; p++)
        if ((unsigned char)*p <= 0x20 || *p == 0x7f)
            return false;
    return true;
}

/* A Sec-WebSocket-Key: base64 (of 16 bytes; a little more is let through). */
static bool ws_key_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n > 0 && n <= 40 &&
           strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") == n;
}

/* A subprotocol is an RFC 9110 token. */
static bool token_ok(const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_tchar((unsigned char)s[i]))
            return false;
    return true;
}

size_t derp_upgrade_ws_request(char *out, size_t cap, const struct derp_url *u, const char *path,
                               const char *subprotocol, const char *ws_key, const char *extra_header)
{
    char key_line[64], proto_line[32 + DERP_UPGRADE_SUBPROTOCOL_MAX];

    if ((extra_header && !derp_upgrade_header_ok(extra_header)) || !ws_key_ok(ws_key) ||
        !path_ok(path) || !token_ok(subprotocol, DERP_UPGRADE_SUBPROTOCOL_MAX))
        return 0;
    snprintf(key_line, sizeof key_line, "Sec-Websocket-Key: %s", ws_key);
    snprintf(proto_line, sizeof proto_line, "Sec-Websocket-Protocol: %s", subprotocol);
    const char *const ws_lines[2] = {key_line, proto_line};
    return write_request(out, cap, u, path, ws_lines, extra_header);
}

size_t derp_upgrade_request(char *out, size_t cap, const struct derp_url *u, bool websocket, const char *ws_key,
                            const char *extra_header)
{
    if (websocket)
        return derp_upgrade_ws_request(out, cap, u, u->path, "derp", ws_key, extra_header);
    if (extra_header && !derp_upgrade_header_ok(extra_header))
        return 0;
    return write_request(out, cap, u, u->path, NULL, extra_header);
}

/* ---- the response ------------------------------------------------------- */

static struct derp_upgrade_value *pick_target(struct derp_upgrade_response *r)
{
    static const struct {
        const char *name;
        size_t offset;
    } wanted[] = {
        {"Upgrade", offsetof(struct derp_upgrade_response, upgrade)},
        {"Sec-WebSocket-Accept", offsetof(struct derp_upgrade_response, ws_accept)},
        {"Sec-WebSocket-Protocol", offsetof(struct derp_upgrade_response, ws_protocol)},
        {"Derp-Public-Key", offsetof(struct derp_upgrade_response, derp_key)},
    };
    for (size_t i = 0; i < sizeof wanted / sizeof wanted[0]; i++)
        if (r->name_len == strlen(wanted[i].name) && strncasecmp(r->name, wanted[i].name, r->name_len) == 0)
            return (struct derp_upgrade_value *)((char *)r + wanted[i].offset);
    return NULL;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
    struct derp_upgrade_response *r = p->data;
    if (r->in_value) {             /* a new header begins */
        r->in_value = false;
        r->name_len = 0;
    }
    /* A name longer than the buffer matches nothing we want: mark it so. */
    if (r->name_len + len > sizeof r->name)
        r->name_len = sizeof r->name + 1;
    else {
        memcpy(r->name + r->name_len, at, len);
        r->name_len += len;
    }
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    struct derp_upgrade_response *r = p->data;
    if (!r->in_value) {
        r->in_value = true;
        r->target = r->name_len <= sizeof r->name ? pick_target(r) : NULL;
        if (r->target)
            r->target->len = 0;    /* a repeated header: the last one counts */
    }
    struct derp_upgrade_value *t = r->target;
    if (t) {
        size_t room = sizeof t->v - 1 - t->len;
        size_t n = len < room ? len : room;
        memcpy(t->v + t->len, at, n);
        t->len += n;
        t->v[t->len] = '\0';
    }
    return 0;
}

/* Returning 2 ends parsing here whatever the status: a 101's body is the
 * upgraded stream, and any other response closes the connection anyway. */
static int on_headers_complete(http_parser *p)
{
    struct derp_upgrade_response *r = p->data;
    r->done = true;
    r->status = (int)p->status_code;
    return 2;
}

static const http_parser_settings settings = {
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
};

void derp_upgrade_response_init(struct derp_upgrade_response *r)
{
    memset(r, 0, sizeof *r);
    http_parser_init(&r->parser, HTTP_RESPONSE);
    r->parser.data = r;
}

enum derp_upgrade_status derp_upgrade_response_feed(struct derp_upgrade_response *r, const uint8_t *buf,
                                                    size_t len, size_t *used)
{
    *used = 0;
    if (r->done)
        return DERP_UPGRADE_DONE;
    if (len == 0)
        return DERP_UPGRADE_MORE;   /* http-parser reads 0 bytes as EOF */
    size_t room = DERP_UPGRADE_RESPONSE_MAX - r->total;
    size_t n = http_parser_execute(&r->parser, &settings, (const char *)buf, len < room ? len : room);
    r->total += n;
    *used = n;
    if (HTTP_PARSER_ERRNO(&r->parser) != HPE_OK)
        return DERP_UPGRADE_BAD;
    if (r->done)
        return DERP_UPGRADE_DONE;
    return r->total >= DERP_UPGRADE_RESPONSE_MAX ? DERP_UPGRADE_BAD : DERP_UPGRADE_MORE;
}

/* Does a comma-separated header value hold token (any case)? */
static bool has_token(const struct derp_upgrade_value *v, const char *token)
{
    size_t tl = strlen(token);
    const char *p = v->v;
    while (*p) {
        p += strspn(p, " \t,");
        size_t n = strcspn(p, ",");
        size_t end = n;
        while (end > 0 && (p[end - 1] == ' ' || p[end - 1] == '\t'))
            end--;
        if (end == tl && strncasecmp(p, token, tl) == 0)
            return true;
        p += n;
    }
    return false;
}

const char *derp_upgrade_check_ws(const struct derp_upgrade_response *r, const char *expected_accept,
                                  const char *subprotocol)
{
    if (r->status != 101)
        return "the server did not answer 101 Switching Protocols";
    if (!has_token(&r->upgrade, "websocket"))
        return "the 101 does not upgrade to websocket";
    if (!expected_accept || strcmp(r->ws_accept.v, expected_accept) != 0)
        return "wrong Sec-WebSocket-Accept";
    /* None at all is accepted: the server then speaks the one protocol of its path. */
    if (r->ws_protocol.len && strcasecmp(r->ws_protocol.v, subprotocol) != 0)
        return "the server chose another WebSocket subprotocol";
    return NULL;
}

const char *derp_upgrade_check(const struct derp_upgrade_response *r, bool websocket, const char *expected_accept)
{
    if (websocket)
        return derp_upgrade_check_ws(r, expected_accept, "derp");
    if (r->status != 101)
        return "the server did not answer 101 Switching Protocols";
    return NULL;   /* Go's DERP client asks no more of a 101 */
}
