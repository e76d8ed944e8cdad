/* The DERP client's state machine: one connection attempt at a time, which
 * walks the region's nodes in order, each through
 *   resolve -> connect (TCP, TLS) -> HTTP upgrade -> ServerKey -> ServerInfo
 * until one reaches the steady state; a node's failure moves on to the next
 * node at once, the last one's to a teardown and a retry from the first node
 * after an exponential backoff (tailscale-wire.md §1.5, §1.7). The nodes are
 * in derp/client_nodes.c, URL parsing and name lookup in derp/url.c, the HTTP
 * request and response in derp/upgrade.c, the transport (plain or WebSocket)
 * in derp/client_transport.c. */
#include "derp/client.h"

#include <ev.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "derp/client_int.h"
#include "derp/handshake.h"

#define CONNECT_TIMEOUT 10.0          /* DNS + TCP + TLS + upgrade + handshake, as Go's client */
#define DIAL_TIMEOUT 1.5              /* Go's dialNode: per node, so that a black hole leaves time for the rest */
#define DEAD_AFTER 120.0              /* Go's client: a 120 s read deadline per frame */
#define BACKOFF_FIRST 0.1
#define BACKOFF_CAP 5.0               /* magicsock caps its reconnect backoff at 5 s */

/* ---- lifetime guard ----------------------------------------------------- */

/* Every entry from the loop goes through enter/leave, so that a callback of
 * ours that frees the client (on_packet, on_state...) only marks it: the
 * memory goes when the outermost entry leaves. */
void derp_client_enter(struct vole_derp_client *c)
{
    c->depth++;
}

static void destroy(struct vole_derp_client *c);

/* After this the caller must not touch c: it may be gone. */
void derp_client_leave(struct vole_derp_client *c)
{
    if (--c->depth == 0 && c->freeing)
        destroy(c);
}

/* ---- failure and retry -------------------------------------------------- */

static void set_error(struct vole_derp_client *c, const char *why)
{
    snprintf(c->last_error, sizeof c->last_error, "%s", why);
}

static double next_delay(struct vole_derp_client *c)
{
    /* +-25% jitter so that a fleet of clients cut off by one server restart
     * does not come back in lockstep. */
    double d = c->backoff * (0.75 + 0.5 * (double)randombytes_uniform(1000) / 1000.0);
    c->backoff = c->backoff * 2 > BACKOFF_CAP ? BACKOFF_CAP : c->backoff * 2;
    return d > BACKOFF_CAP ? BACKOFF_CAP : d;
}

static void schedule_attempt(struct vole_derp_client *c, double delay)
{
    ev_timer_stop(c->loop, &c->deadline);
    ev_timer_stop(c->loop, &c->step);
    ev_timer_stop(c->loop, &c->dial);
    c->state = CLIENT_IDLE;
    ev_timer_set(&c->step, delay, 0);
    ev_timer_start(c->loop, &c->step);
}

static void teardown(struct vole_derp_client *c)
{
    derp_client_transport_drop(c);
    derp_dial_stop(&c->dialer);
    derp_reader_free(&c->reader);
}

static void start_node(struct vole_derp_client *c);

void derp_client_fail(struct vole_derp_client *c, const char *why)
{
    /* Only an attempt moves on: a connection that was up starts over from
     * the first node (after the backoff), as Go's dialRegion does. */
    bool attempting = c->state != CLIENT_CONNECTED && c->state != CLIENT_IDLE;

    if (c->freeing)
        return;
    if (!attempting || c->node + 1 >= c->n_nodes) {
        derp_client_fail_attempt(c, why);
        return;
    }
    set_error(c, why);
    teardown(c);
    c->node++;
    start_node(c);   /* still within the attempt's deadline */
}

void derp_client_fail_attempt(struct vole_derp_client *c, const char *why)
{
    bool was_connected = c->state == CLIENT_CONNECTED;

    if (c->freeing)
        return;
    set_error(c, why);
    teardown(c);
    schedule_attempt(c, next_delay(c));
    if (was_connected) {
        c->stats.disconnects++;
        if (c->ops.on_state)
            c->ops.on_state(c->ops.ctx, false, why);
    }
}

