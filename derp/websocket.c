/* The WebSocket filter over an io/stream, with wslay's event API; see
 * websocket.h for the contract.
 *
 * wslay never touches the socket: its recv callback reads from the bytes the
 * stream just delivered, its send callback appends to the stream's write
 * buffer (which always takes everything, so wslay's queue empties at once).
 * Message buffering is off: payload chunks go to the owner as they are
 * parsed, so a message of any size costs no memory here. wslay itself
 * answers pings, replies to a close frame and rejects bad framing (unmasked
 * client frames, masked server frames, RSV bits, bad UTF-8 in close). */
#include "derp/websocket.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/types.h>

#include <mbedtls/base64.h>
#include <mbedtls/sha1.h>
#include <wslay/wslay.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"   /* RFC 6455 §1.3 */
#define CLOSE_REASON_MAX 123

struct vole_ws {
    struct vole_stream *s;
    wslay_event_context_ptr ctx;
    struct vole_ws_ops ops;
    const uint8_t *in;       /* stream bytes wslay is consuming */
    size_t in_len;
    bool in_recv;            /* inside wslay_event_recv: sending waits for it to return */
    bool data_frame;         /* the frame being parsed carries message bytes */
    bool binary_msg;         /* the current data message is binary (for continuations) */
    bool closing;            /* no more deliveries or writes */
    bool stream_closed;      /* vole_stream_close was called */
    char why[160];           /* reason for on_close, when ours is better than the stream's */
};

/* ---- randomness ---------------------------------------------------------- */

/* The kernel's CSPRNG: masks and keys need unpredictability, not a DRBG. */
static bool fill_random(uint8_t *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = getrandom(buf + got, len - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        got += (size_t)n;
    }
    return true;
}

/* ---- wslay callbacks ----------------------------------------------------- */

static ssize_t ws_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *user)
{
    (void)flags;
    struct vole_ws *w = user;
    if (w->in_len == 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    size_t n = len < w->in_len ? len : w->in_len;
    memcpy(buf, w->in, n);
    w->in += n;
    w->in_len -= n;
    return (ssize_t)n;
}

static ssize_t ws_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags, void *user)
{
    (void)flags;
    struct vole_ws *w = user;
    if (vole_stream_write(w->s, data, len) != 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    return (ssize_t)len;
}

static int ws_genmask(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *user)
{
    (void)ctx;
    (void)user;
    return fill_random(buf, len) ? 0 : -1;
}

static void set_why(struct vole_ws *w, const char *why)
{
    if (!w->why[0])
        snprintf(w->why, sizeof w->why, "%s", why);
}

/* Fails the connection from inside wslay_event_recv: close frame, no more reading. */
static void reject(struct vole_ws *w, uint16_t code, const char *reason, const char *why)
{
    set_why(w, why);
    w->closing = true;
    (void)wslay_event_queue_close(w->ctx, code, (const uint8_t *)reason, strlen(reason));
    wslay_event_shutdown_read(w->ctx);
}

static void ws_frame_start(wslay_event_context_ptr ctx, const struct wslay_event_on_frame_recv_start_arg *arg,
                           void *user)
{
    (void)ctx;
    struct vole_ws *w = user;
    w->data_frame = false;
    if (arg->opcode & 0x8)
        return;   /* control frames may come between a message's fragments */
    if (arg->opcode == WSLAY_TEXT_FRAME) {
        reject(w, WSLAY_CODE_UNSUPPORTED_DATA, "DERP uses binary messages", "websocket: text message");
        return;
    }
    if (arg->opcode == WSLAY_BINARY_FRAME)
        w->binary_msg = true;
    w->data_frame = w->binary_msg;
}

static void ws_frame_chunk(wslay_event_context_ptr ctx, const struct wslay_event_on_frame_recv_chunk_arg *arg,
                           void *user)
{
    (void)ctx;
    struct vole_ws *w = user;
    if (w->data_frame && !w->closing && arg->data_length > 0 && w->ops.on_data)
        w->ops.on_data(w->ops.ctx, w, arg->data, arg->data_length);
}

/* Printable text of a peer's close reason, for logs. */
static void close_text(char *out, size_t n, uint16_t code, const uint8_t *msg, size_t len)
{
    char reason[64];
    size_t r = 0;
    for (size_t i = 2; i < len && r + 1 < sizeof reason; i++)
        reason[r++] = (msg[i] >= 0x20 && msg[i] < 0x7f) ? (char)msg[i] : '?';
    reason[r] = '\0';
    snprintf(out, n, "websocket close %u%s%s", code, r ? ": " : "", reason);
}

static void ws_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg, void *user)
{
    (void)ctx;
    struct vole_ws *w = user;
    if (arg->opcode != WSLAY_CONNECTION_CLOSE)
        return;   /* pings are answered by wslay; data went out chunk by chunk */
    char why[160];
    close_text(why, sizeof why, arg->status_code, arg->msg, arg->msg_length);
    set_why(w, why);
    w->closing = true;   /* wslay has queued the reply close and stopped reading */
}

