/* libFuzzer target for derp/'s frame reader, payload parsers and ClientInfo
 * opener. The input is a byte stream as a peer would send it; the first byte
 * also picks the reader's cap and how the stream is cut into reads, so splits
 * and the too-long path are explored too. Every frame that comes out goes
 * through every parser, and whatever a parser accepts must obey the layout
 * invariants the relay relies on. Built and run by scripts/fuzz.sh. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "derp/frame.h"
#include "derp/handshake.h"
#include "derp/handshake_json.h"   /* internal: the JSON readers, fuzzed directly */

/* A violated invariant is a crash, so libFuzzer keeps the input. */
static void check(int ok)
{
    if (!ok)
        abort();
}

static void parse_packets(const struct derp_frame *f)
{
    const uint8_t *key, *src, *dst, *pkt;
    size_t n;
    if (derp_parse_packet(f, &key, &pkt, &n) == 0) {
        check(key == f->payload && pkt == f->payload + DERP_KEY_LEN && n == f->len - DERP_KEY_LEN);
        check(n <= DERP_MAX_PACKET_SIZE);
        (void)derp_looks_like_disco(pkt, n);
    }
    if (derp_parse_forward_packet(f, &src, &dst, &pkt, &n) == 0)
        check(src == f->payload && dst == src + DERP_KEY_LEN && n + (size_t)2 * DERP_KEY_LEN == f->len);
}

/* A frame that parses must survive being written back: the writers and the
 * parsers agree on every layout. */
static void parse_small(const struct derp_frame *f)
{
    uint8_t key[DERP_KEY_LEN], data[DERP_PING_LEN], reason, w[128];
    bool pref;
    uint32_t a, b;
    struct derp_peer_present pp;
    if (derp_parse_server_key(f, key) == 0)
        check(derp_write_server_key(w, sizeof(w), key) == 45 && memcmp(w + 5, f->payload, 40) == 0);
    if (derp_parse_peer_gone(f, key, &reason) == 0)
        check(derp_write_peer_gone(w, sizeof(w), key, reason) == 38 && f->len >= DERP_KEY_LEN);
    if (derp_parse_note_preferred(f, &pref) == 0)
        check(f->len == 1);
    if (derp_parse_ping(f, data) == 0)
        check(derp_write_ping(w, sizeof(w), f->type, data) == 13 && memcmp(w + 5, f->payload, 8) == 0);
    if (derp_parse_peer_present(f, &pp) == 0) {
        size_t n = derp_write_peer_present(w, sizeof(w), &pp);
        check(n >= 37 && n <= 5 + DERP_PEER_PRESENT_MAX && memcmp(w + 5, f->payload, n - 5) == 0);
    }
    if (derp_parse_close_peer(f, key) == 0)
        check(f->len == DERP_KEY_LEN);
    if (derp_parse_watch_conns(f) == 0)
        check(f->len == 0);
    if (derp_parse_restarting(f, &a, &b) == 0)
        check(derp_write_restarting(w, sizeof(w), a, b) == 13 && memcmp(w + 5, f->payload, 8) == 0);
}

/* Fixed keys (the unit tests' private keys 80..9f and 10..2f), public halves
 * written out so no input pays for a scalar multiplication. */
static const struct derp_keypair SERVER = {
    .priv = {0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8b, 0x8c, 0x8d, 0x8e, 0x8f,
             0x90, 0x91, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f},
    .pub = {0x49, 0x3e, 0x82, 0xfc, 0x74, 0x46, 0x4a, 0x59, 0x26, 0x88, 0x17, 0x62, 0x3d, 0x20, 0x53, 0xc5,
            0xeb, 0x8e, 0x2c, 0xc4, 0xa9, 0x88, 0xb4, 0xfe, 0xe1, 0x79, 0xec, 0x6b, 0x01, 0x0d, 0x53, 0x1d}};
