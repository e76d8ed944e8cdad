/* A running WireGuard tunnel: the sans-IO core (wg/), its UDP socket (io/) and
 * its lwIP netif (stack/), joined on one libev loop. This is the library entry
 * point an embedder uses; the CLI commands are thin layers over it. */
#ifndef VOLE_NODE_TUNNEL_H
#define VOLE_NODE_TUNNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/wgconf.h"
#include "wg/device.h"

struct ev_loop;
struct vole_stack;
struct vole_udp;
struct vole_tunnel;

#define VOLE_DEFAULT_MTU 1420

struct vole_tunnel_options {
    bool verbose;                  /* also log handshakes and endpoint changes */
    bool ephemeral_port_fallback;  /* ListenPort busy: bind a random port instead of failing */
    void (*log)(void *ctx, const char *msg);   /* optional: warnings and notices */
    void *log_ctx;
    /* Optional: STUN messages arriving on the tunnel's shared socket (netcheck
     * answers, or requests when the node serves STUN). Without it they are counted. */
    void (*on_stun)(void *ctx, const struct wg_endpoint *src, uint8_t *buf, size_t len);
    void *stun_ctx;
};

/* NULL with err set: an unresolvable endpoint, a port in use, an unusable config. */
struct vole_tunnel *vole_tunnel_new(struct ev_loop *loop, const struct vole_conf *conf,
                                    const struct vole_tunnel_options *opt, char *err, size_t errlen);
void vole_tunnel_free(struct vole_tunnel *t);

struct vole_stack *vole_tunnel_stack(struct vole_tunnel *t);
struct wg_device *vole_tunnel_device(struct vole_tunnel *t);
struct vole_udp *vole_tunnel_udp(struct vole_tunnel *t);
uint16_t vole_tunnel_listen_port(const struct vole_tunnel *t);
uint64_t vole_now_ns(void);

/* Writes the socket counters and every non-zero drop counter through opt->log. */
void vole_tunnel_log_stats(struct vole_tunnel *t);

/* Format an endpoint as "198.18.0.1:51820" or "[fd00::1]:51820". */
void vole_endpoint_format(char *buf, size_t len, const struct wg_endpoint *ep);

#endif
