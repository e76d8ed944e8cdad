/* The stack object: one tunnel netif on the shared lwIP instance, plus the
 * registry of connections spliced through it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lwip/pbuf.h"

#include "conf/bool.h"

#include "stack/gro_ack.h"
#include "stack/runtime.h"
#include "stack/stack_priv.h"
#include "stack/tcp_splice.h"

static void gro_deliver(void *ctx, struct pbuf *p, uint32_t segs)
{
    struct vole_stack *s = ctx;

    if (segs > 1)
        vole_gro_ack_hint(p);
    /* ip_input consumes p on every path, delivered or dropped. */
    s->netif.input(p, &s->netif);
}

static void on_gro_flush(struct vole_flush *f)
{
    struct vole_stack *s = vole_container_of(f, struct vole_stack, gro_flush);

    vole_gro_flush(&s->gro, gro_deliver, s);
    if (s->gro.held)   /* only if a delivery re-entered vole_stack_input */
        vole_runtime_mark_input(&s->gro_flush);
}

struct vole_stack *vole_stack_new(struct ev_loop *loop, uint16_t mtu,
                                  const struct vole_stack_addr *addrs, size_t n_addrs,
                                  const struct vole_stack_ops *ops,
                                  char *err, size_t errlen)
{
    struct vole_stack *s;

    if (!loop || !ops || !ops->output || (n_addrs && !addrs)) {
        snprintf(err, errlen, "vole_stack_new: missing loop, ops->output or addresses");
        return NULL;
    }
    s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->ops = *ops;
    s->loop = loop;
    /* Not lwIP's counter's start (0): its own packets' IDs then rarely meet ours. */
    s->ip4_id = (uint16_t)LWIP_RAND();
    s->gro_on = vole_env_bool("VOLE_GRO", true);   /* false: compare without GRO */
    vole_gro_init(&s->gro);
    s->gro_flush.fn = on_gro_flush;
    if (vole_runtime_acquire(loop, err, errlen) < 0) {
        free(s);
        return NULL;
    }
    if (vole_netif_add(s, mtu, addrs, n_addrs, err, errlen) < 0) {
        vole_runtime_release();
        free(s);
        return NULL;
    }
    return s;
}

void vole_stack_free(struct vole_stack *s)
{
    if (!s)
        return;
    /* Held segments belong to connections about to be reset. */
    vole_runtime_unmark(&s->gro_flush);
    vole_gro_drop(&s->gro);
    while (s->splices)
        vole_splice_reset(vole_splice_from_link(s->splices));
    vole_netif_remove(s);
    vole_runtime_release();
    free(s);
}

struct pbuf *vole_stack_rx_alloc(size_t len)
{
    if (len == 0 || len > 0xFFFF)
        return NULL;
    /* PBUF_LINK headroom lets lwIP turn an echo request into its reply in
     * place; the payload itself is exactly len bytes in one piece. */
    return pbuf_alloc(PBUF_LINK, (u16_t)len, PBUF_RAM);
}

void vole_stack_input(struct vole_stack *s, struct pbuf *p)
{
    if (!p)
        return;
    if (p->len == 0) {
        pbuf_free(p);
        return;
    }
    if (s->tap)
        s->tap(s->tap_ctx, p, false);   /* the packet as received, before merging */
    if (!s->gro_on) {
        gro_deliver(s, p, 1);
        return;
    }
    vole_gro_input(&s->gro, p, gro_deliver, s);
    if (s->gro.held)
        vole_runtime_mark_input(&s->gro_flush);
}

void vole_stack_set_gro(struct vole_stack *s, bool on)
{
    s->gro_on = on;
    if (!on) {   /* nothing held stays behind */
        vole_runtime_unmark(&s->gro_flush);
        vole_gro_flush(&s->gro, gro_deliver, s);
    }
}

void vole_stack_gro_stats(const struct vole_stack *s, struct vole_gro_stats *out)
{
    *out = s->gro.stats;
}

struct netif *vole_stack_netif(struct vole_stack *s)
{
    return &s->netif;
}

void vole_stack_set_mtu(struct vole_stack *s, uint16_t mtu)
{
    s->netif.mtu = mtu;
#if LWIP_ND6_ALLOW_RA_UPDATES
    s->netif.mtu6 = mtu;
#endif
}

void vole_stack_set_default(struct vole_stack *s)
{
    netif_set_default(&s->netif);
}

void vole_stack_set_tap(struct vole_stack *s, vole_stack_tap_fn fn, void *ctx)
{
    s->tap = fn;
    s->tap_ctx = ctx;
}

size_t vole_stack_splice_count(const struct vole_stack *s)
{
    return s->n_splices;
}

void vole_stack_splice_stats(const struct vole_stack *s, struct vole_splice_stats *max)
{
    memset(max, 0, sizeof *max);
    for (struct vole_link *l = s->splices; l; l = l->next) {
        struct vole_splice_stats st;
        vole_splice_get_stats(vole_splice_from_link(l), &st);
        if (st.to_kernel_bytes > max->to_kernel_bytes)
            max->to_kernel_bytes = st.to_kernel_bytes;
        if (st.to_kernel_pbufs > max->to_kernel_pbufs)
            max->to_kernel_pbufs = st.to_kernel_pbufs;
        if (st.to_lwip_bytes > max->to_lwip_bytes)
            max->to_lwip_bytes = st.to_lwip_bytes;
    }
}

void vole_stack_splice_add(struct vole_stack *s, struct vole_link *l)
{
    vole_link_push(&s->splices, l);
    s->n_splices++;
}

void vole_stack_splice_del(struct vole_stack *s, struct vole_link *l)
{
    if (!vole_link_linked(l))
        return;
    vole_link_unlink(l);
    s->n_splices--;
}
