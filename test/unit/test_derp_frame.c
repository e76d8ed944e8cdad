/* derp/ frames: every writer's exact bytes (tailscale-wire.md §1.2-1.3), the
 * incremental reader over every split of a multi-frame stream, its length cap
 * and buffer growth, each payload parser against the malformed shapes Go
 * rejects, and disco detection (§3.1). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test/unit/hex.h"

#include <stdlib.h>
#include <string.h>

#include "derp/frame.h"

#define KEY_HEX  "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define KEY2_HEX "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"

static uint8_t KEY[DERP_KEY_LEN], KEY2[DERP_KEY_LEN];
static const uint8_t ABC[3] = {'a', 'b', 'c'};

static int setup_keys(void **state)
{
    for (int i = 0; i < DERP_KEY_LEN; i++) {
        KEY[i] = (uint8_t)i;
        KEY2[i] = (uint8_t)(0xa0 + i);
    }
    return 0;
}

/* Compares a writer's output with the expected hex, then checks that every
 * smaller cap makes the writer write nothing. */
#define EXPECT_WRITE(hex, call_with_cap)                                   \
    do {                                                                   \
        uint8_t want_[256], out_[256];                                     \
        size_t wlen_ = unhex(want_, sizeof(want_), (hex));                 \
        size_t cap = sizeof(out_);                                         \
        assert_int_equal((call_with_cap), wlen_);                          \
        assert_memory_equal(out_, want_, wlen_);                           \
        for (cap = 0; cap < wlen_; cap++)                                  \
            assert_int_equal((call_with_cap), 0);                          \
    } while (0)

static void test_write_server_key(void **state)
{
    /* §1.4's "first bytes from the server". */
    EXPECT_WRITE("0100000028" "44455250f09f9491" KEY_HEX, derp_write_server_key(out_, cap, KEY));
}

static void test_write_packet_prefix(void **state)
{
    EXPECT_WRITE("0400000084" KEY_HEX, derp_write_packet_prefix(out_, cap, DERP_FRAME_SEND_PACKET, KEY, 100));
    EXPECT_WRITE("0500000020" KEY_HEX, derp_write_packet_prefix(out_, cap, DERP_FRAME_RECV_PACKET, KEY, 0));
    /* The largest packet: 32 + 65536 = 0x10020. */
    EXPECT_WRITE("0500010020" KEY_HEX,
                 derp_write_packet_prefix(out_, cap, DERP_FRAME_RECV_PACKET, KEY, DERP_MAX_PACKET_SIZE));
    uint8_t out[64];
    assert_int_equal(derp_write_packet_prefix(out, sizeof(out), DERP_FRAME_SEND_PACKET, KEY,
                                              DERP_MAX_PACKET_SIZE + 1), 0);
    assert_int_equal(derp_write_packet_prefix(out, sizeof(out), DERP_FRAME_PING, KEY, 10), 0);
    assert_int_equal(derp_write_packet_prefix(out, sizeof(out), DERP_FRAME_FORWARD_PACKET, KEY, 10), 0);
}

static void test_write_small_frames(void **state)
{
    static const uint8_t ping[DERP_PING_LEN] = {1, 2, 3, 4, 5, 6, 7, 8};
    EXPECT_WRITE("0600000000", derp_write_keep_alive(out_, cap));
    EXPECT_WRITE("070000000101", derp_write_note_preferred(out_, cap, true));
    EXPECT_WRITE("070000000100", derp_write_note_preferred(out_, cap, false));
    EXPECT_WRITE("0800000021" KEY_HEX "00", derp_write_peer_gone(out_, cap, KEY, DERP_PEER_GONE_DISCONNECTED));
    EXPECT_WRITE("0800000021" KEY_HEX "01", derp_write_peer_gone(out_, cap, KEY, DERP_PEER_GONE_NOT_HERE));
    EXPECT_WRITE("12000000080102030405060708", derp_write_ping(out_, cap, DERP_FRAME_PING, ping));
    EXPECT_WRITE("13000000080102030405060708", derp_write_ping(out_, cap, DERP_FRAME_PONG, ping));
    EXPECT_WRITE("7f01020304", derp_write_header(out_, cap, 0x7f, 0x01020304));
    uint8_t out[64];
    assert_int_equal(derp_write_ping(out, sizeof(out), DERP_FRAME_KEEP_ALIVE, ping), 0);
}

