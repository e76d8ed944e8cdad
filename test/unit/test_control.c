/* tailnet/control against a fake coordinator on loopback: an io/stream
 * listener that reads the upgrade request by hand, answers 101 (or 401, or
 * 503) and then speaks WebSocket through derp/websocket's server side. Every
 * wait is bounded (test/unit/evloop.h) in time and in count. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test/unit/certs.h"
#include "test/unit/sockets.h"

#include "test/unit/evloop.h"

#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>


#include "coord/msg.h"
#include "derp/websocket.h"
#include "io/stream.h"
#include "tailnet/control.h"

#define MAX_CONNS 8
#define MAX_MSGS 16
#define TOKEN "s3cret-token"

enum srv_mode { SRV_101, SRV_401, SRV_503 };

struct fixture;

/* One connection the fake server accepted. */
struct srv_conn {
    struct fixture *f;
    struct vole_stream *s;
    struct vole_ws *ws;       /* after the 101 */
    char head[4096];
    size_t head_len;
    bool closed;
    char rx[8192];            /* WebSocket payload from the client */
    size_t rx_len;
};

struct fixture {
    struct ev_loop *loop;
    int lfd;
    uint16_t port;
    ev_io accept_w;
    struct vole_tls_server *tls;   /* NULL: plain */
    enum srv_mode mode;
    const char *greeting;     /* sent in the same write as the 101 */
    struct srv_conn conns[MAX_CONNS];
    size_t n_conns;

    struct vole_control *c;
    int n_up, n_down;
    bool permanent;
    char why[256];
    double t_up, t_down;
    int n_msgs;
    enum coord_msg_type types[MAX_MSGS];
    char texts[MAX_MSGS][64]; /* error text, or the derp map JSON */
    bool free_on_up, free_on_msg;
};

/* ---- the fake server ------------------------------------------------------ */

static struct srv_conn *conn_of(struct fixture *f, size_t i)
{
    assert_true(i < f->n_conns);
    return &f->conns[i];
}

/* A header's value in the request head, by name in any case; "" if absent. */
static void header_value(const char *head, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    out[0] = '\0';
    for (const char *p = strstr(head, "\r\n"); p && p[2] != '\r'; p = strstr(p + 2, "\r\n")) {
        const char *line = p + 2;
        if (strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            const char *v = line + nl + 1;
            v += strspn(v, " ");
            size_t n = strcspn(v, "\r");
            snprintf(out, cap, "%.*s", (int)(n < cap ? n : cap - 1), v);
            return;
        }
    }
}

static void srv_ws_data(void *ctx, struct vole_ws *w, const uint8_t *buf, size_t len)
{
    struct srv_conn *sc = ctx;
    assert_true(sc->rx_len + len <= sizeof sc->rx);
    memcpy(sc->rx + sc->rx_len, buf, len);
    sc->rx_len += len;
    ev_break(sc->f->loop, EVBREAK_ALL);
}

static void srv_ws_close(void *ctx, struct vole_ws *w, const char *why)
{
    struct srv_conn *sc = ctx;
    sc->ws = NULL;
    sc->s = NULL;
    sc->closed = true;
    ev_break(sc->f->loop, EVBREAK_ALL);
}

static const struct vole_ws_ops srv_ws_ops = {.on_data = srv_ws_data, .on_close = srv_ws_close};

