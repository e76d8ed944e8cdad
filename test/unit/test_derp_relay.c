/* derp/relay: the DERP server's semantics (tailscale-wire.md §1.4, §1.6) with
 * simulated time and fake connections. Each test client is played here: it
 * builds its ClientInfo with the handshake code and parses what the relay
 * writes with the frame reader, pulling output in odd-sized chunks so frames
 * arrive split as a socket would split them. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "derp/relay.h"

#define SEC 1000000000ull
#define T0 (100 * SEC)   /* any non-zero start */
#define MAX_CLIENTS 32
#define CHUNK 1000       /* output pulled in pieces that split frames */

/* ---- a world: one relay, its fake I/O layer, and the clients it plays ---- */

struct client {
    struct world *w;
    struct derp_relay_conn *rc;   /* NULL once closed */
    struct derp_keypair kp;
    struct derp_reader rd;
    uint8_t in[CHUNK];
    size_t in_len, in_off;
    int want_write;
    bool closed;
    char why[64];
};

struct world {
    struct derp_relay *r;
    struct derp_keypair server;
    struct client clients[MAX_CLIENTS];
    int n;
    const uint8_t *deny;          /* admission refuses this key */
    char admit_source[64];
    int admits;
};

static void op_want_write(void *ctx, void *io_conn)
{
    struct client *c = io_conn;
    c->want_write++;
}

static void op_close(void *ctx, void *io_conn, const char *why)
{
    struct client *c = io_conn;
    assert_false(c->closed);
    c->closed = true;
    c->rc = NULL;
    snprintf(c->why, sizeof c->why, "%s", why);
}

static bool op_admit(void *ctx, const uint8_t client_pub[DERP_KEY_LEN], const char *source)
{
    struct world *w = ctx;
    w->admits++;
    snprintf(w->admit_source, sizeof w->admit_source, "%s", source);
    return !(w->deny && memcmp(w->deny, client_pub, DERP_KEY_LEN) == 0);
}

static struct world *world_new(bool with_admit)
{
    struct world *w = calloc(1, sizeof *w);
    assert_non_null(w);
    derp_keypair_generate(&w->server);
    struct derp_relay_ops ops = { .ctx = w, .want_write = op_want_write, .close = op_close,
                                  .admit = with_admit ? op_admit : NULL };
    w->r = derp_relay_new(&w->server, &ops, T0);
    assert_non_null(w->r);
    return w;
}

static int setup(void **state)
{
    *state = world_new(true);
    return 0;
}

static int teardown(void **state)
{
    struct world *w = *state;
    for (int i = 0; i < w->n; i++)
        derp_reader_free(&w->clients[i].rd);
    derp_relay_free(w->r);
    free(w);
    return 0;
}

static const struct derp_relay_stats *stats(struct world *w)
{
    return derp_relay_stats(w->r);
}

/* ---- playing a client ---------------------------------------------------- */

/* Accepted, not yet greeted; kp given to reuse a key (duplicates). */
static struct client *client_accept(struct world *w, const struct derp_keypair *kp, uint64_t now)
{
    assert_true(w->n < MAX_CLIENTS);
    struct client *c = &w->clients[w->n++];
    c->w = w;
    if (kp)
        c->kp = *kp;
    else
        derp_keypair_generate(&c->kp);
    derp_reader_init(&c->rd, DERP_CLIENT_MAX_FRAME);
    c->rc = derp_relay_accept(w->r, c, "192.0.2.7", now);
    assert_non_null(c->rc);
    return c;
}

static void input(struct client *c, const uint8_t *buf, size_t len, uint64_t now)
{
    assert_non_null(c->rc);
    derp_relay_input(c->w->r, c->rc, buf, len, now);
}

static void send_client_info(struct client *c, uint64_t now)
{
    uint8_t frame[512];
    struct derp_client_info info = { .version = 2, .can_ack_pings = true };
    size_t n = derp_build_client_info(frame, sizeof frame, &c->kp, c->w->server.pub, &info, NULL);
    assert_true(n > 0);
    input(c, frame, n, now);
}

/* The next frame the relay has for c, pulling output as needed; false when
 * nothing is pending. The payload lives until the next call. */
static bool next_frame(struct client *c, struct derp_frame *f)
{
    memset(f, 0, sizeof *f);
    for (;;) {
        if (c->in_off < c->in_len) {
            size_t used = 0;
            enum derp_read_status st =
                derp_reader_next(&c->rd, c->in + c->in_off, c->in_len - c->in_off, &used, f);
            c->in_off += used;
            assert_int_not_equal(st, DERP_READ_TOO_LONG);
            if (st == DERP_READ_FRAME)
                return true;
            continue;
        }
        if (!c->rc)
            return false;
        c->in_len = derp_relay_output(c->w->r, c->rc, c->in, sizeof c->in);
        c->in_off = 0;
        if (c->in_len == 0) {
            assert_false(derp_relay_has_output(c->rc));
            return false;
        }
    }
}

static void expect_type(struct client *c, uint8_t type, struct derp_frame *f)
{
    assert_true(next_frame(c, f));
    assert_int_equal(f->type, type);
}

static void expect_nothing(struct client *c)
{
    struct derp_frame f;
    assert_false(next_frame(c, &f));
}

static void expect_greeting(struct client *c)
{
    struct derp_frame f;
    uint8_t pub[DERP_KEY_LEN];
    struct derp_server_info si;

    expect_type(c, DERP_FRAME_SERVER_KEY, &f);
    assert_int_equal(derp_parse_server_key(&f, pub), 0);
    assert_memory_equal(pub, c->w->server.pub, DERP_KEY_LEN);
    expect_type(c, DERP_FRAME_SERVER_INFO, &f);
    assert_int_equal(derp_open_server_info(&f, &c->kp, c->w->server.pub, &si), 0);
    assert_int_equal(si.version, 2);
}