/* ---- the attempt: resolve, then connect each address in turn ------------- */

static int connect_addr(void *ctx, const struct derp_addr *a, char *err, size_t errlen)
{
    return derp_client_transport_connect(ctx, a, err, errlen);
}

/* Where a dial step left the node: its lookup pending, an address
 * connecting, or nothing left to try. */
static void dial_went(struct vole_derp_client *c, enum derp_dial_status st, const char *err)
{
    switch (st) {
    case DERP_DIAL_RESOLVING:
        ev_timer_set(&c->step, DERP_DIAL_POLL, 0);
        ev_timer_start(c->loop, &c->step);
        return;
    case DERP_DIAL_CONNECTING:
        c->state = CLIENT_CONNECTING;
        return;
    case DERP_DIAL_FAILED:
        derp_client_fail(c, err);
        return;
    }
}

/* The stream to one address closed before it opened: try the next one. */
void derp_client_connect_failed(struct vole_derp_client *c, const char *why)
{
    char err[160];

    if (c->state != CLIENT_CONNECTING) {
        derp_client_fail(c, why);
        return;
    }
    dial_went(c, derp_dial_next(&c->dialer, why, connect_addr, c, err, sizeof err), err);
}

static void poll_resolve(struct vole_derp_client *c)
{
    char err[160];
    dial_went(c, derp_dial_poll(&c->dialer, connect_addr, c, err, sizeof err), err);
}

static void start_node(struct vole_derp_client *c)
{
    const struct derp_client_node *n = derp_client_node(c);
    char err[160];

    c->state = CLIENT_RESOLVING;
    c->attempt_ws = c->use_websocket;
    /* The last node gets whatever is left of the attempt's 10 s. */
    ev_timer_stop(c->loop, &c->dial);
    if (c->node + 1 < c->n_nodes) {
        ev_timer_set(&c->dial, DIAL_TIMEOUT, 0);
        ev_timer_start(c->loop, &c->dial);
    }
    dial_went(c, derp_dial_start(&c->dialer, n->url.host, n->url.port, connect_addr, c, err, sizeof err), err);
}

static void start_attempt(struct vole_derp_client *c)
{
    c->node = 0;
    ev_timer_set(&c->deadline, CONNECT_TIMEOUT, 0);
    ev_timer_start(c->loop, &c->deadline);
    start_node(c);
}

/* The step timer: the backoff wait ends, or a name lookup is due a check. */
static void on_step(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct vole_derp_client *c = w->data;
    derp_client_enter(c);
    if (c->state == CLIENT_IDLE)
        start_attempt(c);
    else if (c->state == CLIENT_RESOLVING)
        poll_resolve(c);
    derp_client_leave(c);
}

/* The deadline timer: the connect timeout while connecting; once connected,
 * the silence check, re-armed lazily from the time of the last read so that
 * reads need not touch the timer. */
static void on_deadline(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct vole_derp_client *c = w->data;
    derp_client_enter(c);
    if (c->state != CLIENT_CONNECTED) {
        derp_client_fail_attempt(c, "connect timed out (10 s)");
    } else {
        double idle = ev_now(loop) - c->last_rx;
        if (idle >= c->dead_after) {
            derp_client_fail(c, "no frame from the server for too long: dead");
        } else {
            ev_timer_set(w, c->dead_after - idle, 0);
            ev_timer_start(loop, w);
        }
    }
    derp_client_leave(c);
}

/* The dial timer: the node has not even answered TCP (and TLS) yet. Once it
 * has, the upgrade and the handshake run on the attempt's deadline. */
static void on_dial(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct vole_derp_client *c = w->data;
    char why[sizeof derp_client_node(c)->url.authority + 48];

    derp_client_enter(c);
    if (c->state == CLIENT_RESOLVING || c->state == CLIENT_CONNECTING) {
        snprintf(why, sizeof why, "connecting to %s timed out (1.5 s)", derp_client_node(c)->url.authority);
        derp_client_fail(c, why);
    }
    derp_client_leave(c);
}

