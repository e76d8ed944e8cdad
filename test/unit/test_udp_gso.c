/* UDP GSO/GRO in io/udp: the pure run/split rules (io/udp_gso.h), then
 * loopback sends to plain sockets and receives from a plain UDP_SEGMENT
 * sender, each with offload on and off. Whether the kernel has GSO/GRO is
 * probed here with our own socket, so "offload was used" is asserted where
 * it must have been. Every wait is bounded (poll timeouts, run_loop_for). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test/unit/evloop.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "io/udp.h"
#include "io/udp_gso.h"

#define RUN_LIMIT_S 5.0
#define POLL_MS 2000
#define MAX_PLAN 128

/* ---- the pure helpers ------------------------------------------------- */

struct pending {
    struct iovec iov[MAX_PLAN];
    struct sockaddr_storage addrs[MAX_PLAN];
    socklen_t alen[MAX_PLAN];
    size_t n;
};

static void pend(struct pending *p, uint16_t port, size_t len)
{
    struct sockaddr_in *s4 = (struct sockaddr_in *)&p->addrs[p->n];
    memset(&p->addrs[p->n], 0, sizeof p->addrs[p->n]);
    s4->sin_family = AF_INET;
    s4->sin_port = htons(port);
    s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    p->alen[p->n] = sizeof *s4;
    p->iov[p->n].iov_base = NULL;
    p->iov[p->n].iov_len = len;
    p->n++;
}

static size_t run_at(const struct pending *p, size_t i)
{
    return vole_udp_gso_run(&p->iov[i], &p->addrs[i], &p->alen[i], p->n - i, VOLE_UDP_GSO_MAX_SEGMENTS,
                            VOLE_UDP_GSO_MAX_BYTES);
}

static void test_run_limits(void **state)
{
    (void)state;
    struct pending p = {0};
    assert_int_equal(run_at(&p, 0), 0);

    for (int i = 0; i < 100; i++)   /* 100 x 100 B: the 64-datagram cap */
        pend(&p, 1, 100);
    assert_int_equal(run_at(&p, 0), 64);
    assert_int_equal(run_at(&p, 64), 36);

    p.n = 0;   /* 50 x 1400 B: the 65000-byte cap (46 x 1400 = 64400) */
    for (int i = 0; i < 50; i++)
        pend(&p, 1, 1400);
    assert_int_equal(run_at(&p, 0), 46);
    assert_int_equal(run_at(&p, 46), 4);

    p.n = 0;   /* 64000 + a 1000-byte tail is 65000 exactly: allowed */
    pend(&p, 1, 32000);
    pend(&p, 1, 32000);
    pend(&p, 1, 1000);
    assert_int_equal(run_at(&p, 0), 3);
    p.iov[2].iov_len = 1001;
    assert_int_equal(run_at(&p, 0), 2);
}

static void test_run_shapes(void **state)
{
    (void)state;
    struct pending p = {0};
    pend(&p, 1, 500);
    pend(&p, 1, 500);
    pend(&p, 1, 400);   /* a shorter tail joins and ends the run */
    pend(&p, 1, 500);   /* longer after the short one: a new run */
    pend(&p, 1, 500);
    pend(&p, 1, 600);   /* longer than the run's size: a new run */
    pend(&p, 2, 600);   /* another port: a new run */
    pend(&p, 2, 600);
    pend(&p, 2, 0);     /* an empty datagram cannot be a segment */
    pend(&p, 2, 0);     /* nor start a run */
    pend(&p, 2, 7);     /* alone at the end */
    assert_int_equal(run_at(&p, 0), 3);
    assert_int_equal(run_at(&p, 3), 2);
    assert_int_equal(run_at(&p, 5), 1);
    assert_int_equal(run_at(&p, 6), 2);
    assert_int_equal(run_at(&p, 8), 1);
    assert_int_equal(run_at(&p, 9), 1);
    assert_int_equal(run_at(&p, 10), 1);

    /* Same port, other family/address length: not the same destination. */
    p.n = 0;
    pend(&p, 1, 100);
    pend(&p, 1, 100);
    p.alen[1] = sizeof(struct sockaddr_in6);
    assert_int_equal(run_at(&p, 0), 1);
    /* And a datagram above max_bytes by itself still goes, alone. */
    p.n = 0;
    pend(&p, 1, 65535);
    pend(&p, 1, 65535);
    assert_int_equal(run_at(&p, 0), 1);
}

