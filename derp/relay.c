/* The relay's entry points: connections in and out, frame dispatch and the
 * timers (tailscale-wire.md §1.4, §1.6). The rest lives in relay_hello.c,
 * relay_send.c, relay_clients.c and relay_out.c (see relay_int.h). */
#include <sodium.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "derp/relay_int.h"

#define GONE_BURST_CREDIT (3 * DERP_RELAY_SEC)

static struct derp_relay_conn *conn_of(struct derp_timer *t)
{
    return (struct derp_relay_conn *)(void *)((char *)t - offsetof(struct derp_relay_conn, timer));
}

struct derp_relay *derp_relay_new(const struct derp_keypair *server_key, const struct derp_relay_ops *ops,
                                  uint64_t now)
{
    /* randombytes (keepalive jitter, nonces, the table's hash key) needs it; idempotent. */
    if (sodium_init() < 0)
        return NULL;
    struct derp_relay *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->key = *server_key;
    r->ops = *ops;
    randombytes_buf(r->hash_key, sizeof r->hash_key);
    derp_keytab_init(&r->peers, sizeof(struct derp_peer_slot));
    derp_timers_init(&r->timers);
    derp_pool_init(&r->pool);
    return r;
}

static void conn_free(struct derp_relay *r, struct derp_relay_conn *c)
{
    drelay_drop_output(r, c);
    derp_reader_free(&c->rd);
    free(c);
}

void derp_relay_free(struct derp_relay *r)
{
    struct derp_timer *t;

    if (!r)
        return;
    /* Every connection has a timer, so the heap lists them all. */
    while ((t = derp_timers_first(&r->timers))) {
        derp_timers_remove(&r->timers, t);
        conn_free(r, conn_of(t));
    }
    drelay_free_peers(r);
    derp_timers_free(&r->timers);
    derp_pool_free(&r->pool);
    sodium_memzero(&r->key, sizeof r->key);
    free(r);
}

struct derp_relay_conn *derp_relay_accept(struct derp_relay *r, void *io_conn, const char *source, uint64_t now)
{
    uint8_t key_frame[DERP_FRAME_HEADER_LEN + DERP_MAGIC_LEN + DERP_KEY_LEN];
    struct derp_relay_conn *c = calloc(1, sizeof *c);

    if (!c)
        return NULL;
    c->io_conn = io_conn;
    c->timer.idx = DERP_TIMER_NONE;
    c->state = DERP_CONN_HANDSHAKE;
    c->gone_credit = GONE_BURST_CREDIT;
    c->gone_last = now;
    snprintf(c->source, sizeof c->source, "%s", source ? source : "");
    derp_reader_init(&c->rd, DERP_CLIENT_INFO_MAX);
    derp_pktq_init(&c->ctrl);
    derp_pktq_init(&c->disco);
    derp_pktq_init(&c->data);
    /* §1.4 step 1: 10 s for the whole handshake, and ServerKey at once. */
    if (derp_timers_add(&r->timers, &c->timer, now + DERP_RELAY_HANDSHAKE_TIMEOUT) < 0)
        goto fail;
    size_t n = derp_write_server_key(key_frame, sizeof key_frame, r->key.pub);
    if (n == 0 || drelay_queue_control(r, c, key_frame, n) < 0) {
        derp_timers_remove(&r->timers, &c->timer);
        goto fail;
    }
    c->greeting = 1;
    return c;
fail:
    conn_free(r, c);
    return NULL;
}

/* Every trace of c, and c itself, is gone afterwards. */
static void forget(struct derp_relay *r, struct derp_relay_conn *c)
{
    derp_timers_remove(&r->timers, &c->timer);
    if (c->preferred)
        r->stats.clients_home--;
    drelay_unregister(r, c);
    conn_free(r, c);
}

void drelay_close(struct derp_relay *r, struct derp_relay_conn *c, const char *why)
{
    void *io_conn = c->io_conn;

    forget(r, c);
    if (r->ops.close)
        r->ops.close(r->ops.ctx, io_conn, why);
}

int drelay_bad_frame(struct derp_relay *r, struct derp_relay_conn *c, const char *why)
{
    r->stats.drop_bad_frame++;
    drelay_close(r, c, why);
    return -1;
}

void derp_relay_closed(struct derp_relay *r, struct derp_relay_conn *c, uint64_t now)
{
    forget(r, c);
}