void derp_client_connected(struct vole_derp_client *c)
{
    c->state = CLIENT_CONNECTED;
    c->backoff = BACKOFF_FIRST;
    c->stats.connects++;
    c->last_error[0] = '\0';
    ev_timer_stop(c->loop, &c->dial);
    ev_timer_stop(c->loop, &c->deadline);
    ev_timer_set(&c->deadline, c->dead_after, 0);
    ev_timer_start(c->loop, &c->deadline);
    if (c->preferred)
        derp_client_write_note_preferred(c);
    if (c->ops.on_state)
        c->ops.on_state(c->ops.ctx, true, "connected");
}

/* ---- public API --------------------------------------------------------- */

/* What is common to all nodes; the nodes themselves are already in c. */
static int copy_config(struct vole_derp_client *c, const struct vole_derp_client_config *cfg, char *err,
                       size_t errlen)
{
    if (cfg->extra_header && !derp_upgrade_header_ok(cfg->extra_header)) {
        snprintf(err, errlen, "extra_header must be one \"Name: value\" line");
        return -1;
    }
    c->ca_file = cfg->ca_file ? strdup(cfg->ca_file) : NULL;
    c->extra_header = cfg->extra_header ? strdup(cfg->extra_header) : NULL;
    if ((cfg->ca_file && !c->ca_file) || (cfg->extra_header && !c->extra_header)) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    c->use_websocket = cfg->force_websocket;
    c->dead_after = cfg->dead_after > 0 ? cfg->dead_after : DEAD_AFTER;
    derp_keypair_from_private(&c->key, cfg->private_key);
    return 0;
}

static struct vole_derp_client *client_alloc(struct ev_loop *loop, const struct vole_derp_client_ops *ops,
                                             char *err, size_t errlen)
{
    if (sodium_init() < 0) {
        snprintf(err, errlen, "libsodium failed to initialise");
        return NULL;
    }
    struct vole_derp_client *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->loop = loop;
    if (ops)
        c->ops = *ops;
    c->backoff = BACKOFF_FIRST;
    ev_timer_init(&c->step, on_step, 0, 0);
    ev_timer_init(&c->deadline, on_deadline, 0, 0);
    ev_timer_init(&c->dial, on_dial, 0, 0);
    c->step.data = c->deadline.data = c->dial.data = c;
    return c;
}

/* The nodes are in c; the rest comes from cfg. */
static struct vole_derp_client *client_start(struct vole_derp_client *c, const struct vole_derp_client_config *cfg,
                                             char *err, size_t errlen)
{
    if (copy_config(c, cfg, err, errlen) < 0) {
        destroy(c);
        return NULL;
    }
    /* The first attempt starts from the loop, so no callback runs inside new. */
    schedule_attempt(c, 0);
    return c;
}

struct vole_derp_client *vole_derp_client_new(struct ev_loop *loop, const struct vole_derp_client_config *cfg,
                                              const struct vole_derp_client_ops *ops, char *err, size_t errlen)
{
    struct vole_derp_client *c = client_alloc(loop, ops, err, errlen);

    if (!c)
        return NULL;
    if (derp_client_nodes_from_url(c, cfg, err, errlen) < 0) {
        destroy(c);
        return NULL;
    }
    return client_start(c, cfg, err, errlen);
}

struct vole_derp_client *vole_derp_client_new_region(struct ev_loop *loop, const struct derp_map_region *region,
                                                     const struct vole_derp_client_config *base,
                                                     const struct vole_derp_client_ops *ops, char *err,
                                                     size_t errlen)
{
    struct vole_derp_client *c = client_alloc(loop, ops, err, errlen);

    if (!c)
        return NULL;
    if (derp_client_nodes_from_region(c, region, err, errlen) < 0) {
        destroy(c);
        return NULL;
    }
    return client_start(c, base, err, errlen);
}

static void destroy(struct vole_derp_client *c)
{
    sodium_memzero(&c->key, sizeof c->key);
    free(c->ca_file);
    free(c->extra_header);
    derp_client_nodes_free(c);
    free(c);
}

