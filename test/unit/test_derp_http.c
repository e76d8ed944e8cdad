/* derp/http: the DERP server's request-head parser, its routing decisions and
 * the exact bytes of every response (tailscale-wire.md §1.5, §1.9). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "derp/http.h"

/* ---- helpers ---------------------------------------------------------- */

/* Parses text whole; returns the status, *consumed the head's length. */
static enum derp_http_status parse(struct derp_http_parser *hp, const char *text, size_t *consumed)
{
    derp_http_parser_init(hp);
    return derp_http_parse(hp, (const uint8_t *)text, strlen(text), consumed);
}

/* Parses a request that must complete, and routes it. */
static enum derp_http_route route_of(const char *text, struct derp_http_parser *hp)
{
    size_t used;
    assert_int_equal(parse(hp, text, &used), DERP_HTTP_DONE);
    assert_int_equal(used, strlen(text));
    return derp_http_route(&hp->req);
}

static enum derp_http_route route_text(const char *text)
{
    static struct derp_http_parser hp;   /* 2.6 KiB: off the stack */
    return route_of(text, &hp);
}

/* The response a route gets, as text. */
static const char *respond(const char *request, const struct derp_relay_stats *st)
{
    static char out[DERP_HTTP_RESPONSE_MAX + 1];
    static struct derp_http_parser hp;
    enum derp_http_route r = route_of(request, &hp);
    size_t n = derp_http_respond(out, sizeof out - 1, r, &hp.req, st);

    assert_true(n > 0);
    out[n] = '\0';
    return out;
}

static const struct derp_relay_stats NO_STATS;

/* ---- parsing ---------------------------------------------------------- */

static void test_head_ends_before_pipelined_bytes(void **state)
{
    static const char head[] = "GET /derp HTTP/1.1\r\nHost: derp.example\r\nUser-Agent: Go-http-client/1.1\r\n"
                               "Connection: Upgrade\r\nDerp-Fast-Start: 1\r\nUpgrade: DERP\r\n\r\n";
    static const uint8_t frame[9] = { 0x02, 0x00, 0x00, 0x00, 0x68, 'A', 'B', 'C', 'D' };   /* a ClientInfo begins */
    uint8_t buf[sizeof head - 1 + sizeof frame];
    struct derp_http_parser hp;
    size_t used;

    memcpy(buf, head, sizeof head - 1);
    memcpy(buf + sizeof head - 1, frame, sizeof frame);
    derp_http_parser_init(&hp);
    assert_int_equal(derp_http_parse(&hp, buf, sizeof buf, &used), DERP_HTTP_DONE);
    assert_int_equal(used, sizeof head - 1);
    assert_int_equal(hp.req.method, HTTP_GET);
    assert_string_equal(hp.req.url, "/derp");
    assert_string_equal(hp.req.value[DERP_HDR_UPGRADE], "DERP");
    assert_string_equal(hp.req.value[DERP_HDR_FAST_START], "1");
    assert_int_equal(derp_http_route(&hp.req), DERP_ROUTE_DERP_FAST);
    /* Done is sticky and consumes nothing more. */
    assert_int_equal(derp_http_parse(&hp, buf + used, 9, &used), DERP_HTTP_DONE);
    assert_int_equal(used, 0);
}

static void test_byte_by_byte(void **state)
{
    static const char req[] = "GET /derp HTTP/1.1\r\nHost: x\r\nUpgrade:   DERP  \r\nX-Long-Header-Name-"
                              "That-Is-Not-Ours-At-All: v\r\nConnection: Upgrade\r\n\r\n\x01";
    struct derp_http_parser hp;
    size_t used, total = 0;
    enum derp_http_status st = DERP_HTTP_MORE;

    derp_http_parser_init(&hp);
    for (size_t i = 0; i < sizeof req - 1 && st == DERP_HTTP_MORE; i++) {
        st = derp_http_parse(&hp, (const uint8_t *)req + i, 1, &used);
        total += used;
    }
    assert_int_equal(st, DERP_HTTP_DONE);
    assert_int_equal(total, sizeof req - 2);   /* the trailing \x01 is not the head's */
    assert_string_equal(hp.req.value[DERP_HDR_UPGRADE], "DERP");   /* surrounding blanks trimmed */
    assert_int_equal(derp_http_route(&hp.req), DERP_ROUTE_DERP);
}

