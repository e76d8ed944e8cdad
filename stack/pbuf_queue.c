/* The pbuf byte queue of a splice (see pbuf_queue.h). */
#include "stack/pbuf_queue.h"

void vole_pbuf_queue_push(struct vole_pbuf_queue *q, struct pbuf *p)
{
    struct pbuf *last = p;

    while (last->next)
        last = last->next;
    if (q->tail)
        q->tail->next = p;
    else
        q->head = p;
    q->tail = last;
    q->bytes += p->tot_len;
    q->pbufs += pbuf_clen(p);
}

int vole_pbuf_queue_iov(const struct vole_pbuf_queue *q, struct iovec *iov, int max)
{
    int n = 0;

    for (struct pbuf *p = q->head; p && n < max; p = p->next) {
        if (!p->len)
            continue;
        iov[n].iov_base = p->payload;
        iov[n].iov_len = p->len;
        n++;
    }
    return n;
}

/* Unlinks and frees the head pbuf alone (each pbuf of a chain holds its own
 * reference, so freeing one with next == NULL leaves the rest alone). */
static void drop_head(struct vole_pbuf_queue *q)
{
    struct pbuf *p = q->head;

    q->head = p->next;
    if (!q->head)
        q->tail = NULL;
    p->next = NULL;
    pbuf_free(p);
    q->pbufs--;
}

void vole_pbuf_queue_pop(struct vole_pbuf_queue *q, size_t n)
{
    q->bytes -= n;
    while (q->head && (n || !q->head->len)) {
        if (n < q->head->len) {
            pbuf_remove_header(q->head, n);
            return;
        }
        n -= q->head->len;
        drop_head(q);
    }
}

void vole_pbuf_queue_clear(struct vole_pbuf_queue *q)
{
    while (q->head)
        drop_head(q);
    q->bytes = 0;
}