void vole_derp_client_free(struct vole_derp_client *c)
{
    if (!c || c->freeing)
        return;
    c->freeing = true;
    ev_timer_stop(c->loop, &c->step);
    ev_timer_stop(c->loop, &c->deadline);
    ev_timer_stop(c->loop, &c->dial);
    derp_client_transport_drop(c);
    derp_dial_stop(&c->dialer);
    derp_reader_free(&c->reader);
    if (c->depth == 0)
        destroy(c);
}

/* Over WebSocket each write is a message (a masking key from getrandom, a
 * header), so a typical packet goes out as one write with its prefix; larger
 * ones, and every packet on a plain stream (which buffers anyway), as two
 * writes, which saves a 64 KiB staging buffer per client. */
#define WS_COALESCE_MAX 2048

static int send_frame(struct vole_derp_client *c, const uint8_t dst[DERP_KEY_LEN], const uint8_t *pkt, size_t len)
{
    uint8_t buf[DERP_FRAME_HEADER_LEN + DERP_KEY_LEN + WS_COALESCE_MAX];
    size_t n = derp_write_packet_prefix(buf, sizeof buf, DERP_FRAME_SEND_PACKET, dst, len);

    if (n == 0)
        return -1;
    if (c->ws && len <= WS_COALESCE_MAX) {
        memcpy(buf + n, pkt, len);
        return derp_client_transport_write(c, buf, n + len);
    }
    if (derp_client_transport_write(c, buf, n) < 0)
        return -1;
    return len ? derp_client_transport_write(c, pkt, len) : 0;
}

int vole_derp_client_send(struct vole_derp_client *c, const uint8_t dst[DERP_KEY_LEN], const uint8_t *pkt,
                          size_t len)
{
    if (c->state != CLIENT_CONNECTED || len > DERP_MAX_PACKET_SIZE ||
        derp_client_transport_pending(c) >= VOLE_DERP_CLIENT_MAX_PENDING) {
        c->stats.send_drops++;
        return -1;
    }
    if (send_frame(c, dst, pkt, len) < 0) {
        c->stats.send_drops++;
        return -1;
    }
    c->stats.packets_sent++;
    return 0;
}

void vole_derp_client_note_preferred(struct vole_derp_client *c, bool preferred)
{
    /* Remembered, and told again after every reconnect, as magicsock does. */
    c->preferred = preferred;
    if (c->state == CLIENT_CONNECTED)
        derp_client_write_note_preferred(c);
}

int vole_derp_client_ping(struct vole_derp_client *c, const uint8_t data[DERP_PING_LEN])
{
    uint8_t frame[DERP_FRAME_HEADER_LEN + DERP_PING_LEN];

    if (c->state != CLIENT_CONNECTED || derp_client_transport_pending(c) >= VOLE_DERP_CLIENT_MAX_PENDING)
        return -1;
    size_t n = derp_write_ping(frame, sizeof frame, DERP_FRAME_PING, data);
    if (n == 0 || derp_client_transport_write(c, frame, n) < 0)
        return -1;
    memcpy(c->ping_data, data, DERP_PING_LEN);
    c->ping_sent = ev_now(c->loop);
    c->ping_outstanding = true;
    return 0;
}

bool vole_derp_client_connected(const struct vole_derp_client *c)
{
    return c->state == CLIENT_CONNECTED;
}

bool vole_derp_client_server_key(const struct vole_derp_client *c, uint8_t out[DERP_KEY_LEN])
{
    if (!c->have_server_key)
        return false;
    memcpy(out, c->server_pub, DERP_KEY_LEN);
    return true;
}

size_t vole_derp_client_pending(const struct vole_derp_client *c)
{
    return derp_client_transport_pending(c);
}

const char *vole_derp_client_last_error(const struct vole_derp_client *c)
{
    return c->last_error;
}

const struct vole_derp_client_stats *vole_derp_client_stats(const struct vole_derp_client *c)
{
    return &c->stats;
}