static struct client *client_connect(struct world *w, const struct derp_keypair *kp, uint64_t now)
{
    struct client *c = client_accept(w, kp, now);
    send_client_info(c, now);
    assert_non_null(c->rc);
    expect_greeting(c);
    return c;
}

static void send_frame(struct client *c, uint8_t type, const uint8_t *payload, size_t len, uint64_t now)
{
    uint8_t *frame = malloc(DERP_FRAME_HEADER_LEN + len + 1);
    assert_non_null(frame);
    derp_write_header(frame, DERP_FRAME_HEADER_LEN, type, (uint32_t)len);
    if (len)
        memcpy(frame + DERP_FRAME_HEADER_LEN, payload, len);
    input(c, frame, DERP_FRAME_HEADER_LEN + len, now);
    free(frame);
}

static void send_packet(struct client *c, const uint8_t dst[DERP_KEY_LEN], const uint8_t *pkt, size_t len,
                        uint64_t now)
{
    uint8_t *payload = malloc(DERP_KEY_LEN + len + 1);
    assert_non_null(payload);
    memcpy(payload, dst, DERP_KEY_LEN);
    if (len)
        memcpy(payload + DERP_KEY_LEN, pkt, len);
    send_frame(c, DERP_FRAME_SEND_PACKET, payload, DERP_KEY_LEN + len, now);
    free(payload);
}

static void expect_packet(struct client *c, const uint8_t src[DERP_KEY_LEN], const uint8_t *pkt, size_t len)
{
    struct derp_frame f;
    const uint8_t *key, *got;
    size_t got_len;

    expect_type(c, DERP_FRAME_RECV_PACKET, &f);
    assert_int_equal(derp_parse_packet(&f, &key, &got, &got_len), 0);
    assert_memory_equal(key, src, DERP_KEY_LEN);
    assert_int_equal(got_len, len);
    if (len)
        assert_memory_equal(got, pkt, len);
}

static void expect_peer_gone(struct client *c, const uint8_t peer[DERP_KEY_LEN], uint8_t reason)
{
    struct derp_frame f;
    uint8_t key[DERP_KEY_LEN], why;

    expect_type(c, DERP_FRAME_PEER_GONE, &f);
    assert_int_equal(derp_parse_peer_gone(&f, key, &why), 0);
    assert_memory_equal(key, peer, DERP_KEY_LEN);
    assert_int_equal(why, reason);
}

/* A payload that passes LooksLikeDiscoWrapper (§3.1): magic, 32 + 24 bytes, a box. */
static size_t disco_payload(uint8_t *out, uint8_t tag)
{
    static const uint8_t magic[6] = { 'T', 'S', 0xf0, 0x9f, 0x92, 0xac };
    memset(out, tag, 100);
    memcpy(out, magic, sizeof magic);
    return 100;
}

static void fill(uint8_t *p, size_t len, uint32_t seed)
{
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)((size_t)seed * 31 + i * 7 + (i >> 8));
}

/* ---- handshake ----------------------------------------------------------- */

static void test_handshake_happy_path(void **state)
{
    struct world *w = *state;
    struct client *c = client_accept(w, NULL, T0);
    uint8_t head[45];

    /* ServerKey is queued at accept: §1.4's example first bytes. */
    assert_int_equal(c->want_write, 1);
    assert_true(derp_relay_has_output(c->rc));
    assert_int_equal(derp_relay_output(w->r, c->rc, head, sizeof head), 45);
    assert_memory_equal(head, "\x01\x00\x00\x00\x28" "DERP\xF0\x9F\x94\x91", 13);
    assert_memory_equal(head + 13, w->server.pub, DERP_KEY_LEN);
    assert_int_equal(derp_relay_output(w->r, c->rc, head, sizeof head), 0);
    assert_false(derp_relay_has_client(w->r, c->kp.pub));

    send_client_info(c, T0 + SEC);
    assert_false(c->closed);
    assert_int_equal(w->admits, 1);
    assert_string_equal(w->admit_source, "192.0.2.7");
    assert_true(derp_relay_has_client(w->r, c->kp.pub));
    struct derp_frame f;
    struct derp_server_info si;
    expect_type(c, DERP_FRAME_SERVER_INFO, &f);
    assert_int_equal(f.len, 24 + 16 + 13);   /* {"version":2} boxed, §1.4 */
    assert_int_equal(derp_open_server_info(&f, &c->kp, w->server.pub, &si), 0);
    assert_int_equal(si.version, 2);
    expect_nothing(c);
    assert_int_equal(stats(w)->clients_current, 1);
    assert_int_equal(stats(w)->clients_total, 1);
}

/* A client need not wait for ServerInfo (§1.4): ClientInfo and a packet in
 * one read, and the peer's disco packet racing the greeting, still leave
 * ServerKey and ServerInfo first. */
static void test_handshake_greeting_comes_first(void **state)
{
    struct world *w = *state;
    struct client *b = client_connect(w, NULL, T0);
    struct client *a = client_accept(w, NULL, T0);
    uint8_t buf[1024], disco[100];
    struct derp_client_info info = { .version = 2 };
    size_t n = derp_build_client_info(buf, sizeof buf, &a->kp, w->server.pub, &info, NULL);
    const uint8_t pkt[3] = { 1, 2, 3 };

    derp_write_packet_prefix(buf + n, sizeof buf - n, DERP_FRAME_SEND_PACKET, b->kp.pub, sizeof pkt);
    memcpy(buf + n + 37, pkt, sizeof pkt);
    input(a, buf, n + 37 + sizeof pkt, T0);
    size_t dl = disco_payload(disco, 9);
    send_packet(b, a->kp.pub, disco, dl, T0);

    expect_greeting(a);
    expect_packet(a, b->kp.pub, disco, dl);
    expect_packet(b, a->kp.pub, pkt, sizeof pkt);
}

