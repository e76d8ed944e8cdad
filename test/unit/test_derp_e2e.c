/* DERP end to end in one process and one libev loop: the server of
 * derp/server.h on 127.0.0.1 (port 0) and clients of derp/client.h. Every
 * ev_run is bounded by a timer, so a lost packet fails a test instead of
 * hanging it. First the client's sans-IO pieces (URL, request, response);
 * then relaying, PeerGone, ping, restart, WebSocket, TLS, garbage, 1000
 * clients, a DERP map region's nodes dialled in order; last a scripted server on a helper thread that does what the
 * real one rarely does (Ping the client, KeepAlive, unknown and oversized
 * frames, silence, a 4xx to the upgrade). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test/unit/certs.h"
#include "test/unit/evloop.h"
#include "test/unit/sockets.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>


#include "derp/client.h"
#include "derp/derpmap.h"
#include "derp/handshake.h"
#include "derp/server.h"
#include "derp/upgrade.h"
#include "derp/url.h"
#include "derp/http.h"
#include "io/stream.h"

#define RUN_LIMIT 10.0          /* seconds, for one wait; most take milliseconds */
#define MANY_CLIENTS 1000

/* ---- the loop (waits: test/unit/evloop.h) ------------------------------------ */

/* Streams closed at once still finish (on_close, free) from the loop: let
 * them, then destroy it. */
static void loop_finish(struct ev_loop *loop)
{
    run_for(loop, 0.05);
    ev_loop_destroy(loop);
}

/* ---- a client with a record of what it saw --------------------------------- */

struct peer {
    struct vole_derp_client *c;
    struct derp_keypair kp;
    size_t ups, downs, packets, gones, pongs;
    uint8_t src[DERP_KEY_LEN];
    uint8_t *pkt;                   /* the last packet */
    size_t len;
    uint8_t gone_key[DERP_KEY_LEN];
    int gone_reason;
    double rtt;
    char why[160];
};

static void peer_on_packet(void *ctx, const uint8_t src[DERP_KEY_LEN], const uint8_t *pkt, size_t len)
{
    struct peer *p = ctx;
    assert_true(len <= DERP_MAX_PACKET_SIZE);
    memcpy(p->src, src, DERP_KEY_LEN);
    memcpy(p->pkt, pkt, len);
    p->len = len;
    p->packets++;
}

static void peer_on_gone(void *ctx, const uint8_t key[DERP_KEY_LEN], uint8_t reason)
{
    struct peer *p = ctx;
    memcpy(p->gone_key, key, DERP_KEY_LEN);
    p->gone_reason = reason;
    p->gones++;
}

static void peer_on_state(void *ctx, bool up, const char *why)
{
    struct peer *p = ctx;
    if (up)
        p->ups++;
    else
        p->downs++;
    snprintf(p->why, sizeof p->why, "%s", why);
}

static void peer_on_pong(void *ctx, const uint8_t data[DERP_PING_LEN], double rtt)
{
    struct peer *p = ctx;
    p->pongs++;
    p->rtt = rtt;
}

struct client_opts {
    const char *ca_file, *tls_name, *extra_header;
    bool insecure, websocket;
    double dead_after;
};

/* A client of url, or of region when it is not NULL (url is then unused). */
static void peer_start_at(struct peer *p, struct ev_loop *loop, const char *url, const struct derp_map_region *region,
                          const struct client_opts *o)
{
    static const struct client_opts none;
    char err[200] = "";

    if (!o)
        o = &none;
    memset(p, 0, sizeof *p);
    p->pkt = malloc(DERP_MAX_PACKET_SIZE);
    assert_non_null(p->pkt);
    derp_keypair_generate(&p->kp);
    struct vole_derp_client_config cfg = {
        .url = url, .ca_file = o->ca_file, .insecure_for_tests = o->insecure, .force_websocket = o->websocket,
        .extra_header = o->extra_header, .tls_server_name = o->tls_name, .dead_after = o->dead_after,
    };
    memcpy(cfg.private_key, p->kp.priv, DERP_KEY_LEN);
    struct vole_derp_client_ops ops = {
        .ctx = p, .on_packet = peer_on_packet, .on_peer_gone = peer_on_gone, .on_state = peer_on_state,
        .on_pong = peer_on_pong,
    };
    p->c = region ? vole_derp_client_new_region(loop, region, &cfg, &ops, err, sizeof err)
                  : vole_derp_client_new(loop, &cfg, &ops, err, sizeof err);
    if (!p->c)
        fail_msg("client: %s", err);
}

static void peer_start(struct peer *p, struct ev_loop *loop, const char *url, const struct client_opts *o)
{
    peer_start_at(p, loop, url, NULL, o);
}

static void peer_stop(struct peer *p)
{
    vole_derp_client_free(p->c);
    p->c = NULL;
    free(p->pkt);
    p->pkt = NULL;
}

static bool both_up(void *arg)
{
    struct peer **pp = arg;
    return vole_derp_client_connected(pp[0]->c) && vole_derp_client_connected(pp[1]->c);
}

static void wait_up(struct ev_loop *loop, struct peer *a, struct peer *b)
{
    struct peer *pp[2] = {a, b};
    if (!run_until(loop, both_up, pp, RUN_LIMIT))
        fail_msg("not connected: a \"%s\", b \"%s\"", vole_derp_client_last_error(a->c),
                 vole_derp_client_last_error(b->c));
}

struct count_wait {
    const size_t *counter;
    size_t want;
};

static bool count_reached(void *arg)
{
    struct count_wait *w = arg;
    return *w->counter >= w->want;
}

static bool wait_count(struct ev_loop *loop, const size_t *counter, size_t want, double limit)
{
    struct count_wait w = {counter, want};
    return run_until(loop, count_reached, &w, limit);
}

static void fill(uint8_t *buf, size_t len, uint8_t seed)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(seed + i * 7 + (i >> 8));
}

/* from sends len pattern bytes to to; to must get exactly those from from. */
static void relay_one(struct ev_loop *loop, struct peer *from, struct peer *to, size_t len, uint8_t seed)
{
    uint8_t *buf = malloc(len ? len : 1);
    assert_non_null(buf);
    fill(buf, len, seed);
    size_t before = to->packets;
    assert_int_equal(vole_derp_client_send(from->c, to->kp.pub, buf, len), 0);
    if (!wait_count(loop, &to->packets, before + 1, RUN_LIMIT))
        fail_msg("a %zu-byte packet was not delivered", len);
    assert_int_equal(to->len, len);
    assert_memory_equal(to->src, from->kp.pub, DERP_KEY_LEN);
    assert_memory_equal(to->pkt, buf, len);
    free(buf);
}

static void exchange_sizes(struct ev_loop *loop, struct peer *a, struct peer *b)
{
    static const size_t sizes[] = {1, 1300, DERP_MAX_PACKET_SIZE};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        relay_one(loop, a, b, sizes[i], (uint8_t)i);
        relay_one(loop, b, a, sizes[i], (uint8_t)(i + 100));
    }
}

/* ---- servers ----------------------------------------------------------------- */

struct server_opts {
    const char *listen, *key_file, *cert, *key;
};

static struct vole_derp_server *server_start(struct ev_loop *loop, const struct server_opts *o)
{
    char err[200] = "";
    struct vole_derp_server_config cfg = {
        .listen = o && o->listen ? o->listen : "127.0.0.1:0",
        .key_file = o ? o->key_file : NULL,
        .tls_cert = o ? o->cert : NULL,
        .tls_key = o ? o->key : NULL,
    };
    struct vole_derp_server *s = vole_derp_server_new(loop, &cfg, err, sizeof err);
    if (!s)
        fail_msg("server: %s", err);
    return s;
}

static void url_of(char *out, size_t cap, const char *scheme, const char *host, uint16_t port)
{
    snprintf(out, cap, "%s://%s:%u", scheme, host, port);
}

/* A temporary directory, removed with its files at the end of a test. */
struct tmpdir {
    char path[64];
};

static void tmpdir_make(struct tmpdir *t)
{
    strcpy(t->path, "/tmp/vole-derp-e2e-XXXXXX");
    assert_non_null(mkdtemp(t->path));
}

static void tmpdir_file(const struct tmpdir *t, const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", t->path, name);
}

