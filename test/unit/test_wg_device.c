/* Two WireGuard cores (wg/device.h) driven against each other with simulated
 * time. Datagrams are captured by the sinks into per-device queues and moved
 * by pump(), which can drop, hold (for reordering), duplicate or re-source
 * them; time only moves when a test says so (run_until / advance), ticking
 * both devices at their exact deadlines. Expected values follow the Linux
 * kernel's semantics (performance.md §3). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "test/unit/bytes.h"
#include "wg/cookie.h"   /* only to forge a valid mac1 on garbage (scenario 8) */
#include "wg/device.h"

/* ======================================================================== */
/* Harness                                                                  */
/* ======================================================================== */

#define NS          WG_NS
#define MS          1000000ull
#define T_START     (1000 * NS)                          /* monotonic start: not 0 */
#define WALL_OFFSET ((int64_t)1700000000 * (int64_t)NS)  /* unix = now + offset */
#define PUMP_MAX    200000u
#define RUN_MAX     1000000u

#define VEC_PUSH(arr, n, cap, val)                                              \
    do {                                                                        \
        if ((n) == (cap)) {                                                     \
            (cap) = (cap) ? 2 * (cap) : 16;                                     \
            (arr) = realloc((arr), (cap) * sizeof *(arr));                      \
            if (!(arr))                                                         \
                abort();                                                        \
        }                                                                       \
        (arr)[(n)++] = (val);                                                   \
    } while (0)

struct dgram {
    uint8_t *buf;
    size_t len;
    struct wg_endpoint dst;
    uint64_t t;                   /* when it left */
};

struct dq {                       /* a FIFO of owned datagrams */
    struct dgram *v;
    size_t head, n, cap;
};

struct txrec {                    /* every datagram a device ever committed */
    uint8_t type;
    size_t len;
    uint64_t t;
    struct wg_endpoint dst;
    bool mac2_zero;               /* initiations only */
};

struct rxbuf {                    /* the rx_alloc handle */
    size_t cap;
    uint8_t data[];
};

struct rxrec {
    struct rxbuf *rb;
    size_t len;
    struct wg_peer *peer;
    uint64_t t;
};

struct evrec {
    struct wg_peer *peer;
    enum wg_event ev;
    uint64_t t;
};

struct harness;

struct node {
    struct harness *h;
    int idx;                      /* 0 = A, 1 = B, 2 = C (extra device) */
    struct wg_device *dev;
    struct wg_peer *peer;         /* the other of A/B, as this device's peer */
    uint8_t priv[WG_KEY_LEN], pub[WG_KEY_LEN];
    struct wg_endpoint ep;        /* its configured address */
    struct wg_endpoint src;       /* the source address the other side sees */
    uint8_t *slot;                /* the last tx_slot, until committed */
    size_t slot_cap;
    struct dq out;                /* committed, not yet pumped */
    struct dq held;               /* held back by a filter */
    struct txrec *tx;
    size_t tx_n, tx_cap;
    struct rxrec *rx;
    size_t rx_n, rx_cap;
    struct evrec *ev;
    size_t ev_n, ev_cap;
    bool tx_fail, rx_fail;        /* injected sink failures */
    long live_handles;            /* rx_alloc minus rx_deliver/rx_discard */
    size_t discards;
    unsigned anomalies;           /* sink contract violations */
};

enum act { PASS, DROP, DUP, HOLD };

struct harness {
    uint64_t now;
    uint8_t psk[WG_KEY_LEN];
    struct node n[3];
    bool auto_pump;               /* run_until pumps between ticks */
    enum act (*filter)(struct harness *h, struct node *from, const struct dgram *d);
};

#define NODE_A(h) (&(h)->n[0])
#define NODE_B(h) (&(h)->n[1])
#define NODE_C(h) (&(h)->n[2])

struct hopts {
    uint16_t mtu_a, mtu_b;
    uint16_t ka_a, ka_b;          /* persistent keepalive of A's peer B / B's peer A */
};

static const struct hopts DEFAULTS = { 1420, 1420, 0, 0 };

/* ---- queues ---- */

static void dq_push(struct dq *q, struct dgram d)
{
    VEC_PUSH(q->v, q->n, q->cap, d);
}

static bool dq_pop(struct dq *q, struct dgram *d)
{
    if (q->head == q->n)
        return false;
    *d = q->v[q->head++];
    if (q->head == q->n)
        q->head = q->n = 0;
    return true;
}

static size_t dq_len(const struct dq *q)
{
    return q->n - q->head;
}

static void dq_clear(struct dq *q)
{
    struct dgram d;
    while (dq_pop(q, &d))
        free(d.buf);
}

static void dq_free(struct dq *q)
{
    dq_clear(q);
    free(q->v);
    memset(q, 0, sizeof *q);
}

static uint8_t dg_type(const struct dgram *d)
{
    return d->len >= 4 && d->buf[1] == 0 && d->buf[2] == 0 && d->buf[3] == 0 ? d->buf[0] : 0;
}

/* ---- sinks ---- */

static uint8_t *sink_tx_slot(void *ctx, size_t cap)
{
    struct node *n = ctx;
    if (n->slot) {                /* a slot nobody committed */
        n->anomalies++;
        free(n->slot);
        n->slot = NULL;
    }
    if (n->tx_fail)
        return NULL;
    n->slot = malloc(cap ? cap : 1);
    n->slot_cap = cap;
    return n->slot;
}

static void sink_tx_commit(void *ctx, const struct wg_endpoint *dst, size_t len)
{
    struct node *n = ctx;
    struct dgram d;
    struct txrec r = { 0 };

    if (!n->slot || len > n->slot_cap) {
        n->anomalies++;
        return;
    }
    d.buf = n->slot;
    d.len = len;
    d.dst = *dst;
    d.t = n->h->now;
    n->slot = NULL;
    r.type = dg_type(&d);
    r.len = len;
    r.t = d.t;
    r.dst = *dst;
    if (r.type == WG_MSG_INITIATION && len == WG_INITIATION_LEN) {
        static const uint8_t zero[WG_MAC_LEN];
        r.mac2_zero = memcmp(d.buf + WG_INITIATION_MAC2_OFF, zero, WG_MAC_LEN) == 0;
    }
    VEC_PUSH(n->tx, n->tx_n, n->tx_cap, r);
    dq_push(&n->out, d);
}

static uint8_t *sink_rx_alloc(void *ctx, size_t len, void **handle)
{
    struct node *n = ctx;
    struct rxbuf *rb = n->rx_fail ? NULL : malloc(sizeof *rb + len);
    if (!rb)
        return NULL;
    rb->cap = len;
    n->live_handles++;
    *handle = rb;
    return rb->data;
}

static void sink_rx_deliver(void *ctx, struct wg_peer *peer, void *handle, size_t len)
{
    struct node *n = ctx;
    struct rxbuf *rb = handle;
    struct rxrec r = { rb, len, peer, n->h->now };

    n->live_handles--;
    if (len > rb->cap)
        n->anomalies++;
    VEC_PUSH(n->rx, n->rx_n, n->rx_cap, r);
}

static void sink_rx_discard(void *ctx, void *handle)
{
    struct node *n = ctx;
    n->live_handles--;
    n->discards++;
    free(handle);
}

static void sink_event(void *ctx, struct wg_peer *peer, enum wg_event ev)
{
    struct node *n = ctx;
    struct evrec r = { peer, ev, n->h->now };
    VEC_PUSH(n->ev, n->ev_n, n->ev_cap, r);
}

/* ---- set-up ---- */

static struct wg_endpoint ep4(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port)
{
    struct wg_endpoint e = { 0 };
    e.family = 4;
    e.addr[0] = a;
    e.addr[1] = b;
    e.addr[2] = c;
    e.addr[3] = d;
    e.port = port;
    return e;
}

static void node_init(struct harness *h, struct node *n, int idx, uint16_t mtu)
{
    struct wg_sink sink = {
        .ctx = n,
        .tx_slot = sink_tx_slot,
        .tx_commit = sink_tx_commit,
        .rx_alloc = sink_rx_alloc,
        .rx_deliver = sink_rx_deliver,
        .rx_discard = sink_rx_discard,
        .event = sink_event,
    };

    n->h = h;
    n->idx = idx;
    randombytes_buf(n->priv, sizeof n->priv);
    crypto_scalarmult_base(n->pub, n->priv);
    n->ep = ep4(198, 18, 0, (uint8_t)(idx + 1), 51820);
    n->src = n->ep;
    n->dev = wg_device_new(n->priv, mtu, &sink, h->now);
    assert_non_null(n->dev);
    wg_device_set_wall_offset(n->dev, WALL_OFFSET);
}

/* The tunnel addresses of node idx: 10.0.0.(idx+1) and fd00::(idx+1). */
static void tunnel_addrs(int idx, uint8_t v4[4], uint8_t v6[16])
{
    static const uint8_t base4[4] = { 10, 0, 0, 0 };
    memcpy(v4, base4, 4);
    v4[3] = (uint8_t)(idx + 1);
    memset(v6, 0, 16);
    v6[0] = 0xfd;
    v6[15] = (uint8_t)(idx + 1);
}

static void add_peer(struct harness *h, struct node *n, const struct node *other, uint16_t keepalive)
{
    struct wg_peer_config cfg = { 0 };
    const char *why = NULL;
    uint8_t v4[4], v6[16];

    memcpy(cfg.public_key, other->pub, WG_KEY_LEN);
    cfg.has_psk = true;
    memcpy(cfg.psk, h->psk, WG_KEY_LEN);
    cfg.endpoint = other->ep;
    cfg.persistent_keepalive = keepalive;
    n->peer = wg_device_add_peer(n->dev, &cfg, &why);
    assert_non_null(n->peer);
    tunnel_addrs(other->idx, v4, v6);
    assert_int_equal(wg_peer_add_allowed_ip(n->peer, 4, v4, 32), 0);
    assert_int_equal(wg_peer_add_allowed_ip(n->peer, 6, v6, 128), 0);
}

static struct harness *h_init(void **state, const struct hopts *o)
{
    struct harness *h = *state;

    h->now = T_START;
    h->auto_pump = true;
    randombytes_buf(h->psk, sizeof h->psk);
    node_init(h, NODE_A(h), 0, o->mtu_a);
    node_init(h, NODE_B(h), 1, o->mtu_b);
    add_peer(h, NODE_A(h), NODE_B(h), o->ka_a);
    add_peer(h, NODE_B(h), NODE_A(h), o->ka_b);
    return h;
}

static void node_free(struct node *n)
{
    if (n->dev)
        wg_device_free(n->dev);
    free(n->slot);
    dq_free(&n->out);
    dq_free(&n->held);
    for (size_t i = 0; i < n->rx_n; i++)
        free(n->rx[i].rb);
    free(n->rx);
    free(n->tx);
    free(n->ev);
    memset(n, 0, sizeof *n);
}

static int setup(void **state)
{
    *state = calloc(1, sizeof(struct harness));
    return *state ? 0 : -1;
}

static int teardown(void **state)
{
    struct harness *h = *state;
    for (int i = 0; i < 3; i++)
        node_free(&h->n[i]);
    free(h);
    return 0;
}

/* Sink contract: every rx_alloc got exactly one deliver/discard, every slot a commit. */
static void check_clean(struct harness *h)
{
    for (int i = 0; i < 3; i++) {
        struct node *n = &h->n[i];
        if (!n->dev)
            continue;
        assert_int_equal(n->live_handles, 0);
        assert_int_equal(n->anomalies, 0);
        assert_null(n->slot);
    }
}

/* ---- moving datagrams and time ---- */

/* Hands one datagram to `to` as if it came from `from` (at from->src). The
 * copy has exactly len bytes so the sanitizer sees any overread. */
