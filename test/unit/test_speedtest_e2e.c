/* The speedtest end to end, in one process on loopback: `vole server`'s
 * runtime, an agent node with the speedtest server on overlay port 3, and a
 * client node running short tests both ways through the tailnet, with the
 * inner packets captured to a pcap file (tailnet/speedtest.h,
 * stack/pcap_tap.h). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <ev.h>
#include <pcap/pcap.h>

#include "evloop.h"
#include "server/server.h"
#include "stack/forward.h"
#include "stack/pcap_tap.h"
#include "tailnet/node.h"
#include "tailnet/speedtest.h"
#include "tailnet_fixture.h"

#define TEST_NS      1500000000LL   /* 1.5 s: one whole interval and a partial one */
#define NS           1000000000ULL

/* ---- one node --------------------------------------------------------------- */

struct watch {
    struct tn_node n;                   /* first: the ctx of tn_log and tn_on_peer */
    bool agent;
    struct vole_speedtest_server *st;   /* the agent's */
};

static struct ev_loop *loop;

static void w_ready(void *ctx, const struct coord_node *self)
{
    struct watch *w = ctx;
    char err[256];
    (void)self;

    w->n.ready = true;
    if (w->agent && !w->st) {
        w->st = vole_speedtest_server_new(loop, vole_tailnet_stack(w->n.t), VOLE_SPEEDTEST_PORT, tn_log, &w->n, err,
                                          sizeof err);
        if (!w->st)
            fail_msg("vole_speedtest_server_new: %s", err);
    }
}

static void w_stack_gone(void *ctx, struct vole_stack *s)
{
    struct watch *w = ctx;
    (void)s;
    vole_speedtest_server_free(w->st);
    w->st = NULL;
}

/* ---- the fixture -------------------------------------------------------------- */

struct fixture {
    struct tn_server srv;
    char pcap[96];
    struct watch agent, client;
    ip_addr_t dst;
};

static struct fixture *fx;

static bool nodes_met(void *arg)
{
    const struct fixture *f = arg;
    return tn_met(&f->agent.n, &f->client.n) && f->agent.st;
}

static void node_new(struct watch *w, const char *who, const char *name, const char *token)
{
    struct vole_tailnet_ops ops = { .ctx = w, .on_ready = w_ready, .on_peer = tn_on_peer,
                                    .on_stack_gone = w_stack_gone };
    tn_node_new(&w->n, loop, &fx->srv, who, name, token, false, &ops);
}

