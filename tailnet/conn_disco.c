/* Disco on the wire (tailscale-wire.md §3): our process-wide keypair, one
 * precomputed box key per peer; sent on the don't-fragment socket;
 * CallMeMaybe only over DERP, with our endpoints, never while endpoints are
 * blocked. Sizes (issue #7): path discovery and CLI pings are padded to the
 * floor (a UDP payload of 576 + 32 bytes: the path carries the smallest
 * WireGuard packet vole uses), path MTU probes to the size discovery asks
 * for, and pongs to the size of the ping they answer (a probe tests both
 * directions; Coder's 1310-byte padded ping gets Coder's padded pong). Input
 * from an unknown sender, or whose box does not open, is a counted drop and
 * never reaches WireGuard. */
#include "tailnet/conn_int.h"

#include <string.h>

#include "io/udp.h"
#include "node/tunnel.h"

/* The largest disco packet we send: a probe or pong of a 1500-byte IPv4
 * packet, or a CallMeMaybe with every endpoint we advertise. */
#define CONN_DISCO_OUT_MAX (DISCO_PMTU_MAX_WIRE - 28)
/* Path discovery pings: a WireGuard packet with a 576-byte inner packet. */
#define CONN_DISCO_PING_PAYLOAD (DISCO_PMTU_INNER_FLOOR + DISCO_PMTU_WG_OVERHEAD)
/* Pongs over DERP stay within what its send queue holds (and Coder's size). */
#define CONN_DISCO_DERP_MAX DISCO_PADDED_LEN
_Static_assert(DISCO_CMM_LEN(COORD_MAX_ENDPOINTS) <= CONN_DISCO_OUT_MAX, "CallMeMaybe fits");
_Static_assert(CONN_DISCO_DERP_MAX <= CONN_DERP_QUEUE_MTU, "a DERP pong fits the queue");

static const uint8_t derp_magic_ip[4] = VOLE_DERP_MAGIC_IP4;

/* padded: Coder's fixed 1310-byte form; else m->padding decides the size. */
static void send_udp(struct vole_conn *c, struct conn_peer *p, const struct disco_msg *m, bool padded,
                     const struct wg_endpoint *to)
{
    uint8_t *slot = vole_udp_tx_slot(c->udp, CONN_DISCO_OUT_MAX);
    size_t n;
    if (!slot)
        return;
    n = disco_seal(slot, CONN_DISCO_OUT_MAX, m, padded, c->disco.pub, &p->shared, NULL);
    if (n && conn_test_link_passes(c, n))
        vole_udp_tx_commit(c->udp, to, n);
}

static void send_derp(struct vole_conn *c, struct conn_peer *p, const struct disco_msg *m, bool padded,
                      int32_t region)
{
    uint8_t buf[CONN_DISCO_OUT_MAX];
    size_t n = disco_seal(buf, sizeof buf, m, padded, c->disco.pub, &p->shared, NULL);
    if (n)
        (void)conn_derp_send(c, region, p->key, buf, n);
}

/* A ping whose UDP payload is udp_payload bytes (at least the unpadded 124). */
static void ping_msg(const struct vole_conn *c, const uint8_t txid[DISCO_TXID_LEN], size_t udp_payload,
                     struct disco_msg *m)
{
    *m = (struct disco_msg){ .type = DISCO_PING, .has_node_key = true };
    m->padding = udp_payload > DISCO_PING_LEN ? udp_payload - DISCO_PING_LEN : 0;
    memcpy(m->txid, txid, DISCO_TXID_LEN);
    memcpy(m->node_key, c->pub, 32);
}

/* Every disco ping over UDP goes through here: it is what the peer
 * diagnostics count as "pings sent". */
void conn_disco_ping_udp(struct vole_conn *c, struct conn_peer *p, const uint8_t txid[DISCO_TXID_LEN],
                         const struct wg_endpoint *to)
{
    struct disco_msg m;
    ping_msg(c, txid, CONN_DISCO_PING_PAYLOAD, &m);
    send_udp(c, p, &m, false, to);
    c->st.disco_tx_ping++;
    p->disco.pings_sent++;
}

/* Not in the peer's disco counts: a probe above the path MTU goes
 * unanswered by design, which is no evidence of a firewall; the path pings
 * above (every heartbeat) are that evidence. */