static void deliver_from(struct harness *h, struct node *to, const struct wg_endpoint *src, const uint8_t *buf,
                         size_t len)
{
    uint8_t *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    if (len && buf)
        memcpy(copy, buf, len);
    wg_device_receive(to->dev, src, copy, len, h->now);
    free(copy);
}

static struct node *other(struct harness *h, struct node *n)
{
    return n == NODE_A(h) ? NODE_B(h) : NODE_A(h);
}

static void deliver(struct harness *h, struct node *from, const struct dgram *d)
{
    deliver_from(h, other(h, from), &from->src, d->buf, d->len);
}

/* Moves captured datagrams A->B and B->A, one from each side in turn, through
 * the filter, until both queues are empty. Returns how many were delivered. */
static size_t pump(struct harness *h)
{
    size_t moved = 0;

    for (unsigned iter = 0; iter < PUMP_MAX; iter++) {
        bool any = false;
        for (int i = 0; i < 2; i++) {
            struct node *from = &h->n[i];
            struct dgram d;
            enum act a;

            if (!dq_pop(&from->out, &d))
                continue;
            any = true;
            a = h->filter ? h->filter(h, from, &d) : PASS;
            if (a == PASS || a == DUP) {
                deliver(h, from, &d);
                moved++;
            }
            if (a == DUP) {
                deliver(h, from, &d);
                moved++;
            }
            if (a == HOLD)
                dq_push(&from->held, d);
            else
                free(d.buf);
        }
        if (!any)
            return moved;
    }
    fail_msg("pump: still datagrams after %u rounds (a packet storm?)", PUMP_MAX);
    return moved;
}

static void tick_all(struct harness *h)
{
    for (int i = 0; i < 3; i++)
        if (h->n[i].dev)
            wg_device_tick(h->n[i].dev, h->now);
}

/* Runs simulated time forward to t, ticking every device at each of its
 * deadlines on the way (and pumping in between when auto_pump is set). */
static void run_until(struct harness *h, uint64_t t)
{
    assert_true(t >= h->now);
    for (unsigned iter = 0;; iter++) {
        uint64_t next = UINT64_MAX;

        if (iter >= RUN_MAX)
            fail_msg("run_until: timers still firing after %u rounds", RUN_MAX);
        if (h->auto_pump)
            pump(h);
        for (int i = 0; i < 3; i++)
            if (h->n[i].dev) {
                uint64_t d = wg_device_next_deadline(h->n[i].dev);
                if (d < next)
                    next = d;
            }
        if (next > t)
            break;
        if (next > h->now)
            h->now = next;
        tick_all(h);
    }
    h->now = t;
    tick_all(h);
    if (h->auto_pump)
        pump(h);
}

static void advance(struct harness *h, uint64_t dt)
{
    run_until(h, h->now + dt);
}

/* Removes the oldest captured datagram of n; it must be of the given type. */
static struct dgram take(struct node *n, uint8_t type)
{
    struct dgram d = { 0 };
    if (!dq_pop(&n->out, &d)) {
        fail_msg("node %d: expected a type-%u datagram, none captured", n->idx, type);
        return d;
    }
    if (dg_type(&d) != type) {
        uint8_t got = dg_type(&d);
        dq_push(&n->held, d);       /* freed by the teardown */
        fail_msg("node %d: expected a type-%u datagram, got type %u", n->idx, type, got);
        d.buf = NULL;
    }
    return d;
}

/* ---- inner packets ---- */

static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* An ICMP-ish IPv4 packet of len bytes (>= 24) from tunnel node src to dst,
 * whose payload starts with id and continues with a pattern derived from it. */
static void make_ip4(uint8_t *p, size_t len, int src, int dst, uint32_t id)
{
    uint8_t v6[16];
    memset(p, 0, len);
    p[0] = 0x45;
    put16(p + 2, (uint16_t)len);
    p[8] = 64;
    p[9] = 1;
    tunnel_addrs(src, p + 12, v6);
    tunnel_addrs(dst, p + 16, v6);
    put32(p + 20, id);
    for (size_t i = 24; i < len; i++)
        p[i] = (uint8_t)(id * 7u + (uint32_t)i);
}

static void make_ip6(uint8_t *p, size_t len, int src, int dst, uint32_t id)
{
    uint8_t v4[4];
    memset(p, 0, len);
    p[0] = 0x60;
    put16(p + 4, (uint16_t)(len - 40));
    p[6] = 58;
    p[7] = 64;
    tunnel_addrs(src, v4, p + 8);
    tunnel_addrs(dst, v4, p + 24);
    put32(p + 40, id);
    for (size_t i = 44; i < len; i++)
        p[i] = (uint8_t)(id * 13u + (uint32_t)i);
}

static uint32_t pkt_id(const uint8_t *p)
{
    return (p[0] >> 4) == 6 ? get_be32(p + 40) : get_be32(p + 20);
}

/* Sends an already built inner packet, gathered from two pieces. */
static int send_raw(struct harness *h, struct node *from, const uint8_t *pkt, size_t len)
{
    struct wg_iov iov[2] = { { pkt, len / 2 }, { pkt + len / 2, len - len / 2 } };
    return wg_device_send(from->dev, from->peer, iov, 2, h->now);
}

/* Builds, routes (the destination must route to the peer) and sends. */
static void send_ip(struct harness *h, struct node *from, int v6, size_t len, uint32_t id)
{
    uint8_t pkt[2048];
    assert_true(len <= sizeof pkt);
    if (v6)
        make_ip6(pkt, len, from->idx, other(h, from)->idx, id);
    else
        make_ip4(pkt, len, from->idx, other(h, from)->idx, id);
    assert_ptr_equal(wg_device_route(from->dev, pkt, len), from->peer);
    assert_int_equal(send_raw(h, from, pkt, len), 0);
}

static void send_ip4(struct harness *h, struct node *from, size_t len, uint32_t id)
{
    send_ip(h, from, 0, len, id);
}

/* The delivered packet must be exactly what send_ip built. */
static void check_rx(struct harness *h, const struct rxrec *r, const struct node *from, int v6, size_t len,
                     uint32_t id)
{
    uint8_t pkt[2048];
    struct node *to = other(h, (struct node *)from);
    if (v6)
        make_ip6(pkt, len, from->idx, to->idx, id);
    else
        make_ip4(pkt, len, from->idx, to->idx, id);
    assert_int_equal(r->len, len);
    assert_memory_equal(r->rb->data, pkt, len);
    assert_ptr_equal(r->peer, to->peer);
}

/* ---- queries ---- */

static size_t count_ev(const struct node *n, enum wg_event ev)
{
    size_t c = 0;
    for (size_t i = 0; i < n->ev_n; i++)
        c += n->ev[i].ev == ev;
    return c;
}

static size_t count_tx(const struct node *n, size_t from, uint8_t type, size_t len)
{
    size_t c = 0;
    for (size_t i = from; i < n->tx_n; i++)
        c += n->tx[i].type == type && (len == 0 || n->tx[i].len == len);
    return c;
}