static void test_handshake_bad_client_info(void **state)
{
    struct world *w = *state;
    struct derp_keypair other;
    uint8_t frame[512];
    struct derp_client_info info = { .version = 2 };
    derp_keypair_generate(&other);

    /* Boxed to another server's key: the box does not open. */
    struct client *c = client_accept(w, NULL, T0);
    size_t n = derp_build_client_info(frame, sizeof frame, &c->kp, other.pub, &info, NULL);
    input(c, frame, n, T0);
    assert_true(c->closed);

    /* A flipped byte in the box. */
    c = client_accept(w, NULL, T0);
    n = derp_build_client_info(frame, sizeof frame, &c->kp, w->server.pub, &info, NULL);
    frame[n - 1] ^= 1;
    input(c, frame, n, T0);
    assert_true(c->closed);

    /* Shorter than 56 bytes. */
    c = client_accept(w, NULL, T0);
    memset(frame, 0, sizeof frame);
    send_frame(c, DERP_FRAME_CLIENT_INFO, frame, 40, T0);
    assert_true(c->closed);

    /* Anything but ClientInfo first: a SendPacket. */
    c = client_accept(w, NULL, T0);
    send_frame(c, DERP_FRAME_SEND_PACKET, frame, 40, T0);
    assert_true(c->closed);

    /* A header announcing more than 256 KiB: closed before any payload. */
    c = client_accept(w, NULL, T0);
    derp_write_header(frame, sizeof frame, DERP_FRAME_CLIENT_INFO, DERP_CLIENT_INFO_MAX + 1);
    input(c, frame, DERP_FRAME_HEADER_LEN, T0);
    assert_true(c->closed);

    assert_int_equal(stats(w)->handshakes_failed, 5);
    assert_int_equal(stats(w)->clients_current, 0);
    assert_int_equal(w->admits, 0);
}

static void test_handshake_timeout(void **state)
{
    struct world *w = *state;
    struct client *slow = client_accept(w, NULL, T0);
    struct client *done = client_connect(w, NULL, T0 + SEC);

    assert_int_equal(derp_relay_tick(w->r, T0), T0 + 10 * SEC);
    assert_int_equal(derp_relay_tick(w->r, T0 + 10 * SEC - 1), T0 + 10 * SEC);
    assert_false(slow->closed);
    uint64_t next = derp_relay_tick(w->r, T0 + 10 * SEC);
    assert_true(slow->closed);
    assert_string_equal(slow->why, "handshake timeout");
    assert_int_equal(stats(w)->handshakes_timed_out, 1);
    /* Only the registered client's keepalive is left. */
    assert_true(next >= T0 + SEC + 60 * SEC && next < T0 + SEC + 65 * SEC);
    assert_false(done->closed);
}

static void test_admission_rejected(void **state)
{
    struct world *w = *state;
    struct client *c = client_accept(w, NULL, T0);

    w->deny = c->kp.pub;
    send_client_info(c, T0);
    assert_true(c->closed);
    assert_int_equal(stats(w)->accepts_rejected, 1);
    assert_int_equal(stats(w)->clients_current, 0);
    assert_false(derp_relay_has_client(w->r, c->kp.pub));
    struct client *ok = client_connect(w, NULL, T0);
    assert_false(ok->closed);
    assert_int_equal(w->admits, 2);
}

/* ---- relaying ------------------------------------------------------------ */

static void test_exchange_packet_sizes(void **state)
{
    struct world *w = *state;
    struct client *a = client_connect(w, NULL, T0);
    struct client *b = client_connect(w, NULL, T0);
    static uint8_t pkt[DERP_MAX_PACKET_SIZE];
    const size_t sizes[] = { 1, 1300, DERP_MAX_PACKET_SIZE };
    uint64_t bytes = 0;

    for (size_t i = 0; i < 3; i++) {
        fill(pkt, sizes[i], (uint32_t)i);
        send_packet(a, b->kp.pub, pkt, sizes[i], T0);
        expect_packet(b, a->kp.pub, pkt, sizes[i]);
        fill(pkt, sizes[i], (uint32_t)i + 100);
        send_packet(b, a->kp.pub, pkt, sizes[i], T0);
        expect_packet(a, b->kp.pub, pkt, sizes[i]);
        bytes += 2 * sizes[i];
    }
    expect_nothing(a);
    expect_nothing(b);
    assert_int_equal(stats(w)->packets_relayed, 6);
    assert_int_equal(stats(w)->bytes_relayed, bytes);
}

/* Output one byte at a time and input one byte at a time still make frames. */
static void test_byte_at_a_time(void **state)
{
    struct world *w = *state;
    struct client *a = client_connect(w, NULL, T0);
    struct client *b = client_connect(w, NULL, T0);
    uint8_t frame[37 + 300], pkt[300], got[400];
    size_t n = 0;

    fill(pkt, sizeof pkt, 7);
    derp_write_packet_prefix(frame, sizeof frame, DERP_FRAME_SEND_PACKET, b->kp.pub, sizeof pkt);
    memcpy(frame + 37, pkt, sizeof pkt);
    for (size_t i = 0; i < sizeof frame; i++)
        input(a, frame + i, 1, T0);
    while (n < sizeof got && derp_relay_output(w->r, b->rc, got + n, 1) == 1)
        n++;
    assert_int_equal(n, sizeof frame);
    assert_int_equal(got[0], DERP_FRAME_RECV_PACKET);
    assert_memory_equal(got + 5, a->kp.pub, DERP_KEY_LEN);
    assert_memory_equal(got + 37, pkt, sizeof pkt);
}

