/* The parts of `vole server` (server/server.h), shared by its files:
 * server.c (setup), routes.c (the /api/ hook), session.c (coordinator
 * WebSocket sessions), stun_listeners.c, addr.c. */
#ifndef VOLE_SERVER_SERVER_INT_H
#define VOLE_SERVER_SERVER_INT_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coord/coordinator.h"
#include "coord/tokens.h"
#include "derp/http.h"
#include "server/server.h"

struct vole_stream;
struct vole_derp_server;
struct vole_udp;
struct stun_server;
struct srv_session;

#define SRV_ADDR_TEXT (INET6_ADDRSTRLEN + 10)

/* A listen address: host "" for all addresses. */
struct srv_addr {
    char host[INET6_ADDRSTRLEN];
    uint16_t port;
};

struct srv_stun {
    struct vole_server *srv;
    struct vole_udp *udp;
    struct srv_addr addr;
    char text[SRV_ADDR_TEXT];
};

struct vole_server {
    struct ev_loop *loop;
    struct coord_tokens tokens;
    struct coord_coordinator *co;
    struct vole_derp_server *derp;
    char *derp_map_json;
    struct stun_server *stun;               /* shared: one rate limit per source */
    struct srv_stun stuns[VOLE_SERVER_MAX_STUN];
    size_t n_stun;
    struct srv_session *sessions;
    struct srv_addr listen;
    char listen_text[SRV_ADDR_TEXT];
    long long region_id;
    char region_name[128];
    void (*log)(void *ctx, const char *msg);
    void *log_ctx;
};

/* addr.c: "ADDR:PORT", "[V6]:PORT"; "", "*" or "[::]" for all addresses.
 * NULL, or what is wrong. */
const char *srv_addr_parse(const char *spec, struct srv_addr *out);
/* "*:PORT", "[v6]:PORT" or "v4:PORT". */
void srv_addr_format(const struct srv_addr *a, uint16_t port, char out[SRV_ADDR_TEXT]);

/* routes.c: derp/server.h's api hook. */
bool srv_api(void *ctx, const struct derp_http_request *req, struct vole_stream *st, const uint8_t *rest,
             size_t len);
/* The token of "Authorization: Bearer TOKEN", or NULL. */
const char *srv_bearer_token(const struct derp_http_request *req);

/* session.c: a coordinator session on an upgraded stream (the 101 already
 * written). Takes the stream over whatever happens. */
void srv_session_start(struct vole_server *s, struct vole_stream *st, const char *token, const uint8_t *rest,
                       size_t len);
void srv_sessions_free(struct vole_server *s);
extern const struct coord_coordinator_ops SRV_COORD_OPS;   /* ctx: the server */

/* stun_listeners.c */
int srv_stun_open(struct vole_server *s, const char *const *specs, size_t n, char *err, size_t errlen);
void srv_stun_close(struct vole_server *s);
uint16_t srv_stun_port(const struct srv_stun *l);

void srv_log(struct vole_server *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
