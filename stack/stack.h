/* vole's userspace TCP/IP stack: one lwIP netif per WireGuard tunnel.
 *
 * The WireGuard core decrypts a packet into a pbuf from vole_stack_rx_alloc()
 * and hands it to vole_stack_input(); whatever lwIP sends out of the tunnel
 * netif reaches ops->output, which encrypts it into the batched UDP send.
 * Everything runs on one libev loop and one thread. lwIP is process-global:
 * all stacks of a process share one lwIP instance and must use the same loop. */
#ifndef VOLE_STACK_H
#define VOLE_STACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <ev.h>

#include "lwip/netif.h"
#include "lwip/pbuf.h"

struct vole_stack_addr {
    uint8_t family;     /* 4 or 6 */
    uint8_t addr[16];   /* network order; IPv4 uses the first 4 bytes */
    uint8_t prefix;
};

struct vole_stack_ops {
    void *ctx;
    /* lwIP sends an IP packet (v4 or v6, possibly a pbuf chain, e.g. a
     * fragment) out of the tunnel netif. p is lwIP's: do not free it or keep
     * it; copy/encrypt now. Return ERR_OK or an err_t. */
    int (*output)(void *ctx, struct pbuf *p);
};

struct vole_stack;

/* mtu is the tunnel's inner MTU (e.g. 1420). addrs: at most one IPv4 address
 * (lwIP holds one per netif) and up to LWIP_IPV6_NUM_ADDRESSES IPv6 ones, which
 * are valid at once (no DAD). The first stack becomes lwIP's default netif, so
 * everything that is not local leaves through it. NULL + err on failure. */
struct vole_stack *vole_stack_new(struct ev_loop *loop, uint16_t mtu,
                                  const struct vole_stack_addr *addrs, size_t n_addrs,
                                  const struct vole_stack_ops *ops,
                                  char *err, size_t errlen);
/* Resets every connection still spliced through this stack. Free forwarders
 * and pingers of the stack first. */
void vole_stack_free(struct vole_stack *s);

/* An exact-size PBUF_RAM pbuf (tot_len == len, one contiguous buffer with
 * link headroom) for the WireGuard core to decrypt an inner packet into.
 * NULL if len is 0 or above 65535 or memory is short. */
struct pbuf *vole_stack_rx_alloc(size_t len);
/* A decrypted inner packet; takes ownership of p. */
void vole_stack_input(struct vole_stack *s, struct pbuf *p);

struct netif *vole_stack_netif(struct vole_stack *s);
/* New connections use the new MTU; established ones keep their MSS. */
void vole_stack_set_mtu(struct vole_stack *s, uint16_t mtu);
/* Issue #7: every TCP connection of this stack whose remote address is
 * remote gets its MSS lowered to at most mss (never raised: the peer's
 * advertised MSS still holds; an mss below 64 counts as 64). Segments not
 * yet sent are split to fit; segments in flight keep their size (the tunnel
 * fragments a retransmission). Returns how many connections changed. Not
 * on a TSO stack (vole_stack_set_tso; returns 0): its segments are cut to
 * the path as they leave, and a lowered MSS would only end TSO. */
size_t vole_stack_lower_mss(struct vole_stack *s, const ip_addr_t *remote, uint16_t mss);
/* Make this stack's netif the default route (for several tunnels). */
void vole_stack_set_default(struct vole_stack *s);
/* A read-only look at every inner IP packet crossing the tunnel netif: in
 * (from WireGuard, before lwIP) and out (from lwIP, before encryption).
 * For --pcap-file; fn NULL removes it. p may be a chain; do not keep it. */
typedef void (*vole_stack_tap_fn)(void *ctx, const struct pbuf *p, bool out);
void vole_stack_set_tap(struct vole_stack *s, vole_stack_tap_fn fn, void *ctx);
/* Issue #8: software TCP segmentation offload (stack/tso.h). With TSO on,
 * the netif's lwIP MTU is VOLE_STACK_TSO_MTU, so lwIP builds TCP segments
 * of up to TCP_MSS (16000) bytes and never IP-fragments anything itself; as
 * packets leave, every TCP packet longer than max_packet(ctx, p) — the
 * largest IP packet the tunnel carries toward p's destination now, 0: no
 * limit — is cut into wire-sized TCP segments, and every TCP packet gets
 * its checksum there (lwIP's is switched off on this netif). ops->output
 * and the tap see only the cut packets. Anything else (UDP, ICMP) goes out
 * as lwIP made it, however long: ops->output fragments it. fn NULL turns
 * TSO off and restores the MTU (connections keep their segment size). The
 * other side of the tunnel sees ordinary packets: no TSO is needed there. */
#define VOLE_STACK_TSO_MTU 65535
typedef uint16_t (*vole_stack_max_packet_fn)(void *ctx, const struct pbuf *p);
void vole_stack_set_tso(struct vole_stack *s, vole_stack_max_packet_fn fn, void *ctx);
struct vole_stack_tso_stats {
    uint64_t tcp_out;    /* TCP packets out of the netif, checksummed there */
    uint64_t cut;        /* ...of which cut into pieces */
    uint64_t pieces;     /* the pieces those became */
};
void vole_stack_tso_stats(const struct vole_stack *s, struct vole_stack_tso_stats *out);
/* Live TCP splices (forwarded connections) of this stack, for diagnostics. */
size_t vole_stack_splice_count(const struct vole_stack *s);

#endif