static void test_gro_split(void **state)
{
    (void)state;
    /* 100 bytes cut every 30: 30, 30, 30 and a short 10. */
    size_t seg = vole_udp_gro_seg_size(100, 30);
    assert_int_equal(seg, 30);
    assert_int_equal(vole_udp_gro_count(100, seg), 4);
    assert_int_equal(vole_udp_gro_count(90, vole_udp_gro_seg_size(90, 30)), 3);
    /* No control message, or a size that does not cut: one datagram. */
    assert_int_equal(vole_udp_gro_seg_size(100, 0), 100);
    assert_int_equal(vole_udp_gro_seg_size(100, 100), 100);
    assert_int_equal(vole_udp_gro_seg_size(100, 5000), 100);
    assert_int_equal(vole_udp_gro_count(100, 100), 1);
    /* An empty datagram is still one datagram. */
    assert_int_equal(vole_udp_gro_seg_size(0, 30), 0);
    assert_int_equal(vole_udp_gro_count(0, 0), 1);
}

/* ---- kernel probes (independent of io/udp.c) --------------------------- */

static bool kernel_has_gso(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0), v = 0;
    socklen_t len = sizeof v;
    bool ok = fd >= 0 && getsockopt(fd, SOL_UDP, UDP_SEGMENT, &v, &len) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

/* io/udp turns GRO on only from Linux 5.12 (see GRO_MIN_KERNEL_*). */
static bool kernel_has_gro(void)
{
    struct utsname un;
    int ma = 0, mi = 0, on = 1;
    if (uname(&un) != 0 || sscanf(un.release, "%d.%d", &ma, &mi) != 2 || ma < 5 || (ma == 5 && mi < 12))
        return false;
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    bool ok = fd >= 0 && setsockopt(fd, SOL_UDP, UDP_GRO, &on, sizeof on) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

/* ---- helpers ---------------------------------------------------------- */

static struct wg_endpoint ep4(uint16_t port)
{
    struct wg_endpoint ep = {.family = 4, .addr = {127, 0, 0, 1}, .port = port};
    return ep;
}

static void no_recv(void *ctx, const struct wg_endpoint *src, uint8_t *buf, size_t len)
{
    (void)ctx;
    (void)src;
    (void)buf;
    fail_msg("unexpected datagram of %zu bytes", len);
}

static struct vole_udp *open_udp(struct ev_loop *loop, const char *addr, bool no_offload, vole_udp_recv_fn fn,
                                 void *ctx)
{
    struct vole_udp_config cfg = {.bind_addr = addr, .no_offload = no_offload};
    char err[128];
    struct vole_udp *u = vole_udp_open(loop, &cfg, fn, ctx, err, sizeof err);
    if (!u)
        print_message("open: %s\n", err);
    assert_non_null(u);
    return u;
}

/* A plain IPv4 loopback socket, no GRO; *port gets its port. */
static int plain_socket(uint16_t *port, int rcvbuf)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    if (rcvbuf)
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

/* One datagram within POLL_MS, or -1. */
static ssize_t recv_one(int fd, uint8_t *buf, size_t cap)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    if (poll(&pfd, 1, POLL_MS) != 1)
        return -1;
    return recv(fd, buf, cap, MSG_DONTWAIT);
}

static uint8_t pattern(size_t seq, size_t j)
{
    return (uint8_t)(seq * 131u + j * 7u + 1u);
}

/* ---- sending: plans of datagrams to plain receivers --------------------- */

struct step {
    int dst;      /* receiver 0 or 1 */
    size_t len;
};

struct plan_result {
    uint64_t gso_sends, gso_datagrams;
};

/* Commits every step (sequence numbers are the step index), flushes once and
 * checks that each receiver got its datagrams intact, in order, and no
 * more. The sender is dual-stack when any is set (IPv4 peers as v4-mapped). */
