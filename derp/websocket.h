/* DERP over WebSocket (RFC 6455, wslay): binary messages carry one byte
 * stream; a DERP frame may span messages and a message may hold several
 * (tailscale-wire.md §1.5). The filter sits on an io/stream after the HTTP
 * upgrade, which the caller does (the accept/key helpers below).
 *
 * Clients mask their frames, servers do not; pings are answered with pongs;
 * a text message is a protocol violation (close 1003). Callbacks follow the
 * stream's rules: on_close comes exactly once, from the loop, never from
 * inside a vole_ws_* call, and the filter and its stream are freed after it
 * returns. Closing from inside on_data is safe. */
#ifndef VOLE_DERP_WEBSOCKET_H
#define VOLE_DERP_WEBSOCKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "io/stream.h"

#define VOLE_WS_ACCEPT_LEN 28   /* base64 of a SHA-1 */
#define VOLE_WS_KEY_LEN 24      /* base64 of 16 random bytes */
/* Writes are cut into messages of at most this much: under the 32 KiB read
 * limit Go WebSocket libraries default to. */
#define VOLE_WS_MSG_MAX ((size_t)16 * 1024)

struct vole_ws;

struct vole_ws_ops {
    void *ctx;
    /* Payload bytes of binary messages, in order; valid during the call only. */
    void (*on_data)(void *ctx, struct vole_ws *w, const uint8_t *buf, size_t len);
    /* The stream wrote everything buffered. Optional. */
    void (*on_drained)(void *ctx, struct vole_ws *w);
    /* Finished: the peer's close ("websocket close 1000: reason"), a protocol
     * error, our close ("closed"), or the stream's end ("eof", "write timeout"...). */
    void (*on_close)(void *ctx, struct vole_ws *w, const char *why);
};

/* Takes over the stream's callbacks (and from then on owns the stream: close
 * through the filter). NULL when out of memory; the stream is then untouched. */
struct vole_ws *vole_ws_new(struct vole_stream *s, bool is_server, const struct vole_ws_ops *ops);
void vole_ws_set_ops(struct vole_ws *w, const struct vole_ws_ops *ops);
/* Bytes the HTTP layer read past the upgrade's head: already WebSocket frames. */
void vole_ws_input(struct vole_ws *w, const uint8_t *buf, size_t len);

/* One binary message per VOLE_WS_MSG_MAX bytes; 0, or -1 once closing. */
int vole_ws_write(struct vole_ws *w, const void *buf, size_t len);
/* Bytes queued toward the socket (framing included), for backpressure. */
size_t vole_ws_pending(const struct vole_ws *w);
/* Sends a close frame (1000, normal closure), then closes the stream
 * gracefully; the peer's reply is not awaited (the stream lingers for its FIN). */
void vole_ws_close(struct vole_ws *w);
/* The same with a chosen status code (0: none) and reason (<= 123 bytes used). */
void vole_ws_close_with(struct vole_ws *w, uint16_t code, const char *reason);

/* Let go of a connection whose owner is going away: the filter (which owns
 * its stream) or, without one, the bare stream is closed at once, and the
 * close it still reports later from the loop goes nowhere. Either may be NULL. */
void vole_ws_abandon(struct vole_ws *w, struct vole_stream *s);

/* The handshake: Sec-WebSocket-Accept for a Sec-WebSocket-Key, and a fresh
 * random key for a client (out[0] is '\0' if the system has no randomness). */
void vole_ws_accept_key(char out[VOLE_WS_ACCEPT_LEN + 1], const char *client_key);
void vole_ws_client_key(char out[VOLE_WS_KEY_LEN + 1]);

#endif