static void test_oversized_packet_closes(void **state)
{
    struct world *w = *state;
    struct client *a = client_connect(w, NULL, T0);
    struct client *b = client_connect(w, NULL, T0);
    static uint8_t pkt[DERP_MAX_PACKET_SIZE + 1];

    send_packet(a, b->kp.pub, pkt, sizeof pkt, T0);
    assert_true(a->closed);
    assert_string_equal(a->why, "oversized packet");
    assert_int_equal(stats(w)->drop_bad_frame, 1);
    assert_false(b->closed);
    expect_nothing(b);
    assert_false(derp_relay_has_client(w->r, a->kp.pub));
}

static void test_unknown_destination(void **state)
{
    struct world *w = *state;
    struct client *a = client_connect(w, NULL, T0);
    uint8_t nobody[DERP_KEY_LEN], disco[100];
    const uint8_t data[64] = { 0 };
    size_t dl = disco_payload(disco, 1);

    memset(nobody, 0x5a, sizeof nobody);
    /* Non-disco: dropped without a word. */
    send_packet(a, nobody, data, sizeof data, T0);
    expect_nothing(a);
    assert_int_equal(stats(w)->drop_unknown_dest, 1);
    assert_int_equal(stats(w)->peer_gone_sent, 0);

    /* Disco: PeerGone(NotHere), burst 3 then 1/s. */
    for (int i = 0; i < 5; i++)
        send_packet(a, nobody, disco, dl, T0);
    for (int i = 0; i < 3; i++)
        expect_peer_gone(a, nobody, DERP_PEER_GONE_NOT_HERE);
    expect_nothing(a);
    assert_int_equal(stats(w)->peer_gone_ratelimited, 2);
    send_packet(a, nobody, disco, dl, T0 + SEC / 2);
    expect_nothing(a);
    send_packet(a, nobody, disco, dl, T0 + SEC);
    send_packet(a, nobody, disco, dl, T0 + SEC);
    expect_peer_gone(a, nobody, DERP_PEER_GONE_NOT_HERE);
    expect_nothing(a);
    assert_int_equal(stats(w)->peer_gone_ratelimited, 4);
    /* Quiet for a long time: the burst is back, and no more than it. */
    for (int i = 0; i < 4; i++)
        send_packet(a, nobody, disco, dl, T0 + 30 * SEC);
    for (int i = 0; i < 3; i++)
        expect_peer_gone(a, nobody, DERP_PEER_GONE_NOT_HERE);
    expect_nothing(a);
    assert_int_equal(stats(w)->peer_gone_sent, 7);
    assert_int_equal(stats(w)->peer_gone_ratelimited, 5);
    assert_int_equal(stats(w)->drop_unknown_dest, 13);
    assert_false(a->closed);
}

static void test_peer_gone_disconnected(void **state)
{
    struct world *w = *state;
    struct client *a = client_connect(w, NULL, T0);
    struct client *b = client_connect(w, NULL, T0);
    struct client *c = client_connect(w, NULL, T0);
    struct client *a2 = client_connect(w, &a->kp, T0);   /* a second connection of a's key */
    const uint8_t pkt[10] = { 0 };

    send_packet(a2, b->kp.pub, pkt, sizeof pkt, T0);
    expect_packet(b, a->kp.pub, pkt, sizeof pkt);
    send_packet(c, a->kp.pub, pkt, sizeof pkt, T0);   /* a heard from c, c not from a */
    expect_packet(a2, c->kp.pub, pkt, sizeof pkt);

    /* One of a's connections leaves: the key is still here. */
    derp_relay_closed(w->r, a2->rc, T0);
    a2->rc = NULL;
    expect_nothing(b);
    /* The last one leaves: b, who heard from a, is told; c is not. */
    derp_relay_closed(w->r, a->rc, T0);
    a->rc = NULL;
    expect_peer_gone(b, a->kp.pub, DERP_PEER_GONE_DISCONNECTED);
    expect_nothing(b);
    expect_nothing(c);
    /* c leaves; a heard from c but is gone: nothing breaks. */
    derp_relay_closed(w->r, c->rc, T0);
    c->rc = NULL;
    expect_nothing(b);
    assert_int_equal(stats(w)->clients_current, 1);
}

/* PeerGone goes to the connection that got the packets, as Go's connNum. */
static void test_peer_gone_follows_connection(void **state)
{
    struct world *w = *state;
    struct client *a = client_connect(w, NULL, T0);
    struct client *b = client_connect(w, NULL, T0);
    const uint8_t pkt[10] = { 0 };

    send_packet(a, b->kp.pub, pkt, sizeof pkt, T0);
    expect_packet(b, a->kp.pub, pkt, sizeof pkt);
    derp_relay_closed(w->r, b->rc, T0);
    b->rc = NULL;
    struct client *b2 = client_connect(w, &b->kp, T0);   /* b reconnects, never hears from a */
    derp_relay_closed(w->r, a->rc, T0);
    a->rc = NULL;
    expect_nothing(b2);
}

/* Receivers that left are pruned from the sender's set as it grows; those
 * still there hear PeerGone when it leaves. */