static int setup(void **state)
{
    (void)state;

    loop = ev_default_loop(0);
    fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    tn_server_start(&fx->srv, loop, "/tmp/vole-speedtest-XXXXXX");
    snprintf(fx->pcap, sizeof fx->pcap, "%s/test.pcap", fx->srv.dir);

    fx->agent.agent = true;
    node_new(&fx->agent, "agent", "dev", TN_AGENT_TOKEN);
    node_new(&fx->client, "client", NULL, TN_CLIENT_TOKEN);
    assert_int_equal(vole_tailnet_add_tunnel(fx->client.n.t, "dev"), 0);
    if (!run_until(loop, nodes_met, fx, 15))
        fail_msg("nodes did not meet\nagent log:\n%sclient log:\n%s", fx->agent.n.log, fx->client.n.log);
    assert_int_equal(vole_tailnet_peer_addr(fx->client.n.t, "dev", &fx->dst), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    vole_speedtest_server_free(fx->agent.st);
    fx->agent.st = NULL;
    vole_tailnet_free(fx->client.n.t);
    vole_tailnet_free(fx->agent.n.t);
    unlink(fx->pcap);
    tn_server_stop(&fx->srv);
    free(fx);
    return 0;
}

/* ---- one test run ----------------------------------------------------------------- */

struct run {
    bool started, done;
    uint64_t rtt_ns;
    char err[256];
    struct vole_speedtest_result r[VOLE_SPEEDTEST_MAX_RESULTS];
    size_t n;
};

static void r_started(void *ctx, uint64_t rtt_ns)
{
    struct run *r = ctx;
    r->started = true;
    r->rtt_ns = rtt_ns;
}

static void r_result(void *ctx, const struct vole_speedtest_result *res)
{
    struct run *r = ctx;
    assert_true(r->started);
    assert_true(r->n < VOLE_SPEEDTEST_MAX_RESULTS);
    r->r[r->n++] = *res;
}

static void r_done(void *ctx, const char *err)
{
    struct run *r = ctx;
    r->done = true;
    snprintf(r->err, sizeof r->err, "%s", err ? err : "");
}

static bool run_done(void *arg)
{
    return ((struct run *)arg)->done;
}

static struct run *speed_run(int direction, int64_t ns, uint16_t port)
{
    struct vole_speedtest_client_ops ops = { .on_started = r_started, .on_result = r_result, .on_done = r_done };
    struct run *r = calloc(1, sizeof *r);
    struct vole_speedtest_client *c;
    char err[256];

    assert_non_null(r);
    ops.ctx = r;
    c = vole_speedtest_client_new(loop, vole_tailnet_stack(fx->client.n.t), &fx->dst, port, direction, ns, &ops, err,
                                  sizeof err);
    if (!c)
        fail_msg("vole_speedtest_client_new: %s", err);
    if (!run_until(loop, run_done, r, (double)ns / 1e9 * 4 + 15))
        fail_msg("the test did not end: %zu results\nagent log:\n%s", r->n, fx->agent.n.log);
    /* The results handed out and the client's own list agree. */
    {
        size_t n;
        const struct vole_speedtest_result *own = vole_speedtest_client_results(c, &n);
        assert_int_equal(n, r->n);
        if (n)
            assert_memory_equal(own, r->r, n * sizeof *own);
    }
    vole_speedtest_client_free(c);
    return r;
}

/* Intervals present, contiguous, at least 1 s each but the last; the total
 * last, spanning them all with the sum of their bytes. */
static void check_results(const struct run *r, uint64_t min_total_ns)
{
    uint64_t sum = 0;
    const struct vole_speedtest_result *t;

    if (r->err[0])
        fail_msg("test failed: %s\nagent log:\n%s", r->err, fx->agent.n.log);
    assert_true(r->started);
    assert_true(r->rtt_ns > 0 && r->rtt_ns < 2 * NS);
    assert_true(r->n >= 3);   /* a 1 s interval, the partial one, the total */
    t = &r->r[r->n - 1];
    assert_true(t->total);
    for (size_t i = 0; i + 1 < r->n; i++) {
        const struct vole_speedtest_result *x = &r->r[i];
        assert_false(x->total);
        assert_true(x->end_ns > x->start_ns);
        assert_int_equal(x->bytes % VOLE_SPEEDTEST_BLOCK, 0);
        if (i + 2 < r->n)
            assert_true(x->end_ns - x->start_ns >= NS);
        assert_int_equal(x->start_ns, i ? r->r[i - 1].end_ns : t->start_ns);
        sum += x->bytes;
    }
    assert_int_equal(t->bytes, sum);
    assert_true(t->bytes > 0);
    assert_int_equal(t->end_ns, r->r[r->n - 2].end_ns);
    assert_true(t->end_ns - t->start_ns >= min_total_ns);
    assert_true(t->end_ns - t->start_ns < 4 * (uint64_t)TEST_NS);
}

static bool agent_logged_end(void *arg)
{
    const char *want = arg;
    return strstr(fx->agent.n.log, want) != NULL;
}

static void test_download_and_upload_with_pcap(void **state)
{
    struct vole_pcap_tap *tap;
    struct run *r;
    char err[256];
    (void)state;

    tap = vole_pcap_tap_open(fx->pcap, err, sizeof err);
    if (!tap)
        fail_msg("vole_pcap_tap_open: %s", err);
    vole_pcap_tap_attach(tap, vole_tailnet_stack(fx->client.n.t));

    /* Download: the client reads; the server stops after 1.5 s and closes,
     * so the client's span lacks at most the first answer's one-way trip. */
    r = speed_run(VOLE_SPEEDTEST_DOWNLOAD, TEST_NS, VOLE_SPEEDTEST_PORT);
    check_results(r, (uint64_t)TEST_NS - NS / 10);
    free(r);
    assert_true(run_until(loop, agent_logged_end, "test ended: sent ", 5));
    assert_non_null(strstr(fx->agent.n.log, "speedtest: accepted connection from 100."));

    /* Upload: the client writes and measures; it stops past 1.5 s. */
    r = speed_run(VOLE_SPEEDTEST_UPLOAD, TEST_NS, VOLE_SPEEDTEST_PORT);
    check_results(r, (uint64_t)TEST_NS);
    free(r);
    assert_true(run_until(loop, agent_logged_end, "test ended: received ", 5));

    assert_true(vole_pcap_tap_count(tap) > 100);
    assert_int_equal(vole_pcap_tap_close(tap, err, sizeof err), 0);

    /* The file reads back: raw IP, TCP to or from port 3. */
    {
        char perr[PCAP_ERRBUF_SIZE];
        pcap_t *p = pcap_open_offline(fx->pcap, perr);
        struct pcap_pkthdr *h;
        const u_char *d;
        size_t n = 0, port3 = 0;

        if (!p)
            fail_msg("pcap_open_offline: %s", perr);
        assert_int_equal(pcap_datalink(p), DLT_RAW);
        while (pcap_next_ex(p, &h, &d) == 1) {
            n++;
            assert_true(h->caplen == h->len && h->len >= 20);
            assert_true((d[0] >> 4) == 4 || (d[0] >> 4) == 6);
            if ((d[0] >> 4) == 4 && d[9] == 6) {
                size_t ihl = (size_t)(d[0] & 15) * 4;
                unsigned sport = (unsigned)d[ihl] << 8 | d[ihl + 1], dport = (unsigned)d[ihl + 2] << 8 | d[ihl + 3];
                port3 += sport == 3 || dport == 3;
            }
        }
        pcap_close(p);
        assert_true(n > 100);
        assert_true(port3 > 100);
    }
}

/* Nothing listens on overlay port 5 (4 is the agent's report, tailnet/diag.h):
 * the agent's stack resets the SYN. */
static void test_refused(void **state)
{
    struct run *r;
    (void)state;

    r = speed_run(VOLE_SPEEDTEST_DOWNLOAD, TEST_NS, 5);
    assert_string_equal(r->err, "connection refused");
    assert_false(r->started);
    assert_int_equal(r->n, 0);
    free(r);
}

/* A client of another version, through a forwarded kernel socket: the
 * server answers Go's words and closes. */
static void test_version_mismatch(void **state)
{
    struct vole_forward_local *fl;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    const char *line = "{\"version\":3,\"time\":5000000000,\"direction\":0}\n";
    const char *want = "{\"error\":\"version mismatch! Server is version 2, client is version 3\"}\n";
    char got[256], err[256];
    size_t len = 0;
    int fd;
    (void)state;

    fl = vole_forward_local_new(vole_tailnet_stack(fx->client.n.t), NULL, 0, &fx->dst, VOLE_SPEEDTEST_PORT, err,
                                sizeof err);
    if (!fl)
        fail_msg("vole_forward_local_new: %s", err);
    a.sin_port = htons(vole_forward_local_port(fl));
    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    assert_true(fd >= 0);
    assert_true(connect(fd, (struct sockaddr *)&a, sizeof a) == 0 || errno == EINPROGRESS);
    run_loop_for(loop, 0.2);
    assert_int_equal(write(fd, line, strlen(line)), (ssize_t)strlen(line));
    /* Read until EOF, bounded in time. */
    for (int i = 0; i < 500; i++) {
        ssize_t n;
        run_loop_for(loop, 0.01);
        n = read(fd, got + len, sizeof got - 1 - len);
        if (n == 0)
            break;
        if (n > 0)
            len += (size_t)n;
        else
            assert_int_equal(errno, EAGAIN);
    }
    got[len] = '\0';
    assert_string_equal(got, want);
    close(fd);
    vole_forward_local_free(fl);
    assert_true(run_until(loop, agent_logged_end, "client is version 3", 5));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_download_and_upload_with_pcap),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_version_mismatch),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