void conn_disco_probe(struct vole_conn *c, struct conn_peer *p, const uint8_t txid[DISCO_TXID_LEN],
                      const struct wg_endpoint *to, size_t udp_payload)
{
    struct disco_msg m;
    if (!p->shared.ok || c->block_endpoints)
        return;
    ping_msg(c, txid, udp_payload, &m);
    send_udp(c, p, &m, false, to);
    c->st.pmtu_probes++;
}

int conn_disco_ping_derp(struct vole_conn *c, struct conn_peer *p, const uint8_t txid[DISCO_TXID_LEN],
                         int32_t region)
{
    struct disco_msg m;
    uint8_t buf[CONN_DISCO_OUT_MAX];
    size_t n;

    ping_msg(c, txid, CONN_DISCO_PING_PAYLOAD, &m);
    n = disco_seal(buf, sizeof buf, &m, false, c->disco.pub, &p->shared, NULL);
    if (!n || conn_derp_send(c, region, p->key, buf, n) < 0)
        return -1;
    c->st.disco_tx_ping++;
    return 0;
}

static void send_call_me_maybe(struct vole_conn *c, struct conn_peer *p)
{
    struct disco_msg m = { .type = DISCO_CALL_ME_MAYBE };
    for (size_t i = 0; i < c->n_endpoints && m.n_eps < DISCO_MAX_ENDPOINTS; i++, m.n_eps++) {
        m.eps[m.n_eps] = (struct wg_endpoint){ .family = c->endpoints[i].family, .port = c->endpoints[i].port };
        memcpy(m.eps[m.n_eps].addr, c->endpoints[i].ip, 16);
    }
    send_derp(c, p, &m, false, conn_peer_derp_region(p));
    c->st.disco_tx_cmm++;
}

/* What the path asked for: pings over UDP, and maybe our endpoints over DERP. */
void conn_disco_act(struct vole_conn *c, struct conn_peer *p, const struct disco_path_out *out)
{
    if (!p->shared.ok || c->block_endpoints)
        return;
    for (size_t i = 0; i < out->n_pings; i++)
        conn_disco_ping_udp(c, p, out->pings[i].txid, &out->pings[i].to);
    /* An empty list would make the peer forget what it knows of us. */
    if (out->call_me_maybe && !c->block_endpoints && c->n_endpoints > 0)
        send_call_me_maybe(c, p);
}

/* The pong to a ping of ping_len bytes: Coder's padded one for Coder's
 * padded ping, else padded to the ping's size (never below the unpadded
 * pong, never above cap). */
static bool size_pong(struct disco_msg *pong, size_t ping_len, size_t cap)
{
    if (ping_len == DISCO_PADDED_LEN)
        return true;
    if (ping_len > cap)
        ping_len = cap;
    pong->padding = ping_len > DISCO_PONG_LEN ? ping_len - DISCO_PONG_LEN : 0;
    return false;
}

/* Always answer, over the path the ping came by; the pong says what source we saw. */
static void on_ping(struct vole_conn *c, struct conn_peer *p, const struct disco_msg *m, size_t ping_len,
                    const struct wg_endpoint *udp_src, int32_t region, uint64_t now)
{
    struct disco_msg pong = { .type = DISCO_PONG };
    bool padded;

    if (m->has_node_key && memcmp(m->node_key, p->key, 32) != 0) {
        c->st.drop_disco_misdirected++;
        return;
    }
    c->st.disco_rx_ping++;
    memcpy(pong.txid, m->txid, DISCO_TXID_LEN);
    if (udp_src) {
        p->disco.peer_pings_received++;
        disco_path_on_ping(&p->path, udp_src, now);
        pong.src = *udp_src;
        padded = size_pong(&pong, ping_len, CONN_DISCO_OUT_MAX);
        send_udp(c, p, &pong, padded, udp_src);
    } else {
        pong.src = (struct wg_endpoint){ .family = 4, .port = (uint16_t)region };
        memcpy(pong.src.addr, derp_magic_ip, 4);
        padded = size_pong(&pong, ping_len, CONN_DISCO_DERP_MAX);
        send_derp(c, p, &pong, padded, region);
    }
    c->st.disco_tx_pong++;
}

