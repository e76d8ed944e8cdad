/* `vole server` on the libev loop (docs/TAILNET.md): one TCP port serving
 * the DERP relay (derp/server.h), the coordinator over WebSocket
 * (/api/v2/coordinate) and the DERP map (/api/v2/derp-map); STUN on UDP;
 * DERP admits only keys registered with the coordinator. */
#ifndef VOLE_SERVER_SERVER_H
#define VOLE_SERVER_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ev_loop;
struct vole_server;

#define VOLE_SERVER_MAX_STUN 16
#define VOLE_SERVER_STUN_PORT 3478

struct vole_server_config {
    const char *listen;            /* "ADDR:PORT", "[v6]:PORT", ":PORT" (all addresses); port 0 picks one */
    const char *tokens_file;       /* required (coord/tokens.h) */
    const char *const *stun_listen;   /* UDP "ADDR:PORT" each; none: the listen host, port 3478 */
    size_t n_stun_listen;          /* <= VOLE_SERVER_MAX_STUN */
    bool no_stun;                  /* no STUN listener at all: the map has no STUN (--stun-listen off) */
    const char *tls_cert, *tls_key;   /* both or neither */
    bool block_direct;             /* no endpoints ever forwarded; no STUN in the map */
    const char *state_dir;         /* holds derp.key; created 0700. NULL: a new key every start */
    long long region_id;           /* 0: 999 */
    const char *region_name;       /* NULL or "": the machine's host name */
    const char *derp_map_file;     /* more regions; NULL: none */
    void (*log)(void *ctx, const char *msg);   /* rare events; NULL: silent */
    void *log_ctx;
};

/* NULL with a one-line err (a bad tokens file names the file and place). */
struct vole_server *vole_server_new(struct ev_loop *loop, const struct vole_server_config *cfg, char *err,
                                    size_t errlen);
/* Closes every connection and socket. */
void vole_server_free(struct vole_server *s);

uint16_t vole_server_port(const struct vole_server *s);
/* "ADDR:PORT" as listened on, with the real port ("*" for all addresses). */
const char *vole_server_listen_text(const struct vole_server *s);
long long vole_server_region_id(const struct vole_server *s);
const char *vole_server_region_name(const struct vole_server *s);
size_t vole_server_n_stun(const struct vole_server *s);
/* The i-th STUN listener as "ADDR:PORT" with the real port, and its port. */
const char *vole_server_stun_text(const struct vole_server *s, size_t i);
uint16_t vole_server_stun_port(const struct vole_server *s, size_t i);
/* Live coordinator sessions (for tests and logs). */
size_t vole_server_sessions(const struct vole_server *s);

#endif