static struct wg_peer_info info(const struct node *n)
{
    struct wg_peer_info i;
    wg_peer_get_info(n->peer, &i);
    return i;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* A initiates (wg_peer_connect); everything is pumped; both sides end up
 * with a confirmed session (A's keepalive confirms B's). */
static void handshake(struct harness *h)
{
    wg_peer_connect(NODE_A(h)->peer, h->now);
    pump(h);
    assert_true(info(NODE_A(h)).has_session);
    assert_true(info(NODE_B(h)).has_session);
}

/* ---- stats ---- */

static const struct {
    const char *name;
    size_t off;
} STAT_FIELDS[] = {
#define F(x) { #x, offsetof(struct wg_device_stats, x) }
    F(rx_short), F(rx_unknown_type), F(rx_bad_mac1), F(rx_cookie_sent), F(rx_ratelimited),
    F(rx_handshake_invalid), F(rx_cookie_invalid), F(rx_unknown_index), F(rx_key_expired),
    F(rx_decrypt_failed), F(rx_replay), F(rx_bad_inner), F(rx_not_allowed), F(rx_alloc_failed),
    F(tx_no_route), F(tx_no_endpoint), F(tx_staged_dropped), F(tx_slot_failed), F(tx_too_big),
#undef F
};
#define N_STATS (sizeof STAT_FIELDS / sizeof STAT_FIELDS[0])
#define N_RX_STATS 14   /* the rx_* fields come first */

static uint64_t stat_at(const struct wg_device_stats *s, size_t off)
{
    uint64_t v;
    memcpy(&v, (const uint8_t *)s + off, sizeof v);
    return v;
}

#define STAT(n, field) (wg_device_stats((n)->dev)->field)

/* After minus before must be exactly `delta` in the field at off and 0 elsewhere. */
static void expect_only(const struct wg_device_stats *before, const struct wg_device_stats *after, size_t off,
                        uint64_t delta, const char *what)
{
    for (size_t i = 0; i < N_STATS; i++) {
        uint64_t d = stat_at(after, STAT_FIELDS[i].off) - stat_at(before, STAT_FIELDS[i].off);
        uint64_t want = STAT_FIELDS[i].off == off ? delta : 0;
        if (d != want)
            fail_msg("%s: %s moved by %llu, expected %llu", what, STAT_FIELDS[i].name, (unsigned long long)d,
                     (unsigned long long)want);
    }
}

/* Feeds one bad datagram to `to` (source: the other node's address) and
 * checks it is counted once in exactly `off`, with nothing sent or delivered. */
static void expect_drop(struct harness *h, struct node *to, const uint8_t *buf, size_t len, size_t off,
                        const char *what)
{
    struct wg_device_stats before = *wg_device_stats(to->dev);
    size_t tx = to->tx_n, rx = to->rx_n, ev = to->ev_n;
    struct wg_peer_info pi = info(to);

    deliver_from(h, to, &other(h, to)->src, buf, len);
    expect_only(&before, wg_device_stats(to->dev), off, 1, what);
    if (to->tx_n != tx)
        fail_msg("%s: %zu datagram(s) sent in reaction", what, to->tx_n - tx);
    if (to->rx_n != rx)
        fail_msg("%s: delivered", what);
    if (to->ev_n != ev)
        fail_msg("%s: event %d emitted", what, to->ev[ev].ev);
    {
        struct wg_peer_info now_info = info(to);
        assert_true(wg_endpoint_equal(&now_info.endpoint, &pi.endpoint));
    }
    assert_int_equal(to->live_handles, 0);
}

#define OFF(field) offsetof(struct wg_device_stats, field)

/* ---- forging ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)   /* xorshift64*, fixed seed: a reproducible run */
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* A message of the given type and length, random bytes, with a mac1 that
 * verifies at `to` (garbage that passes the first gate). */
static void forge_mac1(struct harness *h, const struct node *to, uint8_t *msg, size_t mac1_off)
{
    struct wg_cookie_maker m;
    wg_cookie_maker_init(&m, to->pub);
    wg_cookie_add_macs(&m, msg, mac1_off, h->now);
}

/* ---- pump filters ---- */

static enum act filter_dup(struct harness *h, struct node *from, const struct dgram *d)
{
    return DUP;
}

static enum act filter_drop_all(struct harness *h, struct node *from, const struct dgram *d)
{
    return DROP;
}

static enum act filter_drop_handshakes(struct harness *h, struct node *from, const struct dgram *d)
{
    uint8_t t = dg_type(d);
    return t == WG_MSG_INITIATION || t == WG_MSG_RESPONSE || t == WG_MSG_COOKIE ? DROP : PASS;
}

static enum act filter_hold_data(struct harness *h, struct node *from, const struct dgram *d)
{
    return dg_type(d) == WG_MSG_DATA ? HOLD : PASS;
}

/* Delivers what a filter held back from `from`, newest first if reverse. */
static void release_held(struct harness *h, struct node *from, bool reverse)
{
    struct dq q = from->held;
    memset(&from->held, 0, sizeof from->held);
    for (size_t i = q.head; i < q.n; i++) {
        struct dgram *d = &q.v[reverse ? q.n - 1 - (i - q.head) : i];
        deliver(h, from, d);
    }
    dq_free(&q);
}

/* ======================================================================== */
/* 1. Handshake on first send, data both ways                               */
/* ======================================================================== */

static void test_handshake_and_data(void **state)
{
    struct harness *h = h_init(state, &DEFAULTS);
    struct node *a = NODE_A(h), *b = NODE_B(h);
    struct wg_peer_config cfg = { 0 };
    const char *why = NULL;
    struct dgram d;
    uint64_t t_complete;

    /* Peer-set checks of the API: our own key and a duplicate are refused. */
    memcpy(cfg.public_key, a->pub, WG_KEY_LEN);
    assert_null(wg_device_add_peer(a->dev, &cfg, &why));
    assert_non_null(why);
    memcpy(cfg.public_key, b->pub, WG_KEY_LEN);
    why = NULL;
    assert_null(wg_device_add_peer(a->dev, &cfg, &why));
    assert_non_null(why);
    assert_ptr_equal(wg_device_first_peer(a->dev), a->peer);
    assert_null(wg_peer_next(a->peer));
    assert_memory_equal(wg_peer_public_key(a->peer), b->pub, WG_KEY_LEN);

    assert_false(info(a).has_session);
    assert_int_equal(info(a).last_handshake_unix_ns, 0);

    /* The first packet is staged and triggers exactly one initiation. */
    send_ip4(h, a, 84, 1);
    assert_int_equal(dq_len(&a->out), 1);
    assert_int_equal(count_ev(a, WG_EV_HANDSHAKE_SENT), 1);
    d = take(a, WG_MSG_INITIATION);
    assert_int_equal(d.len, WG_INITIATION_LEN);
    assert_true(wg_endpoint_equal(&d.dst, &b->ep));
    h->now += 3 * MS;
    deliver(h, a, &d);
    free(d.buf);

    /* B answers with a response; its keypair waits for confirmation. */
    assert_int_equal(dq_len(&b->out), 1);
    assert_int_equal(b->rx_n, 0);
    assert_false(info(b).has_session);
    assert_int_equal(count_ev(b, WG_EV_HANDSHAKE_COMPLETE), 0);
    {
        struct wg_peer_info bi = info(b);
        assert_true(wg_endpoint_equal(&bi.endpoint, &a->ep));
    }
    d = take(b, WG_MSG_RESPONSE);
    assert_int_equal(d.len, WG_RESPONSE_LEN);
    h->now += 3 * MS;
    deliver(h, b, &d);
    free(d.buf);

    /* A completes and sends the staged packet (and no extra keepalive). */
    t_complete = h->now;
    assert_int_equal(count_ev(a, WG_EV_HANDSHAKE_COMPLETE), 1);
    assert_true(info(a).has_session);
    assert_int_equal(info(a).last_handshake_unix_ns, t_complete + (uint64_t)WALL_OFFSET);
    assert_int_equal(dq_len(&a->out), 1);
    d = take(a, WG_MSG_DATA);
    assert_int_equal(d.len, 128);
    h->now += 3 * MS;

    /* Key confirmation: B's handshake completes only when that data arrives. */
    assert_int_equal(count_ev(b, WG_EV_HANDSHAKE_COMPLETE), 0);
    deliver(h, a, &d);
    free(d.buf);
    assert_int_equal(count_ev(b, WG_EV_HANDSHAKE_COMPLETE), 1);
    assert_true(info(b).has_session);
    assert_true(info(b).last_handshake_unix_ns > t_complete + (uint64_t)WALL_OFFSET);
    assert_int_equal(b->rx_n, 1);
    check_rx(h, &b->rx[0], a, 0, 84, 1);
    assert_int_equal(dq_len(&b->out), 0);     /* B has nothing to say yet */

    /* Data both ways, v4 and v6, of assorted sizes. */
    for (uint32_t i = 0; i < 20; i++) {
        send_ip(h, a, i & 1, 40 + 37 * i, 100 + i);
        send_ip(h, b, !(i & 1), 60 + 53 * i, 200 + i);
    }
    pump(h);
    assert_int_equal(b->rx_n, 21);
    assert_int_equal(a->rx_n, 20);
    for (uint32_t i = 0; i < 20; i++) {
        check_rx(h, &b->rx[1 + i], a, i & 1, 40 + 37 * i, 100 + i);
        check_rx(h, &a->rx[i], b, !(i & 1), 60 + 53 * i, 200 + i);
    }
    /* No further handshakes happened, no events besides the two completions. */
    assert_int_equal(count_tx(a, 0, WG_MSG_INITIATION, 0), 1);
    assert_int_equal(count_tx(b, 0, WG_MSG_INITIATION, 0), 0);
    assert_int_equal(count_ev(a, WG_EV_HANDSHAKE_COMPLETE), 1);
    assert_int_equal(count_ev(b, WG_EV_HANDSHAKE_COMPLETE), 1);
    check_clean(h);
}

/* ======================================================================== */
/* 2. Exact wire sizes, padding, and the netns byte-count oracle            */
/* ======================================================================== */

/* Sends one v4 packet of len from A and returns the size of the datagram that left. */
static size_t wire_size(struct harness *h, size_t len, uint32_t id)
{
    struct node *a = NODE_A(h), *b = NODE_B(h);
    size_t before = b->rx_n, sz;

    send_ip4(h, a, len, id);
    assert_int_equal(dq_len(&a->out), 1);
    sz = a->out.v[a->out.head].len;
    pump(h);
    assert_int_equal(b->rx_n, before + 1);
    check_rx(h, &b->rx[before], a, 0, len, id);   /* padding trimmed on receipt */
    return sz;
}

static void test_wire_sizes(void **state)
{
    struct harness *h = h_init(state, &DEFAULTS);
    struct node *a = NODE_A(h), *b = NODE_B(h);

    handshake(h);
    /* Initiation, response, then A's confirming keepalive. */
    assert_int_equal(a->tx_n, 2);
    assert_int_equal(a->tx[0].type, WG_MSG_INITIATION);
    assert_int_equal(a->tx[0].len, 148);
    assert_true(a->tx[0].mac2_zero);
    assert_int_equal(b->tx_n, 1);
    assert_int_equal(b->tx[0].type, WG_MSG_RESPONSE);
    assert_int_equal(b->tx[0].len, 92);
    assert_int_equal(a->tx[1].type, WG_MSG_DATA);
    assert_int_equal(a->tx[1].len, 32);

    /* mtu 1420: 84 pads to 96 -> 128 on the wire; 1419 pads only to 1420. */
    assert_int_equal(wire_size(h, 84, 1), 128);
    assert_int_equal(wire_size(h, 96, 2), 128);
    assert_int_equal(wire_size(h, 97, 3), 144);
    assert_int_equal(wire_size(h, 1419, 4), 32 + 1420);
    assert_int_equal(wire_size(h, 1420, 5), 32 + 1420);

    /* mtu 0: align to 16 only. */
    wg_device_set_mtu(a->dev, 0);
    assert_int_equal(wire_size(h, 84, 10), 128);
    assert_int_equal(wire_size(h, 1419, 11), 32 + 1424);
    assert_int_equal(wire_size(h, 24, 12), 32 + 32);

    /* mtu 90: the padding is capped at the MTU; a longer packet pads its
     * remainder modulo the MTU (kernel calculate_skb_padding). */
    wg_device_set_mtu(a->dev, 90);
    assert_int_equal(wire_size(h, 84, 20), 32 + 90);
    assert_int_equal(wire_size(h, 90, 21), 32 + 90);
    assert_int_equal(wire_size(h, 100, 22), 32 + 106);   /* 100 % 90 = 10 -> 16 */
    assert_int_equal(wire_size(h, 180, 23), 32 + 180);   /* 180 % 90 = 0 */

    /* Keepalive: 32 bytes whatever the MTU. */
    send_ip4(h, b, 84, 30);
    pump(h);
    advance(h, WG_KEEPALIVE_TIMEOUT);
    assert_int_equal(a->tx[a->tx_n - 1].type, WG_MSG_DATA);
    assert_int_equal(a->tx[a->tx_n - 1].len, 32);
    check_clean(h);
}

static void test_byte_count_oracle(void **state)
{
    struct harness *h = h_init(state, &DEFAULTS);
    struct node *a = NODE_A(h), *b = NODE_B(h);

    /* B pings A ten times (84-byte ICMP); A answers each; no timers run. */
    for (uint32_t i = 0; i < 10; i++) {
        send_ip4(h, b, 84, i);
        pump(h);
        assert_int_equal(a->rx_n, i + 1);
        check_rx(h, &a->rx[i], b, 0, 84, i);
        send_ip4(h, a, 84, 1000 + i);
        pump(h);
        assert_int_equal(b->rx_n, i + 1);
        check_rx(h, &b->rx[i], a, 0, 84, 1000 + i);
        h->now += 1 * MS;
    }
    assert_int_equal(info(b).tx_bytes, 148 + 10 * 128);   /* 1428 */
    assert_int_equal(info(a).tx_bytes, 92 + 10 * 128);    /* 1372 */
    assert_int_equal(info(a).rx_bytes, 148 + 10 * 128);
    assert_int_equal(info(b).rx_bytes, 92 + 10 * 128);
    assert_int_equal(b->tx_n, 11);
    assert_int_equal(a->tx_n, 11);
    assert_true(info(a).last_handshake_unix_ns != 0);
    assert_true(info(b).last_handshake_unix_ns != 0);
    check_clean(h);
}

/* ======================================================================== */
/* 3. Replay window                                                         */
/* ======================================================================== */

static void test_replay(void **state)
{
    struct harness *h = h_init(state, &DEFAULTS);
    struct node *a = NODE_A(h), *b = NODE_B(h);
    struct dgram p, pa, pb, last, forged;

    handshake(h);

    /* A duplicate is dropped and counted. */
    send_ip4(h, a, 84, 1);
    p = take(a, WG_MSG_DATA);
    deliver(h, a, &p);
    assert_int_equal(b->rx_n, 1);
    expect_drop(h, b, p.buf, p.len, OFF(rx_replay), "duplicate data");
    free(p.buf);

    /* 50 packets held by the pump and delivered in reverse order all
     * arrive, once. */
    h->filter = filter_hold_data;
    for (uint32_t i = 0; i < 50; i++)
        send_ip4(h, a, 84, 100 + i);
    pump(h);
    h->filter = NULL;
    assert_int_equal(dq_len(&a->held), 50);
    memcpy(&p, &a->held.v[a->held.head + 17], sizeof p);
    p.buf = malloc(p.len);
    assert_non_null(p.buf);
    memcpy(p.buf, a->held.v[a->held.head + 17].buf, p.len);
    release_held(h, a, true);
    assert_int_equal(b->rx_n, 51);
    for (uint32_t i = 0; i < 50; i++)
        assert_int_equal(pkt_id(b->rx[1 + i].rb->data), 100 + 49 - i);
    expect_drop(h, b, p.buf, p.len, OFF(rx_replay), "reordered duplicate");
    free(p.buf);

    /* A forged counter far ahead fails authentication and must not move the
     * window: a slightly older genuine packet is still accepted after it. */
    send_ip4(h, a, 84, 200);
    p = take(a, WG_MSG_DATA);
    send_ip4(h, a, 84, 201);
    forged = take(a, WG_MSG_DATA);
    forged.buf[8 + 2] ^= 0x40;     /* counter += 2^22 */
    expect_drop(h, b, forged.buf, forged.len, OFF(rx_decrypt_failed), "forged counter");
    free(forged.buf);
    deliver(h, a, &p);
    assert_int_equal(b->rx_n, 52);
    free(p.buf);

    /* Window edge: counters c and c+1 held back, then c+8129 delivered:
     * c+1 is 8128 behind (inside the window), c is 8129 behind (outside). */
    send_ip4(h, a, 84, 300);
    pa = take(a, WG_MSG_DATA);
    send_ip4(h, a, 84, 301);
    pb = take(a, WG_MSG_DATA);
    assert_int_equal(le32(pb.buf + 8), le32(pa.buf + 8) + 1);
    for (uint32_t i = 0; i < 8128; i++)
        send_ip4(h, a, 84, 10000 + i);
    assert_int_equal(dq_len(&a->out), 8128);
    while (dq_len(&a->out) > 1) {
        struct dgram x;
        if (dq_pop(&a->out, &x))
            free(x.buf);
    }
    last = take(a, WG_MSG_DATA);
    assert_int_equal(le32(last.buf + 8), le32(pa.buf + 8) + 8129);
    deliver(h, a, &last);
    assert_int_equal(b->rx_n, 53);
    deliver(h, a, &pb);
    assert_int_equal(b->rx_n, 54);
    assert_int_equal(pkt_id(b->rx[53].rb->data), 301);
    expect_drop(h, b, pa.buf, pa.len, OFF(rx_replay), "counter 8129 behind");
    free(pa.buf);
    free(pb.buf);
    free(last.buf);

    /* The pump's duplicate mode: each second copy is a replay. */
    {
        uint64_t before = STAT(b, rx_replay);
        h->filter = filter_dup;
        for (uint32_t i = 0; i < 5; i++)
            send_ip4(h, a, 84, 400 + i);
        pump(h);
        h->filter = NULL;
        assert_int_equal(b->rx_n, 59);
        assert_int_equal(STAT(b, rx_replay), before + 5);
    }
    check_clean(h);
}

/* ======================================================================== */
/* 4. Rekey after REKEY_AFTER_TIME                                          */
/* ======================================================================== */

static void test_rekey(void **state)
{
    struct harness *h = h_init(state, &DEFAULTS);
    struct node *a = NODE_A(h), *b = NODE_B(h);
    uint64_t t0;
    size_t tx_a, tx_b;
    struct dgram old_pkt, old_back, d;
    uint32_t old_idx_ab, old_idx_ba;

    handshake(h);
    t0 = h->now;
    send_ip4(h, a, 84, 1);
    old_idx_ab = le32(a->out.v[a->out.head].buf + 4);
    send_ip4(h, b, 84, 2);
    old_idx_ba = le32(b->out.v[b->out.head].buf + 4);
    pump(h);
    assert_int_equal(a->rx_n, 1);
    assert_int_equal(b->rx_n, 1);

    /* Just before 120 s: sending does not rekey. */
    run_until(h, t0 + WG_REKEY_AFTER_TIME - 1 * MS);
    tx_a = a->tx_n;
    send_ip4(h, a, 84, 3);
    pump(h);
    assert_int_equal(count_tx(a, tx_a, WG_MSG_INITIATION, 0), 0);
    assert_int_equal(b->rx_n, 2);

    run_until(h, t0 + WG_REKEY_AFTER_TIME);
    /* The responder never rekeys on time. Its packet is held in flight. */
    tx_b = b->tx_n;
    send_ip4(h, b, 84, 4);
    assert_int_equal(dq_len(&b->out), 1);
    old_back = take(b, WG_MSG_DATA);
    assert_int_equal(count_tx(b, tx_b, WG_MSG_INITIATION, 0), 0);
    assert_int_equal(a->rx_n, 1);

    /* The initiator's send at 120 s goes out on the old key, then a new
     * initiation follows. The data packet is held back (in flight). */
    tx_a = a->tx_n;
    send_ip4(h, a, 84, 5);
    assert_int_equal(dq_len(&a->out), 2);
    old_pkt = take(a, WG_MSG_DATA);
    assert_int_equal(le32(old_pkt.buf + 4), old_idx_ab);
    d = take(a, WG_MSG_INITIATION);
    deliver(h, a, &d);
    free(d.buf);
    pump(h);
    assert_int_equal(count_ev(a, WG_EV_HANDSHAKE_COMPLETE), 2);
    assert_int_equal(count_ev(b, WG_EV_HANDSHAKE_COMPLETE), 2);   /* confirmed by A's keepalive */
    assert_int_equal(info(a).last_handshake_unix_ns, h->now + (uint64_t)WALL_OFFSET);

    /* Data flows on the new keypairs (new receiver indices) both ways. */
    send_ip4(h, a, 84, 6);
    d = take(a, WG_MSG_DATA);
    assert_int_not_equal(le32(d.buf + 4), old_idx_ab);
    assert_int_equal(le32(d.buf + 8), 1);          /* fresh: 0 went to the confirming keepalive */
    deliver(h, a, &d);
    free(d.buf);
    assert_int_equal(b->rx_n, 3);
    assert_int_equal(pkt_id(b->rx[2].rb->data), 6);
    send_ip4(h, b, 84, 7);
    d = take(b, WG_MSG_DATA);
    assert_int_not_equal(le32(d.buf + 4), old_idx_ba);
    deliver(h, b, &d);
    free(d.buf);
    assert_int_equal(a->rx_n, 2);

    /* The late packets of the old session still decrypt (previous keypairs),
     * on both sides, once. */
    assert_int_equal(le32(old_back.buf + 4), old_idx_ba);
    deliver(h, b, &old_back);
    assert_int_equal(a->rx_n, 3);
    check_rx(h, &a->rx[2], b, 0, 84, 4);
    free(old_back.buf);
    deliver(h, a, &old_pkt);
    assert_int_equal(b->rx_n, 4);
    check_rx(h, &b->rx[3], a, 0, 84, 5);
    expect_drop(h, b, old_pkt.buf, old_pkt.len, OFF(rx_replay), "old-session duplicate");
    free(old_pkt.buf);

    assert_int_equal(count_tx(a, tx_a, WG_MSG_INITIATION, 0), 1);
    assert_int_equal(count_tx(b, 0, WG_MSG_INITIATION, 0), 0);
    check_clean(h);
}

/* The initiator that only receives renews the session once its key is
 * REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT (165 s) old. */
static void test_rekey_on_receive(void **state)
{
    struct harness *h = h_init(state, &DEFAULTS);
    struct node *a = NODE_A(h), *b = NODE_B(h);
    const uint64_t lastminute = WG_REJECT_AFTER_TIME - WG_KEEPALIVE_TIMEOUT - WG_REKEY_TIMEOUT;
    uint64_t t0;
    size_t tx_a;

    handshake(h);
    t0 = h->now;
    run_until(h, t0 + 100 * NS);
    send_ip4(h, b, 84, 1);                        /* A's keepalive follows at 110 s */
    run_until(h, t0 + lastminute - 1 * MS);
    tx_a = a->tx_n;
    send_ip4(h, b, 84, 2);
    pump(h);
    assert_int_equal(count_tx(a, tx_a, WG_MSG_INITIATION, 0), 0);
    h->now = t0 + lastminute;
    send_ip4(h, b, 84, 3);
    pump(h);
    assert_int_equal(a->rx_n, 3);
    assert_int_equal(count_tx(a, tx_a, WG_MSG_INITIATION, 0), 1);
    assert_int_equal(count_ev(a, WG_EV_HANDSHAKE_COMPLETE), 2);
    assert_int_equal(count_ev(b, WG_EV_HANDSHAKE_COMPLETE), 2);
    assert_int_equal(info(a).last_handshake_unix_ns, t0 + lastminute + (uint64_t)WALL_OFFSET);
    check_clean(h);
}

/* ======================================================================== */
/* 5. Expiry: REJECT_AFTER_TIME and zeroing at 3 x REJECT_AFTER_TIME         */
/* ======================================================================== */

static void test_expiry(void **state)
{
    struct harness *h = h_init(state, &DEFAULTS);
    struct node *a = NODE_A(h), *b = NODE_B(h);
    struct dgram p1, p2;
    uint64_t t0;
    size_t tx_a, tx_b;

    handshake(h);
    t0 = h->now;
    h->filter = filter_drop_handshakes;   /* no new session from here on */

    run_until(h, t0 + 1 * NS);
    send_ip4(h, a, 84, 1);
    p1 = take(a, WG_MSG_DATA);

    /* 1 ms before REJECT_AFTER_TIME the old key still sends and receives. */
    run_until(h, t0 + WG_REJECT_AFTER_TIME - 1 * MS);
    tx_a = a->tx_n;
    send_ip4(h, a, 84, 2);
    assert_int_equal(count_tx(a, tx_a, WG_MSG_DATA, 0), 1);
    p2 = take(a, WG_MSG_DATA);
    deliver(h, a, &p1);
    assert_int_equal(b->rx_n, 1);
    check_rx(h, &b->rx[0], a, 0, 84, 1);
    pump(h);

    /* At REJECT_AFTER_TIME: nothing is encrypted with it any more (the
     * packet is staged and a handshake attempted), nothing decrypted. */
    run_until(h, t0 + WG_REJECT_AFTER_TIME);
    tx_a = a->tx_n;
    send_ip4(h, a, 84, 3);
    assert_int_equal(count_tx(a, tx_a, WG_MSG_DATA, 0), 0);
    tx_b = b->tx_n;
    send_ip4(h, b, 84, 4);
    assert_int_equal(count_tx(b, tx_b, WG_MSG_DATA, 0), 0);
    assert_int_equal(count_tx(b, tx_b, WG_MSG_INITIATION, 0), 1);
    pump(h);
    expect_drop(h, b, p2.buf, p2.len, OFF(rx_key_expired), "data on a key of 180 s");

    /* Keys survive until 540 s after the session was derived... */
    run_until(h, t0 + 3 * WG_REJECT_AFTER_TIME - 1 * MS);
    assert_int_equal(count_ev(a, WG_EV_KEYS_ZEROED), 0);
    assert_int_equal(count_ev(b, WG_EV_KEYS_ZEROED), 0);
    assert_true(info(a).has_session);
    assert_true(info(b).has_session);
    assert_int_equal(count_tx(a, 0, WG_MSG_DATA, 0), count_tx(a, 0, WG_MSG_DATA, 32) + 2);

    /* ...and are wiped then, on both sides. */
    run_until(h, t0 + 3 * WG_REJECT_AFTER_TIME);
    assert_int_equal(count_ev(a, WG_EV_KEYS_ZEROED), 1);
    assert_int_equal(count_ev(b, WG_EV_KEYS_ZEROED), 1);
    assert_false(info(a).has_session);
    assert_false(info(b).has_session);
    /* The index is gone with the keys. */
    expect_drop(h, b, p2.buf, p2.len, OFF(rx_unknown_index), "data after the keys were zeroed");
    free(p1.buf);
    free(p2.buf);

    /* Nothing but those two early packets ever got through. */
    assert_int_equal(b->rx_n, 1);
    assert_int_equal(a->rx_n, 0);

    /* And a new session can still be made afterwards; the staged packets
     * were dropped when the handshake attempts gave up. */
    h->filter = NULL;
    advance(h, 1 * NS);
    send_ip4(h, a, 84, 5);
    pump(h);
    assert_int_equal(b->rx_n, 2);
    check_rx(h, &b->rx[1], a, 0, 84, 5);
    check_clean(h);
}

/* ======================================================================== */
/* 6. Lost handshakes: retransmission and giving up                         */
/* ======================================================================== */

static void test_lost_handshakes(void **state)
{
    struct harness *h = h_init(state, &DEFAULTS);
    struct node *a = NODE_A(h), *b = NODE_B(h);
    uint64_t t0 = h->now, last = 0, gave_up = 0;
    size_t inits = 0;

    h->filter = filter_drop_all;
    send_ip4(h, a, 84, 1);
    run_until(h, t0 + 200 * NS);

    /* Kernel semantics (timers.c): the retransmit timer gives up when it
     * expires with handshake_attempts > MAX_TIMER_HANDSHAKES, and counts an
     * attempt per retry, so there are MAX_TIMER_HANDSHAKES + 1 = 19 retries:
     * 20 initiations in all, the last REKEY_TIMEOUT + jitter before giving up. */
    for (size_t i = 0; i < a->tx_n; i++) {
        assert_int_equal(a->tx[i].type, WG_MSG_INITIATION);
        assert_int_equal(a->tx[i].len, WG_INITIATION_LEN);
        if (inits) {
            uint64_t gap = a->tx[i].t - last;
            if (gap < WG_REKEY_TIMEOUT || gap > WG_REKEY_TIMEOUT + WG_REKEY_TIMEOUT_JITTER_MS * MS)
                fail_msg("retry %zu came %llu ns after the previous one", inits, (unsigned long long)gap);
        }
        last = a->tx[i].t;
        inits++;
    }
    assert_int_equal(inits, 1 + WG_MAX_TIMER_HANDSHAKES + 1);
    assert_int_equal(count_ev(a, WG_EV_HANDSHAKE_SENT), inits);
    assert_int_equal(count_ev(a, WG_EV_HANDSHAKE_GAVE_UP), 1);
    for (size_t i = 0; i < a->ev_n; i++)
        if (a->ev[i].ev == WG_EV_HANDSHAKE_GAVE_UP)
            gave_up = a->ev[i].t;
    assert_true(gave_up - last >= WG_REKEY_TIMEOUT);
    assert_true(gave_up - last <= WG_REKEY_TIMEOUT + WG_REKEY_TIMEOUT_JITTER_MS * MS);
    assert_true(gave_up - t0 >= 20 * WG_REKEY_TIMEOUT);
    assert_int_equal(STAT(a, tx_staged_dropped), 1);   /* the purged packet is counted */
    assert_int_equal(b->tx_n, 0);
    assert_int_equal(b->rx_n, 0);

    /* A new packet starts a new series from zero attempts: 20 more. */
    t0 = h->now;
    send_ip4(h, a, 84, 2);
    run_until(h, t0 + 200 * NS);
    assert_int_equal(count_tx(a, 0, WG_MSG_INITIATION, 0), 2 * inits);
    assert_int_equal(count_ev(a, WG_EV_HANDSHAKE_GAVE_UP), 2);
    assert_int_equal(STAT(a, tx_staged_dropped), 2);

    /* Reconnected: only the new packet arrives, not the purged ones. */
    h->filter = NULL;
    send_ip4(h, a, 84, 3);
    pump(h);
    assert_int_equal(b->rx_n, 1);
    check_rx(h, &b->rx[0], a, 0, 84, 3);
    advance(h, 30 * NS);
    assert_int_equal(b->rx_n, 1);
    check_clean(h);
}

/* ======================================================================== */
/* 7. Cookies under load                                                    */
/* ======================================================================== */

static void test_cookies(void **state)
{
    struct harness *h = h_init(state, &DEFAULTS);
    struct node *a = NODE_A(h), *b = NODE_B(h);
    struct wg_endpoint elsewhere = ep4(198, 18, 7, 7, 40000);
    struct dgram i1, i2, c1, c2;
    size_t tx_a;

    wg_device_force_under_load(b->dev, true);
    h->auto_pump = false;

    /* First initiation: mac2 is zero, B answers with a cookie reply only. */
    send_ip4(h, a, 84, 1);
    assert_true(a->tx[0].mac2_zero);
    i1 = take(a, WG_MSG_INITIATION);
    deliver(h, a, &i1);
    assert_int_equal(STAT(b, rx_cookie_sent), 1);
    assert_int_equal(dq_len(&b->out), 1);
    c1 = take(b, WG_MSG_COOKIE);
    assert_int_equal(c1.len, WG_COOKIE_REPLY_LEN);
    assert_true(wg_endpoint_equal(&c1.dst, &a->src));
    assert_int_equal(le32(c1.buf + 4), le32(i1.buf + 4));   /* to the initiation's sender index */
    assert_false(info(b).has_session);

    /* A takes the cookie; the same reply a second time is refused. */
    tx_a = a->tx_n;
    deliver(h, b, &c1);
    assert_int_equal(STAT(a, rx_cookie_invalid), 0);
    assert_int_equal(a->tx_n, tx_a);
    expect_drop(h, a, c1.buf, c1.len, OFF(rx_cookie_invalid), "cookie reply consumed twice");

    /* The retry after REKEY_TIMEOUT (+ jitter) carries mac2. */
    run_until(h, i1.t + WG_REKEY_TIMEOUT + WG_REKEY_TIMEOUT_JITTER_MS * MS);
    assert_int_equal(dq_len(&a->out), 1);
    assert_false(a->tx[a->tx_n - 1].mac2_zero);
    i2 = take(a, WG_MSG_INITIATION);
    assert_true(i2.t - i1.t >= WG_REKEY_TIMEOUT);

    /* The old reply names the superseded initiation's index: unknown now. */
    expect_drop(h, a, c1.buf, c1.len, OFF(rx_unknown_index), "cookie reply to a superseded initiation");

    /* A reply to the right index whose AD is another mac1: B answers a
     * doctored copy of I2 (same sender index, a body byte changed and mac1
     * recomputed), so its reply is sealed with a mac1 A never sent. */
    {
        uint8_t doctored[WG_INITIATION_LEN];
        struct dgram c3;
        memcpy(doctored, i2.buf, sizeof doctored);
        doctored[100] ^= 1;
        forge_mac1(h, b, doctored, WG_INITIATION_MAC1_OFF);
        deliver_from(h, b, &a->src, doctored, sizeof doctored);
        assert_int_equal(STAT(b, rx_cookie_sent), 2);
        c3 = take(b, WG_MSG_COOKIE);
        assert_int_equal(le32(c3.buf + 4), le32(i2.buf + 4));
        expect_drop(h, a, c3.buf, c3.len, OFF(rx_cookie_invalid), "cookie reply sealed to another mac1");
        free(c3.buf);
    }

    /* mac2 is bound to the source address: from elsewhere it earns a cookie. */
    deliver_from(h, b, &elsewhere, i2.buf, i2.len);
    assert_int_equal(STAT(b, rx_cookie_sent), 3);
    c2 = take(b, WG_MSG_COOKIE);
    assert_true(wg_endpoint_equal(&c2.dst, &elsewhere));
    free(c2.buf);
    assert_false(info(b).has_session);

    /* Same address, other port: also a different cookie. */
    {
        struct wg_endpoint port_moved = a->src;
        port_moved.port++;
        deliver_from(h, b, &port_moved, i2.buf, i2.len);
        assert_int_equal(STAT(b, rx_cookie_sent), 4);
        c2 = take(b, WG_MSG_COOKIE);
        free(c2.buf);
    }

    /* From A's address it is processed: response, session, data. */
    deliver(h, a, &i2);
    assert_int_equal(STAT(b, rx_cookie_sent), 4);
    assert_int_equal(dq_len(&b->out), 1);
    assert_int_equal(b->out.v[b->out.head].len, WG_RESPONSE_LEN);
    h->auto_pump = true;
    pump(h);
    assert_int_equal(count_ev(a, WG_EV_HANDSHAKE_COMPLETE), 1);
    assert_int_equal(count_ev(b, WG_EV_HANDSHAKE_COMPLETE), 1);
    assert_int_equal(b->rx_n, 1);
    check_rx(h, &b->rx[0], a, 0, 84, 1);
    assert_int_equal(STAT(b, rx_ratelimited), 0);

    /* Under load with a valid mac2, each source gets a burst of 5 handshake
     * messages, then 20 per second (kernel ratelimiter.c). Replays of I2
     * pass the limiter (and fail as replays) until the bucket is empty. */
    advance(h, 1 * NS);
    for (int i = 0; i < 10; i++)
        deliver(h, a, &i2);
    assert_int_equal(STAT(b, rx_handshake_invalid), 5);
    assert_int_equal(STAT(b, rx_ratelimited), 5);
    h->now += 50 * MS;                            /* one packet's worth of tokens */
    deliver(h, a, &i2);
    deliver(h, a, &i2);
    assert_int_equal(STAT(b, rx_handshake_invalid), 6);
    assert_int_equal(STAT(b, rx_ratelimited), 6);
    assert_int_equal(dq_len(&b->out), 0);

    /* Under load, a garbage mac1 is still just a bad mac1 (no cookie). */
    i1.buf[WG_INITIATION_MAC1_OFF] ^= 1;
    expect_drop(h, b, i1.buf, i1.len, OFF(rx_bad_mac1), "bad mac1 under load");
    free(i1.buf);
    free(i2.buf);
    free(c1.buf);
    check_clean(h);
}

/* ======================================================================== */
/* 8. Malformed input                                                       */
/* ======================================================================== */

static void test_garbage(void **state)
{
    struct harness *h = h_init(state, &DEFAULTS);
    struct node *a = NODE_A(h), *b = NODE_B(h);
    uint8_t buf[256];
    struct dgram i1, r1, data;
    uint32_t b_index;

    rng_state = 0x9e3779b97f4a7c15ull;

    /* A session, keeping the real handshake messages. */
    h->auto_pump = false;
    wg_peer_connect(a->peer, h->now);
    i1 = take(a, WG_MSG_INITIATION);
    deliver(h, a, &i1);
    r1 = take(b, WG_MSG_RESPONSE);
    deliver(h, b, &r1);
    pump(h);
    h->auto_pump = true;
    send_ip4(h, a, 84, 1);
    data = take(a, WG_MSG_DATA);
    b_index = le32(data.buf + 4);
    deliver(h, a, &data);
    assert_int_equal(b->rx_n, 1);
    h->now += 100 * MS;

    /* Too short for a type. */
    memset(buf, 0, sizeof buf);
    buf[0] = WG_MSG_DATA;
    for (size_t len = 0; len < 4; len++)
        expect_drop(h, b, buf, len, OFF(rx_short), "under 4 bytes");

    /* Known types with the wrong length. */
    {
        static const struct {
            uint8_t type;
            size_t len;
        } wrong[] = {
            { 1, 147 }, { 1, 149 }, { 1, 4 }, { 2, 91 }, { 2, 93 }, { 3, 63 }, { 3, 65 }, { 4, 31 }, { 4, 4 },
        };
        for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
            memset(buf, 0, sizeof buf);
            buf[0] = wrong[i].type;
            expect_drop(h, b, buf, wrong[i].len, OFF(rx_short), "wrong length");
        }
    }