static void test_incomplete_then_more(void **state)
{
    struct derp_http_parser hp;
    size_t used;

    assert_int_equal(parse(&hp, "GET /metrics HTTP/1.1\r\nHost: a\r\n", &used), DERP_HTTP_MORE);
    assert_int_equal(used, 32);
    assert_int_equal(derp_http_parse(&hp, (const uint8_t *)"\r\n", 2, &used), DERP_HTTP_DONE);
    assert_int_equal(used, 2);
    assert_int_equal(derp_http_route(&hp.req), DERP_ROUTE_METRICS);
}

static void test_malformed(void **state)
{
    struct derp_http_parser hp;
    size_t used;

    assert_int_equal(parse(&hp, "GARBAGE\r\n\r\n", &used), DERP_HTTP_BAD);
    assert_int_equal(parse(&hp, "GET / HTTP/1.1\r\nNo colon here\r\n\r\n", &used), DERP_HTTP_BAD);
    assert_int_equal(parse(&hp, "\x16\x03\x01\x02\x00\x01", &used), DERP_HTTP_BAD);   /* TLS to a plain port */
    assert_int_equal(parse(&hp, "GET / HTTP/9.9\r\n\r\n", &used), DERP_HTTP_BAD);
}

/* A control byte in a header value is a bad request, however the request is
 * split: once a leading NUL made the stored value depend on the split. */
static void test_control_bytes_in_values(void **state)
{
    static const char req[] = "GET /derp HTTP/1.1\r\nUpgrade:\0garbageDERP\r\n\r\n";
    struct derp_http_parser hp;
    size_t used, n = sizeof req - 1;
    (void)state;

    for (size_t split = 1; split < n; split++) {
        enum derp_http_status st;
        derp_http_parser_init(&hp);
        st = derp_http_parse(&hp, (const uint8_t *)req, split, &used);
        if (st == DERP_HTTP_MORE)
            st = derp_http_parse(&hp, (const uint8_t *)req + split, n - split, &used);
        assert_int_equal(st, DERP_HTTP_BAD);
    }
    assert_int_equal(parse(&hp, "GET / HTTP/1.1\r\nX-Tailscale-Challenge: a\x01b\r\n\r\n", &used), DERP_HTTP_BAD);
    /* HTAB is allowed. */
    assert_int_equal(parse(&hp, "GET / HTTP/1.1\r\nUpgrade:\tDERP\r\n\r\n", &used), DERP_HTTP_DONE);
}

static void test_head_size_limit(void **state)
{
    static struct derp_http_parser hp;
    static char req[DERP_HTTP_HEAD_MAX + 64];
    const char *start = "GET /derp/probe HTTP/1.1\r\nX-Pad: ";
    size_t used, fixed = strlen(start) + 4;   /* + "\r\n\r\n" */

    /* Exactly at the limit: accepted. */
    memset(req, 0, sizeof req);
    strcpy(req, start);
    memset(req + strlen(start), 'a', DERP_HTTP_HEAD_MAX - fixed);
    strcat(req, "\r\n\r\n");
    assert_int_equal(strlen(req), DERP_HTTP_HEAD_MAX);
    assert_int_equal(parse(&hp, req, &used), DERP_HTTP_DONE);
    assert_int_equal(derp_http_route(&hp.req), DERP_ROUTE_PROBE);
    /* One byte more: 431, whether it comes at once or in pieces. */
    memset(req, 0, sizeof req);
    strcpy(req, start);
    memset(req + strlen(start), 'a', DERP_HTTP_HEAD_MAX - fixed + 1);
    strcat(req, "\r\n\r\n");
    assert_int_equal(parse(&hp, req, &used), DERP_HTTP_TOO_LARGE);
    derp_http_parser_init(&hp);
    assert_int_equal(derp_http_parse(&hp, (const uint8_t *)req, 10000, &used), DERP_HTTP_MORE);
    assert_int_equal(derp_http_parse(&hp, (const uint8_t *)req + 10000, strlen(req) - 10000, &used),
                     DERP_HTTP_TOO_LARGE);
}