static void tmpdir_remove(const struct tmpdir *t, const char *const *names)
{
    char p[128];
    for (; *names; names++) {
        tmpdir_file(t, *names, p, sizeof p);
        unlink(p);
    }
    rmdir(t->path);
}

/* ==== the client's sans-IO pieces ================================================= */

static void url_ok(const char *in, bool tls, const char *host, uint16_t port, const char *authority, const char *path)
{
    struct derp_url u;
    char err[128] = "";
    if (derp_url_parse(in, &u, err, sizeof err) != 0)
        fail_msg("%s: %s", in, err);
    assert_int_equal(u.tls, tls);
    assert_string_equal(u.host, host);
    assert_int_equal(u.port, port);
    assert_string_equal(u.authority, authority);
    assert_string_equal(u.path, path);
}

static void url_bad(const char *in)
{
    struct derp_url u;
    char err[128] = "";
    if (derp_url_parse(in, &u, err, sizeof err) == 0)
        fail_msg("%s parsed", in ? in : "(null)");
    assert_true(err[0] != '\0');
}

static void test_url_parse(void **state)
{
    url_ok("https://derp.example:443/derp", true, "derp.example", 443, "derp.example:443", "/derp");
    url_ok("http://127.0.0.1:3340", false, "127.0.0.1", 3340, "127.0.0.1:3340", "/derp");
    url_ok("HTTPS://derp.example", true, "derp.example", 443, "derp.example", "/derp");
    url_ok("http://derp.example:/x?y=1", false, "derp.example", 80, "derp.example", "/x?y=1");
    url_ok("https://[::1]:8443/derp", true, "::1", 8443, "[::1]:8443", "/derp");
    url_ok("https://[2001:db8::1]", true, "2001:db8::1", 443, "[2001:db8::1]", "/derp");
    url_ok("http://h/", false, "h", 80, "h", "/");

    url_bad(NULL);
    url_bad("");
    url_bad("ftp://h/derp");
    url_bad("derp.example:443");
    url_bad("https://");
    url_bad("https:///derp");
    url_bad("https://user@h/derp");
    url_bad("https://h:0/derp");
    url_bad("https://h:65536/derp");
    url_bad("https://h:44x/derp");
    url_bad("https://::1/derp");
    url_bad("https://[::1/derp");
    url_bad("https://[::1]x/derp");
    url_bad("https://h/de rp");
    url_bad("https://h/derp\r\nX: y");
    url_bad("https://h/derp#frag");
    url_bad("https://h?q");
}

static void test_upgrade_request(void **state)
{
    struct derp_url u;
    char err[64], out[1024];
    assert_int_equal(derp_url_parse("http://127.0.0.1:3340/derp", &u, err, sizeof err), 0);

    size_t n = derp_upgrade_request(out, sizeof out, &u, false, NULL, NULL);
    assert_true(n > 0);
    assert_string_equal(out, "GET /derp HTTP/1.1\r\n"
                             "Host: 127.0.0.1:3340\r\n"
                             "User-Agent: " DERP_UPGRADE_USER_AGENT "\r\n"
                             "Connection: Upgrade\r\n"
                             "Upgrade: DERP\r\n"
                             "\r\n");
    assert_int_equal(n, strlen(out));

    /* Sorted as Go sorts: Coder-Session-Token before Connection. */
    n = derp_upgrade_request(out, sizeof out, &u, true, "dGhlIHNhbXBsZSBub25jZQ==", "Coder-Session-Token: s3cret");
    assert_true(n > 0);
    assert_string_equal(out, "GET /derp HTTP/1.1\r\n"
                             "Host: 127.0.0.1:3340\r\n"
                             "User-Agent: " DERP_UPGRADE_USER_AGENT "\r\n"
                             "Coder-Session-Token: s3cret\r\n"
                             "Connection: Upgrade\r\n"
                             "Sec-Websocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                             "Sec-Websocket-Protocol: derp\r\n"
                             "Sec-Websocket-Version: 13\r\n"
                             "Upgrade: websocket\r\n"
                             "\r\n");
    n = derp_upgrade_request(out, sizeof out, &u, false, NULL, "X-Zed: 1");
    assert_true(n > 0);
    assert_non_null(strstr(out, "Upgrade: DERP\r\nX-Zed: 1\r\n\r\n"));

    assert_int_equal(derp_upgrade_request(out, sizeof out, &u, false, NULL, "Bad\r\nHeader: x"), 0);
    assert_int_equal(derp_upgrade_request(out, sizeof out, &u, false, NULL, "X: a\nb"), 0);
    assert_int_equal(derp_upgrade_request(out, sizeof out, &u, false, NULL, "no colon"), 0);
    assert_int_equal(derp_upgrade_request(out, sizeof out, &u, false, NULL, ": empty name"), 0);
    assert_int_equal(derp_upgrade_request(out, 40, &u, false, NULL, NULL), 0);
}

static const char RESPONSE_101[] = "HTTP/1.1 101 Switching Protocols\r\n"
                                   "Upgrade: DERP\r\n"
                                   "Connection: Upgrade\r\n"
                                   "Derp-Version: 2\r\n"
                                   "Derp-Public-Key: 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\r\n"
                                   "\r\n"
                                   "\x01\x00\x00\x00\x28";   /* the ServerKey frame follows at once */