static void srv_answer(struct srv_conn *sc, const uint8_t *rest, size_t rest_len)
{
    struct fixture *f = sc->f;
    char key[64], accept[VOLE_WS_ACCEPT_LEN + 1], resp[512];

    if (f->mode == SRV_401) {
        static const char r401[] = "HTTP/1.1 401 Unauthorized\r\nContent-Type: text/plain\r\n"
                                   "Content-Length: 14\r\nConnection: close\r\n\r\ninvalid token\n";
        assert_int_equal(vole_stream_write(sc->s, r401, sizeof r401 - 1), 0);
        vole_stream_close(sc->s, true);
        return;
    }
    if (f->mode == SRV_503) {
        static const char r503[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        assert_int_equal(vole_stream_write(sc->s, r503, sizeof r503 - 1), 0);
        vole_stream_close(sc->s, true);
        return;
    }
    header_value(sc->head, "Sec-WebSocket-Key", key, sizeof key);
    vole_ws_accept_key(accept, key);
    int n = snprintf(resp, sizeof resp,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Accept: %s\r\nSec-WebSocket-Protocol: vole-coordinate\r\n\r\n",
                     accept);
    assert_int_equal(vole_stream_write(sc->s, resp, (size_t)n), 0);
    struct vole_ws_ops ops = srv_ws_ops;
    ops.ctx = sc;
    sc->ws = vole_ws_new(sc->s, true, &ops);
    assert_non_null(sc->ws);
    if (f->greeting)
        assert_int_equal(vole_ws_write(sc->ws, f->greeting, strlen(f->greeting)), 0);
    if (rest_len)
        vole_ws_input(sc->ws, rest, rest_len);
}

static void srv_read(void *ctx, struct vole_stream *s, const uint8_t *buf, size_t len)
{
    struct srv_conn *sc = ctx;
    size_t room = sizeof sc->head - 1 - sc->head_len, n = len < room ? len : room;
    memcpy(sc->head + sc->head_len, buf, n);
    sc->head_len += n;
    sc->head[sc->head_len] = '\0';
    char *end = strstr(sc->head, "\r\n\r\n");
    assert_true(end || sc->head_len < sizeof sc->head - 1);
    if (!end)
        return;
    size_t head_end = (size_t)(end + 4 - sc->head);
    size_t before = sc->head_len - n;        /* head bytes that came earlier */
    size_t used = head_end - before;
    sc->head[head_end] = '\0';
    srv_answer(sc, buf + used, len - used);
    ev_break(sc->f->loop, EVBREAK_ALL);
}

static void srv_close(void *ctx, struct vole_stream *s, const char *why)
{
    struct srv_conn *sc = ctx;
    sc->s = NULL;
    sc->closed = true;
}

static void srv_accept(struct ev_loop *loop, ev_io *w, int revents)
{
    struct fixture *f = w->data;
    int fd = accept4(f->lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0)
        return;
    assert_true(f->n_conns < MAX_CONNS);
    struct srv_conn *sc = &f->conns[f->n_conns++];
    memset(sc, 0, sizeof *sc);
    sc->f = f;
    const struct vole_stream_ops ops = {.ctx = sc, .on_read = srv_read, .on_close = srv_close};
    sc->s = vole_stream_accept(loop, fd, f->tls, &ops);
    assert_non_null(sc->s);
    ev_break(loop, EVBREAK_ALL);
}

static void srv_send(struct fixture *f, size_t i, const char *bytes)
{
    struct srv_conn *sc = conn_of(f, i);
    assert_non_null(sc->ws);
    assert_int_equal(vole_ws_write(sc->ws, bytes, strlen(bytes)), 0);
}

/* ---- the client's callbacks ------------------------------------------------- */

static void on_state(void *ctx, bool connected, bool permanent, const char *why)
{
    struct fixture *f = ctx;
    if (connected) {
        f->n_up++;
        f->t_up = ev_now(f->loop);
    } else {
        f->n_down++;
        f->t_down = ev_now(f->loop);
    }
    f->permanent = permanent;
    snprintf(f->why, sizeof f->why, "%s", why);
    ev_break(f->loop, EVBREAK_ALL);
    if (connected && f->free_on_up) {
        vole_control_free(f->c);
        f->c = NULL;
    }
}

static void on_msg(void *ctx, const struct coord_msg *m)
{
    struct fixture *f = ctx;
    assert_true(f->n_msgs < MAX_MSGS);
    f->types[f->n_msgs] = m->type;
    const char *text = m->type == COORD_MSG_ERROR ? m->error : m->type == COORD_MSG_DERP_MAP ? m->derp_map : "";
    snprintf(f->texts[f->n_msgs], sizeof f->texts[0], "%.63s", text);
    f->n_msgs++;
    ev_break(f->loop, EVBREAK_ALL);
    if (f->free_on_msg) {
        vole_control_free(f->c);
        f->c = NULL;
    }
}

/* ---- fixture ------------------------------------------------------------------ */

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->loop = ev_loop_new(EVFLAG_AUTO);
    assert_non_null(f->loop);
    f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    assert_true(f->lfd >= 0);
    f->port = listen_loopback(f->lfd, 8);
    ev_io_init(&f->accept_w, srv_accept, f->lfd, EV_READ);
    f->accept_w.data = f;
    ev_io_start(f->loop, &f->accept_w);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    vole_control_free(f->c);
    for (size_t i = 0; i < f->n_conns; i++) {
        if (f->conns[i].ws)
            vole_ws_close(f->conns[i].ws);
        else if (f->conns[i].s)
            vole_stream_close(f->conns[i].s, false);
    }
    ev_io_stop(f->loop, &f->accept_w);
    close(f->lfd);
    run_for(f->loop, 0.1);   /* the streams' closes run from the loop */
    vole_tls_server_free(f->tls);
    ev_loop_destroy(f->loop);
    free(f);
    return 0;
}