    /* Unknown types, including non-zero reserved bytes. */
    {
        static const uint8_t types[][4] = {
            { 0, 0, 0, 0 }, { 5, 0, 0, 0 }, { 0xff, 0, 0, 0 }, { 1, 1, 0, 0 }, { 4, 0, 0, 1 }, { 2, 0, 1, 0 },
        };
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
            memset(buf, 0, sizeof buf);
            memcpy(buf, types[i], 4);
            expect_drop(h, b, buf, 148, OFF(rx_unknown_type), "unknown type");
        }
    }

    /* Bad mac1: zeros, a flipped mac1, a flipped body byte (mac1 covers it). */
    memset(buf, 0, sizeof buf);
    buf[0] = WG_MSG_INITIATION;
    expect_drop(h, b, buf, WG_INITIATION_LEN, OFF(rx_bad_mac1), "zero initiation");
    memcpy(buf, i1.buf, i1.len);
    buf[WG_INITIATION_MAC1_OFF + 3] ^= 0x80;
    expect_drop(h, b, buf, i1.len, OFF(rx_bad_mac1), "initiation, flipped mac1");
    memcpy(buf, i1.buf, i1.len);
    buf[50] ^= 1;
    expect_drop(h, b, buf, i1.len, OFF(rx_bad_mac1), "initiation, flipped body");
    memcpy(buf, r1.buf, r1.len);
    buf[20] ^= 1;
    expect_drop(h, a, buf, r1.len, OFF(rx_bad_mac1), "response, flipped body");

    /* A valid mac1 over garbage, and replays of the real messages. */
    for (size_t i = 0; i < WG_INITIATION_LEN; i++)
        buf[i] = (uint8_t)rng();
    memset(buf, 0, 4);
    buf[0] = WG_MSG_INITIATION;
    forge_mac1(h, b, buf, WG_INITIATION_MAC1_OFF);
    expect_drop(h, b, buf, WG_INITIATION_LEN, OFF(rx_handshake_invalid), "initiation, garbage with mac1");
    for (size_t i = 0; i < WG_RESPONSE_LEN; i++)
        buf[i] = (uint8_t)rng();
    memset(buf, 0, 4);
    buf[0] = WG_MSG_RESPONSE;
    forge_mac1(h, a, buf, WG_RESPONSE_MAC1_OFF);
    expect_drop(h, a, buf, WG_RESPONSE_LEN, OFF(rx_handshake_invalid), "response, garbage with mac1");
    memcpy(buf, r1.buf, r1.len);
    put_le32(buf + 8, b_index);   /* aimed at a keypair index, not a handshake */
    forge_mac1(h, b, buf, WG_RESPONSE_MAC1_OFF);
    expect_drop(h, b, buf, WG_RESPONSE_LEN, OFF(rx_handshake_invalid), "response to a keypair index");
    expect_drop(h, a, r1.buf, r1.len, OFF(rx_handshake_invalid), "replayed response");
    expect_drop(h, b, i1.buf, i1.len, OFF(rx_handshake_invalid), "replayed initiation");

    /* Cookie replies: unknown index, and a known index that does not decrypt. */
    memset(buf, 0xa5, WG_COOKIE_REPLY_LEN);
    memset(buf, 0, 4);
    buf[0] = WG_MSG_COOKIE;
    put_le32(buf + 4, b_index ^ 0x5a5a5a5a);
    expect_drop(h, b, buf, WG_COOKIE_REPLY_LEN, OFF(rx_unknown_index), "cookie, unknown index");
    put_le32(buf + 4, b_index);
    expect_drop(h, b, buf, WG_COOKIE_REPLY_LEN, OFF(rx_cookie_invalid), "cookie, garbage");

    /* Data: unknown index, flipped tag, truncated, a bare header. */
    memcpy(buf, data.buf, data.len);
    put_le32(buf + 4, b_index ^ 0x5a5a5a5a);
    expect_drop(h, b, buf, data.len, OFF(rx_unknown_index), "data, unknown index");
    memcpy(buf, data.buf, data.len);
    buf[data.len - 1] ^= 1;
    expect_drop(h, b, buf, data.len, OFF(rx_decrypt_failed), "data, flipped tag");
    expect_drop(h, b, data.buf, 40, OFF(rx_decrypt_failed), "data, truncated");
    memset(buf + 8, 0, 32);
    expect_drop(h, b, buf, WG_DATA_OVERHEAD, OFF(rx_decrypt_failed), "data, zero keepalive");
    free(i1.buf);
    free(r1.buf);
    free(data.buf);

    /* 10,000 random datagrams with valid-looking types: each lands in
     * exactly one rx counter, nothing is sent or delivered, nothing moves.
     * 2 ms apart, so the handshake rate stays below the under-load mark. */
    {
        static const size_t exact[5] = { 0, WG_INITIATION_LEN, WG_RESPONSE_LEN, WG_COOKIE_REPLY_LEN, 148 };
        struct wg_device_stats before = *wg_device_stats(b->dev);
        const struct wg_device_stats *after;
        size_t tx = b->tx_n, rx = b->rx_n, ev = b->ev_n;
        uint64_t sum = 0;
        struct wg_peer_info pi = info(b), pj;

        for (unsigned i = 0; i < 10000; i++) {
            uint8_t type = (uint8_t)(1 + rng() % 4);
            size_t len = rng() % 4 == 0 ? exact[type] : (size_t)(rng() % 201);
            for (size_t j = 0; j < len; j++)
                buf[j] = (uint8_t)rng();
            if (len >= 4)
                memset(buf, 0, 4);
            if (len >= 1)
                buf[0] = type;
            if (len >= 8 && (type == WG_MSG_DATA || type == WG_MSG_COOKIE) && rng() % 2)
                put_le32(buf + 4, b_index);
            if (len == WG_INITIATION_LEN && type == WG_MSG_INITIATION && rng() % 2)
                forge_mac1(h, b, buf, WG_INITIATION_MAC1_OFF);
            if (len == WG_RESPONSE_LEN && type == WG_MSG_RESPONSE && rng() % 2)
                forge_mac1(h, b, buf, WG_RESPONSE_MAC1_OFF);
            h->now += 2 * MS;
            deliver_from(h, b, &a->src, buf, len);
        }
        after = wg_device_stats(b->dev);
        for (size_t i = 0; i < N_RX_STATS; i++)
            sum += stat_at(after, STAT_FIELDS[i].off) - stat_at(&before, STAT_FIELDS[i].off);
        assert_int_equal(sum, 10000);
        for (size_t i = N_RX_STATS; i < N_STATS; i++)
            assert_int_equal(stat_at(after, STAT_FIELDS[i].off), stat_at(&before, STAT_FIELDS[i].off));
        assert_int_equal(after->rx_cookie_sent, before.rx_cookie_sent);
        assert_int_equal(b->tx_n, tx);
        assert_int_equal(b->rx_n, rx);
        assert_int_equal(b->ev_n, ev);
        pj = info(b);
        assert_true(wg_endpoint_equal(&pj.endpoint, &pi.endpoint));
        assert_int_equal(pj.rx_bytes, pi.rx_bytes);
    }

    /* The session is unharmed. */
    send_ip4(h, a, 84, 2);
    send_ip4(h, b, 84, 3);
    pump(h);
    assert_int_equal(b->rx_n, 2);
    assert_int_equal(a->rx_n, 1);
    check_clean(h);
}