static struct plan_result run_plan(const struct step *plan, size_t n, bool no_offload, bool any)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct vole_udp *tx = open_udp(loop, any ? NULL : "127.0.0.1", no_offload, no_recv, NULL);
    uint16_t port[2];
    int fd[2] = {plain_socket(&port[0], 1 << 20), plain_socket(&port[1], 1 << 20)};
    static uint8_t buf[65536];

    for (size_t i = 0; i < n; i++) {
        struct wg_endpoint dst = ep4(port[plan[i].dst]);
        uint8_t *p = vole_udp_tx_slot(tx, plan[i].len);
        assert_non_null(p);
        for (size_t j = 0; j < plan[i].len; j++)
            p[j] = pattern(i, j);
        vole_udp_tx_commit(tx, &dst, plan[i].len);
    }
    vole_udp_flush(tx);
    for (size_t i = 0; i < n; i++) {
        ssize_t got = recv_one(fd[plan[i].dst], buf, sizeof buf);
        assert_int_equal(got, (ssize_t)plan[i].len);
        for (size_t j = 0; j < plan[i].len; j++)
            assert_int_equal(buf[j], pattern(i, j));
    }
    for (int r = 0; r < 2; r++)
        assert_int_equal(recv(fd[r], buf, sizeof buf, MSG_DONTWAIT), -1);

    const struct vole_udp_stats *st = vole_udp_stats(tx);
    struct plan_result res = {st->tx_gso_sends, st->tx_gso_datagrams};
    assert_int_equal(st->tx_datagrams, n);
    assert_int_equal(st->tx_errors + st->tx_dropped, 0);
    assert_int_equal(st->gso, !no_offload && kernel_has_gso());
    print_message("%zu datagrams: %llu sendmmsg, %llu GSO sends carrying %llu\n", n,
                  (unsigned long long)st->tx_syscalls, (unsigned long long)res.gso_sends,
                  (unsigned long long)res.gso_datagrams);
    vole_udp_close(tx);
    close(fd[0]);
    close(fd[1]);
    ev_loop_destroy(loop);
    return res;
}

/* Checks a plan's GSO counts: as given with offload, none without. */
static void plan_both_ways(const struct step *plan, size_t n, bool any, uint64_t sends, uint64_t dgrams)
{
    struct plan_result on = run_plan(plan, n, false, any), off = run_plan(plan, n, true, any);
    bool gso = kernel_has_gso();
    assert_int_equal(on.gso_sends, gso ? sends : 0);
    assert_int_equal(on.gso_datagrams, gso ? dgrams : 0);
    assert_int_equal(off.gso_sends, 0);
    assert_int_equal(off.gso_datagrams, 0);
}

static size_t fill(struct step *plan, size_t at, int dst, size_t len, size_t count)
{
    for (size_t k = 0; k < count; k++)
        plan[at + k] = (struct step){dst, len};
    return at + count;
}

static void test_send_equal_run_with_tail(void **state)
{
    (void)state;
    struct step plan[MAX_PLAN];
    size_t n = fill(plan, 0, 0, 1000, 40);
    n = fill(plan, n, 0, 500, 1);
    plan_both_ways(plan, n, false, 1, 41);
}

static void test_send_caps(void **state)
{
    (void)state;
    struct step plan[MAX_PLAN];
    plan_both_ways(plan, fill(plan, 0, 0, 1000, 100), false, 2, 100);   /* 64 + 36 */
    plan_both_ways(plan, fill(plan, 0, 0, 1400, 50), false, 2, 50);     /* 46 + 4 (65000 bytes) */
}

static void test_send_interleaved_mixed(void **state)
{
    (void)state;
    static const struct step plan[] = {
        {0, 800}, {0, 800}, {0, 800},                 /* run of 3 */
        {1, 800}, {1, 800},                           /* other receiver: run of 2 */
        {0, 800}, {0, 800}, {0, 800}, {0, 800},       /* back: run of 4 */
        {0, 1200}, {0, 1200}, {0, 300},               /* longer: new run, short tail */
        {0, 1200}, {0, 1200}, {0, 1200}, {0, 500},    /* after the tail: new run, shorter tail */
        {0, 400},                                     /* alone: the next one is longer */
        {0, 500}, {0, 500},                           /* run of 2 */
        {1, 100}, {1, 50},                            /* run of 2 with a tail */
        {1, 200},                                     /* alone */
        {0, 0}, {0, 0},                               /* empty: always alone */
    };
    size_t n = sizeof plan / sizeof plan[0];
    plan_both_ways(plan, n, true, 7, 20);
}