static void start_client_with(struct fixture *f, const char *scheme_host, const char *path, const char *ca_file)
{
    char url[96], err[256] = "";
    snprintf(url, sizeof url, "%s:%u%s", scheme_host, f->port, path);
    const struct vole_control_config cfg = {.url = url, .token = TOKEN, .ca_file = ca_file};
    const struct vole_control_ops ops = {.ctx = f, .on_state = on_state, .on_msg = on_msg};
    f->c = vole_control_new(f->loop, &cfg, &ops, err, sizeof err);
    assert_non_null(f->c);
    assert_string_equal(err, "");
}

static void start_client(struct fixture *f, const char *path)
{
    start_client_with(f, "http://127.0.0.1", path, NULL);
}

typedef bool (*cond_fn)(const struct fixture *f, int arg);

struct fixture_cond {
    const struct fixture *f;
    cond_fn cond;
    int arg;
};

static bool fixture_cond_holds(void *p)
{
    const struct fixture_cond *c = p;
    return c->cond(c->f, c->arg);
}

/* Runs the loop until cond holds; fails the test after limit seconds. */
static void wait_for(struct fixture *f, cond_fn cond, int arg, double limit)
{
    struct fixture_cond c = {f, cond, arg};
    assert_true(run_until(f->loop, fixture_cond_holds, &c, limit));
}

static bool ups(const struct fixture *f, int n)
{
    return f->n_up >= n;
}

static bool downs(const struct fixture *f, int n)
{
    return f->n_down >= n;
}

static bool msgs(const struct fixture *f, int n)
{
    return f->n_msgs >= n;
}

static bool conns(const struct fixture *f, int n)
{
    return f->n_conns >= (size_t)n;
}

static bool server_lines(const struct fixture *f, int n)
{
    const struct srv_conn *sc = &f->conns[f->n_conns - 1];
    int lines = 0;
    for (size_t i = 0; i < sc->rx_len; i++)
        lines += sc->rx[i] == '\n';
    return lines >= n;
}

/* ---- tests --------------------------------------------------------------------- */

