/* Software GRO for inner TCP on receive (issue #8).
 *
 * Every decrypted inner packet used to cross ip_input + tcp_input alone, and
 * lwIP's receiver ACKs every second segment, so both ends paid per packet.
 * Consecutive in-order data segments of one flow that arrive in the same
 * loop iteration are merged here into one large segment (a pbuf chain, no
 * copying) before lwIP sees it, as the kernel's and gVisor's GRO do.
 *
 * The merge is conservative: only plain data segments (ACK or ACK|PSH, no
 * IPv4 options or fragments, no IPv6 extension headers, consistent lengths)
 * of a flow whose ack, window, option bytes and IP header fields repeat
 * exactly are merged; everything else passes straight through, in order
 * with the flow it belongs to. The state is an explicit struct and the
 * functions are pure apart from the deliver callback, so the rules can be
 * tested without a loop; stack.c calls vole_gro_flush once per iteration. */
#ifndef VOLE_STACK_GRO_H
#define VOLE_STACK_GRO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lwip/pbuf.h"

#define VOLE_GRO_FLOWS 8u          /* flows held at once per stack */
/* A merged IP packet is at most this long: IPv4's total length and lwIP's
 * pbuf tot_len are both 16 bits. */
#define VOLE_GRO_MAX_LEN 65535u

/* What one packet is, as far as merging is concerned. */
enum vole_gro_kind {
    VOLE_GRO_OTHER,     /* not TCP (UDP, ICMP, ...): never delayed, orders nothing */
    VOLE_GRO_OPAQUE,    /* maybe TCP but no flow key to be had (fragment, IP
                         * options, extension header, truncated, lying) */
    VOLE_GRO_TCP,       /* a TCP segment with a flow key, but not mergeable */
    VOLE_GRO_CANDIDATE, /* a plain data segment that may start or extend a run */
};

/* A parsed packet; the pointers point into the packet's first pbuf. */
struct vole_gro_seg {
    enum vole_gro_kind kind;
    uint8_t family;       /* 4 or 6 */
    const uint8_t *ip;    /* the IP header */
    const uint8_t *tcp;   /* the TCP header */
    uint16_t ip_hlen;     /* 20 or 40 */
    uint16_t tcp_hlen;    /* 20..60 */
    uint16_t ip_len;      /* the whole packet */
    uint16_t payload;     /* TCP payload bytes */
    uint32_t seq;
    uint8_t flags;        /* TCP flags byte (CWR..FIN) */
};

/* One held run: head is the first packet with its headers; the later ones
 * are linked after it with their headers removed. tot_len along the chain
 * is only made consistent when the run is handed out (vole_gro_take). */
struct vole_gro_flow {
    struct pbuf *head;    /* NULL: the slot is free */
    struct pbuf *tail;
    struct vole_gro_seg first;   /* head's parse (pointers into head) */
    uint32_t next_seq;    /* the sequence number that continues the run */
    uint32_t ip_len;      /* of the merged packet */
    uint32_t segs;        /* packets in the run */
    uint64_t born;        /* vole_gro.clock when the run started: oldest goes first */
};

struct vole_gro_stats {
    uint64_t merged;      /* packets appended to a held run */
    uint64_t delivered;   /* merged segments (runs of 2 or more) handed to lwIP */
    uint64_t passed;      /* packets handed on unmerged (runs of 1 included) */
};

/* Hands one packet to lwIP: a run of segs packets merged into one (segs 1:
 * as received). Takes ownership of p. */
typedef void (*vole_gro_deliver_fn)(void *ctx, struct pbuf *p, uint32_t segs);

struct vole_gro {
    struct vole_gro_flow flows[VOLE_GRO_FLOWS];
    size_t held;          /* occupied slots */
    uint64_t clock;       /* counts runs started */
    uint32_t max_len;     /* VOLE_GRO_MAX_LEN, lower in tests */
    struct vole_gro_stats stats;
};

void vole_gro_init(struct vole_gro *g);

/* ---- the rules, one at a time ---- */

/* Classifies p; reads only within p's first pbuf. */
void vole_gro_parse(const struct pbuf *p, struct vole_gro_seg *s);
/* s belongs to the same flow as run f (addresses and ports). */
bool vole_gro_same_flow(const struct vole_gro_flow *f, const struct vole_gro_seg *s);
/* Candidate s, of f's flow, extends the run: next in sequence, the same ack,
 * window, TCP options and IP header fields, f has no PSH yet, and the
 * merged packet stays within max_len. */
bool vole_gro_continues(const struct vole_gro_flow *f, const struct vole_gro_seg *s, uint32_t max_len);
/* Starts a run in free slot f with candidate p (parsed as s). */
void vole_gro_hold(struct vole_gro *g, struct vole_gro_flow *f, struct pbuf *p, const struct vole_gro_seg *s);
/* Appends p (parsed as s, which vole_gro_continues accepted) to run f: its
 * headers are dropped, the IP length and header checksum and the PSH flag
 * are updated in f's head. */
void vole_gro_append(struct vole_gro_flow *f, struct pbuf *p, const struct vole_gro_seg *s);
/* Empties slot f and returns its run as one consistent pbuf chain. */
struct pbuf *vole_gro_take(struct vole_gro *g, struct vole_gro_flow *f);

/* ---- the whole step ---- */

/* One received packet: delivered now, merged into a held run, or held to
 * start one; runs it must not overtake are delivered first. Takes p. */
void vole_gro_input(struct vole_gro *g, struct pbuf *p, vole_gro_deliver_fn deliver, void *ctx);
/* Delivers every held run, oldest first. */
void vole_gro_flush(struct vole_gro *g, vole_gro_deliver_fn deliver, void *ctx);
/* Frees every held run undelivered (the stack is going away). */
void vole_gro_drop(struct vole_gro *g);

/* ---- per stack (stack.c) ---- */

struct vole_stack;
/* On by default; the environment variable VOLE_GRO=0 (or false, f: conf/bool.h) turns
 * it off for every stack of the process. Turning it off delivers whatever is
 * held at once. */
void vole_stack_set_gro(struct vole_stack *s, bool on);
void vole_stack_gro_stats(const struct vole_stack *s, struct vole_gro_stats *out);

#endif
