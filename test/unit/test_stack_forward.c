/* stack/: -L/-R spec parsing, and real TCP splices end to end.
 *
 * One stack whose netif output is fed straight back into its input, so a
 * connection to the stack's own overlay address crosses lwIP twice:
 *   client --kernel--> -L listener --splice--> lwIP pcb ==netif loop==>
 *   lwIP listener (-R) --splice--> kernel connect --> echo thread
 * and the echo comes back the same way. Both splice directions, both
 * forwarders, half-close and backpressure are exercised. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test/unit/sockets.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "stack/forward.h"
#include "stack/stack.h"
#include "stack/tcp_splice.h"

#define MTU 1420

/* ---- spec parsing ------------------------------------------------------ */

static void parse_ok(const char *spec, bool local, struct vole_forward_spec *out)
{
    char err[256] = "";
    if (vole_forward_spec_parse(spec, local, out, err, sizeof err) != 0)
        fail_msg("'%s' rejected: %s", spec, err);
}

static void parse_bad(const char *spec, bool local, const char *why)
{
    struct vole_forward_spec s;
    char err[256] = "";

    assert_int_equal(vole_forward_spec_parse(spec, local, &s, err, sizeof err), -1);
    if (!strstr(err, why))
        fail_msg("'%s': error '%s' does not mention '%s'", spec, err, why);
}

static void test_spec_local(void **state)
{
    struct vole_forward_spec s;
    (void)state;

    parse_ok("8080:10.0.0.1:80", true, &s);
    assert_false(s.has_bind);
    assert_int_equal(s.listen_port, 8080);
    assert_string_equal(s.host, "10.0.0.1");
    assert_int_equal(s.port, 80);
    assert_true(IP_IS_V4(&s.dst));
    assert_int_equal(ip4_addr_get_u32(ip_2_ip4(&s.dst)), inet_addr("10.0.0.1"));

    parse_ok("127.0.0.1:2222:[fd00::1]:22", true, &s);
    assert_true(s.has_bind);
    assert_string_equal(s.bind, "127.0.0.1");
    assert_string_equal(s.host, "fd00::1");
    assert_true(IP_IS_V6(&s.dst));

    parse_ok("[::1]:1:10.0.0.1:65535", true, &s);
    assert_string_equal(s.bind, "::1");
    assert_int_equal(s.listen_port, 1);
    assert_int_equal(s.port, 65535);

    parse_ok("*:8080:10.0.0.1:80", true, &s);
    assert_true(s.has_bind);
    assert_string_equal(s.bind, "");
    parse_ok(":8080:10.0.0.1:80", true, &s);
    assert_true(s.has_bind);
    assert_string_equal(s.bind, "");
    parse_ok("localhost:8080:10.0.0.1:80", true, &s);
    assert_string_equal(s.bind, "localhost");

    parse_bad("8080:example.com:80", true, "IP address inside the tunnel");
    parse_bad("0:10.0.0.1:80", true, "listen port '0'");
    parse_bad("8080:10.0.0.1:65536", true, "destination port '65536'");
    parse_bad("80a:10.0.0.1:80", true, "listen port '80a'");
    parse_bad("8080:fd00::1:80", true, "brackets");
    parse_bad("8080:[fd00::1:80", true, "missing ']'");
    parse_bad("8080:[fd00::1]x:80", true, "after ']'");
    parse_bad("8080:10.0.0.1", true, "[BIND:]LPORT:HOST:PORT");
    parse_bad("", true, "empty");
    parse_bad("8080::80", true, "destination '' is empty");
    parse_bad("[8080]:10.0.0.1:80", true, "listen port");
}

static void test_spec_remote(void **state)
{
    struct vole_forward_spec s;
    (void)state;

    parse_ok("8080:localhost:80", false, &s);
    assert_false(s.local);
    assert_int_equal(s.listen_port, 8080);
    assert_string_equal(s.host, "localhost");
    assert_int_equal(s.port, 80);
    parse_ok("22:[::1]:2222", false, &s);
    assert_string_equal(s.host, "::1");

    parse_bad("1.2.3.4:8080:localhost:80", false, "OPORT:HOST:PORT");
    parse_bad("8080:localhost", false, "OPORT:HOST:PORT");
    parse_bad("70000:localhost:80", false, "overlay port '70000'");
    parse_bad("8080:localhost:-1", false, "destination port '-1'");
}

/* ---- loopback harness -------------------------------------------------- */

struct loopback {
    uint8_t **pkt;
    size_t *len;
    size_t n, cap;
};