static void test_request_headers(void **state)
{
    struct fixture *f = *state;
    char v[128], host[32];

    start_client(f, "/some/path?ignored=1");
    wait_for(f, ups, 1, 5);
    assert_true(vole_control_connected(f->c));
    assert_string_equal(f->why, "connected");

    const char *head = conn_of(f, 0)->head;
    assert_int_equal(strncmp(head, "GET /api/v2/coordinate HTTP/1.1\r\n", 33), 0);
    header_value(head, "Authorization", v, sizeof v);
    assert_string_equal(v, "Bearer " TOKEN);
    header_value(head, "Sec-WebSocket-Protocol", v, sizeof v);
    assert_string_equal(v, "vole-coordinate");
    header_value(head, "Upgrade", v, sizeof v);
    assert_string_equal(v, "websocket");
    header_value(head, "Connection", v, sizeof v);
    assert_string_equal(v, "Upgrade");
    header_value(head, "Sec-WebSocket-Version", v, sizeof v);
    assert_string_equal(v, "13");
    header_value(head, "Sec-WebSocket-Key", v, sizeof v);
    assert_int_equal(strlen(v), VOLE_WS_KEY_LEN);
    header_value(head, "Host", v, sizeof v);
    snprintf(host, sizeof host, "127.0.0.1:%u", f->port);
    assert_string_equal(v, host);
    assert_int_equal(vole_control_stats(f->c)->connects, 1);
}

static struct coord_msg self_msg(void)
{
    struct coord_msg m = {.type = COORD_MSG_SELF};
    m.node.id = 7;
    memset(m.node.key, 0x11, sizeof m.node.key);
    memset(m.node.disco, 0x22, sizeof m.node.disco);
    return m;
}

static void test_server_to_client(void **state)
{
    struct fixture *f = *state;

    /* Two messages in the WebSocket message that follows the 101 at once. */
    f->greeting = "{\"type\":\"derp_map\",\"derp_map\":{\"Regions\":{}}}\n{\"type\":\"error\",\"error\":\"one\"}\n";
    start_client(f, "");
    wait_for(f, msgs, 2, 5);
    assert_int_equal(f->n_up, 1);
    assert_int_equal(f->types[0], COORD_MSG_DERP_MAP);
    assert_string_equal(f->texts[0], "{\"Regions\":{}}");
    assert_int_equal(f->types[1], COORD_MSG_ERROR);
    assert_string_equal(f->texts[1], "one");

    /* One message across three WebSocket messages, each sent on its own. */
    struct coord_msg self = self_msg();
    char *json = coord_msg_encode(&self);
    assert_non_null(json);
    size_t n = strlen(json);
    char part[512];
    assert_true(n + 2 < sizeof part);
    snprintf(part, sizeof part, "%.*s", (int)(n / 2), json);
    srv_send(f, 0, part);
    run_for(f->loop, 0.05);
    assert_int_equal(f->n_msgs, 2);   /* half a line is no message */
    snprintf(part, sizeof part, "%s", json + n / 2);
    srv_send(f, 0, part);
    run_for(f->loop, 0.05);
    assert_int_equal(f->n_msgs, 2);
    srv_send(f, 0, "\n{\"type\":\"error\",\"error\":\"two\"}\n");
    free(json);
    wait_for(f, msgs, 4, 5);
    assert_int_equal(f->types[2], COORD_MSG_SELF);
    assert_int_equal(f->types[3], COORD_MSG_ERROR);
    assert_string_equal(f->texts[3], "two");
    assert_int_equal(vole_control_stats(f->c)->msgs_in, 4);
    assert_int_equal(vole_control_stats(f->c)->bad_lines, 0);
}

