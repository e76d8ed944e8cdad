/* A byte queue made of pbufs, consumed from the front in arbitrary amounts:
 * what a splice holds between lwIP's recv callback and the kernel socket.
 * pbufs are linked by ->next, but tot_len is not maintained across the queue:
 * a u16 cannot describe a window's worth of data. */
#ifndef VOLE_PBUF_QUEUE_H
#define VOLE_PBUF_QUEUE_H

#include <stddef.h>
#include <sys/uio.h>

#include "lwip/pbuf.h"

struct vole_pbuf_queue {
    struct pbuf *head, *tail;
    size_t bytes;
    size_t pbufs;
};

/* Takes ownership of p (a pbuf or a chain). */
void vole_pbuf_queue_push(struct vole_pbuf_queue *q, struct pbuf *p);
/* Up to max iovecs over the queued bytes, in order; returns the count. */
int vole_pbuf_queue_iov(const struct vole_pbuf_queue *q, struct iovec *iov, int max);
/* Drops the first n bytes (n <= q->bytes), freeing pbufs as they empty. */
void vole_pbuf_queue_pop(struct vole_pbuf_queue *q, size_t n);
void vole_pbuf_queue_clear(struct vole_pbuf_queue *q);

#endif
