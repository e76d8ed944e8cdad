/* Port forwarding through the tunnel, ssh-style.
 *  -L [BIND:]LPORT:HOST:PORT  a kernel listener on BIND:LPORT; each connection
 *                             is carried through the tunnel to HOST:PORT.
 *  -R OPORT:HOST:PORT         lwIP listens on the overlay port OPORT (v4 and
 *                             v6); each connection is carried to HOST:PORT
 *                             reached by the kernel. */
#ifndef VOLE_FORWARD_H
#define VOLE_FORWARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lwip/ip_addr.h"

struct vole_stack;

#define VOLE_FORWARD_HOST_MAX 256

struct vole_forward_spec {
    bool local;                        /* -L (true) or -R */
    /* -L only. has_bind false: loopback only. bind "" (from "" or "*"):
     * all interfaces. Otherwise an address or name, brackets removed. */
    bool has_bind;
    char bind[VOLE_FORWARD_HOST_MAX];
    uint16_t listen_port;              /* LPORT (-L) or OPORT (-R) */
    char host[VOLE_FORWARD_HOST_MAX];  /* brackets removed */
    uint16_t port;
    ip_addr_t dst;                     /* -L: host as an address in the tunnel */
};

/* Parses "[BIND:]LPORT:HOST:PORT" (local) or "OPORT:HOST:PORT" (remote).
 * IPv6 addresses go in brackets. Ports are 1..65535. For -L, HOST must be a
 * numeric address (there is no DNS inside the tunnel). 0 or -1 + err. */
int vole_forward_spec_parse(const char *spec, bool local, struct vole_forward_spec *out,
                            char *err, size_t errlen);

/* -L. bind_addr NULL: 127.0.0.1; "" or "*": all interfaces (dual-stack);
 * else a numeric address or a name resolved now. lport 0 picks a free port
 * (see vole_forward_local_port). */
struct vole_forward_local;
struct vole_forward_local *vole_forward_local_new(struct vole_stack *s, const char *bind_addr,
                                                  uint16_t lport, const ip_addr_t *dst,
                                                  uint16_t dport, char *err, size_t errlen);
/* The same from a parsed -L spec. */
struct vole_forward_local *vole_forward_local_start(struct vole_stack *s,
                                                    const struct vole_forward_spec *spec,
                                                    char *err, size_t errlen);
uint16_t vole_forward_local_port(const struct vole_forward_local *fl);
/* Stops listening; connections already forwarded keep running. */
void vole_forward_local_free(struct vole_forward_local *fl);

/* -R. host is resolved once, now (numeric or via getaddrinfo). */
struct vole_forward_remote;
struct vole_forward_remote *vole_forward_remote_new(struct vole_stack *s, uint16_t oport,
                                                    const char *host, uint16_t port,
                                                    char *err, size_t errlen);
/* The same from a parsed -R spec. */
struct vole_forward_remote *vole_forward_remote_start(struct vole_stack *s,
                                                      const struct vole_forward_spec *spec,
                                                      char *err, size_t errlen);
/* Stops listening; connections already forwarded keep running. */
void vole_forward_remote_free(struct vole_forward_remote *fr);

#endif
