/* The glue between the WireGuard core and lwIP that every embedder of a
 * wg_device needs (node/tunnel.c, tailnet/conn.c): pbuf chains gathered
 * into wg_iov, decrypted packets into exact-size pbufs, and the wall clock
 * offset for TAI64N. */
#ifndef VOLE_NODE_WGIO_H
#define VOLE_NODE_WGIO_H

#include <stddef.h>
#include <stdint.h>

#include "lwip/pbuf.h"
#include "wg/device.h"

struct vole_stack;

/* A gather list for one outgoing pbuf chain; longer chains are rare (lwIP
 * builds one pbuf per TCP segment with TCP_OVERSIZE) and get flattened. */
#define VOLE_WG_MAX_IOV 16
#define VOLE_WG_FLAT_LEN 65536

/* CLOCK_REALTIME minus CLOCK_MONOTONIC, for wg_device_set_wall_offset. */
int64_t vole_wall_offset_ns(void);

/* p as iov entries (at most VOLE_WG_MAX_IOV); a longer chain is copied into
 * flat (VOLE_WG_FLAT_LEN bytes) as one entry. Returns the entry count. */
int vole_pbuf_gather(struct pbuf *p, struct wg_iov iov[VOLE_WG_MAX_IOV], uint8_t *flat);

/* wg_sink rx_alloc / rx_deliver / rx_discard over lwIP pbufs. deliver trims
 * the pbuf to len and hands it to s (which takes it). */
uint8_t *vole_wg_rx_alloc(size_t len, void **handle);
void vole_wg_rx_deliver(struct vole_stack *s, void *handle, size_t len);
void vole_wg_rx_discard(void *handle);

#endif