static int loop_output(void *ctx, struct pbuf *p)
{
    struct loopback *lb = ctx;

    if (lb->n == lb->cap) {
        lb->cap = lb->cap ? lb->cap * 2 : 256;
        lb->pkt = realloc(lb->pkt, lb->cap * sizeof *lb->pkt);
        lb->len = realloc(lb->len, lb->cap * sizeof *lb->len);
        assert_non_null(lb->pkt);
        assert_non_null(lb->len);
    }
    lb->pkt[lb->n] = malloc(p->tot_len);
    pbuf_copy_partial(p, lb->pkt[lb->n], p->tot_len, 0);
    lb->len[lb->n++] = p->tot_len;
    return ERR_OK;
}

struct env {
    struct loopback lb;
    struct vole_stack *s;
};

static struct ev_loop *loop(void)
{
    return ev_default_loop(0);
}

/* Delivers what the stack sent so far back into it; input may emit more,
 * which waits for the next round. */
static size_t packets_fed;

static bool feed(struct env *e)
{
    struct loopback batch = e->lb;

    if (!batch.n)
        return false;
    memset(&e->lb, 0, sizeof e->lb);
    packets_fed += batch.n;
    for (size_t i = 0; i < batch.n; i++) {
        struct pbuf *p = vole_stack_rx_alloc(batch.len[i]);
        assert_non_null(p);
        memcpy(p->payload, batch.pkt[i], batch.len[i]);
        free(batch.pkt[i]);
        vole_stack_input(e->s, p);
    }
    free(batch.pkt);
    free(batch.len);
    return true;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs the loop, the packet loop and step() until step() says done. Bounded
 * in rounds and in time. */
static void run_until(struct env *e, bool (*step)(void *, bool fed), void *arg, double secs)
{
    double deadline = now_s() + secs;

    for (long round = 0; round < 20000000; round++) {
        bool fed = feed(e);
        ev_run(loop(), EVRUN_NOWAIT);
        if (step(arg, fed))
            return;
        if (!fed && !e->lb.n)
            usleep(100);
        if (now_s() > deadline)
            break;
    }
    fail_msg("timed out");
}

static int setup(void **state)
{
    struct env *e = calloc(1, sizeof *e);
    struct vole_stack_addr a[2] = { { .family = 4, .prefix = 24 }, { .family = 6, .prefix = 64 } };
    struct vole_stack_ops ops = { .ctx = &e->lb, .output = loop_output };
    char err[256];

    inet_pton(AF_INET, "10.7.0.2", a[0].addr);
    inet_pton(AF_INET6, "fd00::2", a[1].addr);
    e->s = vole_stack_new(loop(), MTU, a, 2, &ops, err, sizeof err);
    if (!e->s)
        fail_msg("%s", err);
    *state = e;
    return 0;
}

static bool no_splices(void *arg, bool fed)
{
    (void)fed;
    return vole_stack_splice_count(arg) == 0;
}

static int teardown(void **state)
{
    struct env *e = *state;

    /* Every splice must end on its own once both sides closed. */
    run_until(e, no_splices, e->s, 10);
    vole_stack_free(e->s);
    while (e->lb.n)
        free(e->lb.pkt[--e->lb.n]);
    free(e->lb.pkt);
    free(e->lb.len);
    free(e);
    return 0;
}

/* ---- kernel side: an echo thread and a non-blocking client ------------- */

struct echo {
    int lfd;
    uint16_t port;
    pthread_t th;
};

static int write_all(int fd, const uint8_t *b, size_t n)
{
    while (n) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        if (w <= 0)
            return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

static void small_buffers(int fd)
{
    int sz = 64 * 1024;   /* keep the kernel from hiding backpressure */
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
}

static void *echo_main(void *arg)
{
    struct echo *e = arg;
    uint8_t *buf = malloc(65536);
    struct timeval tv = { .tv_sec = 30 };
    int c = accept(e->lfd, NULL, NULL);

    if (c >= 0) {
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        for (;;) {
            ssize_t n = recv(c, buf, 65536, 0);
            if (n <= 0 || write_all(c, buf, (size_t)n) < 0)
                break;
        }
        shutdown(c, SHUT_WR);   /* echo the half-close */
        close(c);
    }
    free(buf);
    return NULL;
}

static int kernel_listener(uint16_t *port, bool small)
{
    struct timeval tv = { .tv_sec = 30 };
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    if (small)
        small_buffers(fd);   /* inherited by accepted sockets */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);   /* bounds accept() */
    *port = listen_loopback(fd, 8);
    return fd;
}

static void echo_start(struct echo *e)
{
    e->lfd = kernel_listener(&e->port, true);
    assert_int_equal(pthread_create(&e->th, NULL, echo_main, e), 0);
}

static void echo_stop(struct echo *e)
{
    pthread_join(e->th, NULL);
    close(e->lfd);
}

/* A port on 127.0.0.1 where nothing listens. */
static uint16_t closed_port(void)
{
    uint16_t port;
    int fd = kernel_listener(&port, false);
    close(fd);
    return port;
}

static int client_connect(uint16_t port)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    small_buffers(fd);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    return fd;
}