static void test_endless_headers(void **state)
{
    struct derp_http_parser hp;
    size_t used;
    enum derp_http_status st;
    int i;

    assert_int_equal(parse(&hp, "GET / HTTP/1.1\r\n", &used), DERP_HTTP_MORE);
    for (i = 0; i < 100000; i++) {
        st = derp_http_parse(&hp, (const uint8_t *)"X-A: b\r\n", 8, &used);
        if (st != DERP_HTTP_MORE)
            break;
    }
    assert_int_equal(st, DERP_HTTP_TOO_LARGE);
    assert_true(i * 8 < (int)DERP_HTTP_HEAD_MAX + 8);
}

static void test_long_values_never_match(void **state)
{
    static char req[1200];
    char longv[600];

    memset(longv, 'x', sizeof longv - 5);
    strcpy(longv + sizeof longv - 5, "DERP");   /* a very long value that ends like ours */
    snprintf(req, sizeof req, "GET /derp HTTP/1.1\r\nUpgrade: %s\r\n\r\n", longv);
    assert_int_equal(route_text(req), DERP_ROUTE_UPGRADE_REQUIRED);
}

static void test_empty_value_keeps_names_apart(void **state)
{
    struct derp_http_parser hp;

    /* An empty value between two headers must not glue their names together. */
    assert_int_equal(route_of("GET /derp HTTP/1.1\r\nX-Empty:\r\nUpgrade: DERP\r\n\r\n", &hp), DERP_ROUTE_DERP);
    assert_int_equal(route_of("GET /derp HTTP/1.1\r\nUpgrade:\r\nDerp-Fast-Start: 1\r\n\r\n", &hp),
                     DERP_ROUTE_UPGRADE_REQUIRED);
    assert_string_equal(hp.req.value[DERP_HDR_FAST_START], "1");
}

static void test_repeated_headers_joined(void **state)
{
    struct derp_http_parser hp;

    assert_int_equal(route_of("GET /derp HTTP/1.1\r\nUpgrade: websocket\r\nSec-WebSocket-Protocol: chat\r\n"
                              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                              "sec-websocket-protocol: derp\r\n\r\n", &hp),
                     DERP_ROUTE_WEBSOCKET);
    assert_string_equal(hp.req.value[DERP_HDR_WS_PROTOCOL], "chat, derp");
}

/* ---- routing ---------------------------------------------------------- */

static void test_route_derp(void **state)
{
    assert_int_equal(route_text("GET /derp HTTP/1.1\r\nUpgrade: DERP\r\nConnection: Upgrade\r\n\r\n"),
                     DERP_ROUTE_DERP);
    /* Case-insensitive, and without Connection: as upstream, the Upgrade header decides. */
    assert_int_equal(route_text("GET /derp HTTP/1.1\r\nupgrade: dErP\r\n\r\n"), DERP_ROUTE_DERP);
    assert_int_equal(route_text("GET /derp?x=1 HTTP/1.0\r\nUpgrade: DERP\r\n\r\n"), DERP_ROUTE_DERP);
    assert_int_equal(route_text("GET http://derp.example:3340/derp HTTP/1.1\r\nUpgrade: DERP\r\n\r\n"),
                     DERP_ROUTE_DERP);
    assert_int_equal(route_text("GET /derp HTTP/1.1\r\nUpgrade: DERP\r\nDerp-Fast-Start: 1\r\n\r\n"),
                     DERP_ROUTE_DERP_FAST);
    assert_int_equal(route_text("GET /derp HTTP/1.1\r\nUpgrade: DERP\r\nDerp-Fast-Start: 0\r\n\r\n"),
                     DERP_ROUTE_DERP);
}

