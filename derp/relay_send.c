/* Frames a registered client sends: SendPacket, Ping, NotePreferred
 * (tailscale-wire.md §1.3, §1.6). */
#include "derp/relay_int.h"

/* PeerGone(NotHere) replies: 1/s with a burst of 3 per client (Go's peerGoneLim). */
#define GONE_COST DERP_RELAY_SEC
#define GONE_BURST (3 * DERP_RELAY_SEC)

static bool gone_allow(struct derp_relay_conn *c, uint64_t now)
{
    uint64_t credit = c->gone_credit + (now > c->gone_last ? now - c->gone_last : 0);

    if (credit > GONE_BURST)
        credit = GONE_BURST;
    c->gone_last = now;
    if (credit < GONE_COST) {
        c->gone_credit = credit;
        return false;
    }
    c->gone_credit = credit - GONE_COST;
    return true;
}

/* An undeliverable packet. Only disco packets earn the sender a PeerGone
 * (NotHere), so its magicsock stops sending there; others vanish silently. */
static void not_here(struct derp_relay *r, struct derp_relay_conn *c, const uint8_t dst[DERP_KEY_LEN],
                     const uint8_t *pkt, size_t len, uint64_t now)
{
    r->stats.drop_unknown_dest++;
    if (!derp_looks_like_disco(pkt, len))
        return;
    if (gone_allow(c, now))
        drelay_queue_peer_gone(r, c, dst, DERP_PEER_GONE_NOT_HERE);
    else
        r->stats.peer_gone_ratelimited++;
}

int drelay_send_packet(struct derp_relay *r, struct derp_relay_conn *c, const struct derp_frame *f, uint64_t now)
{
    const uint8_t *dst_key, *pkt;
    size_t len;

    if (derp_parse_packet(f, &dst_key, &pkt, &len) < 0)
        return drelay_bad_frame(r, c, "malformed SendPacket");
    if (len > DERP_MAX_PACKET_SIZE)   /* the reader's cap stops these first */
        return drelay_bad_frame(r, c, "oversized packet");
    drelay_note_activity(c);

    struct derp_relay_peer *p = drelay_peer(r, dst_key);
    if (!p) {
        not_here(r, c, dst_key, pkt, len, now);
        return 0;
    }
    if (!p->active) {
        /* Several connections for that key and none has the floor (§1.6 "dup_client"). */
        r->stats.drop_inactive_dup++;
        return 0;
    }
    drelay_queue_packet(r, p->active, c->peer->key, pkt, len, derp_looks_like_disco(pkt, len));
    drelay_note_sent(r, c->peer, dst_key, p->active->conn_num);
    return 0;
}

/* 8..1000 bytes, the rest ignored; one pong waits at a time and pings past
 * it are dropped, as Go's size-1 channel (§1.3 "Server-side checks"). */
int drelay_ping(struct derp_relay *r, struct derp_relay_conn *c, const struct derp_frame *f)
{
    uint8_t data[DERP_PING_LEN], pong[DERP_FRAME_HEADER_LEN + DERP_PING_LEN];

    if (derp_parse_ping(f, data) < 0 || f->len > DERP_PING_MAX_LEN)
        return drelay_bad_frame(r, c, "bad ping length");
    if (c->pong_pending)
        return 0;
    size_t n = derp_write_ping(pong, sizeof pong, DERP_FRAME_PONG, data);
    if (n && drelay_queue_control(r, c, pong, n) == 0) {
        c->pong_pending = true;
        r->stats.pings_answered++;
    }
    return 0;
}

/* The client's home DERP or not; Go requires exactly one byte. */
int drelay_note_preferred(struct derp_relay *r, struct derp_relay_conn *c, const struct derp_frame *f)
{
    bool preferred;

    if (derp_parse_note_preferred(f, &preferred) < 0)
        return drelay_bad_frame(r, c, "bad NotePreferred length");
    if (preferred != c->preferred) {
        if (preferred)
            r->stats.clients_home++;
        else
            r->stats.clients_home--;
    }
    c->preferred = preferred;
    return 0;
}
