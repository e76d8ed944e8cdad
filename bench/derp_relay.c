/* vole-bench-derp: DERP relay figures against a running server (bench/derp.sh
 * starts `vole derp` in its own process). Printed, never judged:
 *
 *   memory      the server's VmRSS (/proc/PID/status) before and after N idle
 *               clients connect: bytes per connected client. Also this
 *               process's own RSS per client, the client side's cost.
 *   throughput  two clients in this process; A blasts fixed-size packets to B
 *               (--bidir: both ways) for --seconds; packets/s and Gbit/s of
 *               payload that reached B, and how many the server dropped.
 *
 * usage: vole-bench-derp --url URL [--seconds S] [--size BYTES] [--bidir]
 *                        [--websocket] [--idle N --server-pid PID] */
#include <errno.h>
#include <ev.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "derp/client.h"
#include "derp/handshake.h"

#define CONNECT_LIMIT 60.0        /* seconds for every client to connect */
#define HIGH_WATER (256u << 10)   /* keep this much queued toward the server */
#define SETTLE 1.0                /* seconds for the server's allocations to settle */

struct args {
    const char *url;
    double seconds;
    size_t size, idle;
    long server_pid;
    bool bidir, websocket;
};

struct side {
    struct vole_derp_client *c;
    struct derp_keypair kp;
    uint64_t rx_packets, rx_bytes;
};

struct bench {
    struct ev_loop *loop;
    const struct args *a;
    struct side x, y;            /* the two blasting clients */
    ev_prepare pump;
    ev_timer stop;
    uint8_t *pkt;
    bool blasting;
};

/* ---- helpers ------------------------------------------------------------ */