/* A failing sink is counted, never crashes, and loses only that packet. */
static void test_sink_failures(void **state)
{
    struct harness *h = h_init(state, &DEFAULTS);
    struct node *a = NODE_A(h), *b = NODE_B(h);
    struct wg_device_stats before;
    struct wg_peer_config cfg = { 0 };
    const char *why = NULL;
    struct wg_peer *nowhere;
    struct dgram d;
    uint8_t pkt[84];

    handshake(h);

    /* rx_alloc refuses: counted before authentication, so the same packet
     * is still accepted once memory is back. */
    send_ip4(h, a, 84, 1);
    d = take(a, WG_MSG_DATA);
    b->rx_fail = true;
    expect_drop(h, b, d.buf, d.len, OFF(rx_alloc_failed), "rx_alloc failure");
    b->rx_fail = false;
    deliver(h, a, &d);
    free(d.buf);
    assert_int_equal(b->rx_n, 1);
    check_rx(h, &b->rx[0], a, 0, 84, 1);

    /* tx_slot refuses: the send fails and is counted. */
    before = *wg_device_stats(a->dev);
    a->tx_fail = true;
    make_ip4(pkt, sizeof pkt, 0, 1, 2);
    assert_int_equal(send_raw(h, a, pkt, sizeof pkt), -1);
    a->tx_fail = false;
    expect_only(&before, wg_device_stats(a->dev), OFF(tx_slot_failed), 1, "tx_slot failure");
    send_ip4(h, a, 84, 3);
    pump(h);
    assert_int_equal(b->rx_n, 2);
    check_rx(h, &b->rx[1], a, 0, 84, 3);

    /* A peer without an endpoint: the packet is staged, nothing leaves. */
    randombytes_buf(cfg.public_key, sizeof cfg.public_key);
    nowhere = wg_device_add_peer(a->dev, &cfg, &why);
    assert_non_null(nowhere);
    {
        struct wg_iov iov = { pkt, sizeof pkt };
        size_t tx = a->tx_n;
        assert_int_equal(wg_device_send(a->dev, nowhere, &iov, 1, h->now), 0);
        wg_peer_connect(nowhere, h->now);
        advance(h, 30 * NS);
        assert_int_equal(a->tx_n, tx);
    }
    check_clean(h);
}