static void test_write_mesh_frames(void **state)
{
    EXPECT_WRITE("0a00000046" KEY_HEX KEY2_HEX, derp_write_forward_prefix(out_, cap, KEY, KEY2, 6));
    EXPECT_WRITE("1000000000", derp_write_watch_conns(out_, cap));
    EXPECT_WRITE("1100000020" KEY_HEX, derp_write_close_peer(out_, cap, KEY));
    EXPECT_WRITE("1400000002" "6869", derp_write_health(out_, cap, "hi", 2));
    EXPECT_WRITE("1400000000", derp_write_health(out_, cap, NULL, 0));
    EXPECT_WRITE("1500000008" "000003e8" "00007530", derp_write_restarting(out_, cap, 1000, 30000));
    uint8_t out[128];
    assert_int_equal(derp_write_forward_prefix(out, sizeof(out), KEY, KEY2, DERP_MAX_PACKET_SIZE + 1), 0);
}

static void test_write_peer_present(void **state)
{
    struct derp_peer_present p = {.ip = {[10] = 0xff, [11] = 0xff, [12] = 192, [13] = 0, [14] = 2, [15] = 1},
                                  .port = 41641, .flags = DERP_PEER_PRESENT_IS_REGULAR};
    memcpy(p.key, KEY, DERP_KEY_LEN);
    EXPECT_WRITE("0900000020" KEY_HEX, derp_write_peer_present(out_, cap, &p));   /* Coder's form */
    p.has_flags = true;   /* flags without an address cannot be laid out: ignored */
    EXPECT_WRITE("0900000020" KEY_HEX, derp_write_peer_present(out_, cap, &p));
    p.has_addr = true;
    p.has_flags = false;
    EXPECT_WRITE("0900000032" KEY_HEX "00000000000000000000ffffc0000201" "a2a9",
                 derp_write_peer_present(out_, cap, &p));
    p.has_flags = true;
    EXPECT_WRITE("0900000033" KEY_HEX "00000000000000000000ffffc0000201" "a2a9" "01",
                 derp_write_peer_present(out_, cap, &p));
}

/* ---- reader ---- */

struct want_frame {
    uint8_t type;
    size_t len;
    size_t offset;   /* of the payload in the stream */
};

/* ServerKey, KeepAlive (empty), SendPacket, an unknown type, Ping, PeerGone
 * (old 32-byte form), a 1300-byte RecvPacket and a trailing KeepAlive. */
static size_t build_stream(uint8_t *s, size_t cap, struct want_frame *want, size_t *nwant)
{
    size_t n = 0, k = 0;
    static const uint8_t ping[DERP_PING_LEN] = {9, 8, 7, 6, 5, 4, 3, 2};
#define ADD(type_, call, payload_len)                                  \
    do {                                                               \
        size_t w_ = (call);                                            \
        want[k++] = (struct want_frame){(type_), (payload_len), n + DERP_FRAME_HEADER_LEN}; \
        n += w_;                                                       \
    } while (0)
    ADD(DERP_FRAME_SERVER_KEY, derp_write_server_key(s + n, cap - n, KEY), 40);
    ADD(DERP_FRAME_KEEP_ALIVE, derp_write_keep_alive(s + n, cap - n), 0);
    ADD(DERP_FRAME_SEND_PACKET, derp_write_packet_prefix(s + n, cap - n, DERP_FRAME_SEND_PACKET, KEY2, 3) + 3, 35);
    memcpy(s + n - 3, ABC, 3);
    ADD(0x7f, derp_write_header(s + n, cap - n, 0x7f, 4) + 4, 4);
    for (int i = 0; i < 4; i++)
        s[n - 4 + i] = (uint8_t)(i + 1);
    ADD(DERP_FRAME_PING, derp_write_ping(s + n, cap - n, DERP_FRAME_PING, ping), 8);
    ADD(DERP_FRAME_PEER_GONE, derp_write_header(s + n, cap - n, DERP_FRAME_PEER_GONE, 32) + 32, 32);
    memcpy(s + n - 32, KEY2, 32);
    ADD(DERP_FRAME_RECV_PACKET, derp_write_packet_prefix(s + n, cap - n, DERP_FRAME_RECV_PACKET, KEY, 1300) + 1300,
        1332);
    for (size_t i = 0; i < 1300; i++)
        s[n - 1300 + i] = (uint8_t)(i * 7);
    ADD(DERP_FRAME_KEEP_ALIVE, derp_write_keep_alive(s + n, cap - n), 0);
#undef ADD
    *nwant = k;
    return n;
}