static void test_client_to_server(void **state)
{
    struct fixture *f = *state;
    struct coord_msg up = {.type = COORD_MSG_UPDATE_SELF}, add = {.type = COORD_MSG_ADD_TUNNEL}, got;
    char err[256];

    memset(up.node.key, 0x33, sizeof up.node.key);
    memset(up.node.disco, 0x44, sizeof up.node.disco);
    up.node.preferred_derp = 999;
    snprintf(add.agent, sizeof add.agent, "dev");

    start_client(f, "");
    assert_int_equal(vole_control_send(f->c, &up), -1);   /* not connected yet */
    wait_for(f, ups, 1, 5);
    assert_int_equal(vole_control_send(f->c, &up), 0);
    assert_int_equal(vole_control_send(f->c, &add), 0);
    wait_for(f, server_lines, 2, 5);

    struct srv_conn *sc = conn_of(f, 0);
    char *nl = memchr(sc->rx, '\n', sc->rx_len);
    assert_non_null(nl);
    assert_int_equal(coord_msg_decode(sc->rx, (size_t)(nl - sc->rx), &got, err, sizeof err), 0);
    assert_int_equal(got.type, COORD_MSG_UPDATE_SELF);
    assert_int_equal(got.node.preferred_derp, 999);
    assert_memory_equal(got.node.key, up.node.key, sizeof up.node.key);
    coord_msg_free(&got);
    char *second = nl + 1;
    assert_int_equal(coord_msg_decode(second, sc->rx_len - (size_t)(second - sc->rx) - 1, &got, err, sizeof err), 0);
    assert_int_equal(got.type, COORD_MSG_ADD_TUNNEL);
    assert_string_equal(got.agent, "dev");
    coord_msg_free(&got);
    assert_int_equal(sc->rx[sc->rx_len - 1], '\n');
    assert_int_equal(vole_control_stats(f->c)->msgs_out, 2);
}

static void test_401_is_permanent(void **state)
{
    struct fixture *f = *state;

    f->mode = SRV_401;
    start_client(f, "");
    wait_for(f, downs, 1, 5);
    assert_true(f->permanent);
    assert_string_equal(f->why, "server refused the token (401)");
    assert_false(vole_control_connected(f->c));
    /* Longer than the first backoff could be (1 s + 20%): no second try. */
    run_for(f->loop, 1.5);
    assert_int_equal(f->n_conns, 1);
    assert_int_equal(f->n_down, 1);
    assert_int_equal(f->n_up, 0);
    assert_int_equal(vole_control_stats(f->c)->attempts, 1);
}

static void test_other_refusal_retries(void **state)
{
    struct fixture *f = *state;

    f->mode = SRV_503;
    start_client(f, "");
    wait_for(f, downs, 1, 5);
    assert_false(f->permanent);
    assert_non_null(strstr(f->why, "HTTP 503"));
    double t0 = f->t_down;
    wait_for(f, conns, 2, 3);
    ev_now_update(f->loop);
    double delay = ev_now(f->loop) - t0;
    assert_true(delay >= 0.75 && delay <= 1.5);
}

/* Drops conn i from the server's side; returns the client's reconnect delay. */
static double drop_and_time_reconnect(struct fixture *f, size_t i)
{
    int downs_before = f->n_down, ups_before = f->n_up;
    vole_ws_close(conn_of(f, i)->ws);
    wait_for(f, downs, downs_before + 1, 5);
    assert_false(f->permanent);
    assert_non_null(strstr(f->why, "closed"));
    assert_false(vole_control_connected(f->c));
    wait_for(f, ups, ups_before + 1, 5);
    return f->t_up - f->t_down;
}

static void test_drop_reconnects(void **state)
{
    struct fixture *f = *state;

    start_client(f, "");
    wait_for(f, ups, 1, 5);
    /* Short connections that bring nothing count as failures: 1 s, 2 s... */
    double d = drop_and_time_reconnect(f, 0);
    assert_true(d >= 0.75 && d <= 1.5);
    assert_int_equal(vole_control_send(f->c, &(struct coord_msg){.type = COORD_MSG_DISCONNECT}), 0);
    d = drop_and_time_reconnect(f, 1);
    assert_true(d >= 1.55 && d <= 2.6);

    /* ...but one that brought a message starts the backoff over. */
    srv_send(f, 2, "{\"type\":\"error\",\"error\":\"hello\"}\n");
    wait_for(f, msgs, 1, 5);
    d = drop_and_time_reconnect(f, 2);
    assert_true(d >= 0.75 && d <= 1.5);
    assert_int_equal(f->n_conns, 4);
    const struct vole_control_stats *st = vole_control_stats(f->c);
    assert_int_equal(st->connects, 4);
    assert_int_equal(st->disconnects, 3);

    /* The new connection works both ways. */
    srv_send(f, 3, "{\"type\":\"error\",\"error\":\"again\"}\n");
    wait_for(f, msgs, 2, 5);
    assert_string_equal(f->texts[1], "again");
    assert_int_equal(vole_control_send(f->c, &(struct coord_msg){.type = COORD_MSG_DISCONNECT}), 0);
    wait_for(f, server_lines, 1, 5);
}