/* A run the kernel rejects (port 0: EINVAL) is resent one at a time, so
 * each of its datagrams is counted once in tx_errors; a good run after it
 * still goes out as GSO. */
static void test_send_rejected_run_split(void **state)
{
    (void)state;
    for (int off = 0; off < 2; off++) {
        struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
        struct vole_udp *tx = open_udp(loop, "127.0.0.1", off, no_recv, NULL);
        uint16_t port;
        int fd = plain_socket(&port, 0);
        struct wg_endpoint bad = ep4(0), good = ep4(port);
        uint8_t buf[256];

        for (int i = 0; i < 5; i++) {
            uint8_t *p = vole_udp_tx_slot(tx, 100);
            assert_non_null(p);
            memset(p, i, 100);
            vole_udp_tx_commit(tx, i < 3 ? &bad : &good, 100);
        }
        vole_udp_flush(tx);
        for (int i = 3; i < 5; i++) {
            assert_int_equal(recv_one(fd, buf, sizeof buf), 100);
            assert_int_equal(buf[99], i);
        }
        const struct vole_udp_stats *st = vole_udp_stats(tx);
        assert_int_equal(st->tx_errors, 3);
        assert_int_equal(st->tx_datagrams, 2);
        assert_int_equal(st->tx_gso_sends, !off && kernel_has_gso() ? 1 : 0);
        assert_int_equal(st->gso, !off && kernel_has_gso());   /* not EIO: GSO stays on */
        vole_udp_close(tx);
        close(fd);
        ev_loop_destroy(loop);
    }
}

/* ---- receiving from a plain UDP_SEGMENT sender -------------------------- */

#define RX_MAX 32

struct rx_log {
    struct ev_loop *loop;
    size_t want, got;
    size_t len[RX_MAX];
    uint8_t data[RX_MAX][2048];
};

/* The one log (static: ~130 KB), emptied for a test that waits for want datagrams. */
static struct rx_log *fresh_log(struct ev_loop *loop, size_t want)
{
    static struct rx_log l;
    memset(&l, 0, sizeof l);
    l.loop = loop;
    l.want = want;
    return &l;
}

static void log_recv(void *ctx, const struct wg_endpoint *src, uint8_t *buf, size_t len)
{
    struct rx_log *l = ctx;
    (void)src;
    assert_true(l->got < RX_MAX && len <= sizeof l->data[0]);
    l->len[l->got] = len;
    memcpy(l->data[l->got], buf, len);
    memset(buf, 0xa5, len);   /* writable, and only this datagram's piece */
    if (++l->got == l->want)
        ev_break(l->loop, EVBREAK_ALL);
}

static uint8_t seg_payload[65536];

/* Byte j of segment k (seg bytes each, the last one short) is pattern(base + k, j). */
static void fill_segments(size_t seg, size_t total, size_t base)
{
    for (size_t off = 0, k = 0; off < total; off += seg, k++)
        for (size_t j = 0; j < seg && off + j < total; j++)
            seg_payload[off + j] = pattern(base + k, j);
}

/* One sendmsg of the first total bytes of seg_payload, with a UDP_SEGMENT
 * message when seg < total. */
static bool send_filled(int fd, uint16_t port, size_t seg, size_t total)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    union {
        struct cmsghdr align;
        uint8_t buf[CMSG_SPACE(sizeof(uint16_t))];
    } ctl;
    struct iovec iov = {.iov_base = seg_payload, .iov_len = total};
    struct msghdr h = {.msg_name = &a, .msg_namelen = sizeof a, .msg_iov = &iov, .msg_iovlen = 1};
    if (seg < total) {
        uint16_t g = (uint16_t)seg;
        memset(&ctl, 0, sizeof ctl);
        h.msg_control = ctl.buf;
        h.msg_controllen = sizeof ctl.buf;
        struct cmsghdr *c = CMSG_FIRSTHDR(&h);
        c->cmsg_level = SOL_UDP;
        c->cmsg_type = UDP_SEGMENT;
        c->cmsg_len = CMSG_LEN(sizeof g);
        memcpy(CMSG_DATA(c), &g, sizeof g);
    }
    return sendmsg(fd, &h, 0) == (ssize_t)total;
}