/* Feeds s[0..len) to r in the chunks given by cuts (sorted offsets), checking
 * each frame as it comes out (its payload is gone after the next call). */
static size_t feed(struct derp_reader *r, const uint8_t *s, size_t len, const size_t *cuts, size_t ncuts,
                   const struct want_frame *want, size_t nwant, size_t got)
{
    size_t start = 0;
    for (size_t c = 0; c <= ncuts; c++) {
        size_t end = c < ncuts ? cuts[c] : len;
        while (start < end) {
            size_t used = 0;
            struct derp_frame f;
            enum derp_read_status st = derp_reader_next(r, s + start, end - start, &used, &f);
            assert_true(used <= end - start);
            start += used;
            if (st == DERP_READ_MORE) {
                assert_int_equal(start, end);
                break;
            }
            assert_int_equal(st, DERP_READ_FRAME);
            assert_true(got < nwant);
            assert_int_equal(f.type, want[got].type);
            assert_int_equal(f.len, want[got].len);
            assert_non_null(f.payload);
            if (f.len > 0)
                assert_memory_equal(f.payload, s + want[got].offset, f.len);
            got++;
        }
    }
    return got;
}

static void test_reader_every_split(void **state)
{
    uint8_t s[2048];
    struct want_frame want[16];
    size_t nwant;
    size_t len = build_stream(s, sizeof(s), want, &nwant);
    for (size_t a = 0; a <= len; a++) {
        struct derp_reader r;
        derp_reader_init(&r, DERP_CLIENT_MAX_FRAME);
        size_t cuts[1] = {a};
        assert_int_equal(feed(&r, s, len, cuts, 1, want, nwant, 0), nwant);
        assert_int_equal(r.header_have, 0);
        assert_false(r.in_payload);
        derp_reader_free(&r);
    }
}

static void test_reader_every_two_splits_of_head(void **state)
{
    /* Every pair of cuts through the first three frames, where header and
     * payload boundaries sit close together. */
    uint8_t s[2048];
    struct want_frame want[16];
    size_t nwant;
    size_t len = build_stream(s, sizeof(s), want, &nwant);
    for (size_t a = 0; a <= 90; a++) {
        for (size_t b = a; b <= 90; b++) {
            struct derp_reader r;
            derp_reader_init(&r, DERP_CLIENT_MAX_FRAME);
            size_t cuts[2] = {a, b};
            assert_int_equal(feed(&r, s, len, cuts, 2, want, nwant, 0), nwant);
            derp_reader_free(&r);
        }
    }
}

static void test_reader_byte_at_a_time(void **state)
{
    uint8_t s[2048];
    struct want_frame want[16];
    size_t nwant;
    size_t len = build_stream(s, sizeof(s), want, &nwant);
    size_t *cuts = malloc(len * sizeof(*cuts));
    assert_non_null(cuts);
    for (size_t i = 0; i < len; i++)
        cuts[i] = i + 1;
    struct derp_reader r;
    derp_reader_init(&r, DERP_CLIENT_MAX_FRAME);
    assert_int_equal(feed(&r, s, len, cuts, len, want, nwant, 0), nwant);
    derp_reader_free(&r);
    free(cuts);
}