static void test_peer_gone_after_churn(void **state)
{
    struct world *w = *state;
    struct client *a = client_connect(w, NULL, T0);
    struct client *gone[12], *here[12];
    const uint8_t pkt[3] = { 7, 7, 7 };

    for (int i = 0; i < 12; i++) {
        gone[i] = client_connect(w, NULL, T0);
        send_packet(a, gone[i]->kp.pub, pkt, sizeof pkt, T0);
        expect_packet(gone[i], a->kp.pub, pkt, sizeof pkt);
    }
    for (int i = 0; i < 12; i++) {
        derp_relay_closed(w->r, gone[i]->rc, T0);
        gone[i]->rc = NULL;
    }
    for (int i = 0; i < 12; i++) {
        here[i] = client_connect(w, NULL, T0);
        send_packet(a, here[i]->kp.pub, pkt, sizeof pkt, T0);
        expect_packet(here[i], a->kp.pub, pkt, sizeof pkt);
    }
    expect_nothing(a);
    derp_relay_closed(w->r, a->rc, T0);
    a->rc = NULL;
    for (int i = 0; i < 12; i++) {
        expect_peer_gone(here[i], a->kp.pub, DERP_PEER_GONE_DISCONNECTED);
        expect_nothing(here[i]);
    }
    assert_int_equal(stats(w)->peer_gone_sent, 12);
}

static void test_queue_overflow_drops_oldest(void **state)
{
    struct world *w = *state;
    struct client *a = client_connect(w, NULL, T0);
    struct client *b = client_connect(w, NULL, T0);
    const int total = DERP_RELAY_QUEUE_DEPTH + 88;
    uint8_t pkt[40];

    for (int i = 0; i < total; i++) {
        memset(pkt, 0, sizeof pkt);
        memcpy(pkt, &i, sizeof i);
        send_packet(a, b->kp.pub, pkt, sizeof pkt, T0);
    }
    assert_int_equal(stats(w)->drop_queue_head, 88);
    for (int i = 88; i < total; i++) {
        memset(pkt, 0, sizeof pkt);
        memcpy(pkt, &i, sizeof i);
        expect_packet(b, a->kp.pub, pkt, sizeof pkt);
    }
    expect_nothing(b);
    assert_int_equal(stats(w)->packets_relayed, DERP_RELAY_QUEUE_DEPTH);
}

/* A frame half written when the queue overflows is finished, not torn. */
static void test_overflow_keeps_frame_in_flight(void **state)
{
    struct world *w = *state;
    struct client *a = client_connect(w, NULL, T0);
    struct client *b = client_connect(w, NULL, T0);
    uint8_t pkt[200], head[10];

    fill(pkt, sizeof pkt, 1);
    send_packet(a, b->kp.pub, pkt, sizeof pkt, T0);
    assert_int_equal(derp_relay_output(w->r, b->rc, head, sizeof head), sizeof head);
    for (int i = 0; i < DERP_RELAY_QUEUE_DEPTH + 5; i++)
        send_packet(a, b->kp.pub, pkt, sizeof pkt, T0);
    /* Feed the 10 bytes already taken to b's reader, then read on. */
    size_t used;
    struct derp_frame f;
    assert_int_equal(derp_reader_next(&b->rd, head, sizeof head, &used, &f), DERP_READ_MORE);
    for (int i = 0; i < DERP_RELAY_QUEUE_DEPTH + 1; i++)
        expect_packet(b, a->kp.pub, pkt, sizeof pkt);
    expect_nothing(b);
    assert_int_equal(stats(w)->drop_queue_head, 5);
}

/* The queue is bounded in bytes too: 64 KiB packets fit 31 to the 2 MiB. */
static void test_queue_byte_bound(void **state)
{
    struct world *w = *state;
    struct client *a = client_connect(w, NULL, T0);
    struct client *b = client_connect(w, NULL, T0);
    static uint8_t pkt[DERP_MAX_PACKET_SIZE];
    const size_t frame = DERP_FRAME_HEADER_LEN + DERP_KEY_LEN + sizeof pkt;
    const int fit = (int)(DERP_RELAY_QUEUE_BYTES / frame);

    for (int i = 0; i < 40; i++) {
        memcpy(pkt, &i, sizeof i);
        send_packet(a, b->kp.pub, pkt, sizeof pkt, T0);
    }
    assert_int_equal(stats(w)->drop_queue_head, 40 - fit);
    for (int i = 40 - fit; i < 40; i++) {
        memcpy(pkt, &i, sizeof i);
        expect_packet(b, a->kp.pub, pkt, sizeof pkt);
    }
    expect_nothing(b);
}

static void test_disco_queue_first(void **state)
{
    struct world *w = *state;
    struct client *a = client_connect(w, NULL, T0);
    struct client *b = client_connect(w, NULL, T0);
    uint8_t d1[8] = { 1 }, d2[8] = { 2 }, p1[100], p2[100];
    size_t l1 = disco_payload(p1, 1), l2 = disco_payload(p2, 2);

    send_packet(a, b->kp.pub, d1, sizeof d1, T0);
    send_packet(a, b->kp.pub, p1, l1, T0);
    send_packet(a, b->kp.pub, d2, sizeof d2, T0);
    send_packet(a, b->kp.pub, p2, l2, T0);
    expect_packet(b, a->kp.pub, p1, l1);
    expect_packet(b, a->kp.pub, p2, l2);
    expect_packet(b, a->kp.pub, d1, sizeof d1);
    expect_packet(b, a->kp.pub, d2, sizeof d2);
    assert_int_equal(stats(w)->disco_packets_relayed, 2);

    /* A full data queue does not crowd out disco. */
    for (int i = 0; i < DERP_RELAY_QUEUE_DEPTH + 10; i++)
        send_packet(a, b->kp.pub, d1, sizeof d1, T0);
    send_packet(a, b->kp.pub, p1, l1, T0);
    expect_packet(b, a->kp.pub, p1, l1);
    assert_int_equal(stats(w)->drop_queue_head, 10);
}

