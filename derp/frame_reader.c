/* The incremental frame reader: a byte stream in, whole frames out, whatever
 * the split of the input (TCP, TLS records and WebSocket messages all cut
 * frames at arbitrary places). State is explicit: header bytes so far, then
 * payload bytes so far into a buffer sized for the current frame. */
#include "derp/frame.h"

#include <stdlib.h>
#include <string.h>

#include "derp/frame_wire.h"

/* The first allocation; most frames (keepalives, pings, disco) are smaller,
 * and doubling from here reaches a full 64 KiB packet in eight steps. */
#define READER_MIN_CAP 256u

void derp_reader_init(struct derp_reader *r, uint32_t max_len)
{
    memset(r, 0, sizeof(*r));
    r->max_len = max_len;
}

void derp_reader_set_max(struct derp_reader *r, uint32_t max_len)
{
    r->max_len = max_len;
    /* A server lowers the cap after the handshake: give back a buffer that a
     * large ClientInfo grew, unless a frame is being read into it. Failing to
     * shrink is harmless, so the old buffer is kept then. */
    if (r->in_payload || r->buf_cap <= max_len)
        return;
    if (max_len == 0) {
        free(r->buf);
        r->buf = NULL;
    } else {
        uint8_t *b = realloc(r->buf, max_len);
        if (b == NULL)
            return;
        r->buf = b;
    }
    r->buf_cap = max_len;
}

void derp_reader_free(struct derp_reader *r)
{
    free(r->buf);
    derp_reader_init(r, r->max_len);
}

/* Geometric growth to at least need, clamped to max_len (need <= max_len). */
static int reserve(struct derp_reader *r, uint32_t need)
{
    if (need <= r->buf_cap)
        return 0;
    size_t cap = r->buf_cap > READER_MIN_CAP ? r->buf_cap : READER_MIN_CAP;
    while (cap < need)
        cap *= 2;
    if (cap > r->max_len)
        cap = r->max_len;
    uint8_t *b = realloc(r->buf, cap);
    if (b == NULL)
        return -1;
    r->buf = b;
    r->buf_cap = cap;
    return 0;
}

static size_t take(uint8_t *dst, size_t have, size_t want, const uint8_t *in, size_t len)
{
    size_t n = want - have < len ? want - have : len;
    if (n > 0)
        memcpy(dst + have, in, n);
    return n;
}

/* With the header complete: check the length and make room. Leaves the state
 * untouched on failure, so a later call fails the same way (or succeeds after
 * derp_reader_set_max raised the cap, or memory came back). */
static enum derp_read_status start_payload(struct derp_reader *r)
{
    uint32_t len = derp_get32(r->header + 1);
    if (len > r->max_len || reserve(r, len) != 0)
        return DERP_READ_TOO_LONG;
    r->need = len;
    r->have = 0;
    r->in_payload = true;
    return DERP_READ_FRAME;
}

static void emit(struct derp_reader *r, struct derp_frame *out)
{
    out->type = r->header[0];
    out->len = r->need;
    /* A zero-length frame still gets a valid pointer (never dereferenced). */
    out->payload = r->need > 0 ? r->buf : r->header;
    r->header_have = 0;
    r->in_payload = false;
}

enum derp_read_status derp_reader_next(struct derp_reader *r, const uint8_t *in, size_t len, size_t *consumed,
                                       struct derp_frame *out)
{
    size_t used = 0;
    *consumed = 0;
    if (!r->in_payload) {
        used = take(r->header, r->header_have, DERP_FRAME_HEADER_LEN, in, len);
        r->header_have += used;
        *consumed = used;
        if (r->header_have < DERP_FRAME_HEADER_LEN)
            return DERP_READ_MORE;
        enum derp_read_status st = start_payload(r);
        if (st != DERP_READ_FRAME)
            return st;
    }
    if (used < len) {   /* never offsets a NULL in: a zero-length call may pass one */
        size_t n = take(r->buf, r->have, r->need, in + used, len - used);
        r->have += n;
        *consumed = used + n;
    }
    if (r->have < r->need)
        return DERP_READ_MORE;
    emit(r, out);
    return DERP_READ_FRAME;
}
