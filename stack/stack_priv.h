/* The stack object, shared by the files of stack/ only. */
#ifndef VOLE_STACK_PRIV_H
#define VOLE_STACK_PRIV_H

#include "lwip/netif.h"

#include "stack/gro.h"
#include "stack/list.h"
#include "stack/runtime.h"
#include "stack/stack.h"

struct vole_stack {
    struct netif netif;          /* the tunnel; netif.state points back here */
    struct vole_stack_ops ops;
    struct ev_loop *loop;
    struct vole_link *splices;   /* every live splice, reset with the stack */
    size_t n_splices;
    vole_stack_tap_fn tap;       /* vole_stack_set_tap */
    void *tap_ctx;
    /* netif.c, vole_stack_set_tso (issue #8): on while max_packet is set. */
    vole_stack_max_packet_fn max_packet;
    void *max_packet_ctx;
    uint16_t plain_mtu;          /* the MTU to restore when TSO goes off */
    struct vole_stack_tso_stats tso;
    uint16_t ip4_id;             /* IPv4 IDs of the pieces of cut segments (netif.c) */
    bool gro_on;                 /* vole_stack_set_gro; on unless VOLE_GRO=0 */
    struct vole_gro gro;         /* inner TCP segments held this iteration */
    struct vole_flush gro_flush; /* marked while gro holds anything */
};

/* netif.c: add the tunnel netif to lwIP with addrs and bring it up. */
int vole_netif_add(struct vole_stack *s, uint16_t mtu,
                   const struct vole_stack_addr *addrs, size_t n_addrs,
                   char *err, size_t errlen);
void vole_netif_remove(struct vole_stack *s);

/* stack.c: the splice registry. */
void vole_stack_splice_add(struct vole_stack *s, struct vole_link *l);
void vole_stack_splice_del(struct vole_stack *s, struct vole_link *l);

#endif