static void test_reader_whole_stream_in_one_call_per_frame(void **state)
{
    /* One buffer holding everything: each call returns one frame and says how
     * much it used, and the caller calls again with the rest. */
    uint8_t s[2048];
    struct want_frame want[16];
    size_t nwant;
    size_t len = build_stream(s, sizeof(s), want, &nwant);
    struct derp_reader r;
    derp_reader_init(&r, DERP_CLIENT_MAX_FRAME);
    size_t off = 0;
    for (size_t i = 0; i < nwant; i++) {
        size_t used;
        struct derp_frame f;
        assert_int_equal(derp_reader_next(&r, s + off, len - off, &used, &f), DERP_READ_FRAME);
        assert_int_equal(used, DERP_FRAME_HEADER_LEN + want[i].len);
        assert_int_equal(f.type, want[i].type);
        off += used;
    }
    size_t used = 99;
    struct derp_frame f;
    assert_int_equal(derp_reader_next(&r, s + off, 0, &used, &f), DERP_READ_MORE);
    assert_int_equal(used, 0);
    assert_int_equal(derp_reader_next(&r, NULL, 0, &used, &f), DERP_READ_MORE);
    derp_reader_free(&r);
}

static void test_reader_zero_length(void **state)
{
    uint8_t s[5];
    derp_write_keep_alive(s, sizeof(s));
    struct derp_reader r;
    derp_reader_init(&r, 0);   /* even a cap of 0 admits empty frames */
    size_t used;
    struct derp_frame f;
    assert_int_equal(derp_reader_next(&r, s, 3, &used, &f), DERP_READ_MORE);
    assert_int_equal(used, 3);
    assert_int_equal(derp_reader_next(&r, s + 3, 2, &used, &f), DERP_READ_FRAME);
    assert_int_equal(used, 2);
    assert_int_equal(f.type, DERP_FRAME_KEEP_ALIVE);
    assert_int_equal(f.len, 0);
    assert_non_null(f.payload);
    assert_null(r.buf);   /* nothing allocated for empty frames */
    derp_reader_free(&r);
}

static void test_reader_too_long(void **state)
{
    uint8_t s[16];
    struct derp_reader r;
    derp_reader_init(&r, 100);
    size_t used;
    struct derp_frame f;

    /* Exactly the cap is fine. */
    derp_write_header(s, sizeof(s), DERP_FRAME_HEALTH, 100);
    assert_int_equal(derp_reader_next(&r, s, 5, &used, &f), DERP_READ_MORE);
    assert_int_equal(r.buf_cap, 100);   /* the first 256 clamped to the cap */
    derp_reader_free(&r);

    /* One past it, with the header split: the error comes with the last
     * header byte and sticks. */
    derp_reader_init(&r, 100);
    derp_write_header(s, sizeof(s), DERP_FRAME_SEND_PACKET, 101);
    s[5] = 0xee;
    assert_int_equal(derp_reader_next(&r, s, 2, &used, &f), DERP_READ_MORE);
    assert_int_equal(derp_reader_next(&r, s + 2, 4, &used, &f), DERP_READ_TOO_LONG);
    assert_int_equal(used, 3);
    assert_int_equal(derp_reader_next(&r, s + 5, 1, &used, &f), DERP_READ_TOO_LONG);
    assert_int_equal(used, 0);
    assert_null(r.buf);   /* nothing allocated for the refused frame */
    derp_reader_free(&r);

    /* The largest length a header can say. */
    derp_reader_init(&r, DERP_CLIENT_MAX_FRAME);
    derp_write_header(s, sizeof(s), DERP_FRAME_RECV_PACKET, UINT32_MAX);
    assert_int_equal(derp_reader_next(&r, s, 5, &used, &f), DERP_READ_TOO_LONG);
    derp_reader_free(&r);
}

