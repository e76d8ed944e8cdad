#include "derp/relay_queue.h"

#include <stdlib.h>

/* Class 0 holds every control frame (ServerInfo, the longest, is 58 bytes)
 * and small disco packets; class 1 a WireGuard packet of a 1500-byte MTU with
 * the 37 bytes of RecvPacket header and source key. The free lists keep at
 * most 1 MiB and 2 MiB after a burst. */
static const uint32_t class_size[DERP_POOL_CLASSES] = { 256, 2048 };
static const uint32_t class_keep[DERP_POOL_CLASSES] = { 4096, 1024 };

void derp_pool_init(struct derp_pool *p)
{
    for (int i = 0; i < DERP_POOL_CLASSES; i++) {
        p->free[i] = NULL;
        p->nfree[i] = 0;
    }
}

void derp_pool_free(struct derp_pool *p)
{
    for (int i = 0; i < DERP_POOL_CLASSES; i++) {
        while (p->free[i]) {
            struct derp_pkt *k = p->free[i];
            p->free[i] = k->next;
            free(k);
        }
    }
    derp_pool_init(p);
}

static uint8_t class_of(size_t len)
{
    uint8_t c = 0;

    while (c < DERP_POOL_CLASSES && len > class_size[c])
        c++;
    return c;
}

struct derp_pkt *derp_pkt_get(struct derp_pool *p, size_t len, enum derp_pkt_kind kind)
{
    uint8_t c = class_of(len);
    struct derp_pkt *k = NULL;

    if (c < DERP_POOL_CLASSES && p->free[c]) {
        k = p->free[c];
        p->free[c] = k->next;
        p->nfree[c]--;
    } else {
        k = malloc(sizeof *k + (c < DERP_POOL_CLASSES ? class_size[c] : len));
        if (!k)
            return NULL;
    }
    k->next = NULL;
    k->len = (uint32_t)len;
    k->cls = c;
    k->kind = (uint8_t)kind;
    return k;
}

void derp_pkt_put(struct derp_pool *p, struct derp_pkt *k)
{
    uint8_t c = k->cls;

    if (c >= DERP_POOL_CLASSES || p->nfree[c] >= class_keep[c]) {
        free(k);
        return;
    }
    k->next = p->free[c];
    p->free[c] = k;
    p->nfree[c]++;
}

void derp_pktq_push(struct derp_pktq *q, struct derp_pkt *k)
{
    k->next = NULL;
    if (q->tail)
        q->tail->next = k;
    else
        q->head = k;
    q->tail = k;
    q->n++;
    q->bytes += k->len;
}

struct derp_pkt *derp_pktq_pop(struct derp_pktq *q)
{
    struct derp_pkt *k = q->head;

    if (!k)
        return NULL;
    q->head = k->next;
    if (!q->head)
        q->tail = NULL;
    q->n--;
    q->bytes -= k->len;
    k->next = NULL;
    return k;
}

void derp_pktq_clear(struct derp_pktq *q, struct derp_pool *p)
{
    struct derp_pkt *k;

    while ((k = derp_pktq_pop(q)))
        derp_pkt_put(p, k);
}