/* Fed in pieces of every size from 1 up: the head ends at the same byte. */
static void test_upgrade_response_split(void **state)
{
    const size_t total = sizeof RESPONSE_101 - 1, head = total - 5;
    for (size_t step = 1; step <= total; step++) {
        struct derp_upgrade_response r;
        size_t off = 0, used = 0;
        enum derp_upgrade_status st = DERP_UPGRADE_MORE;
        derp_upgrade_response_init(&r);
        while (st == DERP_UPGRADE_MORE && off < total) {
            size_t n = total - off < step ? total - off : step;
            st = derp_upgrade_response_feed(&r, (const uint8_t *)RESPONSE_101 + off, n, &used);
            off += used;
        }
        assert_int_equal(st, DERP_UPGRADE_DONE);
        assert_int_equal(off, head);
        assert_int_equal(r.status, 101);
        assert_string_equal(r.derp_key.v, "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
        assert_null(derp_upgrade_check(&r, false, NULL));
    }
}

static enum derp_upgrade_status feed_all(struct derp_upgrade_response *r, const char *text)
{
    size_t used;
    derp_upgrade_response_init(r);
    return derp_upgrade_response_feed(r, (const uint8_t *)text, strlen(text), &used);
}

static void test_upgrade_response_checks(void **state)
{
    struct derp_upgrade_response r;

    assert_int_equal(feed_all(&r, "HTTP/1.1 426 Upgrade Required\r\nContent-Length: 31\r\n\r\nDERP requires"),
                     DERP_UPGRADE_DONE);
    assert_int_equal(r.status, 426);
    assert_non_null(derp_upgrade_check(&r, false, NULL));

    assert_int_equal(feed_all(&r, "HTTP/1.1 200 OK\r\n\r\n"), DERP_UPGRADE_DONE);
    assert_non_null(derp_upgrade_check(&r, false, NULL));

    assert_int_equal(feed_all(&r, "SSH-2.0-OpenSSH_9.2\r\n"), DERP_UPGRADE_BAD);
    assert_int_equal(feed_all(&r, "HTTP/1.1 101 Switching"), DERP_UPGRADE_MORE);

    /* WebSocket: the accept key of RFC 6455 §1.3's example, and the subprotocol. */
    const char *ws = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: derp\r\n\r\n";
    assert_int_equal(feed_all(&r, ws), DERP_UPGRADE_DONE);
    assert_null(derp_upgrade_check(&r, true, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
    assert_non_null(derp_upgrade_check(&r, true, "AAAAAAAAAAAAAAAAAAAAAAAAAAA="));
    assert_int_equal(feed_all(&r, "HTTP/1.1 101 S\r\nUpgrade: DERP\r\nSec-WebSocket-Accept: x\r\n\r\n"),
                     DERP_UPGRADE_DONE);
    assert_non_null(derp_upgrade_check(&r, true, "x"));   /* not a websocket upgrade */
    assert_int_equal(feed_all(&r, "HTTP/1.1 101 S\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: x\r\n"
                                  "Sec-WebSocket-Protocol: chat\r\n\r\n"),
                     DERP_UPGRADE_DONE);
    assert_non_null(derp_upgrade_check(&r, true, "x"));

    /* A head that never ends is refused once it is longer than any DERP server's. */
    char *big = malloc(DERP_UPGRADE_RESPONSE_MAX + 100);
    assert_non_null(big);
    strcpy(big, "HTTP/1.1 101 S\r\n");
    for (size_t len = strlen(big); len < DERP_UPGRADE_RESPONSE_MAX + 50; len += 10)
        strcat(big, "X-Pad: 1\r\n");
    assert_int_equal(feed_all(&r, big), DERP_UPGRADE_BAD);
    free(big);
}

/* ==== relaying ======================================================================= */

static void test_exchange_sizes(void **state)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct vole_derp_server *s = server_start(loop, NULL);
    char url[64];
    struct peer a, b;
    url_of(url, sizeof url, "http", "127.0.0.1", vole_derp_server_port(s));
    peer_start(&a, loop, url, NULL);
    peer_start(&b, loop, url, NULL);

    uint8_t k[DERP_KEY_LEN];
    assert_false(vole_derp_client_connected(a.c));
    assert_int_equal(vole_derp_client_send(a.c, b.kp.pub, (const uint8_t *)"x", 1), -1);   /* not yet */
    assert_int_equal(vole_derp_client_stats(a.c)->send_drops, 1);
    wait_up(loop, &a, &b);
    assert_int_equal(a.ups, 1);
    assert_true(vole_derp_client_server_key(a.c, k));
    uint8_t spub[DERP_KEY_LEN];
    vole_derp_server_public_key(s, spub);
    assert_memory_equal(k, spub, DERP_KEY_LEN);

    exchange_sizes(loop, &a, &b);
    relay_one(loop, &a, &b, 0, 0);   /* an empty packet is a packet too */

    static uint8_t too_big[DERP_MAX_PACKET_SIZE + 1];
    assert_int_equal(vole_derp_client_send(a.c, b.kp.pub, too_big, sizeof too_big), -1);
    const struct vole_derp_client_stats *st = vole_derp_client_stats(a.c);
    assert_int_equal(st->packets_sent, 4);
    assert_int_equal(st->packets_received, 3);
    assert_int_equal(st->send_drops, 2);
    assert_int_equal(st->connects, 1);
    vole_derp_client_note_preferred(a.c, true);   /* must not upset the server */
    relay_one(loop, &b, &a, 10, 9);

    peer_stop(&a);
    peer_stop(&b);
    vole_derp_server_free(s);
    loop_finish(loop);
}

/* A burst of 1300-byte packets in order, none lost on loopback. */
static void test_burst_in_order(void **state)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct vole_derp_server *s = server_start(loop, NULL);
    char url[64];
    struct peer a, b;
    url_of(url, sizeof url, "http", "127.0.0.1", vole_derp_server_port(s));
    peer_start(&a, loop, url, NULL);
    peer_start(&b, loop, url, NULL);
    wait_up(loop, &a, &b);

    uint8_t pkt[1300];
    const size_t burst = 300;   /* below the server's queue depth of 512 */
    for (size_t i = 0; i < burst; i++) {
        fill(pkt, sizeof pkt, (uint8_t)i);
        assert_int_equal(vole_derp_client_send(a.c, b.kp.pub, pkt, sizeof pkt), 0);
    }
    assert_true(vole_derp_client_pending(a.c) > 0);
    assert_true(wait_count(loop, &b.packets, burst, RUN_LIMIT));
    fill(pkt, sizeof pkt, (uint8_t)(burst - 1));
    assert_memory_equal(b.pkt, pkt, sizeof pkt);
    assert_int_equal(vole_derp_client_stats(b.c)->packets_received, burst);

    peer_stop(&a);
    peer_stop(&b);
    vole_derp_server_free(s);
    loop_finish(loop);
}

/* ==== PeerGone ========================================================================= */

static void test_peer_gone_not_here(void **state)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct vole_derp_server *s = server_start(loop, NULL);
    char url[64];
    struct peer a, b;
    url_of(url, sizeof url, "http", "127.0.0.1", vole_derp_server_port(s));
    peer_start(&a, loop, url, NULL);
    peer_start(&b, loop, url, NULL);
    wait_up(loop, &a, &b);

    /* A disco-looking packet: magic, a sender disco key, a nonce and a box. */
    static const uint8_t magic[6] = {'T', 'S', 0xf0, 0x9f, 0x92, 0xac};
    uint8_t disco[sizeof magic + 32 + 24 + 40];
    memcpy(disco, magic, sizeof magic);
    fill(disco + 6, sizeof disco - 6, 42);
    uint8_t nobody[DERP_KEY_LEN];
    memset(nobody, 0x5a, sizeof nobody);
    assert_int_equal(vole_derp_client_send(a.c, nobody, disco, sizeof disco), 0);
    assert_true(wait_count(loop, &a.gones, 1, RUN_LIMIT));
    assert_memory_equal(a.gone_key, nobody, DERP_KEY_LEN);
    assert_int_equal(a.gone_reason, DERP_PEER_GONE_NOT_HERE);

    /* A non-disco packet to nobody is dropped in silence. */
    assert_int_equal(vole_derp_client_send(a.c, nobody, (const uint8_t *)"wireguard", 9), 0);
    relay_one(loop, &a, &b, 5, 1);   /* a round trip later, still only one PeerGone */
    assert_int_equal(a.gones, 1);
    assert_int_equal(b.gones, 0);

    peer_stop(&a);
    peer_stop(&b);
    vole_derp_server_free(s);
    loop_finish(loop);
}

static void test_peer_gone_disconnected(void **state)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct vole_derp_server *s = server_start(loop, NULL);
    char url[64];
    struct peer a, b, c;
    url_of(url, sizeof url, "http", "127.0.0.1", vole_derp_server_port(s));
    peer_start(&a, loop, url, NULL);
    peer_start(&b, loop, url, NULL);
    peer_start(&c, loop, url, NULL);
    wait_up(loop, &a, &b);
    wait_up(loop, &c, &b);

    relay_one(loop, &a, &b, 100, 3);   /* b heard from a; c did not */
    uint8_t a_pub[DERP_KEY_LEN];
    memcpy(a_pub, a.kp.pub, sizeof a_pub);
    peer_stop(&a);
    assert_true(wait_count(loop, &b.gones, 1, RUN_LIMIT));
    assert_memory_equal(b.gone_key, a_pub, DERP_KEY_LEN);
    assert_int_equal(b.gone_reason, DERP_PEER_GONE_DISCONNECTED);
    relay_one(loop, &b, &c, 7, 7);
    assert_int_equal(c.gones, 0);

    peer_stop(&b);
    peer_stop(&c);
    vole_derp_server_free(s);
    loop_finish(loop);
}

/* ==== ping ============================================================================== */

static void test_ping_server(void **state)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct vole_derp_server *s = server_start(loop, NULL);
    char url[64];
    struct peer a;
    url_of(url, sizeof url, "http", "127.0.0.1", vole_derp_server_port(s));
    peer_start(&a, loop, url, NULL);
    const uint8_t data[DERP_PING_LEN] = {1, 2, 3, 4, 5, 6, 7, 8};
    assert_int_equal(vole_derp_client_ping(a.c, data), -1);   /* not connected yet */
    struct peer *pp[2] = {&a, &a};
    assert_true(run_until(loop, both_up, pp, RUN_LIMIT));

    assert_int_equal(vole_derp_client_ping(a.c, data), 0);
    assert_true(wait_count(loop, &a.pongs, 1, RUN_LIMIT));
    assert_true(a.rtt >= 0 && a.rtt < RUN_LIMIT);
    assert_int_equal(vole_derp_server_stats(s)->pings_answered, 1);

    peer_stop(&a);
    vole_derp_server_free(s);
    loop_finish(loop);
}

/* ==== restart ============================================================================== */