/* VmRSS in kB of /proc/<pid>/status ("self" for pid 0); -1 if unreadable. */
static long rss_kb(long pid)
{
    char path[64], line[256];
    long kb = -1;

    if (pid)
        snprintf(path, sizeof path, "/proc/%ld/status", pid);
    else
        snprintf(path, sizeof path, "/proc/self/status");
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

static struct vole_derp_client *client_new(struct ev_loop *loop, const struct args *a, struct derp_keypair *kp,
                                           const struct vole_derp_client_ops *ops)
{
    char err[200];
    struct vole_derp_client_config cfg = {.url = a->url, .force_websocket = a->websocket};

    derp_keypair_generate(kp);
    memcpy(cfg.private_key, kp->priv, DERP_KEY_LEN);
    struct vole_derp_client *c = vole_derp_client_new(loop, &cfg, ops, err, sizeof err);
    if (!c) {
        fprintf(stderr, "vole-bench-derp: %s\n", err);
        exit(1);
    }
    return c;
}

/* The test runs in a prepare watcher: just before the loop blocks, after
 * every callback of the iteration. (A check watcher runs before the
 * iteration's I/O callbacks, so a state the last callback set went unseen
 * until some later event: the whole limit, when nothing else was due.) */
struct wait {
    ev_prepare check;
    ev_timer limit;
    bool (*done)(void *);
    void *arg;
};

static void wait_check(struct ev_loop *loop, ev_prepare *w, int revents)
{
    struct wait *wt = w->data;
    if (wt->done(wt->arg))
        ev_break(loop, EVBREAK_ALL);
}

static void wait_limit(struct ev_loop *loop, ev_timer *w, int revents)
{
    ev_break(loop, EVBREAK_ALL);
}

/* Runs the loop until done(arg) or `limit` seconds; done's final value. */
static bool run_until(struct ev_loop *loop, bool (*done)(void *), void *arg, double limit)
{
    struct wait w = {.done = done, .arg = arg};
    ev_prepare_init(&w.check, wait_check);
    ev_timer_init(&w.limit, wait_limit, limit, 0);
    w.check.data = &w;
    ev_prepare_start(loop, &w.check);
    ev_timer_start(loop, &w.limit);
    if (!done(arg))
        ev_run(loop, 0);
    ev_prepare_stop(loop, &w.check);
    ev_timer_stop(loop, &w.limit);
    return done(arg);
}

static bool never(void *arg)
{
    return false;
}

/* ---- memory: N idle clients --------------------------------------------- */

struct idle {
    struct vole_derp_client **c;
    size_t n;
};

static bool idle_all_up(void *arg)
{
    struct idle *id = arg;
    for (size_t i = 0; i < id->n; i++)
        if (!vole_derp_client_connected(id->c[i]))
            return false;
    return true;
}

static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static int bench_memory(struct ev_loop *loop, const struct args *a)
{
    struct idle id = {.c = calloc(a->idle, sizeof(struct vole_derp_client *)), .n = a->idle};
    struct derp_keypair kp;

    if (!id.c)
        return -1;
    raise_fd_limit();
    run_until(loop, never, NULL, SETTLE);
    long srv0 = rss_kb(a->server_pid), self0 = rss_kb(0);
    for (size_t i = 0; i < id.n; i++)
        id.c[i] = client_new(loop, a, &kp, NULL);
    bool up = run_until(loop, idle_all_up, &id, CONNECT_LIMIT);
    run_until(loop, never, NULL, SETTLE);
    long srv1 = rss_kb(a->server_pid), self1 = rss_kb(0);

    if (!up)
        fprintf(stderr, "vole-bench-derp: not every idle client connected in %.0f s (fd limits?)\n", CONNECT_LIMIT);
    else if (srv0 < 0 || srv1 < 0)
        fprintf(stderr, "vole-bench-derp: cannot read /proc/%ld/status\n", a->server_pid);
    else
        printf("memory: %zu idle clients: server VmRSS %ld kB -> %ld kB = %.1f KiB per client "
               "(this client process: %.1f KiB per client)\n",
               id.n, srv0, srv1, (double)(srv1 - srv0) / (double)id.n, (double)(self1 - self0) / (double)id.n);
    for (size_t i = 0; i < id.n; i++)
        vole_derp_client_free(id.c[i]);
    free(id.c);
    run_until(loop, never, NULL, 0.2);   /* let the closes finish */
    return up ? 0 : -1;
}

/* ---- throughput: two clients blasting ----------------------------------- */

static void side_on_packet(void *ctx, const uint8_t src[DERP_KEY_LEN], const uint8_t *pkt, size_t len)
{
    struct side *s = ctx;
    s->rx_packets++;
    s->rx_bytes += len;
}

/* Before the loop blocks: top the outgoing buffers up to the high-water
 * mark, so the socket never runs dry and send never has to drop. */
static void fill(struct bench *b, struct side *from, const struct side *to)
{
    while (vole_derp_client_pending(from->c) < HIGH_WATER)
        if (vole_derp_client_send(from->c, to->kp.pub, b->pkt, b->a->size) < 0)
            return;
}

static void on_pump(struct ev_loop *loop, ev_prepare *w, int revents)
{
    struct bench *b = w->data;
    if (!b->blasting)
        return;
    fill(b, &b->x, &b->y);
    if (b->a->bidir)
        fill(b, &b->y, &b->x);
}

static void on_stop(struct ev_loop *loop, ev_timer *w, int revents)
{
    ((struct bench *)w->data)->blasting = false;
    ev_break(loop, EVBREAK_ALL);
}

static bool pair_up(void *arg)
{
    struct bench *b = arg;
    return vole_derp_client_connected(b->x.c) && vole_derp_client_connected(b->y.c);
}

/* got and bytes: delivered within the window (the rates); delivered: also
 * what was in flight at its end (the loss figure). */
static void report(const struct bench *b, uint64_t sent, uint64_t got, uint64_t bytes, uint64_t delivered,
                   double secs)
{
    double pps = (double)got / secs, gbit = (double)bytes * 8 / secs / 1e9;
    double dropped = sent ? 100.0 * (double)(sent > delivered ? sent - delivered : 0) / (double)sent : 0;
    printf("throughput: %zu-byte packets, %s, %s, %.1f s: %.0f packets/s relayed, %.3f Gbit/s of payload "
           "(sent %llu, delivered %llu, %.1f%% not delivered)\n",
           b->a->size, b->a->bidir ? "A<->B" : "A->B", b->a->websocket ? "WebSocket" : "DERP over TCP", secs, pps,
           gbit, (unsigned long long)sent, (unsigned long long)delivered, dropped);
}

static int bench_throughput(struct ev_loop *loop, const struct args *a)
{
    struct bench b = {.loop = loop, .a = a, .pkt = calloc(1, a->size ? a->size : 1)};
    struct vole_derp_client_ops ox = {.ctx = &b.x, .on_packet = side_on_packet};
    struct vole_derp_client_ops oy = {.ctx = &b.y, .on_packet = side_on_packet};

    if (!b.pkt)
        return -1;
    b.x.c = client_new(loop, a, &b.x.kp, &ox);
    b.y.c = client_new(loop, a, &b.y.kp, &oy);
    if (!run_until(loop, pair_up, &b, 10)) {
        fprintf(stderr, "vole-bench-derp: cannot connect: %s\n", vole_derp_client_last_error(b.x.c));
        return -1;
    }
    ev_prepare_init(&b.pump, on_pump);
    ev_timer_init(&b.stop, on_stop, a->seconds, 0);
    b.pump.data = b.stop.data = &b;
    ev_prepare_start(loop, &b.pump);
    ev_now_update(loop);
    double t0 = ev_now(loop);
    uint64_t sent0 = vole_derp_client_stats(b.x.c)->packets_sent + vole_derp_client_stats(b.y.c)->packets_sent;
    b.blasting = true;
    ev_timer_start(loop, &b.stop);
    ev_run(loop, 0);
    ev_now_update(loop);
    double secs = ev_now(loop) - t0;
    uint64_t got = b.x.rx_packets + b.y.rx_packets, bytes = b.x.rx_bytes + b.y.rx_bytes;
    uint64_t sent = vole_derp_client_stats(b.x.c)->packets_sent + vole_derp_client_stats(b.y.c)->packets_sent - sent0;
    ev_prepare_stop(loop, &b.pump);
    run_until(loop, never, NULL, 0.5);   /* what was in flight at the stop */
    report(&b, sent, got, bytes, b.x.rx_packets + b.y.rx_packets, secs);
    vole_derp_client_free(b.x.c);
    vole_derp_client_free(b.y.c);
    free(b.pkt);
    run_until(loop, never, NULL, 0.1);
    return 0;
}

/* ---- main ----------------------------------------------------------------- */

static const char USAGE[] =
    "usage: vole-bench-derp --url URL [--seconds S] [--size BYTES] [--bidir] [--websocket]\n"
    "                       [--idle N --server-pid PID]\n";

static int parse_args(int argc, char **argv, struct args *a)
{
    static const struct option opts[] = {
        {"url", required_argument, NULL, 'u'},        {"seconds", required_argument, NULL, 's'},
        {"size", required_argument, NULL, 'n'},       {"idle", required_argument, NULL, 'i'},
        {"server-pid", required_argument, NULL, 'p'}, {"bidir", no_argument, NULL, 'b'},
        {"websocket", no_argument, NULL, 'w'},        {NULL, 0, NULL, 0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "u:s:n:i:p:bw", opts, NULL)) != -1) {
        switch (ch) {
        case 'u': a->url = optarg; break;
        case 's': a->seconds = strtod(optarg, NULL); break;
        case 'n': a->size = strtoul(optarg, NULL, 10); break;
        case 'i': a->idle = strtoul(optarg, NULL, 10); break;
        case 'p': a->server_pid = strtol(optarg, NULL, 10); break;
        case 'b': a->bidir = true; break;
        case 'w': a->websocket = true; break;
        default: return -1;
        }
    }
    if (!a->url || a->seconds <= 0 || a->size > DERP_MAX_PACKET_SIZE || (a->idle && a->server_pid <= 0))
        return -1;
    return 0;
}

int main(int argc, char **argv)
{
    struct args a = {.seconds = 5, .size = 1300};

    if (parse_args(argc, argv, &a) < 0) {
        fputs(USAGE, stderr);
        return 2;
    }
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    if (!loop)
        return 1;
    int rc = 0;
    if (a.idle)
        rc |= bench_memory(loop, &a);
    rc |= bench_throughput(loop, &a);
    ev_loop_destroy(loop);
    return rc ? 1 : 0;
}