static void on_call_me_maybe(struct vole_conn *c, struct conn_peer *p, const struct disco_msg *m, uint64_t now)
{
    struct wg_endpoint eps[DISCO_MAX_ENDPOINTS];
    struct disco_path_out out;
    size_t n = 0;

    c->st.disco_rx_cmm++;
    for (size_t i = 0; i < m->n_eps; i++) {
        const struct wg_endpoint *e = &m->eps[i];
        /* Link-local IPv6 needs a zone we do not have; overlay addresses are the tunnel's own. */
        if (e->family == 6 && (e->addr[0] == 0xfe && (e->addr[1] & 0xc0) == 0x80))
            continue;
        if ((e->family == 6 && coord_v6_in_overlay(e->addr)) || e->port == 0)
            continue;
        eps[n++] = *e;
    }
    disco_path_on_call_me_maybe(&p->path, eps, n, now, &out);
    conn_disco_act(c, p, &out);
}

void conn_disco_input(struct vole_conn *c, const uint8_t *buf, size_t len, const struct wg_endpoint *udp_src,
                      struct conn_peer *derp_peer, int32_t derp_region)
{
    const uint8_t *sender = disco_sender_key(buf, len);
    struct conn_peer *p = sender ? conn_peer_by_disco(c, sender) : NULL;
    struct disco_msg m;
    uint64_t now = vole_now_ns(), lat;
    struct wg_endpoint to;

    if (!p) {
        c->st.drop_disco_unknown_sender++;
        return;
    }
    /* Blocked: no direct path may form, from either side. */
    if (c->block_endpoints && udp_src) {
        c->st.drop_disco_blocked++;
        return;
    }
    if (!p->shared.ok || disco_open(buf, len, &p->shared, &m) < 0) {
        c->st.drop_disco_bad_box++;
        return;
    }
    /* Over DERP the relay vouches for the node key: it must be the box's sender. */
    if (derp_peer && derp_peer != p) {
        c->st.drop_disco_misdirected++;
        return;
    }
    switch (m.type) {
    case DISCO_PING:
        on_ping(c, p, &m, len, udp_src, derp_region, now);
        break;
    case DISCO_PONG:
        c->st.disco_rx_pong++;
        /* A path MTU probe's pong is no path evidence: it stops here. */
        if (udp_src && conn_pmtu_on_pong(c, p, m.txid, now))
            break;
        /* The CLI ping's own table first: the path's use the TxID up. */
        conn_cliping_on_pong(c, p, m.txid, now);
        if (disco_path_on_pong(&p->path, m.txid, udp_src == NULL, now, &lat, &to) && udp_src && to.family != 0)
            p->disco.pongs_received++;
        break;
    case DISCO_CALL_ME_MAYBE:
        if (udp_src) {
            c->st.drop_disco_misdirected++;   /* accepted only via DERP (§3.3) */
            return;
        }
        if (c->block_endpoints) {
            c->st.drop_disco_blocked++;
            return;
        }
        on_call_me_maybe(c, p, &m, now);
        break;
    }
    conn_peer_update_path(c, p, now);
}

/* ---- the heartbeat: one timer for the earliest peer deadline ---- */

static uint64_t peer_deadline(const struct conn_peer *p, uint64_t now)
{
    uint64_t d = disco_path_next_deadline(&p->path), m = conn_pmtu_next_deadline(p);
    /* Trust still holds at trust_until itself: wake just after it, so the
     * switch to DERP is reported then, not at the next heartbeat. */
    if (p->path.trust_until >= now && p->path.trust_until + 1 < d)
        d = p->path.trust_until + 1;
    return m < d ? m : d;
}

uint64_t conn_disco_next_deadline(const struct vole_conn *c, uint64_t now)
{
    uint64_t best = UINT64_MAX;
    for (size_t i = 0; i < c->n_peers; i++)
        if (c->peers[i]->active) {
            uint64_t d = peer_deadline(c->peers[i], now);
            if (d < best)
                best = d;
        }
    return best;
}

void conn_disco_tick(struct vole_conn *c, uint64_t now)
{
    for (size_t i = 0; i < c->n_peers; i++) {
        struct conn_peer *p = c->peers[i];
        struct disco_path_out out;
        if (!p->active)
            continue;
        if (disco_path_next_deadline(&p->path) <= now) {
            disco_path_tick(&p->path, now, &out);
            conn_disco_act(c, p, &out);
        }
        conn_pmtu_tick(c, p, now);
        conn_peer_update_path(c, p, now);
    }
}