static void test_reconnect_after_restart(void **state)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct tmpdir t;
    char key_file[128], listen[32], url[64];
    tmpdir_make(&t);
    tmpdir_file(&t, "derp.key", key_file, sizeof key_file);

    struct server_opts so = {.key_file = key_file};
    struct vole_derp_server *s = server_start(loop, &so);
    uint16_t port = vole_derp_server_port(s);
    uint8_t key1[DERP_KEY_LEN], key2[DERP_KEY_LEN], seen[DERP_KEY_LEN];
    vole_derp_server_public_key(s, key1);
    url_of(url, sizeof url, "http", "127.0.0.1", port);
    struct peer a, b;
    peer_start(&a, loop, url, NULL);
    peer_start(&b, loop, url, NULL);
    wait_up(loop, &a, &b);
    relay_one(loop, &a, &b, 1300, 1);

    vole_derp_server_free(s);
    assert_true(wait_count(loop, &a.downs, 1, RUN_LIMIT));
    assert_true(wait_count(loop, &b.downs, 1, RUN_LIMIT));
    assert_false(vole_derp_client_connected(a.c));
    assert_int_equal(vole_derp_client_send(a.c, b.kp.pub, (const uint8_t *)"x", 1), -1);
    run_for(loop, 0.3);   /* a few failed attempts against the closed port: the backoff grows */

    snprintf(listen, sizeof listen, "127.0.0.1:%u", port);
    so.listen = listen;
    s = server_start(loop, &so);
    vole_derp_server_public_key(s, key2);
    assert_memory_equal(key1, key2, DERP_KEY_LEN);   /* the key file kept the identity */
    ev_now_update(loop);
    double t0 = ev_now(loop);
    wait_up(loop, &a, &b);
    ev_now_update(loop);
    assert_true(ev_now(loop) - t0 <= 5.5);   /* the backoff is capped at 5 s (+ jitter margin) */
    assert_int_equal(a.ups, 2);
    assert_int_equal(vole_derp_client_stats(a.c)->disconnects, 1);
    assert_true(vole_derp_client_server_key(a.c, seen));
    assert_memory_equal(seen, key1, DERP_KEY_LEN);
    exchange_sizes(loop, &a, &b);

    peer_stop(&a);
    peer_stop(&b);
    vole_derp_server_free(s);
    loop_finish(loop);
    tmpdir_remove(&t, (const char *const[]){"derp.key", NULL});
}

/* ==== WebSocket ============================================================================ */

static void test_websocket(void **state)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct vole_derp_server *s = server_start(loop, NULL);
    char url[64];
    struct peer a, b, c;
    struct client_opts ws = {.websocket = true};
    url_of(url, sizeof url, "http", "127.0.0.1", vole_derp_server_port(s));
    peer_start(&a, loop, url, &ws);
    peer_start(&b, loop, url, &ws);
    peer_start(&c, loop, url, NULL);   /* raw DERP and WebSocket clients mix */
    wait_up(loop, &a, &b);
    wait_up(loop, &c, &b);

    exchange_sizes(loop, &a, &b);
    exchange_sizes(loop, &a, &c);
    const uint8_t data[DERP_PING_LEN] = {8, 7, 6, 5, 4, 3, 2, 1};
    assert_int_equal(vole_derp_client_ping(a.c, data), 0);
    assert_true(wait_count(loop, &a.pongs, 1, RUN_LIMIT));

    uint8_t a_pub[DERP_KEY_LEN];
    memcpy(a_pub, a.kp.pub, sizeof a_pub);
    peer_stop(&a);   /* a WebSocket client leaving is a disconnect too */
    assert_true(wait_count(loop, &b.gones, 1, RUN_LIMIT));
    assert_memory_equal(b.gone_key, a_pub, DERP_KEY_LEN);

    peer_stop(&b);
    peer_stop(&c);
    vole_derp_server_free(s);
    loop_finish(loop);
}

/* ==== TLS ================================================================================== */

static void test_tls(void **state)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct test_cert tc;
    const char *cert = tc.cert, *key = tc.key;
    char url_name[64], url_ip[64];
    test_cert_make(&tc, "localhost");

    struct server_opts so = {.cert = cert, .key = key};
    struct vole_derp_server *s = server_start(loop, &so);
    uint16_t port = vole_derp_server_port(s);
    url_of(url_name, sizeof url_name, "https", "localhost", port);   /* a name: resolved, ::1 may come first */
    url_of(url_ip, sizeof url_ip, "https", "127.0.0.1", port);

    struct client_opts verified = {.ca_file = cert};
    struct client_opts insecure = {.insecure = true};
    struct client_opts by_name = {.ca_file = cert, .tls_name = "localhost"};
    struct client_opts ws = {.ca_file = cert, .websocket = true};
    struct peer a, b, c, d, e;
    peer_start(&a, loop, url_name, &verified);
    peer_start(&b, loop, url_ip, &insecure);
    peer_start(&c, loop, url_ip, &verified);   /* the certificate names localhost, not 127.0.0.1 */
    peer_start(&d, loop, url_ip, &by_name);    /* ...unless told the name to check */
    peer_start(&e, loop, url_name, &ws);       /* wss:// */
    wait_up(loop, &a, &b);
    wait_up(loop, &d, &e);
    exchange_sizes(loop, &a, &b);
    relay_one(loop, &d, &e, 1300, 5);
    relay_one(loop, &e, &a, DERP_MAX_PACKET_SIZE, 6);

    run_for(loop, 0.3);
    assert_false(vole_derp_client_connected(c.c));
    assert_int_equal(c.ups, 0);
    assert_true(strlen(vole_derp_client_last_error(c.c)) > 0);
    print_message("(a wrong name fails with: %s)\n", vole_derp_client_last_error(c.c));

    /* The system CAs do not know our certificate. */
    struct peer f;
    peer_start(&f, loop, url_name, NULL);
    run_for(loop, 0.3);
    assert_int_equal(f.ups, 0);

    peer_stop(&a);
    peer_stop(&b);
    peer_stop(&c);
    peer_stop(&d);
    peer_stop(&e);
    peer_stop(&f);
    vole_derp_server_free(s);
    loop_finish(loop);
    test_cert_remove(&tc);
}

/* ==== a DERP map region ===================================================================== */

/* A map of region 7 from the node objects given (JSON, comma-separated). */
static void region_map(struct derp_map *m, const char *nodes_fmt, ...)
{
    char nodes[1024], json[1400], err[160] = "";
    va_list ap;
    va_start(ap, nodes_fmt);
    vsnprintf(nodes, sizeof nodes, nodes_fmt, ap);
    va_end(ap);
    snprintf(json, sizeof json,
             "{\"Regions\":{\"7\":{\"RegionID\":7,\"RegionCode\":\"t\",\"RegionName\":\"test\",\"Nodes\":[%s]}}}",
             nodes);
    if (derp_map_parse(json, strlen(json), m, err, sizeof err) < 0)
        fail_msg("map: %s", err);
}

/* The client is up on the server whose key is want. */
static void assert_on_server(const struct peer *p, const struct vole_derp_server *s)
{
    uint8_t want[DERP_KEY_LEN], seen[DERP_KEY_LEN];
    vole_derp_server_public_key(s, want);
    assert_true(vole_derp_client_connected(p->c));
    assert_true(vole_derp_client_server_key(p->c, seen));
    assert_memory_equal(seen, want, DERP_KEY_LEN);
}

/* A port nothing listens on: a server's, once it is gone. */
static uint16_t closed_port(struct ev_loop *loop)
{
    struct vole_derp_server *s = server_start(loop, NULL);
    uint16_t port = vole_derp_server_port(s);
    vole_derp_server_free(s);
    run_for(loop, 0.01);
    return port;
}

#define PLAIN_NODE "{\"Name\":\"%s\",\"RegionID\":7,\"HostName\":\"localhost\",\"IPv4\":\"127.0.0.1\"," \
                   "\"DERPPort\":%u,\"ForceHTTP\":true}"

/* STUNOnly node, closed port, live server: the client skips the first, moves
 * past the second at once and relays through the third; when the third goes
 * and the second comes up, it starts over from the top and lands there. */