/* ---- the filter ---------------------------------------------------------- */

/* Sends what wslay queued; once reading is over (a close either way, or a
 * protocol error), closes the stream after the close frame is written. */
static void pump(struct vole_ws *w)
{
    if (w->in_recv || w->stream_closed)
        return;
    if (wslay_event_send(w->ctx) != 0) {
        set_why(w, "websocket: write failed");
        w->closing = true;
    }
    if (!wslay_event_get_read_enabled(w->ctx) || w->closing) {
        w->closing = true;
        w->stream_closed = true;
        vole_stream_close(w->s, true);
    }
}

void vole_ws_input(struct vole_ws *w, const uint8_t *buf, size_t len)
{
    if (w->closing || w->in_recv || !wslay_event_get_read_enabled(w->ctx))
        return;
    w->in = buf;
    w->in_len = len;
    w->in_recv = true;
    int r = wslay_event_recv(w->ctx);
    w->in_recv = false;
    w->in = NULL;
    w->in_len = 0;
    /* wslay stops reading on its own when it meets bad framing; it has then
     * queued a close frame, whose code is known once pump() has sent it. */
    bool refused = r == 0 && !w->closing && !wslay_event_get_read_enabled(w->ctx);
    if (r != 0) {
        set_why(w, "websocket: read failed");
        w->closing = true;
    }
    pump(w);
    if (refused) {
        char why[64];
        snprintf(why, sizeof why, "websocket: protocol error (sent close %u)", wslay_event_get_status_code_sent(w->ctx));
        set_why(w, why);
    }
}

static void st_read(void *ctx, struct vole_stream *s, const uint8_t *buf, size_t len)
{
    (void)s;
    vole_ws_input(ctx, buf, len);
}

static void st_drained(void *ctx, struct vole_stream *s)
{
    (void)s;
    struct vole_ws *w = ctx;
    if (!w->closing && w->ops.on_drained)
        w->ops.on_drained(w->ops.ctx, w);
}

static void st_close(void *ctx, struct vole_stream *s, const char *why)
{
    (void)s;
    struct vole_ws *w = ctx;
    w->closing = true;
    if (w->ops.on_close)
        w->ops.on_close(w->ops.ctx, w, w->why[0] ? w->why : why);
    wslay_event_context_free(w->ctx);
    free(w);
}

struct vole_ws *vole_ws_new(struct vole_stream *s, bool is_server, const struct vole_ws_ops *ops)
{
    static const struct wslay_event_callbacks cbs = {
        .recv_callback = ws_recv,
        .send_callback = ws_send,
        .genmask_callback = ws_genmask,
        .on_frame_recv_start_callback = ws_frame_start,
        .on_frame_recv_chunk_callback = ws_frame_chunk,
        .on_msg_recv_callback = ws_msg,
    };
    struct vole_ws *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    int r = is_server ? wslay_event_context_server_init(&w->ctx, &cbs, w)
                      : wslay_event_context_client_init(&w->ctx, &cbs, w);
    if (r != 0) {
        free(w);
        return NULL;
    }
    wslay_event_config_set_no_buffering(w->ctx, 1);
    w->s = s;
    w->ops = *ops;
    const struct vole_stream_ops sops = {.ctx = w, .on_read = st_read, .on_drained = st_drained, .on_close = st_close};
    vole_stream_set_ops(s, &sops);
    return w;
}

