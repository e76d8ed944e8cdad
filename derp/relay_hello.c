/* The server side of the handshake (tailscale-wire.md §1.4): ServerKey is
 * queued at accept; the first frame must be a ClientInfo that opens with our
 * key; then admission, registration and ServerInfo, and the connection runs. */
#include <sodium.h>

#include "derp/relay_int.h"

static int fail(struct derp_relay *r, struct derp_relay_conn *c, const char *why)
{
    r->stats.handshakes_failed++;
    drelay_close(r, c, why);
    return -1;
}

/* Starts the reader afresh with the steady-state cap: this also releases the
 * buffer a ClientInfo of up to 256 KiB may have grown. */
static void reader_restart(struct derp_relay_conn *c, uint32_t max_len)
{
    derp_reader_free(&c->rd);
    derp_reader_init(&c->rd, max_len);
}

static int queue_server_info(struct derp_relay *r, struct derp_relay_conn *c)
{
    /* {"version":2} boxed: 5 + 24 + 16 + 13 bytes; room for more fields. */
    uint8_t frame[256];
    const struct derp_server_info info = { .version = DERP_PROTOCOL_VERSION };
    size_t n = derp_build_server_info(frame, sizeof frame, &r->key, c->peer->key, &info, NULL);

    if (n == 0 || drelay_queue_control(r, c, frame, n) < 0)
        return -1;
    c->greeting++;
    return 0;
}

/* Registered and greeted: the keepalive ticker starts now, as Go's sendLoop
 * does, with a per-client period of 60 s + [0, 5 s) (§1.1 KeepAlive). */
static void run(struct derp_relay *r, struct derp_relay_conn *c, uint64_t now)
{
    c->state = DERP_CONN_RUNNING;
    c->jitter_us = randombytes_uniform(5u * 1000u * 1000u);
    reader_restart(c, DERP_SERVER_MAX_FRAME);
    derp_timers_move(&r->timers, &c->timer, now + DERP_RELAY_KEEPALIVE + (uint64_t)c->jitter_us * 1000u);
}

int drelay_hello(struct derp_relay *r, struct derp_relay_conn *c, const struct derp_frame *f, uint64_t now)
{
    uint8_t pub[DERP_KEY_LEN];
    struct derp_client_info info;

    /* Go reads exactly one frame here: anything but a ClientInfo ends it. */
    if (f->type != DERP_FRAME_CLIENT_INFO || f->len < DERP_CLIENT_INFO_MIN || f->len > DERP_CLIENT_INFO_MAX)
        return fail(r, c, "expected ClientInfo");
    if (derp_open_client_info(f, &r->key, pub, &info) < 0)
        return fail(r, c, "bad ClientInfo");
    if (r->ops.admit && !r->ops.admit(r->ops.ctx, pub, c->source)) {
        r->stats.accepts_rejected++;
        drelay_close(r, c, "client not admitted");
        return -1;
    }
    /* This relay holds no mesh key, so no client can mesh (info.mesh_key is
     * not compared): mesh frames are refused in dispatch. */
    if (drelay_register(r, c, pub) < 0 || queue_server_info(r, c) < 0)
        return fail(r, c, "out of memory");
    run(r, c, now);
    return 0;
}