/* Reads one frame of len bytes (type Health) and returns the buffer's capacity. */
static size_t read_frame_of(struct derp_reader *r, uint8_t *s, uint32_t len)
{
    size_t used;
    struct derp_frame f;
    derp_write_header(s, DERP_FRAME_HEADER_LEN, DERP_FRAME_HEALTH, len);
    memset(s + DERP_FRAME_HEADER_LEN, 0x5a, len);
    assert_int_equal(derp_reader_next(r, s, DERP_FRAME_HEADER_LEN + len, &used, &f), DERP_READ_FRAME);
    assert_int_equal(f.len, len);
    assert_true(r->buf_cap >= len && r->buf_cap <= r->max_len);
    return r->buf_cap;
}

static void test_reader_buffer_growth(void **state)
{
    uint8_t *s = malloc(DERP_FRAME_HEADER_LEN + DERP_SERVER_MAX_FRAME);
    assert_non_null(s);
    struct derp_reader r;
    derp_reader_init(&r, DERP_CLIENT_INFO_MAX);
    assert_int_equal(read_frame_of(&r, s, 10), 256);
    assert_int_equal(read_frame_of(&r, s, 257), 512);        /* doubles */
    assert_int_equal(read_frame_of(&r, s, 20), 512);         /* never shrinks by itself */
    assert_int_equal(read_frame_of(&r, s, 5000), 8192);      /* doubles until it fits */
    assert_int_equal(read_frame_of(&r, s, DERP_SERVER_MAX_FRAME), 131072);
    /* The server lowers the cap after the handshake: the buffer follows. */
    derp_reader_set_max(&r, DERP_SERVER_MAX_FRAME);
    assert_int_equal(r.buf_cap, DERP_SERVER_MAX_FRAME);
    assert_int_equal(read_frame_of(&r, s, DERP_SERVER_MAX_FRAME), DERP_SERVER_MAX_FRAME);
    derp_reader_free(&r);

    /* Doubling is clamped to the cap: a 65568-byte frame under a 65568 cap
     * gets exactly that, not 131072. */
    derp_reader_init(&r, DERP_SERVER_MAX_FRAME);
    assert_int_equal(read_frame_of(&r, s, DERP_SERVER_MAX_FRAME - 1), DERP_SERVER_MAX_FRAME);
    derp_reader_set_max(&r, 0);
    assert_null(r.buf);
    assert_int_equal(r.buf_cap, 0);
    derp_reader_free(&r);

    /* Lowering the cap in the middle of a frame keeps the buffer, and the
     * frame already admitted completes intact. */
    derp_reader_init(&r, DERP_CLIENT_INFO_MAX);
    size_t used;
    struct derp_frame f;
    derp_write_header(s, DERP_FRAME_HEADER_LEN, DERP_FRAME_HEALTH, 5000);
    for (int i = 0; i < 5000; i++)
        s[DERP_FRAME_HEADER_LEN + i] = (uint8_t)i;
    assert_int_equal(derp_reader_next(&r, s, 100, &used, &f), DERP_READ_MORE);
    derp_reader_set_max(&r, 64);
    assert_int_equal(r.buf_cap, 8192);
    assert_int_equal(derp_reader_next(&r, s + 100, 4905, &used, &f), DERP_READ_FRAME);
    assert_int_equal(f.len, 5000);
    assert_memory_equal(f.payload, s + DERP_FRAME_HEADER_LEN, 5000);
    /* The next frame is held to the new cap, and the buffer then shrinks. */
    derp_write_header(s, DERP_FRAME_HEADER_LEN, DERP_FRAME_HEALTH, 65);
    assert_int_equal(derp_reader_next(&r, s, 5, &used, &f), DERP_READ_TOO_LONG);
    derp_reader_set_max(&r, 64);
    assert_int_equal(r.buf_cap, 64);
    derp_reader_free(&r);
    free(s);
}