/* A header announced more than the reader's cap (or the reader ran out of
 * memory). During the handshake that is a ClientInfo over 256 KiB; after it,
 * a SendPacket over 65536 bytes of packet is Go's "data packet longer than
 * max" error, and any other frame that long is nothing a client sends. */
static void too_long(struct derp_relay *r, struct derp_relay_conn *c)
{
    if (c->state == DERP_CONN_HANDSHAKE) {
        r->stats.handshakes_failed++;
        drelay_close(r, c, "ClientInfo too long");
        return;
    }
    drelay_bad_frame(r, c, c->rd.header[0] == DERP_FRAME_SEND_PACKET ? "oversized packet" : "frame too long");
}

/* 0, or -1 when c was closed. §1.6 read loop: unknown types are skipped. */
static int dispatch(struct derp_relay *r, struct derp_relay_conn *c, const struct derp_frame *f, uint64_t now)
{
    if (c->state == DERP_CONN_HANDSHAKE)
        return drelay_hello(r, c, f, now);
    switch (f->type) {
    case DERP_FRAME_SEND_PACKET:
        return drelay_send_packet(r, c, f, now);
    case DERP_FRAME_PING:
        return drelay_ping(r, c, f);
    case DERP_FRAME_NOTE_PREFERRED:
        return drelay_note_preferred(r, c, f);
    case DERP_FRAME_FORWARD_PACKET:
    case DERP_FRAME_WATCH_CONNS:
    case DERP_FRAME_CLOSE_PEER:
        /* Mesh frames need the mesh key, which no client of ours holds. */
        r->stats.mesh_frames_refused++;
        drelay_close(r, c, "insufficient permissions");
        return -1;
    default:
        return 0;
    }
}

void derp_relay_input(struct derp_relay *r, struct derp_relay_conn *c, const uint8_t *buf, size_t len,
                      uint64_t now)
{
    c->spoke = true;
    while (len > 0) {
        struct derp_frame f;
        size_t used = 0;
        enum derp_read_status st = derp_reader_next(&c->rd, buf, len, &used, &f);
        buf += used;
        len -= used;
        if (st == DERP_READ_MORE)
            return;
        if (st != DERP_READ_FRAME) {
            too_long(r, c);
            return;
        }
        if (dispatch(r, c, &f, now) < 0)
            return;
    }
}

/* A client that said nothing for a whole keepalive period gives back its
 * reader's buffer (up to 64 KiB after one big packet), unless it is halfway
 * through a frame: 10,000 idle clients then cost only their structs. */
static void trim_if_idle(struct derp_relay_conn *c)
{
    if (!c->spoke && c->rd.buf && c->rd.header_have == 0 && !c->rd.in_payload) {
        uint32_t max_len = c->rd.max_len;
        derp_reader_free(&c->rd);
        derp_reader_init(&c->rd, max_len);
    }
    c->spoke = false;
}

static void keepalive(struct derp_relay *r, struct derp_relay_conn *c, uint64_t now)
{
    uint8_t frame[DERP_FRAME_HEADER_LEN];
    uint64_t period = DERP_RELAY_KEEPALIVE + (uint64_t)c->jitter_us * 1000u;
    uint64_t next = c->timer.deadline + period;
    /* A keepalive still queued (the client is not reading) needs no second. */
    size_t n = c->keepalive_pending ? 0 : derp_write_keep_alive(frame, sizeof frame);

    if (n && drelay_queue_control(r, c, frame, n) == 0) {
        c->keepalive_pending = true;
        r->stats.keepalives_sent++;
    }
    trim_if_idle(c);
    /* A ticker: the period holds even when tick runs late, but missed beats are not repeated. */
    derp_timers_move(&r->timers, &c->timer, next > now ? next : now + period);
}

uint64_t derp_relay_tick(struct derp_relay *r, uint64_t now)
{
    struct derp_timer *t;

    while ((t = derp_timers_first(&r->timers)) && t->deadline <= now) {
        struct derp_relay_conn *c = conn_of(t);
        if (c->state == DERP_CONN_HANDSHAKE) {
            r->stats.handshakes_timed_out++;
            drelay_close(r, c, "handshake timeout");
        } else {
            keepalive(r, c, now);
        }
    }
    return t ? t->deadline : UINT64_MAX;
}

const struct derp_relay_stats *derp_relay_stats(const struct derp_relay *r)
{
    return &r->stats;
}

bool derp_relay_has_client(const struct derp_relay *r, const uint8_t key[DERP_KEY_LEN])
{
    const struct derp_relay_peer *p = drelay_peer(r, key);

    return p && p->active;
}