static bool send_segments(int fd, uint16_t port, size_t seg, size_t total, size_t base)
{
    fill_segments(seg, total, base);
    return send_filled(fd, port, seg, total);
}

static void check_logged(const struct rx_log *l, size_t i, size_t seq, size_t len)
{
    assert_int_equal(l->len[i], len);
    for (size_t j = 0; j < len; j++)
        assert_int_equal(l->data[i][j], pattern(seq, j));
}

static void recv_from_gso_sender(bool no_offload)
{
    if (!kernel_has_gso())
        skip();
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct rx_log *l = fresh_log(loop, 13);
    struct vole_udp *rx = open_udp(loop, "127.0.0.1", no_offload, log_recv, l);
    uint16_t port = vole_udp_local_port(rx), sport;
    int fd = plain_socket(&sport, 0);

    assert_true(send_segments(fd, port, 700, 10 * 700 + 300, 0));   /* datagrams 0..10 */
    assert_true(send_segments(fd, port, 3000, 2 * 3000 + 100, 11)); /* 2 too big, then 13 */
    assert_true(send_segments(fd, port, 50, 50, 20));               /* plain, no cmsg */
    assert_true(run_loop_for(loop, RUN_LIMIT_S));

    for (size_t k = 0; k < 10; k++)
        check_logged(l, k, k, 700);
    check_logged(l, 10, 10, 300);
    check_logged(l, 11, 13, 100);
    check_logged(l, 12, 20, 50);
    const struct vole_udp_stats *st = vole_udp_stats(rx);
    bool gro = !no_offload && kernel_has_gro();
    assert_int_equal(st->gro, gro);
    assert_int_equal(st->rx_datagrams, 13);
    assert_int_equal(st->rx_bytes, 7300 + 100 + 50);
    assert_int_equal(st->rx_dropped, 2);
    assert_int_equal(st->rx_gro_buffers, gro ? 2 : 0);
    print_message("GRO %s: 15 datagrams in %llu recvmmsg, %llu GRO buffers\n", gro ? "on" : "off",
                  (unsigned long long)st->rx_syscalls, (unsigned long long)st->rx_gro_buffers);
    vole_udp_close(rx);
    close(fd);
    ev_loop_destroy(loop);
}

static void test_recv_gro(void **state)
{
    (void)state;
    recv_from_gso_sender(false);
}

static void test_recv_no_offload(void **state)
{
    (void)state;
    recv_from_gso_sender(true);
}

/* GRO on a dual-stack socket (IPv4 sender, v4-mapped), kept across a rebind. */
static void test_recv_gro_after_rebind(void **state)
{
    (void)state;
    if (!kernel_has_gso())
        skip();
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct rx_log *l = fresh_log(loop, 6);
    struct vole_udp *rx = open_udp(loop, NULL, false, log_recv, l);
    uint16_t sport;
    int fd = plain_socket(&sport, 0);
    char err[128];

    assert_int_equal(vole_udp_rebind(rx, 0, err, sizeof err), 0);
    assert_true(send_segments(fd, vole_udp_local_port(rx), 600, 5 * 600 + 100, 40));
    assert_true(run_loop_for(loop, RUN_LIMIT_S));
    for (size_t k = 0; k < 5; k++)
        check_logged(l, k, 40 + k, 600);
    check_logged(l, 5, 45, 100);
    const struct vole_udp_stats *st = vole_udp_stats(rx);
    assert_int_equal(st->gro, kernel_has_gro());
    assert_int_equal(st->rx_gro_buffers, kernel_has_gro() ? 1 : 0);
    vole_udp_close(rx);
    close(fd);
    ev_loop_destroy(loop);
}

/* ---- a quick sanity measurement (printed, not asserted) ----------------- */

#define TIMING_ROUNDS 16
#define TIMING_BATCH 256
#define TIMING_LEN 1400

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void drain(int fd)
{
    static uint8_t buf[65536];
    for (int i = 0; i < 4 * TIMING_BATCH && recv(fd, buf, sizeof buf, MSG_DONTWAIT) >= 0; i++)
        ;
}

