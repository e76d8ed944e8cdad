/* The server's byte stream of coordinator messages (docs/TAILNET.md): each
 * message one JSON object ended by '\n', with no regard for WebSocket
 * message boundaries. A line that does not decode to a message for a node
 * is counted and skipped; one longer than COORD_MSG_MAX_LEN cannot be a
 * message and would need unbounded memory, so it ends the connection. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tailnet/control_int.h"

/* A buffer grown for an unusually long line is not kept beyond it. */
#define LINE_KEEP_CAP (64u << 10)

void control_lines_reset(struct vole_control *c)
{
    free(c->line);
    c->line = NULL;
    c->line_len = c->line_cap = 0;
}

/* Server-to-node types only: a node's own messages coming back are wrong. */
static bool for_a_node(enum coord_msg_type t)
{
    return t == COORD_MSG_SELF || t == COORD_MSG_PEER_UPDATES || t == COORD_MSG_ERROR || t == COORD_MSG_DERP_MAP;
}

static void skip_line(struct vole_control *c, const char *why)
{
    char msg[sizeof c->last_error];
    c->stats.bad_lines++;
    snprintf(msg, sizeof msg, "skipped a line from the coordinator: %s", why);
    control_set_error(c, msg);
}

static void deliver(struct vole_control *c, const char *json, size_t len)
{
    struct coord_msg m;
    char err[256];

    if (len == 0)
        return;   /* an empty line carries nothing; not worth a complaint */
    if (coord_msg_decode(json, len, &m, err, sizeof err) < 0) {
        skip_line(c, err);
    } else if (!for_a_node(m.type)) {
        snprintf(err, sizeof err, "a %s message, which only a node sends", coord_msg_type_name(m.type));
        skip_line(c, err);
    } else {
        c->stats.msgs_in++;
        c->got_msg = true;
        if (c->ops.on_msg)
            c->ops.on_msg(c->ops.ctx, &m);
    }
    coord_msg_free(&m);
}

static int append(struct vole_control *c, const uint8_t *buf, size_t n)
{
    if (c->line_len + n > c->line_cap) {
        size_t cap = c->line_cap ? c->line_cap : 1024;
        while (cap < c->line_len + n)
            cap *= 2;
        char *p = realloc(c->line, cap);
        if (!p)
            return -1;
        c->line = p;
        c->line_cap = cap;
    }
    memcpy(c->line + c->line_len, buf, n);
    c->line_len += n;
    return 0;
}

/* The owner's on_msg may free the client or the line may end the
 * connection: the loop stops as soon as the connection is not current. */
void control_lines_input(struct vole_control *c, const uint8_t *buf, size_t len)
{
    char why[96];

    while (len > 0 && c->state == CONTROL_CONNECTED && !c->freeing) {
        const uint8_t *nl = memchr(buf, '\n', len);
        size_t n = nl ? (size_t)(nl - buf) : len;
        if (c->line_len + n > COORD_MSG_MAX_LEN) {
            snprintf(why, sizeof why, "a line from the coordinator longer than %u bytes", COORD_MSG_MAX_LEN);
            control_fail(c, why);
            return;
        }
        if (nl && c->line_len == 0) {
            deliver(c, (const char *)buf, n);   /* whole in this chunk: no copy */
        } else if (append(c, buf, n) < 0) {
            control_fail(c, "out of memory for a coordinator message");
            return;
        } else if (nl) {
            deliver(c, c->line, c->line_len);
            c->line_len = 0;
            if (c->line_cap > LINE_KEEP_CAP)
                control_lines_reset(c);
        }
        buf += n + (nl ? 1 : 0);
        len -= n + (nl ? 1 : 0);
    }
}
