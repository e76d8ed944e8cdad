/* Private to tailnet/control*.c: the coordinator client's state, shared by
 * the state machine (control.c), the transport and HTTP upgrade
 * (control_transport.c) and the message lines (control_lines.c). */
#ifndef VOLE_TAILNET_CONTROL_INT_H
#define VOLE_TAILNET_CONTROL_INT_H

#include <ev.h>

#include "derp/dial.h"
#include "derp/upgrade.h"
#include "derp/url.h"
#include "derp/websocket.h"
#include "io/stream.h"
#include "tailnet/control.h"

enum control_state {
    CONTROL_IDLE,              /* waiting for the step timer (backoff) */
    CONTROL_RESOLVING,
    CONTROL_CONNECTING,        /* TCP connect and TLS handshake */
    CONTROL_UPGRADING,         /* request sent, reading the HTTP response */
    CONTROL_CONNECTED,
    CONTROL_STOPPED,           /* refused for good (401): nothing more happens */
};

struct vole_control {
    struct ev_loop *loop;
    struct vole_control_ops ops;
    /* configuration */
    struct derp_url url;       /* its path is not used: the coordinator's is fixed */
    char *auth_header;         /* "Authorization: Bearer TOKEN" */
    char *ca_file;
    bool insecure;
    double dead_after;

    enum control_state state;
    ev_timer step;             /* backoff wait, then name-lookup polling */
    ev_timer deadline;         /* connect timeout; when connected, the silence check */
    double backoff;            /* the next retry's base delay */

    /* the current attempt or connection */
    struct derp_dial dialer;   /* the server's name lookup and addresses */
    struct vole_stream *stream;
    struct vole_ws *ws;        /* over stream, once upgraded (it then owns the stream) */
    struct vole_stream_ops stream_ops;
    struct vole_ws_ops ws_ops;
    char ws_key[DERP_UPGRADE_WS_KEY_LEN + 1];
    struct derp_upgrade_response resp;
    double connected_at;       /* ev_now when the upgrade completed */
    double last_rx;            /* ev_now of the last input */
    bool got_msg;              /* this connection brought a message */

    /* the line being received: bytes since the last '\n' */
    char *line;
    size_t line_len, line_cap;

    struct vole_control_stats stats;
    char last_error[384];
    int depth;                 /* loop callbacks of ours on the stack */
    bool freeing;
};

/* control.c */
void control_enter(struct vole_control *c);
/* After this the caller must not touch c: it may be gone. */
void control_leave(struct vole_control *c);
/* The attempt or connection failed: tear down, tell the owner, back off. */
void control_fail(struct vole_control *c, const char *why);
/* A 401: tear down, tell the owner once, never retry. */
void control_refused(struct vole_control *c, const char *why);
/* The stream to one address closed before it opened: the next, or fail. */
void control_connect_failed(struct vole_control *c, const char *why);
/* The upgrade is done (the WebSocket filter is in place). */
void control_connected(struct vole_control *c);
void control_set_error(struct vole_control *c, const char *why);

/* control_transport.c */
int control_transport_connect(struct vole_control *c, const struct derp_addr *a, char *err, size_t errlen);
/* Detaches from and closes the stream at once; no callback of it follows. */
void control_transport_drop(struct vole_control *c);

/* control_lines.c */
/* Bytes of the server's message stream: split at '\n', decoded, delivered. */
void control_lines_input(struct vole_control *c, const uint8_t *buf, size_t len);
void control_lines_reset(struct vole_control *c);

#endif
