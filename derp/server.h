/* The DERP relay server on the libev loop: a listening TCP socket, optional
 * TLS, HTTP/1.1 (http-parser) routing, the DERP and WebSocket upgrades, the
 * auxiliary endpoints, and the sans-IO relay (derp/relay.h) behind them.
 * `vole derp` runs one; `vole server` embeds one, with its own routes under
 * /api/ on the same port. */
#ifndef VOLE_DERP_SERVER_H
#define VOLE_DERP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "derp/relay.h"

struct ev_loop;
struct vole_derp_server;
struct vole_stream;
struct derp_http_request;

struct vole_derp_server_config {
    const char *listen;          /* "ADDR:PORT", "[v6]:PORT", ":PORT" (all addresses); port 0 = pick one */
    const char *tls_cert;        /* PEM; both or neither */
    const char *tls_key;
    const char *key_file;        /* server node key; created (mode 0600) if missing. NULL: a fresh key */
    /* Admission (derp/relay.h): NULL admits every key. */
    bool (*admit)(void *ctx, const uint8_t client_pub[DERP_KEY_LEN], const char *source);
    void *admit_ctx;
    double write_timeout;        /* seconds; 0: the default 2 s */
    /* Rare events worth a line (key file created, accept failing). NULL: silent. */
    void (*log)(void *ctx, const char *msg);
    void *log_ctx;
    /* Requests under /api/ (DERP_ROUTE_API). NULL: 404. Otherwise called
     * with the parsed request head, the stream, and the bytes that came after
     * the head (valid during the call). Return true to take the stream over:
     * the hook must have set its own callbacks (vole_stream_set_ops, or a
     * WebSocket filter) before returning, and from then on owns the stream,
     * its timeouts (the write timeout is still the request one, 10 s) and its
     * close; the server forgets it. false: the server answers 404. */
    bool (*api)(void *ctx, const struct derp_http_request *req, struct vole_stream *stream, const uint8_t *rest,
                size_t len);
    void *api_ctx;
};

struct vole_derp_server *vole_derp_server_new(struct ev_loop *loop, const struct vole_derp_server_config *cfg,
                                              char *err, size_t errlen);
void vole_derp_server_free(struct vole_derp_server *s);
uint16_t vole_derp_server_port(const struct vole_derp_server *s);
void vole_derp_server_public_key(const struct vole_derp_server *s, uint8_t out[DERP_KEY_LEN]);
const struct derp_relay_stats *vole_derp_server_stats(const struct vole_derp_server *s);

/* The server node key's file (derp/keyfile.c): one line holding the private
 * key in base64, as `vole genkey` writes it. A missing file is created with
 * mode 0600 and a new key (*created tells); an unreadable or malformed file is
 * an error naming it, never replaced. 0 or -1 with err. */
int vole_derp_keyfile_load(const char *path, struct derp_keypair *kp, bool *created, char *err, size_t errlen);

#endif