static void test_reader_unknown_type_passed_through(void **state)
{
    uint8_t s[16];
    derp_write_header(s, sizeof(s), 0xee, 3);
    memcpy(s + 5, ABC, 3);
    struct derp_reader r;
    derp_reader_init(&r, DERP_SERVER_MAX_FRAME);
    size_t used;
    struct derp_frame f;
    assert_int_equal(derp_reader_next(&r, s, 8, &used, &f), DERP_READ_FRAME);
    assert_int_equal(f.type, 0xee);
    assert_int_equal(f.len, 3);
    assert_memory_equal(f.payload, ABC, 3);
    derp_reader_free(&r);
}

/* ---- parsers ---- */

static struct derp_frame frame(uint8_t type, const uint8_t *payload, uint32_t len)
{
    return (struct derp_frame){.type = type, .len = len, .payload = payload};
}

static void test_parse_server_key(void **state)
{
    uint8_t p[DERP_SERVER_KEY_MAX + 1] = {0};
    unhex(p, sizeof(p), "44455250f09f9491");   /* "DERP🔑" */
    memcpy(p + DERP_MAGIC_LEN, KEY, DERP_KEY_LEN);
    uint8_t got[DERP_KEY_LEN];
    struct derp_frame f = frame(DERP_FRAME_SERVER_KEY, p, 40);
    assert_int_equal(derp_parse_server_key(&f, got), 0);
    assert_memory_equal(got, KEY, DERP_KEY_LEN);
    f.len = 41;   /* bytes past 40 are for the future, ignored */
    assert_int_equal(derp_parse_server_key(&f, got), 0);
    f.len = DERP_SERVER_KEY_MAX;
    assert_int_equal(derp_parse_server_key(&f, got), 0);
    f.len = DERP_SERVER_KEY_MAX + 1;
    assert_int_equal(derp_parse_server_key(&f, got), -1);
    f.len = 39;
    assert_int_equal(derp_parse_server_key(&f, got), -1);
    f.len = 0;
    assert_int_equal(derp_parse_server_key(&f, got), -1);
    f.len = 40;
    f.type = DERP_FRAME_SERVER_INFO;
    assert_int_equal(derp_parse_server_key(&f, got), -1);
    f.type = DERP_FRAME_SERVER_KEY;
    for (int i = 0; i < DERP_MAGIC_LEN; i++) {
        p[i] ^= 0x20;
        assert_int_equal(derp_parse_server_key(&f, got), -1);
        p[i] ^= 0x20;
    }
}

static void test_parse_packet(void **state)
{
    uint8_t *p = calloc(1, 2 * DERP_KEY_LEN + DERP_MAX_PACKET_SIZE + 1);
    assert_non_null(p);
    memcpy(p, KEY, DERP_KEY_LEN);
    const uint8_t *key, *pkt;
    size_t n;
    struct derp_frame f = frame(DERP_FRAME_SEND_PACKET, p, 35);
    assert_int_equal(derp_parse_packet(&f, &key, &pkt, &n), 0);
    assert_ptr_equal(key, p);
    assert_ptr_equal(pkt, p + 32);
    assert_int_equal(n, 3);
    f.type = DERP_FRAME_RECV_PACKET;
    f.len = 32;   /* an empty packet */
    assert_int_equal(derp_parse_packet(&f, &key, &pkt, &n), 0);
    assert_int_equal(n, 0);
    f.len = 31;
    assert_int_equal(derp_parse_packet(&f, &key, &pkt, &n), -1);
    f.len = 0;
    assert_int_equal(derp_parse_packet(&f, &key, &pkt, &n), -1);
    f.len = DERP_SERVER_MAX_FRAME;
    assert_int_equal(derp_parse_packet(&f, &key, &pkt, &n), 0);
    assert_int_equal(n, DERP_MAX_PACKET_SIZE);
    f.len = DERP_SERVER_MAX_FRAME + 1;
    assert_int_equal(derp_parse_packet(&f, &key, &pkt, &n), -1);
    f.len = 40;
    f.type = DERP_FRAME_FORWARD_PACKET;
    assert_int_equal(derp_parse_packet(&f, &key, &pkt, &n), -1);

    const uint8_t *src, *dst;
    f.len = 64;
    assert_int_equal(derp_parse_forward_packet(&f, &src, &dst, &pkt, &n), 0);
    assert_ptr_equal(src, p);
    assert_ptr_equal(dst, p + 32);
    assert_int_equal(n, 0);
    f.len = 63;
    assert_int_equal(derp_parse_forward_packet(&f, &src, &dst, &pkt, &n), -1);
    f.len = 64 + DERP_MAX_PACKET_SIZE + 1;
    assert_int_equal(derp_parse_forward_packet(&f, &src, &dst, &pkt, &n), -1);
    f.type = DERP_FRAME_SEND_PACKET;
    f.len = 64;
    assert_int_equal(derp_parse_forward_packet(&f, &src, &dst, &pkt, &n), -1);
    free(p);
}