static void test_region_nodes_in_order(void **state)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    char listen[32];
    uint16_t port2 = closed_port(loop);
    struct vole_derp_server *s3 = server_start(loop, NULL);
    struct derp_map m;
    region_map(&m, "{\"Name\":\"7a\",\"RegionID\":7,\"HostName\":\"127.0.0.1\",\"STUNOnly\":true}," PLAIN_NODE
                   "," PLAIN_NODE,
               "7b", port2, "7c", vole_derp_server_port(s3));

    struct peer a, b;
    ev_now_update(loop);
    double t0 = ev_now(loop);
    peer_start_at(&a, loop, NULL, derp_map_region(&m, 7), NULL);
    peer_start_at(&b, loop, NULL, derp_map_region(&m, 7), NULL);
    derp_map_free(&m);   /* the clients keep copies */
    wait_up(loop, &a, &b);
    ev_now_update(loop);
    assert_true(ev_now(loop) - t0 < 1.0);   /* node 2 refused: no backoff before node 3 */
    assert_on_server(&a, s3);
    assert_on_server(&b, s3);
    assert_int_equal(vole_derp_client_stats(a.c)->connects, 1);
    exchange_sizes(loop, &a, &b);

    vole_derp_server_free(s3);
    snprintf(listen, sizeof listen, "127.0.0.1:%u", port2);
    struct server_opts so = {.listen = listen};
    struct vole_derp_server *s2 = server_start(loop, &so);
    assert_true(wait_count(loop, &a.downs, 1, RUN_LIMIT));
    wait_up(loop, &a, &b);
    assert_on_server(&a, s2);
    assert_on_server(&b, s2);
    assert_int_equal(a.ups, 2);
    exchange_sizes(loop, &a, &b);

    peer_stop(&a);
    peer_stop(&b);
    vole_derp_server_free(s2);
    loop_finish(loop);
}

/* After every node failed the attempt backs off and starts again from the
 * first, which is the one that comes up. */
static void test_region_all_down_then_first(void **state)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    char listen[32];
    uint16_t port1 = closed_port(loop), port2 = closed_port(loop);
    struct derp_map m;
    region_map(&m, PLAIN_NODE "," PLAIN_NODE, "7a", port1, "7b", port2);
    struct peer a;
    peer_start_at(&a, loop, NULL, derp_map_region(&m, 7), NULL);
    derp_map_free(&m);
    run_for(loop, 0.3);
    assert_false(vole_derp_client_connected(a.c));
    assert_non_null(strstr(vole_derp_client_last_error(a.c), "connecting to"));

    snprintf(listen, sizeof listen, "127.0.0.1:%u", port1);
    struct server_opts so = {.listen = listen};
    struct vole_derp_server *s = server_start(loop, &so);
    assert_true(wait_count(loop, &a.ups, 1, RUN_LIMIT));
    assert_on_server(&a, s);

    peer_stop(&a);
    vole_derp_server_free(s);
    loop_finish(loop);
}

/* A node that takes the TCP connection and then says nothing (a TLS black
 * hole) costs 1.5 s, not the attempt's 10 s. */
static void test_region_dial_timeout(void **state)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    int hole = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(hole >= 0);
    uint16_t hole_port = listen_loopback(hole, 8);   /* the kernel completes the handshake; nobody reads */
    struct vole_derp_server *s = server_start(loop, NULL);
    struct derp_map m;
    region_map(&m,
               "{\"Name\":\"7a\",\"RegionID\":7,\"HostName\":\"localhost\",\"IPv4\":\"127.0.0.1\","
               "\"DERPPort\":%u,\"InsecureForTests\":true}," PLAIN_NODE,
               hole_port, "7b", vole_derp_server_port(s));

    struct peer a;
    ev_now_update(loop);
    double t0 = ev_now(loop);
    peer_start_at(&a, loop, NULL, derp_map_region(&m, 7), NULL);
    derp_map_free(&m);
    assert_true(wait_count(loop, &a.ups, 1, 5.0));
    ev_now_update(loop);
    double took = ev_now(loop) - t0;
    assert_true(took >= 1.4 && took < 3.0);
    assert_on_server(&a, s);

    peer_stop(&a);
    vole_derp_server_free(s);
    close(hole);
    loop_finish(loop);
}

/* InsecureForTests and CertName come from the node, not from the base config. */
static void test_region_tls_from_node(void **state)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct test_cert tc;
    const char *cert = tc.cert, *key = tc.key;
    test_cert_make(&tc, "localhost");
    struct server_opts so = {.cert = cert, .key = key};
    struct vole_derp_server *s = server_start(loop, &so);
    unsigned port = vole_derp_server_port(s);
    struct derp_map insecure, verified, strict;
    region_map(&insecure, "{\"Name\":\"7a\",\"RegionID\":7,\"HostName\":\"localhost\",\"IPv4\":\"127.0.0.1\","
                          "\"DERPPort\":%u,\"InsecureForTests\":true}", port);
    region_map(&verified, "{\"Name\":\"7a\",\"RegionID\":7,\"HostName\":\"derp.invalid\",\"IPv4\":\"127.0.0.1\","
                          "\"CertName\":\"localhost\",\"DERPPort\":%u}", port);
    region_map(&strict, "{\"Name\":\"7a\",\"RegionID\":7,\"HostName\":\"localhost\",\"IPv4\":\"127.0.0.1\","
                        "\"DERPPort\":%u}", port);

    struct client_opts with_ca = {.ca_file = cert};
    struct client_opts base_insecure = {.insecure = true};   /* not the node's word: ignored */
    struct peer a, b, c;
    peer_start_at(&a, loop, NULL, derp_map_region(&insecure, 7), NULL);
    peer_start_at(&b, loop, NULL, derp_map_region(&verified, 7), &with_ca);
    peer_start_at(&c, loop, NULL, derp_map_region(&strict, 7), &base_insecure);
    wait_up(loop, &a, &b);
    exchange_sizes(loop, &a, &b);
    run_for(loop, 0.3);
    assert_int_equal(c.ups, 0);
    assert_non_null(strstr(vole_derp_client_last_error(c.c), "tls"));

    peer_stop(&a);
    peer_stop(&b);
    peer_stop(&c);
    derp_map_free(&insecure);
    derp_map_free(&verified);
    derp_map_free(&strict);
    vole_derp_server_free(s);
    loop_finish(loop);
    test_cert_remove(&tc);
}

static void test_region_bad(void **state)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct vole_derp_client_config base = {0};
    char err[160] = "";
    struct derp_map m;
    region_map(&m, "{\"Name\":\"7a\",\"RegionID\":7,\"HostName\":\"stun.invalid\",\"STUNOnly\":true}");
    assert_null(vole_derp_client_new_region(loop, derp_map_region(&m, 7), &base, NULL, err, sizeof err));
    assert_non_null(strstr(err, "no DERP node"));
    derp_map_free(&m);
    loop_finish(loop);
}

/* ==== garbage ================================================================================= */

struct raw_conn {
    ev_io w;
    int fd;
    bool closed;
    size_t bytes;
};

