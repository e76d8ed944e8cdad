/* The speedtest over the tailnet (tailscale-wire.md §5, coder-behaviour.md
 * §2.3): a server on an agent's overlay TCP port 3 and a client, both on
 * lwIP's raw TCP API in the node's stack. The protocol and accounting are
 * diag/speedtest.h; this is the I/O around it. */
#ifndef VOLE_TAILNET_SPEEDTEST_H
#define VOLE_TAILNET_SPEEDTEST_H

#include <stddef.h>
#include <stdint.h>

#include "diag/speedtest.h"
#include "lwip/ip_addr.h"

struct ev_loop;
struct vole_stack;
struct vole_speedtest_server;
struct vole_speedtest_client;

/* Tests running at once on one server; more connections are reset. */
#define VOLE_SPEEDTEST_MAX_CONNS 8
/* Connect plus handshake must finish within this many seconds. */
#define VOLE_SPEEDTEST_HANDSHAKE_S 10.0

/* loop: the stack's. Listens on port (VOLE_SPEEDTEST_PORT) of every overlay address of s.
 * log (optional) gets "speedtest: accepted connection from IP:PORT" and
 * "speedtest: test ended ..." lines. NULL with err (port in use). */
struct vole_speedtest_server *vole_speedtest_server_new(struct ev_loop *loop, struct vole_stack *s, uint16_t port,
                                                        void (*log)(void *ctx, const char *msg), void *log_ctx,
                                                        char *err, size_t errlen);
/* Resets the tests still running. Before the stack is freed. */
void vole_speedtest_server_free(struct vole_speedtest_server *srv);

struct vole_speedtest_client_ops {
    void *ctx;
    /* The server said {}: the test starts. rtt_ns: from sending the
     * handshake line to its answer, a round trip over the tunnel. */
    void (*on_started)(void *ctx, uint64_t rtt_ns);
    /* Each interval as it closes, then the total (r->total). */
    void (*on_result)(void *ctx, const struct vole_speedtest_result *r);
    /* The end: err NULL, or why ("connection refused", the server's error,
     * "unexpected error has occurred: i/o timeout"). Called from a libev
     * callback; the client may be freed in it. */
    void (*on_done)(void *ctx, const char *err);
};

/* Connects to dst:port through s and runs one test: direction from the
 * client's view, duration 1 ns..30 s. NULL with err. */
struct vole_speedtest_client *vole_speedtest_client_new(struct ev_loop *loop, struct vole_stack *s, const ip_addr_t *dst, uint16_t port,
                                                        int direction, int64_t duration_ns,
                                                        const struct vole_speedtest_client_ops *ops, char *err,
                                                        size_t errlen);
/* The results so far (intervals and, at the end, the total). */
const struct vole_speedtest_result *vole_speedtest_client_results(const struct vole_speedtest_client *c, size_t *n);
void vole_speedtest_client_free(struct vole_speedtest_client *c);

#endif