static void test_parse_peer_gone(void **state)
{
    uint8_t p[40];
    memcpy(p, KEY, 32);
    p[32] = DERP_PEER_GONE_NOT_HERE;
    p[33] = 0x77;
    uint8_t peer[DERP_KEY_LEN], reason = 0xaa;
    struct derp_frame f = frame(DERP_FRAME_PEER_GONE, p, 32);   /* old servers */
    assert_int_equal(derp_parse_peer_gone(&f, peer, &reason), 0);
    assert_memory_equal(peer, KEY, 32);
    assert_int_equal(reason, DERP_PEER_GONE_DISCONNECTED);
    f.len = 33;
    assert_int_equal(derp_parse_peer_gone(&f, peer, &reason), 0);
    assert_int_equal(reason, DERP_PEER_GONE_NOT_HERE);
    f.len = 34;   /* future bytes, ignored as Go does */
    assert_int_equal(derp_parse_peer_gone(&f, peer, &reason), 0);
    assert_int_equal(reason, DERP_PEER_GONE_NOT_HERE);
    f.len = 31;
    assert_int_equal(derp_parse_peer_gone(&f, peer, &reason), -1);
    f.len = 33;
    f.type = DERP_FRAME_PEER_PRESENT;
    assert_int_equal(derp_parse_peer_gone(&f, peer, &reason), -1);
}

static void test_parse_small_frames(void **state)
{
    uint8_t p[DERP_PING_MAX_LEN + 1] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    bool pref = false;
    struct derp_frame f = frame(DERP_FRAME_NOTE_PREFERRED, p, 1);
    assert_int_equal(derp_parse_note_preferred(&f, &pref), 0);
    assert_true(pref);
    p[0] = 0;
    assert_int_equal(derp_parse_note_preferred(&f, &pref), 0);
    assert_false(pref);
    p[0] = 1;
    f.len = 0;
    assert_int_equal(derp_parse_note_preferred(&f, &pref), -1);
    f.len = 2;
    assert_int_equal(derp_parse_note_preferred(&f, &pref), -1);

    uint8_t data[DERP_PING_LEN];
    f = frame(DERP_FRAME_PING, p, 8);
    assert_int_equal(derp_parse_ping(&f, data), 0);
    assert_memory_equal(data, p, 8);
    f.type = DERP_FRAME_PONG;
    f.len = DERP_PING_MAX_LEN + 1;   /* extra ignored; the server's cap is its own check */
    assert_int_equal(derp_parse_ping(&f, data), 0);
    f.len = 7;
    assert_int_equal(derp_parse_ping(&f, data), -1);
    f.type = DERP_FRAME_KEEP_ALIVE;
    f.len = 8;
    assert_int_equal(derp_parse_ping(&f, data), -1);

    uint8_t peer[DERP_KEY_LEN];
    f = frame(DERP_FRAME_CLOSE_PEER, p, 32);
    assert_int_equal(derp_parse_close_peer(&f, peer), 0);
    f.len = 31;
    assert_int_equal(derp_parse_close_peer(&f, peer), -1);
    f.len = 33;
    assert_int_equal(derp_parse_close_peer(&f, peer), -1);

    f = frame(DERP_FRAME_WATCH_CONNS, p, 0);
    assert_int_equal(derp_parse_watch_conns(&f), 0);
    f.len = 1;
    assert_int_equal(derp_parse_watch_conns(&f), -1);

    uint32_t reconnect, try_for;
    static const uint8_t rs[9] = {0, 0, 3, 0xe8, 0, 0, 0x75, 0x30, 0xff};
    f = frame(DERP_FRAME_RESTARTING, rs, 9);
    assert_int_equal(derp_parse_restarting(&f, &reconnect, &try_for), 0);
    assert_int_equal(reconnect, 1000);
    assert_int_equal(try_for, 30000);
    f.len = 7;
    assert_int_equal(derp_parse_restarting(&f, &reconnect, &try_for), -1);
}

