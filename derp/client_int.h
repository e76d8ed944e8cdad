/* Private to derp/client*.c: the client's state, shared by the state machine
 * (client.c), the nodes it dials (client_nodes.c), the transport and HTTP
 * upgrade (client_transport.c) and the DERP frames (client_frames.c). */
#ifndef VOLE_DERP_CLIENT_INT_H
#define VOLE_DERP_CLIENT_INT_H

#include <ev.h>

#include "derp/client.h"
#include "derp/derpmap.h"
#include "derp/dial.h"
#include "derp/handshake.h"
#include "derp/upgrade.h"
#include "derp/url.h"
#include "derp/websocket.h"
#include "io/stream.h"

enum client_state {
    CLIENT_IDLE,               /* waiting for the step timer (backoff) */
    CLIENT_RESOLVING,
    CLIENT_CONNECTING,         /* TCP connect and TLS handshake */
    CLIENT_UPGRADING,          /* request sent, reading the HTTP response */
    CLIENT_SERVER_KEY,         /* waiting for the ServerKey frame */
    CLIENT_SERVER_INFO,        /* ClientInfo sent, waiting for ServerInfo */
    CLIENT_CONNECTED,
};

/* One node to dial: a DERP node of the map's region, or the one URL of
 * vole_derp_client_new. */
struct derp_client_node {
    struct derp_url url;
    char *tls_name;            /* the name the certificate must carry */
    bool insecure;             /* InsecureForTests: no TLS verification */
};

struct vole_derp_client {
    struct ev_loop *loop;
    struct vole_derp_client_ops ops;
    /* configuration */
    struct derp_client_node *nodes;   /* in priority order; at least one */
    size_t n_nodes;
    struct derp_keypair key;
    char *ca_file, *extra_header;
    bool use_websocket;        /* forced, or after a 4xx: sticks, as Coder's forceWebsockets */
    double dead_after;

    enum client_state state;
    ev_timer step;             /* backoff wait, then name-lookup polling */
    ev_timer deadline;         /* connect timeout; when connected, the silence check */
    ev_timer dial;             /* one node's dial timeout, while another node is left to try */
    double backoff;            /* the next retry's base delay */

    /* the current attempt or connection */
    size_t node;               /* nodes[node] is being tried, or is connected */
    struct derp_dial dialer;     /* the node's name lookup and addresses */
    struct vole_stream *stream;
    struct vole_ws *ws;        /* the WebSocket filter over stream, when attempt_ws */
    struct vole_stream_ops stream_ops;
    struct vole_ws_ops ws_ops;
    bool attempt_ws;
    char ws_key[DERP_UPGRADE_WS_KEY_LEN + 1];
    struct derp_upgrade_response resp;
    struct derp_reader reader;
    uint8_t server_pub[DERP_KEY_LEN];
    bool have_server_key;      /* kept across reconnects: the last key seen */
    double last_rx;            /* ev_now of the last bytes read */

    bool preferred;
    uint8_t ping_data[DERP_PING_LEN];
    double ping_sent;
    bool ping_outstanding;

    struct vole_derp_client_stats stats;
    char last_error[384];
    int depth;                 /* loop callbacks of ours on the stack */
    bool freeing;
};

/* The node being tried or connected. */
static inline const struct derp_client_node *derp_client_node(const struct vole_derp_client *c)
{
    return &c->nodes[c->node];
}

/* client.c */
void derp_client_enter(struct vole_derp_client *c);
void derp_client_leave(struct vole_derp_client *c);
/* The node failed: during an attempt the next node is tried at once, after
 * the last one (or once connected) the client backs off and starts over. */
void derp_client_fail(struct vole_derp_client *c, const char *why);
/* A failure the other nodes would repeat (the attempt's time is up, a proxy
 * refuses the upgrade): back off at once, without trying the rest. */
void derp_client_fail_attempt(struct vole_derp_client *c, const char *why);
void derp_client_connect_failed(struct vole_derp_client *c, const char *why);
void derp_client_connected(struct vole_derp_client *c);

/* client_nodes.c: the node list, from one URL or a DERP map region. 0 or -1
 * with err; on error what was copied is left for derp_client_nodes_free. */
int derp_client_nodes_from_url(struct vole_derp_client *c, const struct vole_derp_client_config *cfg, char *err,
                               size_t errlen);
int derp_client_nodes_from_region(struct vole_derp_client *c, const struct derp_map_region *r, char *err,
                                  size_t errlen);
void derp_client_nodes_free(struct vole_derp_client *c);

/* client_transport.c: the stream (plain or TLS), the upgrade, WebSocket. */
int derp_client_transport_connect(struct vole_derp_client *c, const struct derp_addr *a, char *err, size_t errlen);
int derp_client_transport_write(struct vole_derp_client *c, const void *buf, size_t len);
size_t derp_client_transport_pending(const struct vole_derp_client *c);
/* Detaches from and closes the stream at once; no callback of it follows. */
void derp_client_transport_drop(struct vole_derp_client *c);

/* client_frames.c: the DERP byte stream after the upgrade. */
void derp_client_frames_start(struct vole_derp_client *c);
void derp_client_frames_input(struct vole_derp_client *c, const uint8_t *buf, size_t len);
void derp_client_write_note_preferred(struct vole_derp_client *c);

#endif
