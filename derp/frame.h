/* DERP v2 frames (tailscale-wire.md §1.1-1.3), sans-IO: an incremental reader
 * that turns a byte stream into frames, and writers for every frame type.
 * No sockets, clocks or event loop. */
#ifndef VOLE_DERP_FRAME_H
#define VOLE_DERP_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DERP_MAGIC "DERP\xF0\x9F\x94\x91"    /* "DERP🔑" */
#define DERP_MAGIC_LEN 8
#define DERP_KEY_LEN 32
#define DERP_NONCE_LEN 24
#define DERP_FRAME_HEADER_LEN 5
#define DERP_PROTOCOL_VERSION 2
#define DERP_MAX_PACKET_SIZE 65536            /* payload of Send/RecvPacket, without key */
#define DERP_MAX_INFO_LEN (1u << 20)
#define DERP_CLIENT_MAX_FRAME (1u << 20)      /* a client rejects longer frames */
#define DERP_SERVER_MAX_FRAME (DERP_KEY_LEN + DERP_MAX_PACKET_SIZE)  /* longest a client may send but ClientInfo */
#define DERP_CLIENT_INFO_MIN 56
#define DERP_CLIENT_INFO_MAX (256u << 10)
#define DERP_SERVER_KEY_MAX 1024
#define DERP_PING_LEN 8
#define DERP_PING_MAX_LEN 1000                /* the server closes on a longer Ping (extra bytes are ignored) */
#define DERP_DISCO_MAGIC "TS\xF0\x9F\x92\xAC"  /* "TS💬", tailscale-wire.md §3.1 */
#define DERP_DISCO_MAGIC_LEN 6
#define DERP_DISCO_MIN_LEN (DERP_DISCO_MAGIC_LEN + DERP_KEY_LEN + DERP_NONCE_LEN)
#define DERP_PEER_PRESENT_IP_LEN 16           /* IPv6, or IPv4 as ::ffff:a.b.c.d */
#define DERP_PEER_PRESENT_MAX (DERP_KEY_LEN + DERP_PEER_PRESENT_IP_LEN + 2 + 1)   /* 51, upstream's length */
#define DERP_RESTARTING_LEN 8

enum derp_frame_type {
    DERP_FRAME_SERVER_KEY = 0x01,
    DERP_FRAME_CLIENT_INFO = 0x02,
    DERP_FRAME_SERVER_INFO = 0x03,
    DERP_FRAME_SEND_PACKET = 0x04,
    DERP_FRAME_RECV_PACKET = 0x05,
    DERP_FRAME_KEEP_ALIVE = 0x06,
    DERP_FRAME_NOTE_PREFERRED = 0x07,
    DERP_FRAME_PEER_GONE = 0x08,
    DERP_FRAME_PEER_PRESENT = 0x09,
    DERP_FRAME_FORWARD_PACKET = 0x0a,
    DERP_FRAME_WATCH_CONNS = 0x10,
    DERP_FRAME_CLOSE_PEER = 0x11,
    DERP_FRAME_PING = 0x12,
    DERP_FRAME_PONG = 0x13,
    DERP_FRAME_HEALTH = 0x14,
    DERP_FRAME_RESTARTING = 0x15,
};

enum derp_peer_gone_reason {
    DERP_PEER_GONE_DISCONNECTED = 0x00,
    DERP_PEER_GONE_NOT_HERE = 0x01,
};

/* PeerPresent flag bits (upstream only; 0 means an old server). */
enum derp_peer_present_flag {
    DERP_PEER_PRESENT_IS_REGULAR = 0x01,
    DERP_PEER_PRESENT_IS_MESH_PEER = 0x02,
    DERP_PEER_PRESENT_IS_PROBER = 0x04,
    DERP_PEER_PRESENT_NOT_IDEAL = 0x08,
};

/* PeerPresent's payload: the key, then optionally the peer's address, then
 * optionally flags. Coder's fork sends the key alone (32 bytes), upstream all
 * three (51); the parser takes whatever is present. */
struct derp_peer_present {
    uint8_t key[DERP_KEY_LEN];
    bool has_addr;
    uint8_t ip[DERP_PEER_PRESENT_IP_LEN];
    uint16_t port;
    bool has_flags;            /* writers: only with has_addr, as the layout nests */
    uint8_t flags;
};

/* One frame as the reader hands it out: payload points into the reader's
 * buffer and is valid until the next derp_reader_next call. */
struct derp_frame {
    uint8_t type;
    uint32_t len;
    const uint8_t *payload;
};

enum derp_read_status {
    DERP_READ_FRAME = 1,       /* *out holds a frame */
    DERP_READ_MORE = 0,        /* every byte consumed; need more input */
    DERP_READ_TOO_LONG = -1,   /* a header announced more than max_len: close the connection */
};