static const struct derp_keypair CLIENT = {
    .priv = {0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
             0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f},
    .pub = {0xd8, 0x9e, 0x3b, 0xad, 0x79, 0x43, 0x7d, 0xbe, 0xd9, 0xf8, 0x43, 0x41, 0x83, 0x04, 0xf4, 0x60,
            0xff, 0x05, 0xc7, 0xfe, 0x81, 0xfe, 0x4a, 0x95, 0x77, 0xa8, 0x04, 0xcb, 0x93, 0x67, 0xff, 0x66}};

/* Random bytes essentially never form a box that opens, but the length
 * checks, the open and its failure path all run; the seed corpus holds real
 * boxes for these keys. A fuzzer cannot change JSON inside a box without
 * breaking the tag, so the JSON readers also get the raw payload. */
static void open_handshake(const struct derp_frame *f)
{
    uint8_t client_pub[DERP_KEY_LEN];
    struct derp_client_info ci;
    struct derp_server_info si;
    if (derp_open_client_info(f, &SERVER, client_pub, &ci) == 0)
        check(memchr(ci.mesh_key, 0, sizeof(ci.mesh_key)) != NULL &&
              memcmp(client_pub, f->payload, DERP_KEY_LEN) == 0);
    (void)derp_open_server_info(f, &CLIENT, SERVER.pub, &si);
    if (derp_client_info_parse(f->payload, f->len, &ci) == 0)
        check(memchr(ci.mesh_key, 0, sizeof(ci.mesh_key)) != NULL);
    (void)derp_server_info_parse(f->payload, f->len, &si);
}

/* Health carries text: feed it to the key parser, whose accepted keys must
 * print back as the same (lowercased, unprefixed) hex. */
static void parse_key_text(const struct derp_frame *f)
{
    char text[128], hex[2 * DERP_KEY_LEN + 1];
    uint8_t key[DERP_KEY_LEN];
    size_t n = f->len < sizeof(text) - 1 ? f->len : sizeof(text) - 1;
    memcpy(text, f->payload, n);
    text[n] = '\0';
    if (derp_key_from_hex(key, text) != 0)
        return;
    derp_key_hex(hex, key);
    const char *digits = strncmp(text, "nodekey:", 8) == 0 ? text + 8 : text;
    check(strlen(digits) == sizeof(hex) - 1 && strncasecmp(digits, hex, sizeof(hex) - 1) == 0);
}

static void on_frame(const struct derp_frame *f, uint32_t max_len)
{
    check(f->len <= max_len && f->payload != NULL);
    parse_packets(f);
    parse_small(f);
    if (f->type == DERP_FRAME_CLIENT_INFO || f->type == DERP_FRAME_SERVER_INFO)
        open_handshake(f);
    if (f->type == DERP_FRAME_HEALTH)
        parse_key_text(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    /* Low bits: the cap (client, server handshake, server steady, tiny);
     * high bits: the read size (1..16 bytes, or everything at once). */
    static const uint32_t caps[4] = {DERP_CLIENT_MAX_FRAME, DERP_CLIENT_INFO_MAX, DERP_SERVER_MAX_FRAME, 64};
    uint32_t max_len = caps[data[0] & 3];
    const size_t chunk = (data[0] >> 4) == 0 ? size : (size_t)(data[0] >> 4);
    data++;
    size--;

    struct derp_reader r;
    derp_reader_init(&r, max_len);
    size_t off = 0;
    while (off < size) {
        size_t len = size - off < chunk ? size - off : chunk, used = 0;
        struct derp_frame f;
        enum derp_read_status st = derp_reader_next(&r, data + off, len, &used, &f);
        check(used <= len && r.buf_cap <= max_len);
        off += used;
        if (st == DERP_READ_TOO_LONG)
            break;
        if (st == DERP_READ_FRAME) {
            on_frame(&f, max_len);
            /* As the server does once ClientInfo is in: the cap drops. */
            if (max_len == DERP_CLIENT_INFO_MAX)
                derp_reader_set_max(&r, max_len = DERP_SERVER_MAX_FRAME);
        } else
            check(used == len);
    }
    derp_reader_free(&r);
    return 0;
}
