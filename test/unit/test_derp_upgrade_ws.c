/* derp/upgrade's general WebSocket upgrade (another path and subprotocol, as
 * the coordinator's), next to DERP's own in test_derp_e2e.c: exact bytes,
 * refused arguments, and the response check with its subprotocol. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "derp/upgrade.h"

#define KEY "dGhlIHNhbXBsZSBub25jZQ=="   /* RFC 6455 §1.3's example */
#define ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

static struct derp_url url(const char *text)
{
    struct derp_url u;
    char err[128];
    assert_int_equal(derp_url_parse(text, &u, err, sizeof err), 0);
    return u;
}

static void test_request_bytes(void **state)
{
    struct derp_url u = url("https://[::1]:8443/base");
    char out[1024];

    size_t n = derp_upgrade_ws_request(out, sizeof out, &u, "/api/v2/coordinate", "vole-coordinate", KEY,
                                       "Authorization: Bearer tok");
    assert_true(n > 0);
    assert_int_equal(n, strlen(out));
    /* Host is the authority as written; the URL's own path is not used. */
    assert_string_equal(out, "GET /api/v2/coordinate HTTP/1.1\r\n"
                             "Host: [::1]:8443\r\n"
                             "User-Agent: " DERP_UPGRADE_USER_AGENT "\r\n"
                             "Authorization: Bearer tok\r\n"
                             "Connection: Upgrade\r\n"
                             "Sec-Websocket-Key: " KEY "\r\n"
                             "Sec-Websocket-Protocol: vole-coordinate\r\n"
                             "Sec-Websocket-Version: 13\r\n"
                             "Upgrade: websocket\r\n"
                             "\r\n");

    /* DERP's own WebSocket upgrade is the same function with its path and "derp". */
    char derp[1024];
    u = url("http://127.0.0.1:3340/derp");
    assert_int_equal(derp_upgrade_ws_request(out, sizeof out, &u, "/derp", "derp", KEY, NULL),
                     derp_upgrade_request(derp, sizeof derp, &u, true, KEY, NULL));
    assert_string_equal(out, derp);

    /* Exactly enough room, and one byte less. */
    size_t exact = derp_upgrade_ws_request(out, sizeof out, &u, "/x", "p", KEY, NULL);
    assert_int_equal(derp_upgrade_ws_request(out, exact + 1, &u, "/x", "p", KEY, NULL), exact);
    assert_int_equal(derp_upgrade_ws_request(out, exact, &u, "/x", "p", KEY, NULL), 0);
}

static void test_request_refusals(void **state)
{
    struct derp_url u = url("http://h:1");
    char out[1024], proto[DERP_UPGRADE_SUBPROTOCOL_MAX + 2];

    assert_int_equal(derp_upgrade_ws_request(out, sizeof out, &u, "x", "p", KEY, NULL), 0);        /* not origin-form */
    assert_int_equal(derp_upgrade_ws_request(out, sizeof out, &u, NULL, "p", KEY, NULL), 0);
    assert_int_equal(derp_upgrade_ws_request(out, sizeof out, &u, "/a b", "p", KEY, NULL), 0);     /* request splitting */
    assert_int_equal(derp_upgrade_ws_request(out, sizeof out, &u, "/a\r\nX: y", "p", KEY, NULL), 0);
    assert_int_equal(derp_upgrade_ws_request(out, sizeof out, &u, "/", "", KEY, NULL), 0);
    assert_int_equal(derp_upgrade_ws_request(out, sizeof out, &u, "/", NULL, KEY, NULL), 0);
    assert_int_equal(derp_upgrade_ws_request(out, sizeof out, &u, "/", "a,b", KEY, NULL), 0);     /* not a token */
    assert_int_equal(derp_upgrade_ws_request(out, sizeof out, &u, "/", "p\r\nX: y", KEY, NULL), 0);
    memset(proto, 'p', sizeof proto - 1);
    proto[sizeof proto - 1] = '\0';
    assert_int_equal(derp_upgrade_ws_request(out, sizeof out, &u, "/", proto, KEY, NULL), 0);     /* too long */
    proto[sizeof proto - 2] = '\0';
    assert_true(derp_upgrade_ws_request(out, sizeof out, &u, "/", proto, KEY, NULL) > 0);          /* at the limit */
    assert_int_equal(derp_upgrade_ws_request(out, sizeof out, &u, "/", "p", "", NULL), 0);
    assert_int_equal(derp_upgrade_ws_request(out, sizeof out, &u, "/", "p", NULL, NULL), 0);
    assert_int_equal(derp_upgrade_ws_request(out, sizeof out, &u, "/", "p", "key\r\nX: y", NULL), 0);
    assert_int_equal(derp_upgrade_ws_request(out, sizeof out, &u, "/", "p", KEY, "Authorization: a\r\nX: y"), 0);
    assert_int_equal(derp_upgrade_ws_request(out, sizeof out, &u, "/", "p", KEY, "no colon"), 0);
}

static enum derp_upgrade_status feed_all(struct derp_upgrade_response *r, const char *text)
{
    size_t used;
    derp_upgrade_response_init(r);
    return derp_upgrade_response_feed(r, (const uint8_t *)text, strlen(text), &used);
}

static void test_check_subprotocol(void **state)
{
    struct derp_upgrade_response r;
    const char *head = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                       "Sec-WebSocket-Accept: " ACCEPT "\r\n";
    char text[512];

    snprintf(text, sizeof text, "%sSec-WebSocket-Protocol: vole-coordinate\r\n\r\n", head);
    assert_int_equal(feed_all(&r, text), DERP_UPGRADE_DONE);
    assert_null(derp_upgrade_check_ws(&r, ACCEPT, "vole-coordinate"));
    assert_non_null(derp_upgrade_check_ws(&r, ACCEPT, "derp"));
    assert_non_null(derp_upgrade_check(&r, true, ACCEPT));         /* DERP's check wants "derp" */
    assert_non_null(derp_upgrade_check_ws(&r, "AAAAAAAAAAAAAAAAAAAAAAAAAAA=", "vole-coordinate"));
    assert_non_null(derp_upgrade_check_ws(&r, NULL, "vole-coordinate"));

    snprintf(text, sizeof text, "%s\r\n", head);                   /* no subprotocol named: accepted */
    assert_int_equal(feed_all(&r, text), DERP_UPGRADE_DONE);
    assert_null(derp_upgrade_check_ws(&r, ACCEPT, "vole-coordinate"));

    assert_int_equal(feed_all(&r, "HTTP/1.1 401 Unauthorized\r\nContent-Length: 14\r\n\r\ninvalid token\n"),
                     DERP_UPGRADE_DONE);
    assert_int_equal(r.status, 401);
    assert_non_null(derp_upgrade_check_ws(&r, ACCEPT, "vole-coordinate"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_bytes),
        cmocka_unit_test(test_request_refusals),
        cmocka_unit_test(test_check_subprotocol),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
