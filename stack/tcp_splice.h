/* Relay between a kernel TCP socket and an lwIP tcp_pcb, both ways, with
 * backpressure, half-close and no data loss. A splice owns both ends and frees
 * itself once both are closed (or on any error, after resetting both). */
#ifndef VOLE_TCP_SPLICE_H
#define VOLE_TCP_SPLICE_H

#include <stdbool.h>

#include "lwip/ip_addr.h"
#include "lwip/tcp.h"

#include "stack/list.h"

struct vole_stack;
struct vole_splice;

enum {
    /* fd is in a non-blocking connect(): hold lwIP data (no tcp_recved, so
     * the window closes) until it completes; a failed connect aborts pcb. */
    VOLE_SPLICE_FD_CONNECTING  = 1u << 0,
    /* pcb is fresh and vole_splice_connect() will connect it: the kernel
     * socket is not read until the tunnel connection is established. */
    VOLE_SPLICE_PCB_CONNECTING = 1u << 1,
};

/* Takes ownership of pcb and of fd (made non-blocking) on success; on
 * failure (NULL: out of memory) both stay the caller's. */
struct vole_splice *vole_splice_new(struct vole_stack *s, struct tcp_pcb *pcb, int fd,
                                    unsigned flags);
/* For VOLE_SPLICE_PCB_CONNECTING: tcp_connect through the tunnel. If the
 * connect cannot even start or later fails, the kernel socket is closed (with
 * a reset) and the splice freed; on an error return it is already gone. */
err_t vole_splice_connect(struct vole_splice *sp, const ip_addr_t *dst, uint16_t port);
/* Abort both sides with resets and free the splice. */
void vole_splice_reset(struct vole_splice *sp);

struct vole_splice *vole_splice_from_link(struct vole_link *l);

/* Bytes currently held between the two sides, for tests and diagnostics. */
struct vole_splice_stats {
    size_t to_kernel_bytes;   /* received from lwIP, not yet written to fd */
    size_t to_kernel_pbufs;
    size_t to_lwip_bytes;     /* read from fd, not yet accepted by tcp_write */
};
void vole_splice_get_stats(const struct vole_splice *sp, struct vole_splice_stats *st);
/* Each field: the largest value over the stack's live splices. */
void vole_stack_splice_stats(const struct vole_stack *s, struct vole_splice_stats *max);

#endif