static void test_ping_pong(void **state)
{
    struct world *w = *state;
    struct client *a = client_connect(w, NULL, T0);
    uint8_t ping[20];
    struct derp_frame f;

    for (int i = 0; i < 20; i++)
        ping[i] = (uint8_t)(i + 1);
    send_frame(a, DERP_FRAME_PING, ping, 8, T0);
    expect_type(a, DERP_FRAME_PONG, &f);
    assert_int_equal(f.len, 8);
    assert_memory_equal(f.payload, ping, 8);
    /* Extra bytes are discarded: the pong echoes the first 8. */
    send_frame(a, DERP_FRAME_PING, ping + 4, 16, T0);
    expect_type(a, DERP_FRAME_PONG, &f);
    assert_int_equal(f.len, 8);
    assert_memory_equal(f.payload, ping + 4, 8);
    expect_nothing(a);

    /* A flood while the pong waits: one pong, the rest ignored. */
    for (int i = 0; i < 10; i++)
        send_frame(a, DERP_FRAME_PING, ping + i, 8, T0);
    expect_type(a, DERP_FRAME_PONG, &f);
    assert_memory_equal(f.payload, ping, 8);
    expect_nothing(a);
    send_frame(a, DERP_FRAME_PING, ping + 3, 8, T0);
    expect_type(a, DERP_FRAME_PONG, &f);
    assert_memory_equal(f.payload, ping + 3, 8);
    assert_int_equal(stats(w)->pings_answered, 4);
    assert_false(a->closed);
}

static void test_ping_bad_lengths(void **state)
{
    struct world *w = *state;
    struct client *a = client_connect(w, NULL, T0);
    struct client *b = client_connect(w, NULL, T0);
    static uint8_t big[DERP_PING_MAX_LEN + 1];

    send_frame(a, DERP_FRAME_PING, big, DERP_PING_MAX_LEN, T0);   /* 1000: fine */
    assert_false(a->closed);
    send_frame(a, DERP_FRAME_PING, big, 7, T0);
    assert_true(a->closed);
    send_frame(b, DERP_FRAME_PING, big, DERP_PING_MAX_LEN + 1, T0);
    assert_true(b->closed);
    assert_int_equal(stats(w)->drop_bad_frame, 2);
}

static void test_note_preferred(void **state)
{
    struct world *w = *state;
    struct client *a = client_connect(w, NULL, T0);
    const uint8_t one[2] = { 1, 1 }, zero = 0;

    send_frame(a, DERP_FRAME_NOTE_PREFERRED, one, 1, T0);
    assert_int_equal(stats(w)->clients_home, 1);
    send_frame(a, DERP_FRAME_NOTE_PREFERRED, one, 1, T0);
    assert_int_equal(stats(w)->clients_home, 1);
    send_frame(a, DERP_FRAME_NOTE_PREFERRED, &zero, 1, T0);
    assert_int_equal(stats(w)->clients_home, 0);
    send_frame(a, DERP_FRAME_NOTE_PREFERRED, one, 1, T0);
    assert_int_equal(stats(w)->clients_home, 1);
    expect_nothing(a);
    send_frame(a, DERP_FRAME_NOTE_PREFERRED, one, 2, T0);
    assert_true(a->closed);
    assert_int_equal(stats(w)->clients_home, 0);
    assert_int_equal(stats(w)->drop_bad_frame, 1);
}

/* Unknown types are skipped (§1.2), and so are the server's own frames sent back. */
static void test_unknown_frames_skipped(void **state)
{
    struct world *w = *state;
    struct client *a = client_connect(w, NULL, T0);
    struct client *b = client_connect(w, NULL, T0);
    uint8_t junk[300] = { 0 };
    const uint8_t pkt[5] = { 9, 9, 9, 9, 9 };

    send_frame(a, 0x42, junk, sizeof junk, T0);
    send_frame(a, DERP_FRAME_KEEP_ALIVE, NULL, 0, T0);
    send_frame(a, DERP_FRAME_HEALTH, junk, 10, T0);
    send_frame(a, DERP_FRAME_CLIENT_INFO, junk, 100, T0);
    assert_false(a->closed);
    send_packet(a, b->kp.pub, pkt, sizeof pkt, T0);
    expect_packet(b, a->kp.pub, pkt, sizeof pkt);
    expect_nothing(a);
}

static void test_keepalive_timing(void **state)
{
    struct world *w = *state;
    struct client *c[10];
    uint64_t first[10];
    struct derp_frame f;
    bool differ = false;

    for (int i = 0; i < 10; i++)
        c[i] = client_connect(w, NULL, T0);
    /* Each client's first keepalive lands in [60 s, 65 s) after it joined. */
    uint64_t now = T0, next;
    int seen = 0;
    while (seen < 10 && (next = derp_relay_tick(w->r, now)) != UINT64_MAX) {
        assert_true(next > now);
        now = next;
        derp_relay_tick(w->r, now);
        for (int i = 0; i < 10; i++) {
            if (c[i]->in_len == c[i]->in_off && derp_relay_has_output(c[i]->rc) && next_frame(c[i], &f)) {
                assert_int_equal(f.type, DERP_FRAME_KEEP_ALIVE);
                assert_int_equal(f.len, 0);
                first[i] = now;
                seen++;
            }
        }
    }
    assert_int_equal(seen, 10);
    for (int i = 0; i < 10; i++) {
        assert_true(first[i] >= T0 + 60 * SEC && first[i] < T0 + 65 * SEC);
        differ |= first[i] != first[0];
    }
    assert_true(differ);   /* the jitter is per client */

    /* The period repeats, and a keepalive nobody read is not doubled. */
    uint64_t period = first[0] - T0;
    derp_relay_tick(w->r, first[0] + period - 1);
    expect_nothing(c[0]);
    derp_relay_tick(w->r, first[0] + period);
    derp_relay_tick(w->r, first[0] + 2 * period);
    expect_type(c[0], DERP_FRAME_KEEP_ALIVE, &f);
    expect_nothing(c[0]);
    /* Ten first ones, then one more each: the third finds the second unread. */
    assert_int_equal(stats(w)->keepalives_sent, 10 + 10);
}