static uint8_t pattern(size_t i)
{
    return (uint8_t)(i * 131u + (i >> 11));
}

struct client {
    struct env *env;
    int fd;
    size_t total, sent, recvd;
    bool shut, eof, reset, corrupt;
    bool reading;                 /* false: only send, to build backpressure */
    int idle_rounds;              /* rounds with nothing moving at all */
    struct vole_splice_stats at_stall;
    size_t sent_at_stall;
    uint8_t buf[65536];
};

static void client_send(struct client *c, bool *moved)
{
    size_t n = c->total - c->sent;
    ssize_t w;

    if (!n) {
        if (!c->shut) {
            shutdown(c->fd, SHUT_WR);
            c->shut = true;
        }
        return;
    }
    if (n > sizeof c->buf)
        n = sizeof c->buf;
    for (size_t i = 0; i < n; i++)
        c->buf[i] = pattern(c->sent + i);
    w = send(c->fd, c->buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w > 0) {
        c->sent += (size_t)w;
        *moved = true;
    }
}

static void client_recv(struct client *c, bool *moved)
{
    for (int i = 0; i < 64 && !c->eof; i++) {
        ssize_t r = recv(c->fd, c->buf, sizeof c->buf, MSG_DONTWAIT);
        if (r > 0) {
            for (ssize_t k = 0; k < r; k++)
                if (c->buf[k] != pattern(c->recvd + (size_t)k))
                    c->corrupt = true;
            c->recvd += (size_t)r;
            *moved = true;
        } else if (r == 0) {
            c->eof = true;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            break;
        } else {
            c->reset = c->eof = true;
        }
    }
}

static bool client_step(void *arg, bool fed)
{
    struct client *c = arg;
    bool moved = fed;

    client_send(c, &moved);
    if (c->reading)
        client_recv(c, &moved);
    if (!c->reading) {
        /* Everything stopped moving while the client does not read: the
         * backpressure reached the sender. Record it, then start reading. */
        c->idle_rounds = moved ? 0 : c->idle_rounds + 1;
        if (c->idle_rounds >= 500) {
            vole_stack_splice_stats(c->env->s, &c->at_stall);
            c->sent_at_stall = c->sent;
            c->reading = true;
        }
    }
    return c->eof;
}

static struct vole_forward_local *fwd_local(struct env *e, const char *dst, uint16_t dport)
{
    ip_addr_t a;
    char err[256];
    struct vole_forward_local *fl;

    assert_true(ipaddr_aton(dst, &a));
    fl = vole_forward_local_new(e->s, NULL, 0, &a, dport, err, sizeof err);
    if (!fl)
        fail_msg("forward_local: %s", err);
    return fl;
}

static struct vole_forward_remote *fwd_remote(struct env *e, uint16_t oport, uint16_t port)
{
    char err[256];
    struct vole_forward_remote *fr = vole_forward_remote_new(e->s, oport, "127.0.0.1", port,
                                                             err, sizeof err);
    if (!fr)
        fail_msg("forward_remote: %s", err);
    return fr;
}

/* ---- splice tests ------------------------------------------------------ */

static void echo_through_tunnel(struct env *e, const char *overlay, size_t total,
                                bool backpressure)
{
    struct echo echo;
    struct vole_forward_remote *fr;
    struct vole_forward_local *fl;
    struct client *c = calloc(1, sizeof *c);

    echo_start(&echo);
    fr = fwd_remote(e, 7000, echo.port);
    fl = fwd_local(e, overlay, 7000);
    c->env = e;
    c->total = total;
    c->reading = !backpressure;
    c->fd = client_connect(vole_forward_local_port(fl));
    run_until(e, client_step, c, 60);

    assert_false(c->reset);
    assert_false(c->corrupt);
    assert_int_equal(c->sent, total);
    assert_int_equal(c->recvd, total);   /* all of it, then EOF (half-close) */
    if (backpressure) {
        print_message("stalled after %zu of %zu bytes; largest queue to the kernel "
                      "%zu bytes in %zu pbufs; %zu packets through the netif\n",
                      c->sent_at_stall, total, c->at_stall.to_kernel_bytes,
                      c->at_stall.to_kernel_pbufs, packets_fed);
        assert_true(c->sent_at_stall < total);
        assert_true(c->at_stall.to_kernel_bytes > 0);
        assert_true(c->at_stall.to_kernel_bytes <= TCP_WND);
        assert_true(c->at_stall.to_lwip_bytes <= 65536);
    }
    close(c->fd);
    vole_forward_local_free(fl);
    vole_forward_remote_free(fr);
    echo_stop(&echo);
    free(c);
}