/* ======================================================================== */
/* 9. Replayed and flooded initiations                                      */
/* ======================================================================== */

static void test_replayed_initiation(void **state)
{
    struct harness *h = h_init(state, &DEFAULTS);
    struct node *a = NODE_A(h), *b = NODE_B(h);
    struct dgram i1, i2, r1, r2;

    /* Two initiations from A, REKEY_TIMEOUT apart (two TAI64N timestamps). */
    h->auto_pump = false;
    wg_peer_connect(a->peer, h->now);
    i1 = take(a, WG_MSG_INITIATION);
    run_until(h, i1.t + WG_REKEY_TIMEOUT + WG_REKEY_TIMEOUT_JITTER_MS * MS);
    i2 = take(a, WG_MSG_INITIATION);
    assert_int_equal(dq_len(&a->out), 0);

    h->now += 1 * NS;
    deliver(h, a, &i1);
    r1 = take(b, WG_MSG_RESPONSE);

    /* A newer initiation 10 ms later is a flood (> 50/s): dropped... */
    h->now += 10 * MS;
    expect_drop(h, b, i2.buf, i2.len, OFF(rx_handshake_invalid), "initiation 10 ms after the last");
    /* ...but 1/50 s after the last consumed one it is taken. */
    h->now += 10 * MS;
    deliver(h, a, &i2);
    r2 = take(b, WG_MSG_RESPONSE);

    /* Replays (same bytes, timestamp not newer) are refused, even much later. */
    expect_drop(h, b, i1.buf, i1.len, OFF(rx_handshake_invalid), "replayed older initiation");
    h->now += 1 * NS;
    expect_drop(h, b, i2.buf, i2.len, OFF(rx_handshake_invalid), "replayed latest initiation");

    /* The response to the superseded initiation finds no handshake at A. */
    expect_drop(h, a, r1.buf, r1.len, OFF(rx_handshake_invalid), "response to a superseded initiation");
    deliver(h, b, &r2);
    h->auto_pump = true;
    pump(h);
    assert_true(info(a).has_session);
    assert_true(info(b).has_session);

    /* A replay of the initiation after the session is up changes nothing. */
    h->now += 5 * NS;
    expect_drop(h, b, i2.buf, i2.len, OFF(rx_handshake_invalid), "replay after the session");
    send_ip4(h, a, 84, 1);
    send_ip4(h, b, 84, 2);
    pump(h);
    assert_int_equal(b->rx_n, 1);
    assert_int_equal(a->rx_n, 1);
    assert_int_equal(count_ev(b, WG_EV_HANDSHAKE_COMPLETE), 1);
    free(i1.buf);
    free(i2.buf);
    free(r1.buf);
    free(r2.buf);
    check_clean(h);
}

/* ======================================================================== */
/* 10. Low-order peer keys                                                  */
/* ======================================================================== */

/* The seven points of the kernel's netns.sh low-order test. */
static const char *const LOW_ORDER_POINTS[] = {
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    "4Ot6fDtBuK4WVuP68Z/EatoJjeucMrH9hmIFFl9JuAA=", "X5yVvKNQjCSx0LFVnIPvWwREXMRYHI6G2CJO3dCfEVc=",
    "7P///////////////////////////////////////38=", "7f///////////////////////////////////////38=",
    "7v///////////////////////////////////////38=",
};
#define N_LOW_ORDER (sizeof LOW_ORDER_POINTS / sizeof LOW_ORDER_POINTS[0])