void vole_ws_set_ops(struct vole_ws *w, const struct vole_ws_ops *ops)
{
    w->ops = *ops;
}

int vole_ws_write(struct vole_ws *w, const void *buf, size_t len)
{
    if (w->closing || !wslay_event_get_write_enabled(w->ctx))
        return -1;
    const uint8_t *p = buf;
    while (len > 0) {
        size_t n = len < VOLE_WS_MSG_MAX ? len : VOLE_WS_MSG_MAX;
        struct wslay_event_msg m = {.opcode = WSLAY_BINARY_FRAME, .msg = p, .msg_length = n};
        if (wslay_event_queue_msg(w->ctx, &m) != 0)
            return -1;
        p += n;
        len -= n;
    }
    pump(w);
    return 0;
}

size_t vole_ws_pending(const struct vole_ws *w)
{
    return vole_stream_pending(w->s) + wslay_event_get_queued_msg_length(w->ctx);
}

void vole_ws_close_with(struct vole_ws *w, uint16_t code, const char *reason)
{
    if (w->closing)
        return;
    size_t n = reason ? strlen(reason) : 0;
    (void)wslay_event_queue_close(w->ctx, code, (const uint8_t *)reason, n < CLOSE_REASON_MAX ? n : CLOSE_REASON_MAX);
    wslay_event_shutdown_read(w->ctx);
    w->closing = true;
    pump(w);   /* inside on_data this waits until wslay_event_recv returns */
}

void vole_ws_close(struct vole_ws *w)
{
    vole_ws_close_with(w, WSLAY_CODE_NORMAL_CLOSURE, "");
}

/* ---- handshake helpers ----------------------------------------------------- */

void vole_ws_accept_key(char out[VOLE_WS_ACCEPT_LEN + 1], const char *client_key)
{
    uint8_t digest[20];
    size_t klen = strlen(client_key), glen = strlen(WS_GUID), olen = 0;
    mbedtls_sha1_context sha;
    mbedtls_sha1_init(&sha);
    (void)mbedtls_sha1_starts_ret(&sha);
    (void)mbedtls_sha1_update_ret(&sha, (const unsigned char *)client_key, klen);
    (void)mbedtls_sha1_update_ret(&sha, (const unsigned char *)WS_GUID, glen);
    (void)mbedtls_sha1_finish_ret(&sha, digest);
    mbedtls_sha1_free(&sha);
    if (mbedtls_base64_encode((unsigned char *)out, VOLE_WS_ACCEPT_LEN + 1, &olen, digest, sizeof digest) != 0)
        out[0] = '\0';
}

void vole_ws_client_key(char out[VOLE_WS_KEY_LEN + 1])
{
    uint8_t raw[16];
    size_t olen = 0;
    if (!fill_random(raw, sizeof raw) ||
        mbedtls_base64_encode((unsigned char *)out, VOLE_WS_KEY_LEN + 1, &olen, raw, sizeof raw) != 0)
        out[0] = '\0';
}

/* ---- letting go ---- */

static void abandoned_read(void *ctx, struct vole_stream *s, const uint8_t *buf, size_t len) {}
static void abandoned_close(void *ctx, struct vole_stream *s, const char *why) {}
static const struct vole_stream_ops ABANDONED_STREAM = {.on_read = abandoned_read, .on_close = abandoned_close};
static void abandoned_ws_data(void *ctx, struct vole_ws *w, const uint8_t *buf, size_t len) {}
static void abandoned_ws_close(void *ctx, struct vole_ws *w, const char *why) {}
static const struct vole_ws_ops ABANDONED_WS = {.on_data = abandoned_ws_data, .on_close = abandoned_ws_close};

void vole_ws_abandon(struct vole_ws *w, struct vole_stream *s)
{
    if (w) {
        vole_ws_set_ops(w, &ABANDONED_WS);
        vole_ws_close(w);
    } else if (s) {
        vole_stream_set_ops(s, &ABANDONED_STREAM);
        vole_stream_close(s, false);
    }
}
