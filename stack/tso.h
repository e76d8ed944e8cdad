/* Software TCP segmentation offload (issue #8): lwIP builds TCP segments far
 * larger than the path carries (stack/port/lwipopts.h TCP_MSS), and the
 * tunnel netif cuts each into wire-sized TCP segments as it leaves, as a
 * NIC's TSO or the kernel's GSO does. The peer sees ordinary packets no
 * larger than its inner MTU, so any TCP receiver works.
 *
 * One pure function on one IP packet (a pbuf chain; no lwIP state): it
 * also computes the TCP checksum, which the tunnel netif has lwIP leave out
 * (a big segment's checksum would be thrown away). Pieces are built without
 * allocation: a header on the stack plus pbufs that point into the big
 * segment's payload; each is valid only during the emit call. */
#ifndef VOLE_STACK_TSO_H
#define VOLE_STACK_TSO_H

#include <stddef.h>
#include <stdint.h>

#include "lwip/pbuf.h"

/* A piece refers to at most this many pbufs of the big segment's payload;
 * where the payload is chained finer, a piece ends early instead. */
#define VOLE_TSO_MAX_REFS 16
/* IPv6's fixed header and the longest TCP header (IPv4 options: not cut). */
#define VOLE_TSO_MAX_HDR (40 + 60)

/* One packet for the wire: a pbuf chain the callee may read (payload, len,
 * tot_len, next) but must not free, keep or change. Returns 0 or an err_t. */
typedef int (*vole_tso_emit_fn)(void *ctx, struct pbuf *pkt);

/* p: one IP packet from lwIP. Handled are TCP segments over IPv4 (no IP
 * options, not a fragment) or IPv6 (TCP right after the fixed header) whose
 * length fields agree with p->tot_len:
 *   - if max_len is 0, p fits max_len, p carries SYN, RST or URG, or
 *     max_len leaves no room for payload after the headers: p's TCP
 *     checksum is computed and written into p, and p is emitted;
 *   - else p is cut into pieces of at most max_len bytes, each a complete
 *     IP + TCP packet: the headers (TCP options included) copied, lengths,
 *     TCP sequence number and checksum set, IPv4 ids id, id+1, ... (as a
 *     NIC's TSO) with the header checksum recomputed; FIN and PSH on the
 *     last piece only, CWR on the first only. The pieces are emitted in order.
 * Returns the number of packets emitted, and the first non-zero emit
 * return in *err (0 if none; err may be NULL). Returns 0, with p untouched
 * and nothing emitted, for anything else (not TCP, IPv4 options, a
 * fragment, IPv6 extension headers, truncated headers, lengths that do not
 * agree): the caller sends such a packet as it is. */
int vole_tso_output(struct pbuf *p, size_t max_len, vole_tso_emit_fn emit, void *ctx, int *err);

#endif