static void test_low_order(void **state)
{
    struct harness *h = h_init(state, &DEFAULTS);
    struct node *c = NODE_C(h);
    struct wg_peer *peers[N_LOW_ORDER];

    node_init(h, c, 2, 1420);
    for (size_t i = 0; i < N_LOW_ORDER; i++) {
        struct wg_peer_config cfg = { 0 };
        const char *why = NULL;
        size_t n = 0;
        uint8_t v4[4] = { 10, 1, 0, (uint8_t)(i + 1) };
        struct wg_peer_info pi;

        assert_int_equal(sodium_base642bin(cfg.public_key, sizeof cfg.public_key, LOW_ORDER_POINTS[i],
                                           strlen(LOW_ORDER_POINTS[i]), NULL, &n, NULL,
                                           sodium_base64_VARIANT_ORIGINAL),
                         0);
        assert_int_equal(n, WG_KEY_LEN);
        cfg.has_psk = true;
        memcpy(cfg.psk, h->psk, WG_KEY_LEN);
        cfg.endpoint = ep4(127, 0, 0, 1, 1111);
        cfg.persistent_keepalive = 1;
        peers[i] = wg_device_add_peer(c->dev, &cfg, &why);
        assert_non_null(peers[i]);
        assert_int_equal(wg_peer_add_allowed_ip(peers[i], 4, v4, 32), 0);
        wg_peer_get_info(peers[i], &pi);
        if (!pi.low_order)
            fail_msg("point %zu (%s) not flagged low-order", i, LOW_ORDER_POINTS[i]);
    }
    assert_false(info(NODE_A(h)).low_order);

    /* Data, explicit connects and 5 s of keepalive timers: not one datagram. */
    for (size_t i = 0; i < N_LOW_ORDER; i++) {
        uint8_t pkt[84];
        struct wg_iov iov = { pkt, sizeof pkt };
        make_ip4(pkt, sizeof pkt, 2, 0, (uint32_t)i);
        pkt[16] = 10, pkt[17] = 1, pkt[18] = 0, pkt[19] = (uint8_t)(i + 1);
        assert_ptr_equal(wg_device_route(c->dev, pkt, sizeof pkt), peers[i]);
        assert_int_equal(wg_device_send(c->dev, peers[i], &iov, 1, h->now), 0);
        wg_peer_connect(peers[i], h->now);
    }
    for (int s = 0; s < 50; s++) {
        advance(h, 100 * MS);
        for (size_t i = 0; i < N_LOW_ORDER; i++)
            wg_peer_connect(peers[i], h->now);
    }
    assert_int_equal(c->tx_n, 0);
    assert_int_equal(count_ev(c, WG_EV_HANDSHAKE_SENT), 0);
    for (size_t i = 0; i < N_LOW_ORDER; i++) {
        struct wg_peer_info pi;
        wg_peer_get_info(peers[i], &pi);
        assert_true(pi.low_order);
        assert_false(pi.has_session);
        assert_int_equal(pi.tx_bytes, 0);
    }
    check_clean(h);
}

/* ======================================================================== */
/* 11. Cryptokey routing on receive                                         */
/* ======================================================================== */

/* B sends pkt (already built); A must count it in `off` and not deliver it. */
static void inner_case(struct harness *h, uint8_t *pkt, size_t len, size_t off, const char *what)
{
    struct node *a = NODE_A(h), *b = NODE_B(h);
    struct wg_device_stats before = *wg_device_stats(a->dev);
    size_t rx = a->rx_n;

    assert_int_equal(send_raw(h, b, pkt, len), 0);
    pump(h);
    expect_only(&before, wg_device_stats(a->dev), off, 1, what);
    if (a->rx_n != rx)
        fail_msg("%s: delivered", what);
}

static void test_cryptokey_routing(void **state)
{
    struct harness *h = h_init(state, &DEFAULTS);
    struct node *a = NODE_A(h), *b = NODE_B(h);
    uint8_t pkt[200];

    handshake(h);

    /* Sources outside B's AllowedIPs. */
    make_ip4(pkt, 84, 1, 0, 1);
    pkt[15] = 99;                                 /* 10.0.0.99 */
    inner_case(h, pkt, 84, OFF(rx_not_allowed), "v4 source not B's");
    make_ip4(pkt, 84, 1, 0, 2);
    pkt[15] = 1;                                  /* A's own 10.0.0.1 */
    inner_case(h, pkt, 84, OFF(rx_not_allowed), "v4 source is A's");
    make_ip6(pkt, 100, 1, 0, 3);
    pkt[23] = 0x99;                               /* fd00::99 */
    inner_case(h, pkt, 100, OFF(rx_not_allowed), "v6 source not B's");
    make_ip6(pkt, 100, 1, 0, 4);
    pkt[8] = 0xfe;                                /* fe00::2: only the low byte matches */
    inner_case(h, pkt, 100, OFF(rx_not_allowed), "v6 source, other prefix");

    /* Bogus inner headers. */
    make_ip4(pkt, 84, 1, 0, 5);
    pkt[0] = 0x55;                                /* version 5 */
    inner_case(h, pkt, 84, OFF(rx_bad_inner), "version 5");
    make_ip4(pkt, 84, 1, 0, 6);
    put16(pkt + 2, 200);                       /* total length > payload */
    inner_case(h, pkt, 84, OFF(rx_bad_inner), "v4 total length too big");
    make_ip4(pkt, 84, 1, 0, 7);
    put16(pkt + 2, 97);                        /* 1 byte past the padded 96 */
    inner_case(h, pkt, 84, OFF(rx_bad_inner), "v4 total length past the padding");
    make_ip4(pkt, 84, 1, 0, 8);
    put16(pkt + 2, 19);
    inner_case(h, pkt, 84, OFF(rx_bad_inner), "v4 total length under a header");
    make_ip4(pkt, 84, 1, 0, 9);
    pkt[0] = 0x44;                                /* IHL 4 */
    inner_case(h, pkt, 84, OFF(rx_bad_inner), "v4 IHL 4");
    make_ip6(pkt, 100, 1, 0, 10);
    put16(pkt + 4, 73);                        /* 40 + 73 > 112, the padded length */
    inner_case(h, pkt, 100, OFF(rx_bad_inner), "v6 payload length too big");
    make_ip4(pkt, 84, 1, 0, 11);
    inner_case(h, pkt, 19, OFF(rx_bad_inner), "v4 shorter than a header");
    make_ip6(pkt, 100, 1, 0, 12);
    inner_case(h, pkt, 39, OFF(rx_bad_inner), "v6 shorter than a header");
    assert_int_equal(a->rx_n, 0);

    /* Trailing bytes beyond the IP length are trimmed like padding. */
    make_ip4(pkt, 60, 1, 0, 13);
    memset(pkt + 60, 0xee, 24);
    assert_int_equal(send_raw(h, b, pkt, 84), 0);
    pump(h);
    assert_int_equal(a->rx_n, 1);
    check_rx(h, &a->rx[0], b, 0, 60, 13);

    /* The well-formed packets still pass. */
    send_ip(h, b, 0, 84, 14);
    send_ip(h, b, 1, 84, 15);
    pump(h);
    assert_int_equal(a->rx_n, 3);
    check_rx(h, &a->rx[1], b, 0, 84, 14);
    check_rx(h, &a->rx[2], b, 1, 84, 15);
    check_clean(h);
}

/* ======================================================================== */
/* 12. Roaming                                                              */
/* ======================================================================== */

/* A fixed endpoint (tailnet placeholder) never roams: data from a new source
 * is still delivered, replies still go to the placeholder. */
static void test_fixed_endpoint(void **state)
{
    struct harness *h = h_init(state, &DEFAULTS);
    struct node *a = NODE_A(h), *b = NODE_B(h);
    struct wg_endpoint moved = ep4(198, 18, 0, 99, 4242);
    struct dgram d;
    struct wg_peer_info pi;

    handshake(h);
    wg_peer_set_endpoint_fixed(a->peer, &b->ep);
    b->src = moved;
    send_ip4(h, b, 84, 1);
    pump(h);
    assert_int_equal(a->rx_n, 1);
    pi = info(a);
    assert_true(wg_endpoint_equal(&pi.endpoint, &b->ep));
    assert_int_equal(count_ev(a, WG_EV_ENDPOINT_CHANGED), 0);
    send_ip4(h, a, 84, 2);
    d = take(a, WG_MSG_DATA);
    assert_true(wg_endpoint_equal(&d.dst, &b->ep));
    free(d.buf);
}

static void test_roaming(void **state)
{
    struct harness *h = h_init(state, &DEFAULTS);
    struct node *a = NODE_A(h), *b = NODE_B(h);
    struct wg_endpoint moved = ep4(198, 18, 0, 99, 4242), forged = ep4(203, 0, 113, 7, 1);
    struct wg_endpoint v6 = { .family = 6, .addr = { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 }, .port = 51820 };
    struct wg_peer_info pi;
    struct dgram d, p;

    handshake(h);
    assert_int_equal(count_ev(a, WG_EV_ENDPOINT_CHANGED), 0);

    /* B's datagrams now come from a new address: A follows. */
    b->src = moved;
    send_ip4(h, b, 84, 1);
    pump(h);
    assert_int_equal(a->rx_n, 1);
    pi = info(a);
    assert_true(wg_endpoint_equal(&pi.endpoint, &moved));
    assert_int_equal(count_ev(a, WG_EV_ENDPOINT_CHANGED), 1);
    send_ip4(h, a, 84, 2);
    d = take(a, WG_MSG_DATA);
    assert_true(wg_endpoint_equal(&d.dst, &moved));
    deliver(h, a, &d);
    free(d.buf);
    assert_int_equal(b->rx_n, 1);

    /* Forged sources: a corrupted packet, a replay, a bad handshake. */
    send_ip4(h, b, 84, 3);
    p = take(b, WG_MSG_DATA);
    p.buf[30] ^= 1;
    deliver_from(h, a, &forged, p.buf, p.len);
    p.buf[30] ^= 1;
    assert_int_equal(STAT(a, rx_decrypt_failed), 1);
    deliver_from(h, a, &moved, p.buf, p.len);     /* the genuine one */
    assert_int_equal(a->rx_n, 2);
    deliver_from(h, a, &forged, p.buf, p.len);    /* authentic but replayed */
    assert_int_equal(STAT(a, rx_replay), 1);
    free(p.buf);
    {
        uint8_t junk[WG_INITIATION_LEN] = { WG_MSG_INITIATION };
        deliver_from(h, a, &forged, junk, sizeof junk);
        assert_int_equal(STAT(a, rx_bad_mac1), 1);
    }
    pi = info(a);
    assert_true(wg_endpoint_equal(&pi.endpoint, &moved));
    assert_int_equal(count_ev(a, WG_EV_ENDPOINT_CHANGED), 1);

    /* A new port alone is a move; so is a move to IPv6. */
    b->src.port = 4243;
    send_ip4(h, b, 84, 4);
    pump(h);
    pi = info(a);
    assert_int_equal(pi.endpoint.port, 4243);
    assert_int_equal(count_ev(a, WG_EV_ENDPOINT_CHANGED), 2);
    b->src = v6;
    send_ip4(h, b, 84, 5);
    pump(h);
    pi = info(a);
    assert_true(wg_endpoint_equal(&pi.endpoint, &v6));
    assert_int_equal(count_ev(a, WG_EV_ENDPOINT_CHANGED), 3);
    send_ip4(h, a, 84, 6);
    d = take(a, WG_MSG_DATA);
    assert_true(wg_endpoint_equal(&d.dst, &v6));
    free(d.buf);
    assert_int_equal(a->rx_n, 4);

    /* Authenticated handshake messages move it as well: A's packet 6 was
     * never delivered, so A (and B, whose packet 3 went unanswered) start a
     * new handshake after KEEPALIVE_TIMEOUT + REKEY_TIMEOUT + jitter, now
     * from A's new address. */
    a->src = ep4(198, 18, 0, 77, 5555);
    advance(h, WG_KEEPALIVE_TIMEOUT + WG_REKEY_TIMEOUT + WG_REKEY_TIMEOUT_JITTER_MS * MS);
    assert_true(count_tx(a, 0, WG_MSG_INITIATION, 0) + count_tx(a, 0, WG_MSG_RESPONSE, 0) >= 2);
    pi = info(b);
    assert_true(wg_endpoint_equal(&pi.endpoint, &a->src));
    assert_int_equal(count_ev(b, WG_EV_ENDPOINT_CHANGED), 1);
    check_clean(h);
}