static void raw_on_read(struct ev_loop *loop, ev_io *w, int revents)
{
    struct raw_conn *r = w->data;
    uint8_t buf[4096];
    ssize_t n = recv(r->fd, buf, sizeof buf, 0);
    if (n > 0) {
        r->bytes += (size_t)n;
        return;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    r->closed = true;
    ev_io_stop(loop, w);
}

static bool raw_closed(void *arg)
{
    return ((struct raw_conn *)arg)->closed;
}

static int raw_connect(uint16_t port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    return fd;
}

static void test_garbage_client(void **state)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct vole_derp_server *s = server_start(loop, NULL);
    uint16_t port = vole_derp_server_port(s);
    char url[64];
    struct peer a, b;
    url_of(url, sizeof url, "http", "127.0.0.1", port);
    peer_start(&a, loop, url, NULL);
    peer_start(&b, loop, url, NULL);
    wait_up(loop, &a, &b);

    /* Upgrade properly, then junk where ClientInfo belongs. */
    static const char req[] = "GET /derp HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: DERP\r\n\r\n";
    struct raw_conn r = {.fd = raw_connect(port)};
    uint8_t junk[512];
    fill(junk, sizeof junk, 0xee);
    junk[0] = 0xff;   /* type 0xff, then a length no ClientInfo has */
    assert_int_equal(send(r.fd, req, sizeof req - 1, 0), (ssize_t)(sizeof req - 1));
    assert_int_equal(send(r.fd, junk, sizeof junk, 0), (ssize_t)sizeof junk);
    ev_io_init(&r.w, raw_on_read, r.fd, EV_READ);
    r.w.data = &r;
    ev_io_start(loop, &r.w);

    /* The others keep relaying while (and after) the junk is refused. */
    relay_one(loop, &a, &b, 1300, 1);
    /* (Whether the 101 and ServerKey are read first depends on timing: a
     * close with our junk unread is a reset, which discards them.) */
    assert_true(run_until(loop, raw_closed, &r, RUN_LIMIT));
    assert_int_equal(vole_derp_server_stats(s)->clients_current, 2);
    exchange_sizes(loop, &a, &b);

    /* A second one, after a good handshake: a SendPacket frame longer than any packet. */
    struct raw_conn r2 = {.fd = raw_connect(port)};
    const uint8_t huge[5] = {DERP_FRAME_SEND_PACKET, 0x7f, 0xff, 0xff, 0xff};
    assert_int_equal(send(r2.fd, req, sizeof req - 1, 0), (ssize_t)(sizeof req - 1));
    assert_int_equal(send(r2.fd, huge, sizeof huge, 0), (ssize_t)sizeof huge);
    ev_io_init(&r2.w, raw_on_read, r2.fd, EV_READ);
    r2.w.data = &r2;
    ev_io_start(loop, &r2.w);
    assert_true(run_until(loop, raw_closed, &r2, RUN_LIMIT));
    relay_one(loop, &b, &a, 1300, 2);
    assert_int_equal(a.downs + b.downs, 0);

    close(r.fd);
    close(r2.fd);
    peer_stop(&a);
    peer_stop(&b);
    vole_derp_server_free(s);
    loop_finish(loop);
}

/* ==== the embedder's /api/ hook ================================================================ */

struct api_hook {
    int calls;
    char path[64], rest[64];
    bool take;
    bool stream_closed;
};

static void api_on_read(void *ctx, struct vole_stream *st, const uint8_t *buf, size_t len) {}
static void api_on_close(void *ctx, struct vole_stream *st, const char *why)
{
    ((struct api_hook *)ctx)->stream_closed = true;
}

static bool api_hook(void *ctx, const struct derp_http_request *req, struct vole_stream *st, const uint8_t *rest,
                     size_t len)
{
    static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\nhooked";
    struct api_hook *h = ctx;
    struct vole_stream_ops ops = {.ctx = h, .on_read = api_on_read, .on_close = api_on_close};

    h->calls++;
    assert_int_equal(derp_http_path(req, h->path, sizeof h->path), 0);
    snprintf(h->rest, sizeof h->rest, "%.*s", (int)len, (const char *)rest);
    if (!h->take)
        return false;
    vole_stream_set_ops(st, &ops);
    vole_stream_write(st, resp, sizeof resp - 1);
    vole_stream_close(st, true);
    return true;
}

static bool api_stream_closed(void *arg)
{
    return ((struct api_hook *)arg)->stream_closed;
}

struct raw_text {
    ev_io w;
    int fd;
    bool closed;
    char buf[2048];
    size_t len;
};

static void raw_text_on_read(struct ev_loop *loop, ev_io *w, int revents)
{
    struct raw_text *r = w->data;
    ssize_t n = recv(r->fd, r->buf + r->len, sizeof r->buf - 1 - r->len, 0);
    if (n > 0) {
        r->len += (size_t)n;
        r->buf[r->len] = '\0';
        return;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    r->closed = true;
    ev_io_stop(loop, w);
}

static bool raw_text_closed(void *arg)
{
    return ((struct raw_text *)arg)->closed;
}

/* Sends req on a new connection and reads until the server closes. */
static void raw_exchange(struct ev_loop *loop, uint16_t port, const char *req, struct raw_text *r)
{
    memset(r, 0, sizeof *r);
    r->fd = raw_connect(port);
    assert_int_equal(send(r->fd, req, strlen(req), 0), (ssize_t)strlen(req));
    ev_io_init(&r->w, raw_text_on_read, r->fd, EV_READ);
    r->w.data = r;
    ev_io_start(loop, &r->w);
    assert_true(run_until(loop, raw_text_closed, r, RUN_LIMIT));
    close(r->fd);
}

static void test_api_hook(void **state)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct api_hook h = {.take = true};
    char err[200];
    struct vole_derp_server_config cfg = {.listen = "127.0.0.1:0", .api = api_hook, .api_ctx = &h};
    struct vole_derp_server *s = vole_derp_server_new(loop, &cfg, err, sizeof err);
    struct raw_text r;
    assert_non_null(s);
    uint16_t port = vole_derp_server_port(s);

    /* Taken: the hook answers, and saw the bytes after the head. */
    raw_exchange(loop, port, "GET /api/v2/thing?x=1 HTTP/1.1\r\nAuthorization: Bearer t\r\n\r\nEXTRA", &r);
    assert_int_equal(h.calls, 1);
    assert_string_equal(h.path, "/api/v2/thing");
    assert_string_equal(h.rest, "EXTRA");
    assert_non_null(strstr(r.buf, "\r\n\r\nhooked"));
    assert_true(run_until(loop, api_stream_closed, &h, RUN_LIMIT));
    /* Declined: the server's 404. */
    h.take = false;
    raw_exchange(loop, port, "GET /api/nope HTTP/1.1\r\n\r\n", &r);
    assert_int_equal(h.calls, 2);
    assert_non_null(strstr(r.buf, "HTTP/1.1 404 Not Found\r\n"));
    /* Not under /api/: never offered to the hook. */
    raw_exchange(loop, port, "GET /generate_204 HTTP/1.1\r\n\r\n", &r);
    assert_non_null(strstr(r.buf, "HTTP/1.1 204 No Content\r\n"));
    assert_int_equal(h.calls, 2);
    vole_derp_server_free(s);

    /* No hook at all: 404. */
    s = server_start(loop, NULL);
    raw_exchange(loop, vole_derp_server_port(s), "GET /api/v2/derp-map HTTP/1.1\r\n\r\n", &r);
    assert_non_null(strstr(r.buf, "HTTP/1.1 404 Not Found\r\n"));
    vole_derp_server_free(s);
    loop_finish(loop);
}

/* ==== 1000 clients ============================================================================= */

struct many {
    struct peer_lite {
        struct vole_derp_client *c;
        struct derp_keypair kp;
        struct many *m;
        size_t index, got;
        bool up;
    } *p;
    size_t n, up, delivered, wrong;
};

static void lite_on_packet(void *ctx, const uint8_t src[DERP_KEY_LEN], const uint8_t *pkt, size_t len)
{
    struct peer_lite *p = ctx;
    struct many *m = p->m;
    size_t from = (p->index + m->n - 1) % m->n;   /* each sends to its right-hand neighbour */
    uint32_t idx;
    if (len != 64 || memcmp(src, m->p[from].kp.pub, DERP_KEY_LEN) != 0 || (memcpy(&idx, pkt, 4), idx != from)) {
        m->wrong++;
        return;
    }
    p->got++;
    m->delivered++;
}

static void lite_on_state(void *ctx, bool up, const char *why)
{
    struct peer_lite *p = ctx;
    if (up && !p->up)
        p->m->up++;
    else if (!up && p->up)
        p->m->up--;
    p->up = up;
}

static bool all_up(void *arg)
{
    struct many *m = arg;
    return m->up == m->n;
}

static bool all_delivered(void *arg)
{
    struct many *m = arg;
    return m->delivered == m->n;
}

/* Two descriptors per client in this one process (its end and the server's). */
static size_t raise_fd_limit(size_t want)
{
    struct rlimit rl;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    rl.rlim_cur = rl.rlim_max;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
    return rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= want ? want : (size_t)rl.rlim_cur;
}