/* Incremental reader. max_len caps the payload length it accepts (the server
 * uses DERP_CLIENT_INFO_MAX during the handshake, DERP_SERVER_MAX_FRAME after;
 * the client DERP_CLIENT_MAX_FRAME). The buffer grows to the longest frame seen
 * and never beyond max_len. */
struct derp_reader {
    uint8_t header[DERP_FRAME_HEADER_LEN];
    size_t header_have;
    uint8_t *buf;
    size_t buf_cap, have;
    uint32_t need;             /* payload length of the frame being read */
    uint32_t max_len;
    bool in_payload;
};

void derp_reader_init(struct derp_reader *r, uint32_t max_len);
void derp_reader_set_max(struct derp_reader *r, uint32_t max_len);
void derp_reader_free(struct derp_reader *r);
/* Consumes from in[0..len): *consumed says how much. Call again with the rest
 * after a frame. -1 also for out-of-memory. */
enum derp_read_status derp_reader_next(struct derp_reader *r, const uint8_t *in, size_t len, size_t *consumed,
                                       struct derp_frame *out);

/* Writers: each returns the bytes written into out (header included), or 0 if
 * cap is too small. Also 0 for a type the writer does not make (a PING writer
 * asked for SendPacket) or a packet over DERP_MAX_PACKET_SIZE, so a caller
 * bug never reaches the wire as a frame the peer would close on. */
size_t derp_write_header(uint8_t *out, size_t cap, uint8_t type, uint32_t len);
size_t derp_write_server_key(uint8_t *out, size_t cap, const uint8_t server_pub[DERP_KEY_LEN]);
/* SendPacket / RecvPacket: only the header and the 32-byte key; the packet bytes follow. */
size_t derp_write_packet_prefix(uint8_t *out, size_t cap, uint8_t type, const uint8_t key[DERP_KEY_LEN],
                                size_t packet_len);
size_t derp_write_keep_alive(uint8_t *out, size_t cap);
size_t derp_write_note_preferred(uint8_t *out, size_t cap, bool preferred);
size_t derp_write_peer_gone(uint8_t *out, size_t cap, const uint8_t peer[DERP_KEY_LEN], uint8_t reason);
size_t derp_write_ping(uint8_t *out, size_t cap, uint8_t type /* PING or PONG */, const uint8_t data[DERP_PING_LEN]);
/* Mesh and rarely used frames, so that every type of §1.3 has a writer. */
size_t derp_write_forward_prefix(uint8_t *out, size_t cap, const uint8_t src[DERP_KEY_LEN],
                                 const uint8_t dst[DERP_KEY_LEN], size_t packet_len);   /* packet follows */
size_t derp_write_watch_conns(uint8_t *out, size_t cap);
size_t derp_write_close_peer(uint8_t *out, size_t cap, const uint8_t peer[DERP_KEY_LEN]);
size_t derp_write_peer_present(uint8_t *out, size_t cap, const struct derp_peer_present *p);
size_t derp_write_health(uint8_t *out, size_t cap, const char *problem, size_t len);   /* len 0 clears */
size_t derp_write_restarting(uint8_t *out, size_t cap, uint32_t reconnect_in_ms, uint32_t try_for_ms);

/* Parsers of single frames' payloads; -1 on a malformed payload. Each also
 * checks f->type, so a frame of another type is -1 too. */
int derp_parse_server_key(const struct derp_frame *f, uint8_t server_pub[DERP_KEY_LEN]);
int derp_parse_packet(const struct derp_frame *f, const uint8_t **key, const uint8_t **pkt, size_t *pkt_len);
int derp_parse_peer_gone(const struct derp_frame *f, uint8_t peer[DERP_KEY_LEN], uint8_t *reason);
/* Below: the other types, each as lenient as Go's reader of that frame. */
int derp_parse_forward_packet(const struct derp_frame *f, const uint8_t **src, const uint8_t **dst,
                              const uint8_t **pkt, size_t *pkt_len);
int derp_parse_note_preferred(const struct derp_frame *f, bool *preferred);   /* exactly 1 byte */
/* Ping or Pong: at least 8 bytes, the first 8 are the data. The caller that
 * is a server also closes on len > DERP_PING_MAX_LEN, as Go's does. */
int derp_parse_ping(const struct derp_frame *f, uint8_t data[DERP_PING_LEN]);
int derp_parse_peer_present(const struct derp_frame *f, struct derp_peer_present *p);
int derp_parse_close_peer(const struct derp_frame *f, uint8_t peer[DERP_KEY_LEN]);   /* exactly 32 */
int derp_parse_watch_conns(const struct derp_frame *f);                            /* exactly 0 */
int derp_parse_restarting(const struct derp_frame *f, uint32_t *reconnect_in_ms, uint32_t *try_for_ms);

/* LooksLikeDiscoWrapper (tailscale-wire.md §3.1): a payload that the server
 * queues separately and answers with PeerGone(NotHere) when undeliverable. */
bool derp_looks_like_disco(const uint8_t *pkt, size_t len);

#endif
