#include "node/wgio.h"

#include <time.h>

#include "node/tunnel.h"
#include "stack/stack.h"

int64_t vole_wall_offset_ns(void)
{
    struct timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);
    return (int64_t)((uint64_t)rt.tv_sec * 1000000000ull + (uint64_t)rt.tv_nsec) - (int64_t)vole_now_ns();
}

int vole_pbuf_gather(struct pbuf *p, struct wg_iov iov[VOLE_WG_MAX_IOV], uint8_t *flat)
{
    int n = 0;
    for (struct pbuf *q = p; q && n < VOLE_WG_MAX_IOV; q = q->next, n++) {
        iov[n].base = q->payload;
        iov[n].len = q->len;
    }
    if (n == VOLE_WG_MAX_IOV && pbuf_clen(p) > VOLE_WG_MAX_IOV) {
        pbuf_copy_partial(p, flat, p->tot_len, 0);
        iov[0].base = flat;
        iov[0].len = p->tot_len;
        n = 1;
    }
    return n;
}

uint8_t *vole_wg_rx_alloc(size_t len, void **handle)
{
    struct pbuf *p = vole_stack_rx_alloc(len);
    if (!p)
        return NULL;
    *handle = p;
    return p->payload;
}

void vole_wg_rx_deliver(struct vole_stack *s, void *handle, size_t len)
{
    struct pbuf *p = handle;
    if (len < p->tot_len)
        pbuf_realloc(p, (u16_t)len);
    vole_stack_input(s, p);
}

void vole_wg_rx_discard(void *handle)
{
    pbuf_free(handle);
}