static void test_splice_echo_v4(void **state)
{
    echo_through_tunnel(*state, "10.7.0.2", 3 * 1024 * 1024 + 12345, false);
}

static void test_splice_echo_v6(void **state)
{
    echo_through_tunnel(*state, "fd00::2", 1024 * 1024 + 7, false);
}

/* The client stops reading: windows close and reads pause hop by hop until
 * the client's own send blocks; then it drains everything intact. */
static void test_splice_backpressure(void **state)
{
    echo_through_tunnel(*state, "10.7.0.2", 64u * 1024 * 1024, true);
}

static void expect_reset(struct env *e, uint16_t port)
{
    struct client *c = calloc(1, sizeof *c);

    c->env = e;
    c->reading = true;
    c->fd = client_connect(port);
    run_until(e, client_step, c, 10);
    assert_int_equal(c->recvd, 0);
    close(c->fd);
    free(c);
}

/* Nothing listens on the overlay port: the tunnel connect is refused and
 * the kernel connection is closed. */
static void test_tunnel_connect_refused(void **state)
{
    struct env *e = *state;
    struct vole_forward_local *fl = fwd_local(e, "10.7.0.2", 7999);

    expect_reset(e, vole_forward_local_port(fl));
    vole_forward_local_free(fl);
}

/* The -R target refuses: the tunnel connection is reset, which in turn
 * closes the -L client. */
static void test_kernel_connect_refused(void **state)
{
    struct env *e = *state;
    struct vole_forward_remote *fr = fwd_remote(e, 7001, closed_port());
    struct vole_forward_local *fl = fwd_local(e, "10.7.0.2", 7001);

    expect_reset(e, vole_forward_local_port(fl));
    vole_forward_local_free(fl);
    vole_forward_remote_free(fr);
}

/* The client resets its connection mid-transfer: the reset crosses the
 * tunnel and ends the echo thread's connection too. */
static void test_client_reset_propagates(void **state)
{
    struct env *e = *state;
    struct echo echo;
    struct vole_forward_remote *fr;
    struct vole_forward_local *fl;
    struct client *c = calloc(1, sizeof *c);
    struct linger lg = { .l_onoff = 1, .l_linger = 0 };

    echo_start(&echo);
    fr = fwd_remote(e, 7003, echo.port);
    fl = fwd_local(e, "10.7.0.2", 7003);
    c->env = e;
    c->total = 1 << 30;   /* never finishes: we reset it on the way */
    c->reading = true;
    c->fd = client_connect(vole_forward_local_port(fl));
    for (int i = 0; i < 200000 && c->recvd < (1u << 20); i++) {
        bool fed = feed(e);
        ev_run(loop(), EVRUN_NOWAIT);
        client_step(c, fed);
    }
    assert_true(c->recvd >= (1u << 20));
    assert_false(c->corrupt);
    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(c->fd);
    run_until(e, no_splices, e->s, 10);
    echo_stop(&echo);   /* returns only because its connection ended */
    vole_forward_local_free(fl);
    vole_forward_remote_free(fr);
    free(c);
}

/* Freeing the stack resets connections still in flight: both kernel peers
 * (the client and the echo thread) see their connection end. */
static void test_stack_free_resets_splices(void **state)
{
    struct env *e = *state;
    struct echo echo;
    struct vole_forward_remote *fr;
    struct vole_forward_local *fl;
    uint8_t b;
    int fd;

    echo_start(&echo);
    fr = fwd_remote(e, 7002, echo.port);
    fl = fwd_local(e, "10.7.0.2", 7002);
    fd = client_connect(vole_forward_local_port(fl));
    for (int i = 0; i < 20000 && vole_stack_splice_count(e->s) < 2; i++) {
        feed(e);
        ev_run(loop(), EVRUN_NOWAIT);
        usleep(100);
    }
    assert_int_equal(vole_stack_splice_count(e->s), 2);
    vole_forward_local_free(fl);
    vole_forward_remote_free(fr);
    vole_stack_free(e->s);
    e->s = NULL;
    echo_stop(&echo);   /* returns only because its connection ended */
    assert_true(recv(fd, &b, 1, 0) <= 0);
    close(fd);
}

static int teardown_freed(void **state)
{
    struct env *e = *state;
    while (e->lb.n)
        free(e->lb.pkt[--e->lb.n]);
    free(e->lb.pkt);
    free(e->lb.len);
    free(e);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_local),
        cmocka_unit_test(test_spec_remote),
        cmocka_unit_test_setup_teardown(test_splice_echo_v4, setup, teardown),
        cmocka_unit_test_setup_teardown(test_splice_echo_v6, setup, teardown),
        cmocka_unit_test_setup_teardown(test_splice_backpressure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tunnel_connect_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kernel_connect_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_reset_propagates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stack_free_resets_splices, setup, teardown_freed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
