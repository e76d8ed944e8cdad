/* Per-client output: three bounded FIFOs and the frame being written.
 *
 * Order (tailscale-wire.md §1.4, §1.6): ServerKey, then ServerInfo, before
 * anything else (Go writes them in accept, before the send loop starts); then
 * disco frames first (Go's sendLoop selects discoSendQueue ahead of
 * sendQueue, so path discovery still works behind a full data queue), then
 * control frames (PeerGone, Pong, KeepAlive), then data. Queues are bounded
 * per client, so a client that does not read costs at most its own queues;
 * the I/O layer's write timeout closes it. */
#include <string.h>

#include "derp/relay_int.h"

static bool has_output(const struct derp_relay_conn *c)
{
    return c->cur || c->ctrl.n || c->disco.n || c->data.n;
}

bool derp_relay_has_output(const struct derp_relay_conn *c)
{
    return has_output(c);
}

/* want_write only on the step from nothing to write to something: the I/O
 * layer keeps watching writability until derp_relay_output returns 0. */
static void push(struct derp_relay *r, struct derp_relay_conn *c, struct derp_pktq *q, struct derp_pkt *k)
{
    bool was_idle = !has_output(c);

    derp_pktq_push(q, k);
    if (was_idle && r->ops.want_write)
        r->ops.want_write(r->ops.ctx, c->io_conn);
}

int drelay_queue_control(struct derp_relay *r, struct derp_relay_conn *c, const uint8_t *frame, size_t len)
{
    /* Pongs and keepalives are one at a time and the greeting comes first, so
     * only PeerGone frames can fill this: one per departed peer, bounded so a
     * client that stops reading while peers churn grows no further. */
    if (c->ctrl.n >= DERP_RELAY_QUEUE_DEPTH)
        return -1;
    struct derp_pkt *k = derp_pkt_get(&r->pool, len, DERP_PKT_CONTROL);
    if (!k)
        return -1;
    memcpy(k->data, frame, len);
    push(r, c, &c->ctrl, k);
    return 0;
}

void drelay_queue_packet(struct derp_relay *r, struct derp_relay_conn *dst, const uint8_t src[DERP_KEY_LEN],
                         const uint8_t *pkt, size_t len, bool disco)
{
    struct derp_pktq *q = disco ? &dst->disco : &dst->data;
    size_t prefix = DERP_FRAME_HEADER_LEN + DERP_KEY_LEN;
    struct derp_pkt *k = derp_pkt_get(&r->pool, prefix + len, disco ? DERP_PKT_DISCO : DERP_PKT_DATA);

    if (!k) {
        r->stats.drop_queue_tail++;   /* the new packet is the one lost */
        return;
    }
    /* v2 RecvPacket: srcPub(32) || packet (§1.3). */
    derp_write_packet_prefix(k->data, k->len, DERP_FRAME_RECV_PACKET, src, len);
    memcpy(k->data + prefix, pkt, len);
    /* Full: drop the oldest, as Go's "queue_head" drop (§1.6). Single-threaded,
     * the retry always succeeds, so the "queue_tail" case is out of memory only.
     * Full also by bytes: 512 packets of 64 KiB would be 32 MiB a queue. */
    while (q->n && (q->n >= DERP_RELAY_QUEUE_DEPTH || q->bytes + k->len > DERP_RELAY_QUEUE_BYTES)) {
        derp_pkt_put(&r->pool, derp_pktq_pop(q));
        r->stats.drop_queue_head++;
    }
    push(r, dst, q, k);
}

void drelay_queue_peer_gone(struct derp_relay *r, struct derp_relay_conn *c, const uint8_t peer[DERP_KEY_LEN],
                            uint8_t reason)
{
    uint8_t frame[DERP_FRAME_HEADER_LEN + DERP_KEY_LEN + 1];
    size_t n = derp_write_peer_gone(frame, sizeof frame, peer, reason);

    if (n && drelay_queue_control(r, c, frame, n) == 0)
        r->stats.peer_gone_sent++;
    else
        r->stats.peer_gone_dropped++;
}

void drelay_drop_output(struct derp_relay *r, struct derp_relay_conn *c)
{
    if (c->cur)
        derp_pkt_put(&r->pool, c->cur);
    c->cur = NULL;
    c->cur_off = 0;
    derp_pktq_clear(&c->ctrl, &r->pool);
    derp_pktq_clear(&c->disco, &r->pool);
    derp_pktq_clear(&c->data, &r->pool);
}

/* A control frame leaving its queue frees the slot of its kind: the next
 * ping gets a pong, the next tick a keepalive (Go's size-1 pong channel). */
static void note_dequeued(struct derp_relay_conn *c, const struct derp_pkt *k)
{
    if (k->kind != DERP_PKT_CONTROL)
        return;
    if (k->data[0] == DERP_FRAME_PONG)
        c->pong_pending = false;
    else if (k->data[0] == DERP_FRAME_KEEP_ALIVE)
        c->keepalive_pending = false;
}

static struct derp_pkt *next_frame(struct derp_relay_conn *c)
{
    struct derp_pkt *k;

    if (c->greeting) {
        /* ServerKey and ServerInfo lead the control queue: nothing else may
         * pass them, not even a disco packet that raced the handshake. */
        k = derp_pktq_pop(&c->ctrl);
        if (k)
            c->greeting--;
        return k;
    }
    k = derp_pktq_pop(&c->disco);
    if (!k)
        k = derp_pktq_pop(&c->ctrl);
    if (!k)
        k = derp_pktq_pop(&c->data);
    if (k)
        note_dequeued(c, k);
    return k;
}

static void frame_written(struct derp_relay *r, struct derp_relay_conn *c)
{
    struct derp_pkt *k = c->cur;

    if (k->kind != DERP_PKT_CONTROL) {
        r->stats.packets_relayed++;
        r->stats.bytes_relayed += k->len - DERP_FRAME_HEADER_LEN - DERP_KEY_LEN;
        if (k->kind == DERP_PKT_DISCO)
            r->stats.disco_packets_relayed++;
    }
    derp_pkt_put(&r->pool, k);
    c->cur = NULL;
    c->cur_off = 0;
}

size_t derp_relay_output(struct derp_relay *r, struct derp_relay_conn *c, uint8_t *out, size_t cap)
{
    size_t n = 0;

    while (n < cap) {
        if (!c->cur && !(c->cur = next_frame(c)))
            break;
        size_t take = c->cur->len - c->cur_off;
        if (take > cap - n)
            take = cap - n;
        memcpy(out + n, c->cur->data + c->cur_off, take);
        n += take;
        c->cur_off += (uint32_t)take;
        if (c->cur_off == c->cur->len)
            frame_written(r, c);
    }
    return n;
}