/* ---- duplicate connections ---------------------------------------------- */

static void test_newest_connection_wins(void **state)
{
    struct world *w = *state;
    struct client *b = client_connect(w, NULL, T0);
    struct client *old = client_connect(w, NULL, T0);
    struct client *young = client_connect(w, &old->kp, T0 + SEC);
    const uint8_t pkt[4] = { 4, 3, 2, 1 };

    assert_int_equal(stats(w)->clients_current, 3);
    send_packet(b, old->kp.pub, pkt, sizeof pkt, T0);
    expect_packet(young, b->kp.pub, pkt, sizeof pkt);
    expect_nothing(old);
    assert_false(old->closed);

    /* The old one speaks: the latest writer has the floor (lastWriterIsActive). */
    send_packet(old, b->kp.pub, pkt, sizeof pkt, T0);
    expect_packet(b, old->kp.pub, pkt, sizeof pkt);
    send_packet(b, old->kp.pub, pkt, sizeof pkt, T0);
    expect_packet(old, b->kp.pub, pkt, sizeof pkt);
    expect_nothing(young);

    /* The active one leaves: the lone one left is active. */
    derp_relay_closed(w->r, old->rc, T0);
    old->rc = NULL;
    assert_true(derp_relay_has_client(w->r, young->kp.pub));
    send_packet(b, young->kp.pub, pkt, sizeof pkt, T0);
    expect_packet(young, b->kp.pub, pkt, sizeof pkt);
    expect_nothing(b);   /* no PeerGone: the key never left */
}

static void test_duplicates_without_active(void **state)
{
    struct world *w = *state;
    struct client *b = client_connect(w, NULL, T0);
    struct client *k1 = client_connect(w, NULL, T0);
    struct client *k2 = client_connect(w, &k1->kp, T0);
    struct client *k3 = client_connect(w, &k1->kp, T0);
    const uint8_t pkt[4] = { 1 };

    derp_relay_closed(w->r, k3->rc, T0);   /* the active one */
    k3->rc = NULL;
    assert_false(derp_relay_has_client(w->r, k1->kp.pub));
    send_packet(b, k1->kp.pub, pkt, sizeof pkt, T0);
    assert_int_equal(stats(w)->drop_inactive_dup, 1);
    expect_nothing(b);   /* not "not here": the key is connected */
    send_frame(k1, DERP_FRAME_SEND_PACKET, k1->kp.pub, DERP_KEY_LEN, T0);   /* k1 speaks (to itself) */
    expect_packet(k1, k1->kp.pub, NULL, 0);
    send_packet(b, k1->kp.pub, pkt, sizeof pkt, T0);
    expect_packet(k1, b->kp.pub, pkt, sizeof pkt);
    expect_nothing(k2);
}

/* ---- misbehaving clients ------------------------------------------------- */

static void test_mesh_frames_refused(void **state)
{
    struct world *w = *state;
    const uint8_t types[] = { DERP_FRAME_FORWARD_PACKET, DERP_FRAME_WATCH_CONNS, DERP_FRAME_CLOSE_PEER };
    uint8_t payload[100] = { 0 };
    const size_t lens[] = { 80, 0, 32 };

    for (int i = 0; i < 3; i++) {
        struct client *c = client_connect(w, NULL, T0);
        send_frame(c, types[i], payload, lens[i], T0);
        assert_true(c->closed);
        assert_string_equal(c->why, "insufficient permissions");
    }
    assert_int_equal(stats(w)->mesh_frames_refused, 3);
    assert_int_equal(stats(w)->clients_current, 0);
}

static void test_garbage_closes_only_sender(void **state)
{
    struct world *w = *state;
    struct client *a = client_connect(w, NULL, T0);
    struct client *b = client_connect(w, NULL, T0);
    struct client *c = client_connect(w, NULL, T0);
    uint8_t garbage[64], pkt[1300];

    fill(pkt, sizeof pkt, 3);
    send_packet(a, b->kp.pub, pkt, sizeof pkt, T0);   /* b heard from a */
    expect_packet(b, a->kp.pub, pkt, sizeof pkt);
    /* A SendPacket too short for its key, then noise. */
    memset(garbage, 0xff, sizeof garbage);
    send_frame(a, DERP_FRAME_SEND_PACKET, garbage, 10, T0);
    assert_true(a->closed);
    assert_int_equal(stats(w)->drop_bad_frame, 1);
    expect_peer_gone(b, a->kp.pub, DERP_PEER_GONE_DISCONNECTED);

    /* Random bytes whose "header" claims a 4 GiB frame. */
    struct client *d = client_connect(w, NULL, T0);
    input(d, garbage, sizeof garbage, T0);
    assert_true(d->closed);
    assert_int_equal(stats(w)->drop_bad_frame, 2);

    for (int i = 0; i < 50; i++) {
        fill(pkt, sizeof pkt, (uint32_t)i);
        send_packet(b, c->kp.pub, pkt, sizeof pkt, T0);
        send_packet(c, b->kp.pub, pkt, sizeof pkt, T0);
        expect_packet(c, b->kp.pub, pkt, sizeof pkt);
        expect_packet(b, c->kp.pub, pkt, sizeof pkt);
    }
    assert_false(b->closed);
    assert_false(c->closed);
    assert_int_equal(stats(w)->clients_current, 2);
}

