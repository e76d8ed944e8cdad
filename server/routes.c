/* The server's routes under /api/ (docs/TAILNET.md "HTTP on the server's one
 * port"), through derp/server.h's api hook. Every answer but the upgrade is
 * one response and a close. The token is checked before anything else, so a
 * caller without one learns nothing but 401. */
#include "server/server_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "derp/websocket.h"
#include "io/stream.h"

#define COORDINATE_PATH "/api/v2/coordinate"
#define DERP_MAP_PATH "/api/v2/derp-map"
#define SUBPROTOCOL "vole-coordinate"

/* An answered request: input is ignored until the stream closes itself. */
static void done_read(void *ctx, struct vole_stream *st, const uint8_t *buf, size_t len) {}
static void done_close(void *ctx, struct vole_stream *st, const char *why) {}
static const struct vole_stream_ops DONE_OPS = { .on_read = done_read, .on_close = done_close };

static bool answer(struct vole_stream *st, const char *head, size_t head_len, const char *body, size_t body_len)
{
    vole_stream_set_ops(st, &DONE_OPS);
    if (head_len)
        vole_stream_write(st, head, head_len);
    if (body_len)
        vole_stream_write(st, body, body_len);
    vole_stream_close(st, true);
    return true;
}

static bool answer_text(struct vole_stream *st, int status, const char *line)
{
    char resp[1024];
    return answer(st, resp, derp_http_write_text(resp, sizeof resp, status, line), NULL, 0);
}

const char *srv_bearer_token(const struct derp_http_request *req)
{
    const char *v = derp_http_header(req, DERP_HDR_AUTHORIZATION);

    if (!v || strncasecmp(v, "Bearer ", 7) != 0)
        return NULL;
    v += 7;
    while (*v == ' ' || *v == '\t')
        v++;
    return *v ? v : NULL;
}

static bool token_valid(const struct vole_server *s, const char *token)
{
    bool agent, client;

    if (!token)
        return false;
    /* Both lookups always: the time taken does not say which kind it was. */
    agent = coord_tokens_agent(&s->tokens, token) != NULL;
    client = coord_tokens_client(&s->tokens, token) != NULL;
    return agent || client;
}

static bool derp_map(struct vole_server *s, const struct derp_http_request *req, struct vole_stream *st)
{
    char head[256];
    size_t len = strlen(s->derp_map_json);

    if (req->method != HTTP_GET && req->method != HTTP_HEAD)
        return answer_text(st, 405, "method not allowed");
    return answer(st, head, derp_http_write_head(head, sizeof head, 200, "application/json", len), s->derp_map_json,
                  req->method == HTTP_HEAD ? 0 : len);
}

/* RFC 6455 §4.2.1 with our subprotocol: 0, or an answer was sent. */
static int check_upgrade(const struct derp_http_request *req, struct vole_stream *st)
{
    const char *up = derp_http_header(req, DERP_HDR_UPGRADE), *key = derp_http_header(req, DERP_HDR_WS_KEY);
    const char *ver = derp_http_header(req, DERP_HDR_WS_VERSION);

    if (req->method != HTTP_GET)
        return answer_text(st, 405, "method not allowed"), -1;
    if (!up || strcasecmp(up, "websocket") != 0)
        return answer_text(st, 426, "the coordinator needs a WebSocket upgrade"), -1;
    if (!key || !*key || !ver || strcmp(ver, "13") != 0)
        return answer_text(st, 400, "bad WebSocket handshake (a key and version 13 are needed)"), -1;
    if (!derp_http_has_token(derp_http_header(req, DERP_HDR_WS_PROTOCOL), SUBPROTOCOL))
        return answer_text(st, 400, "the WebSocket subprotocol must be " SUBPROTOCOL), -1;
    return 0;
}

static bool coordinate(struct vole_server *s, const struct derp_http_request *req, struct vole_stream *st,
                       const char *token, const uint8_t *rest, size_t len)
{
    char accept[VOLE_WS_ACCEPT_LEN + 1], resp[512];

    if (check_upgrade(req, st) < 0)
        return true;
    vole_ws_accept_key(accept, derp_http_header(req, DERP_HDR_WS_KEY));
    vole_stream_write(st, resp, derp_http_write_ws_101_proto(resp, sizeof resp, accept, SUBPROTOCOL));
    srv_session_start(s, st, token, rest, len);
    return true;
}

bool srv_api(void *ctx, const struct derp_http_request *req, struct vole_stream *st, const uint8_t *rest,
             size_t len)
{
    struct vole_server *s = ctx;
    char path[DERP_HTTP_URL_MAX];
    const char *token = srv_bearer_token(req);
    bool coord, map;

    if (derp_http_path(req, path, sizeof path) < 0)
        return false;
    coord = strcmp(path, COORDINATE_PATH) == 0;
    map = strcmp(path, DERP_MAP_PATH) == 0;
    if (!coord && !map)
        return false;
    if (!token_valid(s, token))
        return answer_text(st, 401, "invalid token");
    return coord ? coordinate(s, req, st, token, rest, len) : derp_map(s, req, st);
}