static void test_parse_peer_present(void **state)
{
    uint8_t w[64];
    struct derp_peer_present in = {.has_addr = true, .ip = {0x20, 0x01, 0x0d, 0xb8, [15] = 9}, .port = 3340,
                                   .has_flags = true, .flags = DERP_PEER_PRESENT_NOT_IDEAL};
    memcpy(in.key, KEY2, DERP_KEY_LEN);
    assert_int_equal(derp_write_peer_present(w, sizeof(w), &in), 5 + 51);
    struct derp_peer_present out;
    for (uint32_t len = 0; len <= 52; len++) {
        struct derp_frame f = frame(DERP_FRAME_PEER_PRESENT, w + 5, len);
        if (len < 32) {
            assert_int_equal(derp_parse_peer_present(&f, &out), -1);
            continue;
        }
        assert_int_equal(derp_parse_peer_present(&f, &out), 0);
        assert_memory_equal(out.key, KEY2, 32);
        assert_int_equal(out.has_addr, len >= 50);
        assert_int_equal(out.has_flags, len >= 51);
        if (len >= 50) {
            assert_memory_equal(out.ip, in.ip, 16);
            assert_int_equal(out.port, 3340);
        }
        assert_int_equal(out.flags, len >= 51 ? DERP_PEER_PRESENT_NOT_IDEAL : 0);
    }
}

static void test_looks_like_disco(void **state)
{
    uint8_t p[100] = {0};
    unhex(p, sizeof(p), "5453f09f92ac");   /* "TS💬" */
    assert_true(derp_looks_like_disco(p, 62));
    assert_true(derp_looks_like_disco(p, 100));
    assert_false(derp_looks_like_disco(p, 61));
    assert_false(derp_looks_like_disco(p, 0));
    p[5] ^= 1;
    assert_false(derp_looks_like_disco(p, 100));
    p[5] ^= 1;
    p[0] = 't';
    assert_false(derp_looks_like_disco(p, 100));
    /* A WireGuard data packet (type 4) is not disco. */
    static const uint8_t wg[64] = {4, 0, 0, 0};
    assert_false(derp_looks_like_disco(wg, sizeof(wg)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_server_key),
        cmocka_unit_test(test_write_packet_prefix),
        cmocka_unit_test(test_write_small_frames),
        cmocka_unit_test(test_write_mesh_frames),
        cmocka_unit_test(test_write_peer_present),
        cmocka_unit_test(test_reader_every_split),
        cmocka_unit_test(test_reader_every_two_splits_of_head),
        cmocka_unit_test(test_reader_byte_at_a_time),
        cmocka_unit_test(test_reader_whole_stream_in_one_call_per_frame),
        cmocka_unit_test(test_reader_zero_length),
        cmocka_unit_test(test_reader_too_long),
        cmocka_unit_test(test_reader_buffer_growth),
        cmocka_unit_test(test_reader_unknown_type_passed_through),
        cmocka_unit_test(test_parse_server_key),
        cmocka_unit_test(test_parse_packet),
        cmocka_unit_test(test_parse_peer_gone),
        cmocka_unit_test(test_parse_small_frames),
        cmocka_unit_test(test_parse_peer_present),
        cmocka_unit_test(test_looks_like_disco),
    };
    return cmocka_run_group_tests(tests, setup_keys, NULL);
}