/* ---- memory -------------------------------------------------------------- */

/* Bytes the allocator has handed out: ASan's own count when it replaced
 * malloc (its mallinfo2 says nothing), glibc's otherwise. */
size_t __sanitizer_get_current_allocated_bytes(void) __attribute__((weak));

static size_t heap_in_use(void)
{
    if (__sanitizer_get_current_allocated_bytes)
        return __sanitizer_get_current_allocated_bytes();
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

/* A client that sent one 64 KiB packet and then went quiet gives its reader's
 * buffer back at the keepalive after a silent period. */
static void test_idle_reader_trimmed(void **state)
{
    struct world *w = *state;
    struct client *a = client_connect(w, NULL, T0);
    struct client *b = client_connect(w, NULL, T0);
    static uint8_t pkt[DERP_MAX_PACKET_SIZE];

    send_packet(a, b->kp.pub, pkt, sizeof pkt, T0);
    expect_packet(b, a->kp.pub, pkt, sizeof pkt);
    size_t busy = heap_in_use();
    derp_relay_tick(w->r, T0 + 66 * SEC);    /* a spoke in this period: kept */
    expect_type(a, DERP_FRAME_KEEP_ALIVE, &(struct derp_frame){ 0 });
    expect_type(b, DERP_FRAME_KEEP_ALIVE, &(struct derp_frame){ 0 });
    assert_true(heap_in_use() + 1000 > busy);
    derp_relay_tick(w->r, T0 + 131 * SEC);   /* silent for a whole period: trimmed */
    size_t idle = heap_in_use();
    printf("reader buffer given back: %zu bytes\n", busy - idle);
    assert_true(idle + DERP_MAX_PACKET_SIZE <= busy);
    /* And it still reads. */
    send_packet(a, b->kp.pub, pkt, 100, T0 + 131 * SEC);
    expect_type(b, DERP_FRAME_KEEP_ALIVE, &(struct derp_frame){ 0 });
    expect_packet(b, a->kp.pub, pkt, 100);
}

struct quiet {
    int closes;
};

static void quiet_want_write(void *ctx, void *io_conn) {}

static void quiet_close(void *ctx, void *io_conn, const char *why)
{
    ((struct quiet *)ctx)->closes++;
}

#define N_IDLE 10000

static void test_idle_client_memory(void **state)
{
    struct quiet q = { 0 };
    struct derp_relay_ops ops = { .ctx = &q, .want_write = quiet_want_write, .close = quiet_close };
    struct derp_keypair server, kp;
    struct derp_client_info info = { .version = 2, .can_ack_pings = true };
    uint8_t frame[512], out[4096];
    static struct derp_relay_conn *conns[N_IDLE];
    static uint8_t keys[N_IDLE][DERP_KEY_LEN];

    derp_keypair_generate(&server);
    struct derp_relay *r = derp_relay_new(&server, &ops, T0);
    assert_non_null(r);
    size_t before = heap_in_use();
    for (int i = 0; i < N_IDLE; i++) {
        conns[i] = derp_relay_accept(r, &conns[i], "198.51.100.1", T0);
        assert_non_null(conns[i]);
        derp_keypair_generate(&kp);
        memcpy(keys[i], kp.pub, DERP_KEY_LEN);
        size_t n = derp_build_client_info(frame, sizeof frame, &kp, server.pub, &info, NULL);
        derp_relay_input(r, conns[i], frame, n, T0);
        while (derp_relay_output(r, conns[i], out, sizeof out) > 0) {
        }
    }
    size_t after = heap_in_use();
    assert_int_equal(q.closes, 0);
    assert_int_equal(derp_relay_stats(r)->clients_current, N_IDLE);
    double per = (double)(after - before) / N_IDLE;
    printf("relay memory per idle client: %.0f bytes (%d clients, %zu bytes)\n", per, N_IDLE, after - before);
    assert_true(per < 16 * 1024);

    /* A keepalive round trims nothing more than it queues, and leaves all connected. */
    derp_relay_tick(r, T0 + 66 * SEC);
    assert_int_equal(derp_relay_stats(r)->keepalives_sent, N_IDLE);
    for (int i = 0; i < N_IDLE; i++)
        while (derp_relay_output(r, conns[i], out, sizeof out) > 0) {
        }
    for (int i = 0; i < N_IDLE; i += 2)
        derp_relay_closed(r, conns[i], T0 + 67 * SEC);
    assert_int_equal(derp_relay_stats(r)->clients_current, N_IDLE / 2);
    /* The table after 5,000 removals (backward-shift deletion) still finds everyone. */
    for (int i = 0; i < N_IDLE; i++)
        assert_int_equal(derp_relay_has_client(r, keys[i]), i % 2 == 1);
    derp_relay_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_handshake_happy_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_handshake_greeting_comes_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_handshake_bad_client_info, setup, teardown),
        cmocka_unit_test_setup_teardown(test_handshake_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_admission_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exchange_packet_sizes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_byte_at_a_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oversized_packet_closes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_destination, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peer_gone_disconnected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peer_gone_follows_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peer_gone_after_churn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_overflow_drops_oldest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overflow_keeps_frame_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_byte_bound, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disco_queue_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ping_pong, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ping_bad_lengths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_note_preferred, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_frames_skipped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keepalive_timing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_newest_connection_wins, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicates_without_active, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mesh_frames_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage_closes_only_sender, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_reader_trimmed, setup, teardown),
        cmocka_unit_test(test_idle_client_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