static void test_bad_lines_skipped(void **state)
{
    struct fixture *f = *state;

    f->greeting = "not json\n"
                  "{\"type\":\"error\",\"error\":\"a\"}\n"
                  "{\"type\":\"add_tunnel\",\"agent\":\"dev\"}\n"
                  "[1,2]\n"
                  "\n"
                  "{\"type\":\"gossip\"}\n"
                  "{\"type\":\"error\",\"error\":\"b\"}\n";
    start_client(f, "");
    wait_for(f, msgs, 2, 5);
    run_for(f->loop, 0.05);
    assert_int_equal(f->n_msgs, 2);
    assert_string_equal(f->texts[0], "a");
    assert_string_equal(f->texts[1], "b");
    assert_int_equal(vole_control_stats(f->c)->bad_lines, 4);   /* the empty line is no message at all */
    assert_non_null(strstr(vole_control_last_error(f->c), "skipped"));
    assert_true(vole_control_connected(f->c));
    assert_int_equal(f->n_down, 0);
}

static void test_long_line_reconnects(void **state)
{
    struct fixture *f = *state;

    start_client(f, "");
    wait_for(f, ups, 1, 5);
    size_t n = COORD_MSG_MAX_LEN + 1;
    char *big = malloc(n + 1);
    assert_non_null(big);
    memset(big, ' ', n);   /* whitespace is valid JSON padding: only the length is wrong */
    big[n] = '\0';
    srv_send(f, 0, big);
    free(big);
    wait_for(f, downs, 1, 5);
    assert_false(f->permanent);
    assert_non_null(strstr(f->why, "longer than"));
    wait_for(f, ups, 2, 5);
}

static void test_dead_after_reconnects(void **state)
{
    struct fixture *f = *state;

    start_client(f, "");
    vole_control_set_dead_after(f->c, 0.3);
    wait_for(f, ups, 1, 5);
    double t0 = f->t_up;
    wait_for(f, downs, 1, 5);
    assert_non_null(strstr(f->why, "dead"));
    double silent = f->t_down - t0;
    assert_true(silent >= 0.29 && silent < 1.0);
    wait_for(f, ups, 2, 5);

    /* Input keeps it alive: a message every 0.1 s for 0.6 s. */
    for (int i = 0; i < 6; i++) {
        srv_send(f, 1, "{\"type\":\"error\",\"error\":\"tick\"}\n");
        run_for(f->loop, 0.1);
    }
    assert_int_equal(f->n_down, 1);
    assert_true(vole_control_connected(f->c));
}

static void test_free_inside_callbacks(void **state)
{
    struct fixture *f = *state;

    f->free_on_up = true;
    start_client(f, "");
    wait_for(f, ups, 1, 5);
    assert_null(f->c);
    run_for(f->loop, 0.1);
    assert_int_equal(f->n_down, 0);   /* freed: no more callbacks */

    f->free_on_up = false;
    f->free_on_msg = true;
    f->greeting = "{\"type\":\"error\",\"error\":\"x\"}\n{\"type\":\"error\",\"error\":\"y\"}\n";
    start_client(f, "");
    wait_for(f, msgs, 1, 5);
    assert_null(f->c);
    run_for(f->loop, 0.1);
    assert_int_equal(f->n_msgs, 1);   /* the second line was not delivered */
    assert_int_equal(f->n_down, 0);
}