static void test_1000_clients(void **state)
{
    const size_t n = MANY_CLIENTS;
    if (raise_fd_limit(2 * n + 64) < 2 * n + 64) {
        print_message("RLIMIT_NOFILE hard limit below %zu: skipped\n", 2 * n + 64);
        skip();
    }
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct vole_derp_server *s = server_start(loop, NULL);
    char url[64];
    url_of(url, sizeof url, "http", "127.0.0.1", vole_derp_server_port(s));
    struct many m = {.n = n, .p = calloc(n, sizeof *m.p)};
    assert_non_null(m.p);

    ev_now_update(loop);
    double t0 = ev_now(loop);
    for (size_t i = 0; i < n; i++) {
        char err[128];
        struct peer_lite *p = &m.p[i];
        p->m = &m;
        p->index = i;
        derp_keypair_generate(&p->kp);
        struct vole_derp_client_config cfg = {.url = url};
        memcpy(cfg.private_key, p->kp.priv, DERP_KEY_LEN);
        struct vole_derp_client_ops ops = {.ctx = p, .on_packet = lite_on_packet, .on_state = lite_on_state};
        p->c = vole_derp_client_new(loop, &cfg, &ops, err, sizeof err);
        assert_non_null(p->c);
    }
    if (!run_until(loop, all_up, &m, 60))
        fail_msg("%zu of %zu clients connected", m.up, n);
    ev_now_update(loop);
    double t1 = ev_now(loop);
    assert_int_equal(vole_derp_server_stats(s)->clients_current, n);

    uint8_t pkt[64] = {0};
    for (size_t i = 0; i < n; i++) {
        uint32_t idx = (uint32_t)i;
        memcpy(pkt, &idx, 4);
        assert_int_equal(vole_derp_client_send(m.p[i].c, m.p[(i + 1) % n].kp.pub, pkt, sizeof pkt), 0);
    }
    if (!run_until(loop, all_delivered, &m, 30))
        fail_msg("%zu of %zu packets delivered", m.delivered, n);
    ev_now_update(loop);
    print_message("%zu clients: connected in %.2f s, one packet each relayed in %.3f s\n", n, t1 - t0,
                  ev_now(loop) - t1);
    assert_int_equal(m.wrong, 0);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(m.p[i].got, 1);

    for (size_t i = 0; i < n; i++)
        vole_derp_client_free(m.p[i].c);
    free(m.p);
    vole_derp_server_free(s);
    loop_finish(loop);
}

/* ==== a scripted server on a helper thread ==================================================== */

/* Blocking socket code on its own thread, so that it can say exactly the
 * bytes the real server never sends; the client runs on the test's loop.
 * Every blocking call has a 5 s timeout. */
struct script {
    int listen_fd;
    uint16_t port;
    struct derp_keypair server;
    uint8_t client_pub[DERP_KEY_LEN];
    char requests[3][1024];         /* the upgrade requests, as received */
    atomic_int step;                /* how far the script got; -1 on failure */
    char failure[160];
    atomic_bool done;
};

static void script_fail(struct script *s, const char *what)
{
    snprintf(s->failure, sizeof s->failure, "script step %d: %s (%s)", atomic_load(&s->step), what,
             strerror(errno));
    atomic_store(&s->step, -1);
}

static int script_listen(struct script *s)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t len = sizeof sin;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    if (s->listen_fd < 0 || bind(s->listen_fd, (struct sockaddr *)&sin, sizeof sin) < 0 ||
        listen(s->listen_fd, 8) < 0 || getsockname(s->listen_fd, (struct sockaddr *)&sin, &len) < 0)
        return -1;
    s->port = ntohs(sin.sin_port);
    return 0;
}

