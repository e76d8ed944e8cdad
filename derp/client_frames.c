/* The DERP byte stream as the client sees it after the upgrade
 * (tailscale-wire.md §1.3, §1.4, §1.7): ServerKey first, then ClientInfo from
 * us, then ServerInfo marks the connection up; in the steady state RecvPacket,
 * PeerGone, Ping (answered with Pong) and Pong; the rest is skipped. */
#include <stdio.h>
#include <string.h>

#include "derp/client_int.h"

void derp_client_frames_start(struct vole_derp_client *c)
{
    /* Go's client rejects frames over 1 MiB whatever their type. */
    derp_reader_init(&c->reader, DERP_CLIENT_MAX_FRAME);
    c->state = CLIENT_SERVER_KEY;
}

/* ---- handshake ---------------------------------------------------------- */

static void on_server_key(struct vole_derp_client *c, const struct derp_frame *f)
{
    char why[64];
    uint8_t buf[512];
    struct derp_client_info info = {.version = DERP_PROTOCOL_VERSION, .can_ack_pings = true};

    if (f->type != DERP_FRAME_SERVER_KEY) {
        snprintf(why, sizeof why, "expected ServerKey, got frame type 0x%02x", f->type);
        derp_client_fail(c, why);
        return;
    }
    /* Checks magic and 40 <= len <= 1024; bytes past the key are for the future. */
    if (derp_parse_server_key(f, c->server_pub) < 0) {
        derp_client_fail(c, "malformed ServerKey frame");
        return;
    }
    c->have_server_key = true;
    size_t n = derp_build_client_info(buf, sizeof buf, &c->key, c->server_pub, &info, NULL);
    if (n == 0 || derp_client_transport_write(c, buf, n) < 0) {
        derp_client_fail(c, "cannot send ClientInfo");
        return;
    }
    c->state = CLIENT_SERVER_INFO;
}

static void on_server_info(struct vole_derp_client *c, const struct derp_frame *f)
{
    struct derp_server_info info;

    if (c->state == CLIENT_CONNECTED)
        return;   /* only the first one means anything */
    /* The token-bucket fields are never set by the servers of the reference;
     * vole does not rate-limit itself on them. */
    if (derp_open_server_info(f, &c->key, c->server_pub, &info) < 0) {
        derp_client_fail(c, "ServerInfo does not open with the server's key");
        return;
    }
    derp_client_connected(c);
}

/* ---- steady state ------------------------------------------------------- */

static void on_recv_packet(struct vole_derp_client *c, const struct derp_frame *f)
{
    const uint8_t *src, *pkt;
    size_t len;

    if (derp_parse_packet(f, &src, &pkt, &len) < 0)
        return;   /* short or oversized: Go's client logs and goes on */
    c->stats.packets_received++;
    if (c->ops.on_packet)
        c->ops.on_packet(c->ops.ctx, src, pkt, len);
}

static void on_peer_gone(struct vole_derp_client *c, const struct derp_frame *f)
{
    uint8_t key[DERP_KEY_LEN], reason = DERP_PEER_GONE_DISCONNECTED;

    if (derp_parse_peer_gone(f, key, &reason) < 0)
        return;
    if (c->ops.on_peer_gone)
        c->ops.on_peer_gone(c->ops.ctx, key, reason);
}

static void on_ping(struct vole_derp_client *c, const struct derp_frame *f)
{
    uint8_t data[DERP_PING_LEN], frame[DERP_FRAME_HEADER_LEN + DERP_PING_LEN];

    if (derp_parse_ping(f, data) < 0)
        return;   /* shorter than 8 bytes: Go drops it */
    size_t n = derp_write_ping(frame, sizeof frame, DERP_FRAME_PONG, data);
    if (n && derp_client_transport_write(c, frame, n) == 0)
        c->stats.pings_answered++;
}

static void on_pong(struct vole_derp_client *c, const struct derp_frame *f)
{
    uint8_t data[DERP_PING_LEN];
    double rtt = -1;

    if (derp_parse_ping(f, data) < 0)
        return;
    if (c->ping_outstanding && memcmp(data, c->ping_data, DERP_PING_LEN) == 0) {
        rtt = ev_now(c->loop) - c->ping_sent;
        c->ping_outstanding = false;
    }
    if (c->ops.on_pong)
        c->ops.on_pong(c->ops.ctx, data, rtt);
}

static void on_frame(struct vole_derp_client *c, const struct derp_frame *f)
{
    if (c->state == CLIENT_SERVER_KEY) {
        on_server_key(c, f);
        return;
    }
    switch (f->type) {
    case DERP_FRAME_SERVER_INFO:
        on_server_info(c, f);
        break;
    case DERP_FRAME_RECV_PACKET:
        on_recv_packet(c, f);
        break;
    case DERP_FRAME_PEER_GONE:
        on_peer_gone(c, f);
        break;
    case DERP_FRAME_PING:
        on_ping(c, f);
        break;
    case DERP_FRAME_PONG:
        on_pong(c, f);
        break;
    default:
        /* KeepAlive (its arrival is what counts, see last_rx), a second
         * ServerKey (what a fast-start server sends), Health, Restarting,
         * PeerPresent and types yet to come: skipped, as Go's client does. */
        break;
    }
}

void derp_client_frames_input(struct vole_derp_client *c, const uint8_t *buf, size_t len)
{
    c->last_rx = ev_now(c->loop);
    for (;;) {
        struct derp_frame f;
        size_t used = 0;
        enum derp_read_status st = derp_reader_next(&c->reader, buf, len, &used, &f);
        buf += used;
        len -= used;
        if (st == DERP_READ_MORE)
            return;
        if (st != DERP_READ_FRAME) {
            derp_client_fail(c, "frame longer than 1 MiB from the server");
            return;
        }
        on_frame(c, &f);
        /* A failure tore the connection down (its reader too), or a callback
         * freed the client: the rest of buf belongs to nobody. */
        if (c->freeing || c->state < CLIENT_SERVER_KEY)
            return;
    }
}

void derp_client_write_note_preferred(struct vole_derp_client *c)
{
    uint8_t frame[DERP_FRAME_HEADER_LEN + 1];
    size_t n = derp_write_note_preferred(frame, sizeof frame, c->preferred);
    if (n)
        (void)derp_client_transport_write(c, frame, n);
}