static void test_route_websocket(void **state)
{
    const char *key = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
    char req[512];

    snprintf(req, sizeof req, "GET /derp HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n%s"
             "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: derp\r\n\r\n", key);
    assert_int_equal(route_text(req), DERP_ROUTE_WEBSOCKET);
    snprintf(req, sizeof req, "GET /derp HTTP/1.1\r\nUpgrade: WebSocket\r\n%s"
             "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: x, derp\r\n\r\n", key);
    assert_int_equal(route_text(req), DERP_ROUTE_WEBSOCKET);
    /* Without the derp subprotocol: a legacy client speaking raw DERP. */
    snprintf(req, sizeof req, "GET /derp HTTP/1.1\r\nUpgrade: websocket\r\n%s"
             "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: derpy\r\n\r\n", key);
    assert_int_equal(route_text(req), DERP_ROUTE_DERP);
    assert_int_equal(route_text("GET /derp HTTP/1.1\r\nUpgrade: websocket\r\n\r\n"), DERP_ROUTE_DERP);
    /* RFC 6455: a key, version 13, GET. */
    assert_int_equal(route_text("GET /derp HTTP/1.1\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                                "Sec-WebSocket-Protocol: derp\r\n\r\n"),
                     DERP_ROUTE_BAD_REQUEST);
    snprintf(req, sizeof req, "GET /derp HTTP/1.1\r\nUpgrade: websocket\r\n%s"
             "Sec-WebSocket-Version: 8\r\nSec-WebSocket-Protocol: derp\r\n\r\n", key);
    assert_int_equal(route_text(req), DERP_ROUTE_BAD_REQUEST);
    snprintf(req, sizeof req, "POST /derp HTTP/1.1\r\nUpgrade: websocket\r\n%s"
             "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: derp\r\n\r\n", key);
    assert_int_equal(route_text(req), DERP_ROUTE_METHOD_NOT_ALLOWED);
}

static void test_route_other(void **state)
{
    assert_int_equal(route_text("GET /derp HTTP/1.1\r\n\r\n"), DERP_ROUTE_UPGRADE_REQUIRED);
    assert_int_equal(route_text("GET /derp HTTP/1.1\r\nUpgrade: h2c\r\n\r\n"), DERP_ROUTE_UPGRADE_REQUIRED);
    assert_int_equal(route_text("GET /derp/probe HTTP/1.1\r\n\r\n"), DERP_ROUTE_PROBE);
    assert_int_equal(route_text("HEAD /derp/latency-check HTTP/1.1\r\n\r\n"), DERP_ROUTE_PROBE);
    assert_int_equal(route_text("POST /derp/probe HTTP/1.1\r\nContent-Length: 3\r\n\r\n"),
                     DERP_ROUTE_METHOD_NOT_ALLOWED);
    assert_int_equal(route_text("GET /generate_204 HTTP/1.1\r\n\r\n"), DERP_ROUTE_NO_CONTENT);
    assert_int_equal(route_text("GET /metrics HTTP/1.1\r\n\r\n"), DERP_ROUTE_METRICS);
    assert_int_equal(route_text("DELETE /metrics HTTP/1.1\r\n\r\n"), DERP_ROUTE_METHOD_NOT_ALLOWED);
    assert_int_equal(route_text("GET / HTTP/1.1\r\n\r\n"), DERP_ROUTE_NOT_FOUND);
    assert_int_equal(route_text("GET /derp/ HTTP/1.1\r\nUpgrade: DERP\r\n\r\n"), DERP_ROUTE_NOT_FOUND);
    assert_int_equal(route_text("GET /DERP HTTP/1.1\r\nUpgrade: DERP\r\n\r\n"), DERP_ROUTE_NOT_FOUND);
}

static void test_route_long_url(void **state)
{
    static char req[DERP_HTTP_URL_MAX + 64];

    strcpy(req, "GET /");
    memset(req + 5, 'a', DERP_HTTP_URL_MAX);
    strcpy(req + 5 + DERP_HTTP_URL_MAX, " HTTP/1.1\r\n\r\n");
    assert_int_equal(route_text(req), DERP_ROUTE_URI_TOO_LONG);
}

static void test_challenge_valid(void **state)
{
    char c[80];

    assert_true(derp_http_challenge_valid("ts_derp1.example.com"));
    assert_true(derp_http_challenge_valid("aZ09.-_:"));
    assert_false(derp_http_challenge_valid(""));
    assert_false(derp_http_challenge_valid("a b"));
    assert_false(derp_http_challenge_valid("a/b"));
    assert_false(derp_http_challenge_valid("<script>"));
    memset(c, 'a', 64);
    c[64] = '\0';
    assert_true(derp_http_challenge_valid(c));
    c[64] = 'a';
    c[65] = '\0';
    assert_false(derp_http_challenge_valid(c));
}

/* ---- responses -------------------------------------------------------- */

static void test_derp_101_exact(void **state)
{
    uint8_t pub[DERP_KEY_LEN];
    char out[512];

    for (int i = 0; i < DERP_KEY_LEN; i++)
        pub[i] = (uint8_t)(0xa0 + i);
    size_t n = derp_http_write_derp_101(out, sizeof out, pub);
    const char *want = "HTTP/1.1 101 Switching Protocols\r\n"
                       "Upgrade: DERP\r\n"
                       "Connection: Upgrade\r\n"
                       "Derp-Version: 2\r\n"
                       "Derp-Public-Key: a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf\r\n"
                       "\r\n";
    assert_int_equal(n, strlen(want));
    assert_memory_equal(out, want, n);
    assert_int_equal(derp_http_write_derp_101(out, n, pub), 0);   /* no room for the NUL: refused */
}

static void test_ws_101_exact(void **state)
{
    char out[512];
    size_t n = derp_http_write_ws_101(out, sizeof out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    const char *want = "HTTP/1.1 101 Switching Protocols\r\n"
                       "Upgrade: websocket\r\n"
                       "Connection: Upgrade\r\n"
                       "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
                       "Sec-WebSocket-Protocol: derp\r\n"
                       "\r\n";
    assert_int_equal(n, strlen(want));
    assert_memory_equal(out, want, n);
}

static void test_426_exact(void **state)
{
    assert_string_equal(respond("GET /derp HTTP/1.1\r\n\r\n", &NO_STATS),
                        "HTTP/1.1 426 Upgrade Required\r\n"
                        "X-Content-Type-Options: nosniff\r\n"
                        "Content-Type: text/plain; charset=utf-8\r\n"
                        "Content-Length: 33\r\n"
                        "Connection: close\r\n"
                        "\r\n"
                        "DERP requires connection upgrade\n");
}

static void test_probe_exact(void **state)
{
    static const char ok[] = "HTTP/1.1 200 OK\r\n"
                             "Access-Control-Allow-Origin: *\r\n"
                             "Content-Length: 0\r\n"
                             "Connection: close\r\n"
                             "\r\n";
    assert_string_equal(respond("GET /derp/probe HTTP/1.1\r\n\r\n", &NO_STATS), ok);
    assert_string_equal(respond("HEAD /derp/latency-check HTTP/1.1\r\n\r\n", &NO_STATS), ok);
    assert_string_equal(respond("PUT /derp/probe HTTP/1.1\r\n\r\n", &NO_STATS),
                        "HTTP/1.1 405 Method Not Allowed\r\n"
                        "X-Content-Type-Options: nosniff\r\n"
                        "Content-Type: text/plain; charset=utf-8\r\n"
                        "Content-Length: 19\r\n"
                        "Connection: close\r\n"
                        "\r\n"
                        "bogus probe method\n");
}

static void test_204_exact(void **state)
{
    static const char head[] = "HTTP/1.1 204 No Content\r\n"
                               "Cache-Control: no-cache, no-store, must-revalidate, no-transform, max-age=0\r\n";
    char want[512], req[256], big[70];

    snprintf(want, sizeof want, "%sX-Tailscale-Response: response ts_derp1.example.com\r\nConnection: close\r\n\r\n",
             head);
    assert_string_equal(respond("GET /generate_204 HTTP/1.1\r\nX-Tailscale-Challenge: ts_derp1.example.com\r\n\r\n",
                                &NO_STATS),
                        want);
    /* Invalid or absent challenge: the 204 without an echo. */
    snprintf(want, sizeof want, "%sConnection: close\r\n\r\n", head);
    assert_string_equal(respond("GET /generate_204 HTTP/1.1\r\nX-Tailscale-Challenge: a<b\r\n\r\n", &NO_STATS),
                        want);
    assert_string_equal(respond("GET /generate_204 HTTP/1.1\r\n\r\n", &NO_STATS), want);
    memset(big, 'c', 65);
    big[65] = '\0';
    snprintf(req, sizeof req, "GET /generate_204 HTTP/1.1\r\nX-Tailscale-Challenge: %s\r\n\r\n", big);
    assert_string_equal(respond(req, &NO_STATS), want);
}

static void test_404_and_errors_exact(void **state)
{
    char out[512];
    size_t n;

    assert_string_equal(respond("GET /nope HTTP/1.1\r\n\r\n", &NO_STATS),
                        "HTTP/1.1 404 Not Found\r\n"
                        "X-Content-Type-Options: nosniff\r\n"
                        "Content-Type: text/plain; charset=utf-8\r\n"
                        "Content-Length: 19\r\n"
                        "Connection: close\r\n"
                        "\r\n"
                        "404 page not found\n");
    n = derp_http_write_error(out, sizeof out, 400);
    out[n] = '\0';
    assert_string_equal(out, "HTTP/1.1 400 Bad Request\r\n"
                             "X-Content-Type-Options: nosniff\r\n"
                             "Content-Type: text/plain; charset=utf-8\r\n"
                             "Content-Length: 16\r\n"
                             "Connection: close\r\n"
                             "\r\n"
                             "400 Bad Request\n");
    n = derp_http_write_error(out, sizeof out, 431);
    out[n] = '\0';
    assert_non_null(strstr(out, "HTTP/1.1 431 Request Header Fields Too Large\r\n"));
    assert_int_equal(derp_http_write_error(out, 20, 400), 0);
}

static void test_metrics(void **state)
{
    struct derp_relay_stats st = {
        .clients_current = 3, .clients_total = 7, .packets_relayed = 1234, .bytes_relayed = 5678901234ull,
        .drop_queue_head = 5, .drop_queue_tail = 6, .drop_unknown_dest = 9, .drop_inactive_dup = 1,
        .drop_bad_frame = 2, .peer_gone_sent = 4,
    };
    const char *r = respond("GET /metrics HTTP/1.1\r\n\r\n", &st);
    const char *body = strstr(r, "\r\n\r\n");
    char head[256];

    assert_non_null(body);
    body += 4;
    assert_true(strncmp(r, "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
                           "Content-Length: ", 88) == 0);
    assert_int_equal(strtoul(r + 88, NULL, 10), strlen(body));
    assert_non_null(strstr(body, "# HELP derp_current_connections "));
    assert_non_null(strstr(body, "# TYPE derp_current_connections gauge\nderp_current_connections 3\n"));
    assert_non_null(strstr(body, "\nderp_accepts_total 7\n"));
    assert_non_null(strstr(body, "\nderp_packets_relayed_total 1234\n"));
    assert_non_null(strstr(body, "\nderp_bytes_relayed_total 5678901234\n"));
    assert_non_null(strstr(body, "\nderp_peer_gone_sent_total 4\n"));
    assert_non_null(strstr(body, "# TYPE derp_packets_dropped_total counter\n"
                                 "derp_packets_dropped_total{reason=\"queue_head\"} 5\n"
                                 "derp_packets_dropped_total{reason=\"queue_tail\"} 6\n"
                                 "derp_packets_dropped_total{reason=\"unknown_dest\"} 9\n"
                                 "derp_packets_dropped_total{reason=\"dup_client\"} 1\n"
                                 "derp_packets_dropped_total{reason=\"bad_frame\"} 2\n"));
    assert_int_equal(body[strlen(body) - 1], '\n');
    /* Every line is a comment or "name[{labels}] value". */
    for (const char *l = body; *l; l = strchr(l, '\n') + 1) {
        const char *sp = strchr(l, ' ');
        assert_non_null(sp);
        assert_true(l[0] == '#' || (strncmp(l, "derp_", 5) == 0 && sp[1] >= '0' && sp[1] <= '9'));
    }
    /* HEAD: the same head, no body. */
    snprintf(head, sizeof head, "%.*s", (int)(body - r), r);
    assert_string_equal(respond("HEAD /metrics HTTP/1.1\r\n\r\n", &st), head);
}

static void test_small_buffers_refused(void **state)
{
    static struct derp_http_parser hp;
    char out[64];
    struct derp_relay_stats st = {0};

    route_of("GET /metrics HTTP/1.1\r\n\r\n", &hp);
    assert_int_equal(derp_http_respond(out, sizeof out, DERP_ROUTE_METRICS, &hp.req, &st), 0);
    assert_int_equal(derp_http_write_metrics(out, sizeof out, &st), 0);
    assert_int_equal(derp_http_respond(out, sizeof out, DERP_ROUTE_DERP, &hp.req, &st), 0);
}

/* ---- the embedder's side: Authorization, /api/, its responses ---------- */

static void test_authorization_kept_whole(void **state)
{
    static struct derp_http_parser hp;
    static char req[4096], tok[1101];
    size_t used;

    memset(tok, 'x', sizeof tok - 1);
    snprintf(req, sizeof req, "GET /api/v2/coordinate HTTP/1.1\r\nAuthorization:  Bearer %s \r\n\r\n", tok);
    assert_int_equal(parse(&hp, req, &used), DERP_HTTP_DONE);
    const char *auth = derp_http_header(&hp.req, DERP_HDR_AUTHORIZATION);
    assert_non_null(auth);
    assert_int_equal(strlen(auth), 7 + strlen(tok));   /* blanks trimmed, the token whole */
    assert_memory_equal(auth, "Bearer ", 7);
    assert_int_equal(derp_http_route(&hp.req), DERP_ROUTE_API);
    /* Absent: NULL. Longer than its room: NULL, never a truncated token. */
    assert_int_equal(parse(&hp, "GET /api/x HTTP/1.1\r\n\r\n", &used), DERP_HTTP_DONE);
    assert_null(derp_http_header(&hp.req, DERP_HDR_AUTHORIZATION));
    static char big[DERP_HTTP_AUTH_MAX + 100];
    memset(big, 'y', sizeof big - 1);
    snprintf(req, sizeof req, "GET /api/x HTTP/1.1\r\nAuthorization: Bearer %s\r\n\r\n", big);
    assert_int_equal(parse(&hp, req, &used), DERP_HTTP_DONE);
    assert_null(derp_http_header(&hp.req, DERP_HDR_AUTHORIZATION));
    /* Other headers keep working next to it. */
    assert_int_equal(parse(&hp, "GET /derp HTTP/1.1\r\nAuthorization: Bearer t\r\nUpgrade: DERP\r\n\r\n", &used),
                     DERP_HTTP_DONE);
    assert_string_equal(derp_http_header(&hp.req, DERP_HDR_UPGRADE), "DERP");
    assert_string_equal(derp_http_header(&hp.req, DERP_HDR_AUTHORIZATION), "Bearer t");
}

static void test_api_routes(void **state)
{
    static struct derp_http_parser hp;
    char path[64];

    assert_int_equal(route_text("GET /api/v2/derp-map HTTP/1.1\r\n\r\n"), DERP_ROUTE_API);
    assert_int_equal(route_text("POST /api/anything?x=1 HTTP/1.1\r\n\r\n"), DERP_ROUTE_API);
    assert_int_equal(route_text("GET /api HTTP/1.1\r\n\r\n"), DERP_ROUTE_NOT_FOUND);
    assert_int_equal(route_text("GET /apix/ HTTP/1.1\r\n\r\n"), DERP_ROUTE_NOT_FOUND);
    assert_int_equal(route_of("GET http://h/api/v2/coordinate?q=1 HTTP/1.1\r\n\r\n", &hp), DERP_ROUTE_API);
    assert_int_equal(derp_http_path(&hp.req, path, sizeof path), 0);
    assert_string_equal(path, "/api/v2/coordinate");
    assert_int_equal(derp_http_path(&hp.req, path, 5), -1);
    /* Without an embedder: the DERP server's own 404. */
    assert_non_null(strstr(respond("GET /api/v2/derp-map HTTP/1.1\r\n\r\n", &NO_STATS), "404 Not Found"));
}

static void test_has_token(void **state)
{
    assert_true(derp_http_has_token("vole-coordinate", "vole-coordinate"));
    assert_true(derp_http_has_token("chat , vole-coordinate", "vole-coordinate"));
    assert_false(derp_http_has_token("vole-coordinate2", "vole-coordinate"));
    assert_false(derp_http_has_token("", "derp"));
    assert_false(derp_http_has_token(NULL, "derp"));
}

static void test_text_and_head_exact(void **state)
{
    char out[512];
    size_t n = derp_http_write_text(out, sizeof out, 401, "invalid token");
    const char *want = "HTTP/1.1 401 Unauthorized\r\n"
                       "Www-Authenticate: Bearer\r\n"
                       "X-Content-Type-Options: nosniff\r\n"
                       "Content-Type: text/plain; charset=utf-8\r\n"
                       "Content-Length: 14\r\n"
                       "Connection: close\r\n"
                       "\r\n"
                       "invalid token\n";
    assert_int_equal(n, strlen(want));
    assert_memory_equal(out, want, n);
    assert_int_equal(derp_http_write_text(out, 40, 401, "invalid token"), 0);
    n = derp_http_write_head(out, sizeof out, 200, "application/json", 12345);
    want = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 12345\r\nConnection: close\r\n\r\n";
    assert_int_equal(n, strlen(want));
    assert_memory_equal(out, want, n);
    n = derp_http_write_ws_101_proto(out, sizeof out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "vole-coordinate");
    want = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: vole-coordinate\r\n\r\n";
    assert_int_equal(n, strlen(want));
    assert_memory_equal(out, want, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_head_ends_before_pipelined_bytes), cmocka_unit_test(test_byte_by_byte),
        cmocka_unit_test(test_incomplete_then_more), cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_control_bytes_in_values),
        cmocka_unit_test(test_head_size_limit), cmocka_unit_test(test_endless_headers),
        cmocka_unit_test(test_long_values_never_match), cmocka_unit_test(test_empty_value_keeps_names_apart),
        cmocka_unit_test(test_repeated_headers_joined), cmocka_unit_test(test_route_derp),
        cmocka_unit_test(test_route_websocket), cmocka_unit_test(test_route_other),
        cmocka_unit_test(test_route_long_url), cmocka_unit_test(test_challenge_valid),
        cmocka_unit_test(test_derp_101_exact), cmocka_unit_test(test_ws_101_exact),
        cmocka_unit_test(test_authorization_kept_whole), cmocka_unit_test(test_api_routes),
        cmocka_unit_test(test_has_token), cmocka_unit_test(test_text_and_head_exact), cmocka_unit_test(test_426_exact),
        cmocka_unit_test(test_probe_exact), cmocka_unit_test(test_204_exact),
        cmocka_unit_test(test_404_and_errors_exact), cmocka_unit_test(test_metrics),
        cmocka_unit_test(test_small_buffers_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