static int script_accept(struct script *s)
{
    struct pollfd pfd = {.fd = s->listen_fd, .events = POLLIN};
    struct timeval tv = {.tv_sec = 5};
    if (poll(&pfd, 1, 5000) != 1)
        return -1;
    int fd = accept(s->listen_fd, NULL, NULL);
    if (fd >= 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

static int read_exact(int fd, uint8_t *buf, size_t len)
{
    while (len) {
        ssize_t n = recv(fd, buf, len, 0);
        if (n <= 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

static int read_request(int fd, char *out, size_t cap)
{
    size_t len = 0;
    while (len + 1 < cap) {
        if (read_exact(fd, (uint8_t *)out + len, 1) < 0)
            return -1;
        out[++len] = '\0';
        if (len >= 4 && memcmp(out + len - 4, "\r\n\r\n", 4) == 0)
            return 0;
    }
    return -1;
}

static int write_all(int fd, const void *buf, size_t len)
{
    return send(fd, buf, len, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

/* The next frame; its payload (up to cap) in buf. */
static int read_frame(int fd, uint8_t *type, uint8_t *buf, size_t cap, uint32_t *len)
{
    uint8_t h[DERP_FRAME_HEADER_LEN];
    if (read_exact(fd, h, sizeof h) < 0)
        return -1;
    *type = h[0];
    *len = (uint32_t)h[1] << 24 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 8 | h[4];
    return *len <= cap ? read_exact(fd, buf, *len) : -1;
}

/* EOF (or a reset) within the socket's timeout: the client hung up. */
static bool hung_up(int fd)
{
    uint8_t b;
    ssize_t n = recv(fd, &b, 1, 0);
    return n == 0 || (n < 0 && errno == ECONNRESET);
}

/* 101, ServerKey, ClientInfo (checked), ServerInfo: a DERP server's opening. */
static int script_handshake(struct script *s, int fd, char *request)
{
    char resp[256];
    uint8_t buf[1024], type;
    uint32_t len;
    char hex[2 * DERP_KEY_LEN + 1];

    derp_key_hex(hex, s->server.pub);
    int n = snprintf(resp, sizeof resp,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: DERP\r\nConnection: Upgrade\r\n"
                     "Derp-Version: 2\r\nDerp-Public-Key: %s\r\n\r\n", hex);
    size_t k = derp_write_server_key(buf, sizeof buf, s->server.pub);
    if (read_request(fd, request, 1024) < 0 || write_all(fd, resp, (size_t)n) < 0 || write_all(fd, buf, k) < 0)
        return -1;
    if (read_frame(fd, &type, buf, sizeof buf, &len) < 0 || type != DERP_FRAME_CLIENT_INFO)
        return -1;
    struct derp_frame f = {.type = type, .len = len, .payload = buf};
    struct derp_client_info info;
    uint8_t pub[DERP_KEY_LEN];
    if (derp_open_client_info(&f, &s->server, pub, &info) < 0 || info.version != 2 || !info.can_ack_pings ||
        memcmp(pub, s->client_pub, DERP_KEY_LEN) != 0)
        return -1;
    struct derp_server_info si = {.version = 2};
    k = derp_build_server_info(buf, sizeof buf, &s->server, pub, &si, NULL);
    return k && write_all(fd, buf, k) == 0 ? 0 : -1;
}

/* On the first connection: KeepAlive, an unknown frame, Health and a Ping
 * (answered with the same 8 bytes), a packet, then a frame over 1 MiB. */
static int script_first(struct script *s, int fd)
{
    uint8_t buf[256], type;
    uint32_t len;
    static const uint8_t ping_data[DERP_PING_LEN] = {'p', 'i', 'n', 'g', 'd', 'a', 't', 'a'};
    static const uint8_t unknown[] = {0x7f, 0, 0, 0, 3, 'a', 'b', 'c'};
    static const uint8_t health[] = {DERP_FRAME_HEALTH, 0, 0, 0, 2, 'o', 'k'};

    size_t k = derp_write_keep_alive(buf, sizeof buf);
    if (write_all(fd, buf, k) < 0 || write_all(fd, unknown, sizeof unknown) < 0 ||
        write_all(fd, health, sizeof health) < 0)
        return -1;
    k = derp_write_ping(buf, sizeof buf, DERP_FRAME_PING, ping_data);
    if (write_all(fd, buf, k) < 0 || read_frame(fd, &type, buf, sizeof buf, &len) < 0)
        return -1;
    if (type != DERP_FRAME_PONG || len != DERP_PING_LEN || memcmp(buf, ping_data, DERP_PING_LEN) != 0)
        return -1;
    atomic_store(&s->step, 2);
    uint8_t src[DERP_KEY_LEN];
    memset(src, 0x33, sizeof src);
    k = derp_write_packet_prefix(buf, sizeof buf, DERP_FRAME_RECV_PACKET, src, 5);
    memcpy(buf + k, "hello", 5);
    if (write_all(fd, buf, k + 5) < 0)
        return -1;
    const uint8_t too_long[5] = {DERP_FRAME_RECV_PACKET, 0x00, 0x10, 0x00, 0x01};   /* 1 MiB + 1 */
    return write_all(fd, too_long, sizeof too_long) == 0 && hung_up(fd) ? 0 : -1;
}

static void *script_run(void *arg)
{
    struct script *s = arg;
    int fd = script_accept(s);
    if (fd < 0 || script_handshake(s, fd, s->requests[0]) < 0) {
        script_fail(s, "first handshake");
        goto out;
    }
    atomic_store(&s->step, 1);
    if (script_first(s, fd) < 0) {
        script_fail(s, "ping, unknown frames, oversized frame");
        goto out;
    }
    close(fd);
    atomic_store(&s->step, 3);
    /* The client comes back, and then we say nothing: it must hang up. */
    fd = script_accept(s);
    if (fd < 0 || script_handshake(s, fd, s->requests[1]) < 0 || !hung_up(fd)) {
        script_fail(s, "silence");
        goto out;
    }
    close(fd);
    atomic_store(&s->step, 4);
    /* A 4xx to the upgrade: the next attempt must be WebSocket. */
    fd = script_accept(s);
    static const char r426[] = "HTTP/1.1 426 Upgrade Required\r\nContent-Length: 0\r\n\r\n";
    if (fd < 0 || read_request(fd, s->requests[2], sizeof s->requests[2]) < 0 ||
        write_all(fd, r426, sizeof r426 - 1) < 0) {
        script_fail(s, "426");
        goto out;
    }
    close(fd);
    fd = script_accept(s);
    char ws_request[1024];
    if (fd < 0 || read_request(fd, ws_request, sizeof ws_request) < 0 ||
        !strstr(ws_request, "Upgrade: websocket\r\n") || !strstr(ws_request, "Sec-Websocket-Protocol: derp\r\n")) {
        script_fail(s, "no WebSocket after the 426");
        goto out;
    }
    atomic_store(&s->step, 5);
out:
    if (fd >= 0)
        close(fd);
    atomic_store(&s->done, true);
    return NULL;
}

static bool script_done(void *arg)
{
    return atomic_load(&((struct script *)arg)->done);
}

static void test_scripted_server(void **state)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct script *s = calloc(1, sizeof *s);
    pthread_t th;
    char url[64];
    struct peer a;
    struct client_opts o = {.dead_after = 0.5, .extra_header = "Coder-Session-Token: s3cret"};

    assert_non_null(s);
    assert_int_equal(script_listen(s), 0);
    derp_keypair_generate(&s->server);
    url_of(url, sizeof url, "http", "127.0.0.1", s->port);
    peer_start(&a, loop, url, &o);
    memcpy(s->client_pub, a.kp.pub, DERP_KEY_LEN);
    assert_int_equal(pthread_create(&th, NULL, script_run, s), 0);

    assert_true(run_until(loop, script_done, s, 30));
    assert_int_equal(pthread_join(th, NULL), 0);
    if (atomic_load(&s->step) != 5)
        fail_msg("%s; client: %s", s->failure, vole_derp_client_last_error(a.c));

    assert_non_null(strstr(s->requests[0], "Coder-Session-Token: s3cret\r\nConnection: Upgrade\r\nUpgrade: DERP\r\n"));
    assert_int_equal(a.ups, 2);                      /* first and second connection */
    assert_int_equal(a.downs, 2);                    /* oversized frame; silence */
    assert_int_equal(a.packets, 1);                  /* the packet after the skipped frames */
    assert_int_equal(a.len, 5);
    assert_memory_equal(a.pkt, "hello", 5);
    assert_int_equal(vole_derp_client_stats(a.c)->pings_answered, 1);

    peer_stop(&a);
    close(s->listen_fd);
    free(s);
    loop_finish(loop);
}

/* A client freed from inside its own callback (on_packet) is gone at once for
 * the caller and its memory when the callback returns. */
struct self_free {
    struct peer p;
    bool freed;
};

static void free_on_packet(void *ctx, const uint8_t src[DERP_KEY_LEN], const uint8_t *pkt, size_t len)
{
    struct self_free *sf = ctx;
    vole_derp_client_free(sf->p.c);
    sf->freed = true;
}

static bool freed(void *arg)
{
    return ((struct self_free *)arg)->freed;
}

static void test_free_inside_callback(void **state)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct vole_derp_server *s = server_start(loop, NULL);
    char url[64], err[128];
    struct peer a;
    struct self_free sf = {0};
    url_of(url, sizeof url, "http", "127.0.0.1", vole_derp_server_port(s));
    peer_start(&a, loop, url, NULL);

    derp_keypair_generate(&sf.p.kp);
    struct vole_derp_client_config cfg = {.url = url};
    memcpy(cfg.private_key, sf.p.kp.priv, DERP_KEY_LEN);
    struct vole_derp_client_ops ops = {.ctx = &sf, .on_packet = free_on_packet};
    sf.p.c = vole_derp_client_new(loop, &cfg, &ops, err, sizeof err);
    assert_non_null(sf.p.c);
    wait_up(loop, &a, &sf.p);

    /* Two packets in one read: the second must not reach the freed client. */
    assert_int_equal(vole_derp_client_send(a.c, sf.p.kp.pub, (const uint8_t *)"1", 1), 0);
    assert_int_equal(vole_derp_client_send(a.c, sf.p.kp.pub, (const uint8_t *)"2", 1), 0);
    assert_true(run_until(loop, freed, &sf, RUN_LIMIT));
    run_for(loop, 0.1);   /* the stream's close and the server's side settle */
    relay_one(loop, &a, &a, 3, 3);   /* the loop and the server are fine */

    peer_stop(&a);
    vole_derp_server_free(s);
    loop_finish(loop);
}

static void test_bad_config(void **state)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    char err[128] = "";
    struct vole_derp_client_config cfg = {.url = "ftp://x"};
    assert_null(vole_derp_client_new(loop, &cfg, NULL, err, sizeof err));
    assert_non_null(strstr(err, "http"));
    cfg.url = "http://127.0.0.1:1";
    cfg.extra_header = "X: y\r\nInjected: z";
    assert_null(vole_derp_client_new(loop, &cfg, NULL, err, sizeof err));

    /* Nothing listens on port 1: attempts fail and back off, never connect. */
    cfg.extra_header = NULL;
    struct vole_derp_client *c = vole_derp_client_new(loop, &cfg, NULL, err, sizeof err);
    assert_non_null(c);
    run_for(loop, 0.5);
    assert_false(vole_derp_client_connected(c));
    assert_true(strlen(vole_derp_client_last_error(c)) > 0);
    vole_derp_client_free(c);

    /* A name that does not resolve (.invalid is reserved, RFC 6761). */
    cfg.url = "http://derp.invalid:3340";
    c = vole_derp_client_new(loop, &cfg, NULL, err, sizeof err);
    assert_non_null(c);
    run_for(loop, 0.3);
    assert_false(vole_derp_client_connected(c));
    vole_derp_client_free(c);
    loop_finish(loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_parse),
        cmocka_unit_test(test_upgrade_request),
        cmocka_unit_test(test_upgrade_response_split),
        cmocka_unit_test(test_upgrade_response_checks),
        cmocka_unit_test(test_bad_config),
        cmocka_unit_test(test_exchange_sizes),
        cmocka_unit_test(test_burst_in_order),
        cmocka_unit_test(test_peer_gone_not_here),
        cmocka_unit_test(test_peer_gone_disconnected),
        cmocka_unit_test(test_ping_server),
        cmocka_unit_test(test_free_inside_callback),
        cmocka_unit_test(test_reconnect_after_restart),
        cmocka_unit_test(test_websocket),
        cmocka_unit_test(test_tls),
        cmocka_unit_test(test_region_nodes_in_order),
        cmocka_unit_test(test_region_all_down_then_first),
        cmocka_unit_test(test_region_dial_timeout),
        cmocka_unit_test(test_region_tls_from_node),
        cmocka_unit_test(test_region_bad),
        cmocka_unit_test(test_garbage_client),
        cmocka_unit_test(test_api_hook),
        cmocka_unit_test(test_scripted_server),
        cmocka_unit_test(test_1000_clients),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