/* ======================================================================== */
/* 13. Keepalive timers                                                     */
/* ======================================================================== */

static void test_keepalive(void **state)
{
    struct harness *h = h_init(state, &DEFAULTS);
    struct node *a = NODE_A(h), *b = NODE_B(h);
    uint64_t t1;
    size_t tx_a, tx_b;

    handshake(h);
    advance(h, 1 * NS);
    t1 = h->now;
    tx_a = a->tx_n;
    tx_b = b->tx_n;

    /* B sends data at t1 and t1+2; A has nothing to say. */
    send_ip4(h, b, 84, 1);
    pump(h);
    run_until(h, t1 + 2 * NS);
    send_ip4(h, b, 84, 2);
    pump(h);
    assert_int_equal(a->rx_n, 2);

    /* A keepalive KEEPALIVE_TIMEOUT after the first receipt, not earlier... */
    run_until(h, t1 + WG_KEEPALIVE_TIMEOUT - 1);
    assert_int_equal(a->tx_n, tx_a);
    run_until(h, t1 + WG_KEEPALIVE_TIMEOUT);
    assert_int_equal(a->tx_n, tx_a + 1);
    assert_int_equal(a->tx[tx_a].type, WG_MSG_DATA);
    assert_int_equal(a->tx[tx_a].len, 32);
    assert_int_equal(a->tx[tx_a].t, t1 + WG_KEEPALIVE_TIMEOUT);
    /* ...and one more for the data that came while it was pending. */
    run_until(h, t1 + 2 * WG_KEEPALIVE_TIMEOUT - 1);
    assert_int_equal(a->tx_n, tx_a + 1);
    run_until(h, t1 + 2 * WG_KEEPALIVE_TIMEOUT);
    assert_int_equal(a->tx_n, tx_a + 2);
    assert_int_equal(a->tx[tx_a + 1].len, 32);

    /* Then silence; the keepalive also stopped B's new-handshake timer. */
    run_until(h, t1 + 60 * NS);
    assert_int_equal(a->tx_n, tx_a + 2);
    assert_int_equal(b->tx_n, tx_b + 2);
    assert_int_equal(a->rx_n, 2);
    assert_int_equal(b->rx_n, 0);

    /* Without any answer the sender starts a new handshake after
     * KEEPALIVE_TIMEOUT + REKEY_TIMEOUT (+ jitter). */
    h->filter = filter_drop_all;
    tx_b = b->tx_n;
    send_ip4(h, b, 84, 3);
    run_until(h, h->now + WG_KEEPALIVE_TIMEOUT + WG_REKEY_TIMEOUT - 1);
    assert_int_equal(count_tx(b, tx_b, WG_MSG_INITIATION, 0), 0);
    run_until(h, h->now + WG_REKEY_TIMEOUT_JITTER_MS * MS + 1);
    assert_int_equal(count_tx(b, tx_b, WG_MSG_INITIATION, 0), 1);
    check_clean(h);
}

static void test_persistent_keepalive(void **state)
{
    struct hopts o = DEFAULTS;
    struct harness *h;
    struct node *a, *b;
    uint64_t t;
    size_t tx_a, tx_b;

    o.ka_a = 3;
    h = h_init(state, &o);
    a = NODE_A(h);
    b = NODE_B(h);
    handshake(h);
    t = h->now;
    tx_a = a->tx_n;
    tx_b = b->tx_n;

    /* Idle: one keepalive every 3 s, exactly. */
    run_until(h, t + 30 * NS);
    assert_int_equal(a->tx_n - tx_a, 10);
    for (size_t i = 0; i < 10; i++) {
        assert_int_equal(a->tx[tx_a + i].type, WG_MSG_DATA);
        assert_int_equal(a->tx[tx_a + i].len, 32);
        assert_int_equal(a->tx[tx_a + i].t, t + 3 * (i + 1) * NS);
    }
    assert_int_equal(b->tx_n, tx_b);

    /* Any authenticated traffic restarts the interval. */
    run_until(h, t + 31 * NS);
    send_ip4(h, b, 84, 1);
    pump(h);
    tx_a = a->tx_n;
    run_until(h, t + 34 * NS - 1);
    assert_int_equal(a->tx_n, tx_a);
    run_until(h, t + 34 * NS);
    assert_int_equal(a->tx_n, tx_a + 1);
    assert_int_equal(a->tx[tx_a].len, 32);
    assert_int_equal(count_tx(a, 0, WG_MSG_INITIATION, 0), 1);
    check_clean(h);
}

/* ======================================================================== */
/* 14. The staged-packet limit                                              */
/* ======================================================================== */

static void test_staged_limit(void **state)
{
    struct harness *h = h_init(state, &DEFAULTS);
    struct node *a = NODE_A(h), *b = NODE_B(h);

    h->auto_pump = false;
    for (uint32_t i = 0; i < 200; i++)
        send_ip4(h, a, 84, i);
    assert_int_equal(STAT(a, tx_staged_dropped), 200 - WG_MAX_STAGED_PACKETS);
    assert_int_equal(dq_len(&a->out), 1);
    assert_int_equal(count_ev(a, WG_EV_HANDSHAKE_SENT), 1);

    pump(h);
    assert_int_equal(b->rx_n, WG_MAX_STAGED_PACKETS);
    for (uint32_t i = 0; i < WG_MAX_STAGED_PACKETS; i++)
        check_rx(h, &b->rx[i], a, 0, 84, 72 + i);    /* the oldest 72 went */
    assert_int_equal(count_tx(a, 0, WG_MSG_DATA, 128), WG_MAX_STAGED_PACKETS);
    assert_int_equal(count_tx(a, 0, WG_MSG_DATA, 32), 0);   /* data confirms: no keepalive */
    check_clean(h);
}

/* ======================================================================== */
/* Extra: both sides initiate at once                                       */
/* ======================================================================== */

static void test_simultaneous_initiation(void **state)
{
    struct harness *h = h_init(state, &DEFAULTS);
    struct node *a = NODE_A(h), *b = NODE_B(h);

    send_ip4(h, a, 84, 1);
    send_ip4(h, b, 84, 2);
    assert_int_equal(count_tx(a, 0, WG_MSG_INITIATION, 0), 1);
    assert_int_equal(count_tx(b, 0, WG_MSG_INITIATION, 0), 1);
    /* The crossing handshakes supersede each other; the jittered retries
     * break the tie. Both staged packets arrive, each once. */
    for (int i = 0; i < 120 && (a->rx_n == 0 || b->rx_n == 0); i++)
        advance(h, 500 * MS);
    assert_int_equal(b->rx_n, 1);
    assert_int_equal(a->rx_n, 1);
    check_rx(h, &b->rx[0], a, 0, 84, 1);
    check_rx(h, &a->rx[0], b, 0, 84, 2);
    assert_true(info(a).has_session);
    assert_true(info(b).has_session);
    send_ip4(h, a, 84, 3);
    send_ip4(h, b, 84, 4);
    pump(h);
    assert_int_equal(b->rx_n, 2);
    assert_int_equal(a->rx_n, 2);
    check_clean(h);
}

/* ======================================================================== */
/* Extra: timers around packets released by key confirmation               */
/* ======================================================================== */

/* The responder's packets staged before confirmation are sent when A's first
 * data confirms the session. They are sent after that packet was received,
 * so (as with the kernel's asynchronous send path) they must leave the
 * new-handshake timer armed and must not be followed by a keepalive. */
static void test_confirmation_releases_staged(void **state)
{
    struct harness *h = h_init(state, &DEFAULTS);
    struct node *a = NODE_A(h), *b = NODE_B(h);
    struct dgram d;
    uint64_t t1;
    size_t tx_b;

    h->auto_pump = false;
    send_ip4(h, a, 84, 1);                        /* A: staged + initiation */
    d = take(a, WG_MSG_INITIATION);
    deliver(h, a, &d);
    free(d.buf);
    send_ip4(h, b, 84, 2);                        /* B: only "next": staged */
    assert_int_equal(dq_len(&b->out), 1);         /* just the response */
    d = take(b, WG_MSG_RESPONSE);
    h->now += 1 * MS;
    deliver(h, b, &d);
    free(d.buf);
    d = take(a, WG_MSG_DATA);                     /* A's staged packet confirms */
    h->now += 1 * MS;
    t1 = h->now;
    tx_b = b->tx_n;
    deliver(h, a, &d);
    free(d.buf);
    assert_int_equal(b->rx_n, 1);
    assert_int_equal(b->tx_n, tx_b + 1);          /* B's staged packet left */

    /* A never answers again. B sent data last, so: no keepalive from B, and
     * a new handshake after KEEPALIVE_TIMEOUT + REKEY_TIMEOUT + jitter. */
    h->auto_pump = true;
    h->filter = filter_drop_all;
    run_until(h, t1 + WG_KEEPALIVE_TIMEOUT + WG_REKEY_TIMEOUT - 1);
    assert_int_equal(count_tx(b, tx_b + 1, WG_MSG_DATA, 0), 0);
    run_until(h, t1 + WG_KEEPALIVE_TIMEOUT + WG_REKEY_TIMEOUT + WG_REKEY_TIMEOUT_JITTER_MS * MS);
    assert_int_equal(count_tx(b, tx_b + 1, WG_MSG_INITIATION, 0), 1);
    check_clean(h);
}

/* A packet too big to ever be encrypted is refused at once and does not
 * block the packets staged behind it. */
static void test_oversized_packet(void **state)
{
    struct harness *h = h_init(state, &DEFAULTS);
    struct node *a = NODE_A(h), *b = NODE_B(h);
    size_t big = 65535 - WG_DATA_OVERHEAD + 1;
    uint8_t *pkt = malloc(big);
    struct wg_iov iov = { pkt, big };
    int rc;

    assert_non_null(pkt);
    make_ip4(pkt, 84, 0, 1, 99);
    put16(pkt + 2, 65535);
    h->auto_pump = false;
    send_ip4(h, a, 84, 1);
    rc = wg_device_send(a->dev, a->peer, &iov, 1, h->now);
    send_ip4(h, a, 84, 2);
    h->auto_pump = true;
    pump(h);
    assert_int_equal(rc, -1);
    assert_int_equal(STAT(a, tx_too_big), 1);
    assert_int_equal(b->rx_n, 2);
    check_rx(h, &b->rx[0], a, 0, 84, 1);
    check_rx(h, &b->rx[1], a, 0, 84, 2);

    /* With a session the same packet is refused the same way. */
    assert_int_equal(wg_device_send(a->dev, a->peer, &iov, 1, h->now), -1);
    assert_int_equal(STAT(a, tx_too_big), 2);
    send_ip4(h, a, 84, 3);
    pump(h);
    assert_int_equal(b->rx_n, 3);
    free(pkt);
    check_clean(h);
}

/* ======================================================================== */

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_handshake_and_data, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wire_sizes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_byte_count_oracle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replay, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rekey, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rekey_on_receive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lost_handshakes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cookies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sink_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replayed_initiation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_low_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cryptokey_routing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_roaming, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fixed_endpoint, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keepalive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_persistent_keepalive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_staged_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_simultaneous_initiation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_confirmation_releases_staged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oversized_packet, setup, teardown),
    };
    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