static double time_flushes(bool no_offload, uint64_t *received)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct vole_udp *tx = open_udp(loop, "127.0.0.1", no_offload, no_recv, NULL);
    uint16_t port;
    int fd = plain_socket(&port, 4 << 20);
    struct wg_endpoint dst = ep4(port);
    double spent = 0;

    /* Commits count too: a full batch is flushed at commit time. */
    for (int r = 0; r < TIMING_ROUNDS; r++) {
        double t0 = now_s();
        for (int i = 0; i < TIMING_BATCH; i++) {
            uint8_t *p = vole_udp_tx_slot(tx, TIMING_LEN);
            assert_non_null(p);
            memset(p, i, TIMING_LEN);
            vole_udp_tx_commit(tx, &dst, TIMING_LEN);
        }
        vole_udp_flush(tx);
        spent += now_s() - t0;
        drain(fd);
    }
    *received = vole_udp_stats(tx)->tx_datagrams;
    vole_udp_close(tx);
    close(fd);
    ev_loop_destroy(loop);
    return spent;
}

struct counter {
    struct ev_loop *loop;
    size_t want, got;
};

static void count_recv(void *ctx, const struct wg_endpoint *src, uint8_t *buf, size_t len)
{
    struct counter *c = ctx;
    (void)src;
    (void)buf;
    (void)len;
    if (++c->got == c->want)
        ev_break(c->loop, EVBREAK_ALL);
}

/* A plain sender's GSO buffers (46 x 1400 B each) into io/udp: the time
 * from the first send (the kernel cuts them up for a socket without GRO)
 * to the last callback, per datagram; *got is how
 * many arrived (a few may be lost to the socket buffer, not asserted). */
static double time_receive(bool no_offload, size_t *got)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct counter c = {.loop = loop, .want = TIMING_ROUNDS * 46};
    struct vole_udp *rx = open_udp(loop, "127.0.0.1", no_offload, count_recv, &c);
    uint16_t sport;
    int fd = plain_socket(&sport, 0);
    fill_segments(TIMING_LEN, 46 * TIMING_LEN, 0);
    double t0 = now_s();
    for (int r = 0; r < TIMING_ROUNDS; r++)
        assert_true(send_filled(fd, vole_udp_local_port(rx), TIMING_LEN, 46 * TIMING_LEN));
    (void)run_loop_for(loop, RUN_LIMIT_S);
    double spent = now_s() - t0;
    *got = c.got;
    vole_udp_close(rx);
    close(fd);
    ev_loop_destroy(loop);
    return spent;
}

static void test_timing_gso_vs_plain(void **state)
{
    (void)state;
    uint64_t n_gso, n_plain;
    double gso = time_flushes(false, &n_gso), plain = time_flushes(true, &n_plain);
    print_message("send %d x %d B to loopback (slot+commit+flush): GSO %.3f us/datagram, plain sendmmsg %.3f\n",
                  TIMING_ROUNDS * TIMING_BATCH, TIMING_LEN, gso * 1e6 / (double)n_gso,
                  plain * 1e6 / (double)n_plain);
    assert_int_equal(n_gso, TIMING_ROUNDS * TIMING_BATCH);
    assert_int_equal(n_plain, TIMING_ROUNDS * TIMING_BATCH);
    if (!kernel_has_gso())
        return;
    size_t got_gro, got_plain;
    double gro = time_receive(false, &got_gro), plain_rx = time_receive(true, &got_plain);
    print_message("receive %d GSO buffers of 46 x %d B: GRO %.3f us/datagram (%zu arrived), "
                  "plain recvmmsg %.3f us/datagram (%zu arrived)\n",
                  TIMING_ROUNDS, TIMING_LEN, gro * 1e6 / (double)(got_gro ? got_gro : 1), got_gro,
                  plain_rx * 1e6 / (double)(got_plain ? got_plain : 1), got_plain);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_limits),
        cmocka_unit_test(test_run_shapes),
        cmocka_unit_test(test_gro_split),
        cmocka_unit_test(test_send_equal_run_with_tail),
        cmocka_unit_test(test_send_caps),
        cmocka_unit_test(test_send_interleaved_mixed),
        cmocka_unit_test(test_send_rejected_run_split),
        cmocka_unit_test(test_recv_gro),
        cmocka_unit_test(test_recv_no_offload),
        cmocka_unit_test(test_recv_gro_after_rebind),
        cmocka_unit_test(test_timing_gso_vs_plain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