static void test_connect_refused_retries(void **state)
{
    struct fixture *f = *state;

    /* Nothing listens: the listener is closed. */
    ev_io_stop(f->loop, &f->accept_w);
    close(f->lfd);
    f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);   /* for teardown's close */
    start_client(f, "");
    wait_for(f, downs, 2, 5);
    assert_false(f->permanent);
    assert_non_null(strstr(f->why, "connecting to 127.0.0.1:"));
    assert_int_equal(f->n_up, 0);
    assert_true(vole_control_stats(f->c)->attempts >= 2);
}

/* ---- TLS ------------------------------------------------------------------ */

/* https://localhost: the name is looked up (::1 first where it resolves so,
 * which nothing listens on: the next address is tried), SNI and the
 * certificate check use the URL's host, the CA is the config's file. */
static void test_tls(void **state)
{
    struct fixture *f = *state;
    struct test_cert tc;
    const char *cert = tc.cert;
    char err[256] = "";

    test_cert_make(&tc, "localhost");
    f->tls = vole_tls_server_new(tc.cert, tc.key, err, sizeof err);
    assert_non_null(f->tls);

    f->greeting = "{\"type\":\"error\",\"error\":\"over tls\"}\n";
    start_client_with(f, "https://localhost", "", cert);
    wait_for(f, msgs, 1, 5);
    assert_string_equal(f->texts[0], "over tls");
    assert_int_equal(vole_control_send(f->c, &(struct coord_msg){.type = COORD_MSG_DISCONNECT}), 0);
    wait_for(f, server_lines, 1, 5);
    vole_control_free(f->c);

    /* The system CAs do not know this certificate: a failure, retried. */
    start_client_with(f, "https://localhost", "", NULL);
    wait_for(f, downs, 1, 5);
    assert_false(f->permanent);
    assert_int_equal(f->n_up, 1);
    assert_int_equal(vole_control_stats(f->c)->connects, 0);

    test_cert_remove(&tc);
}

static void test_bad_config(void **state)
{
    struct fixture *f = *state;
    const struct vole_control_ops ops = {.ctx = f, .on_state = on_state, .on_msg = on_msg};
    char err[256];
    static const struct {
        const char *url, *token, *want;
    } cases[] = {
        {"ftp://h", TOKEN, "coordinator URL"},
        {"http://", TOKEN, "coordinator URL"},
        {NULL, TOKEN, "no coordinator URL"},
        {"http://127.0.0.1:1", "", "no token"},
        {"http://127.0.0.1:1", NULL, "no token"},
        {"http://127.0.0.1:1", "a b", "space"},
        {"http://127.0.0.1:1", "a\r\nX-Evil: 1", "control"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct vole_control_config cfg = {.url = cases[i].url, .token = cases[i].token};
        err[0] = '\0';
        assert_null(vole_control_new(f->loop, &cfg, &ops, err, sizeof err));
        assert_non_null(strstr(err, cases[i].want));
    }
}

static void test_backoff(void **state)
{
    static const double low[] = {0.8, 1.6, 3.2, 4.0, 4.0}, high[] = {1.2, 2.4, 4.8, 6.0, 6.0};
    double base = VOLE_CONTROL_BACKOFF_FIRST;
    for (size_t i = 0; i < 5; i++)
        assert_float_equal(vole_control_backoff(&base, 0.0), low[i], 1e-9);
    base = VOLE_CONTROL_BACKOFF_FIRST;
    for (size_t i = 0; i < 5; i++)
        assert_float_equal(vole_control_backoff(&base, 0.999999999), high[i], 1e-6);
    base = 1.0;
    assert_float_equal(vole_control_backoff(&base, 0.5), 1.0, 1e-9);
    assert_float_equal(base, 2.0, 1e-9);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_request_headers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_to_client, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_to_server, setup, teardown),
        cmocka_unit_test_setup_teardown(test_401_is_permanent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_refusal_retries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drop_reconnects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_lines_skipped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_line_reconnects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dead_after_reconnects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_inside_callbacks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connect_refused_retries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_config, setup, teardown),
        cmocka_unit_test(test_backoff),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
