/* The relay's queued frames: each frame one buffer, chained into per-client
 * FIFOs (a queue costs 24 bytes however long it is, and nothing while empty).
 * Buffers of the common sizes (control frames, disco, WireGuard packets up to
 * an MTU) are recycled through per-size free lists, so relaying a packet in
 * the steady state calls no malloc; rarer big frames get an exact allocation. */
#ifndef VOLE_DERP_RELAY_QUEUE_H
#define VOLE_DERP_RELAY_QUEUE_H

#include <stddef.h>
#include <stdint.h>

enum derp_pkt_kind { DERP_PKT_CONTROL, DERP_PKT_DISCO, DERP_PKT_DATA };

struct derp_pkt {
    struct derp_pkt *next;
    uint32_t len;          /* bytes of the whole frame, header included */
    uint8_t cls;           /* pool size class, DERP_POOL_CLASSES for an exact allocation */
    uint8_t kind;          /* enum derp_pkt_kind */
    uint8_t data[];
};

struct derp_pktq {
    struct derp_pkt *head, *tail;
    uint32_t n;
    uint32_t bytes;        /* of all frames queued */
};

#define DERP_POOL_CLASSES 2

struct derp_pool {
    struct derp_pkt *free[DERP_POOL_CLASSES];
    uint32_t nfree[DERP_POOL_CLASSES];
};

void derp_pool_init(struct derp_pool *p);
void derp_pool_free(struct derp_pool *p);
/* A buffer for a frame of len bytes (len set, next NULL); NULL when out of memory. */
struct derp_pkt *derp_pkt_get(struct derp_pool *p, size_t len, enum derp_pkt_kind kind);
void derp_pkt_put(struct derp_pool *p, struct derp_pkt *k);

static inline void derp_pktq_init(struct derp_pktq *q)
{
    q->head = q->tail = NULL;
    q->n = q->bytes = 0;
}
void derp_pktq_push(struct derp_pktq *q, struct derp_pkt *k);
struct derp_pkt *derp_pktq_pop(struct derp_pktq *q);   /* NULL when empty */
void derp_pktq_clear(struct derp_pktq *q, struct derp_pool *p);

#endif
