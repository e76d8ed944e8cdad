/* The floor under `vole ping`'s round trip on this machine: two processes
 * bouncing one small UDP datagram over loopback, blocking in poll() between
 * pings as vole's loop blocks in epoll. Pings are WAIT_US apart (vole ping
 * --wait 10ms), so each hop pays the idle wake-up a real ping pays; a
 * tight loop would measure a busy CPU instead.
 *
 * usage: vole-bench-udprtt [COUNT [WAIT_US]]   (defaults 200, 10000)
 * prints: p50 / p99 in ms, the format of bench/run.sh's ping rows. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_COUNT 100000
#define PAYLOAD 100          /* about a disco ping's size */
#define POLL_LIMIT_MS 1000   /* a lost datagram ends the run, never hangs it */

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* A socket bound to 127.0.0.1 on an ephemeral port; its address in *sa. */
static int open_bound(struct sockaddr_in *sa)
{
    socklen_t len = sizeof *sa;
    int fd = socket(AF_INET, SOCK_DGRAM, 0);

    sa->sin_family = AF_INET;
    sa->sin_port = 0;
    sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)sa, sizeof *sa) < 0 ||
        getsockname(fd, (struct sockaddr *)sa, &len) < 0) {
        perror("udp socket on 127.0.0.1");
        exit(1);
    }
    return fd;
}

/* One datagram in within the limit: its length, or -1. */
static ssize_t recv_within(int fd, char *buf, size_t cap)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    if (poll(&p, 1, POLL_LIMIT_MS) != 1)
        return -1;
    return recv(fd, buf, cap, 0);
}

/* The echo side: answers count datagrams, then exits. */
static void echo(int fd, const struct sockaddr_in *to, int count)
{
    char buf[PAYLOAD];
    for (int i = 0; i < count; i++) {
        ssize_t n = recv_within(fd, buf, sizeof buf);
        if (n < 0 || sendto(fd, buf, (size_t)n, 0, (const struct sockaddr *)to, sizeof *to) < 0)
            _exit(1);
    }
    _exit(0);
}

int main(int argc, char **argv)
{
    int count = argc > 1 ? atoi(argv[1]) : 200;
    long wait_us = argc > 2 ? atol(argv[2]) : 10000;
    struct sockaddr_in sa, sb;
    char buf[PAYLOAD] = { 0 };
    double *rtt;
    int a, b, got = 0, status;
    pid_t pid;

    if (count < 1 || count > MAX_COUNT || wait_us < 0 || wait_us > 1000000) {
        fprintf(stderr, "usage: %s [COUNT 1..%d [WAIT_US 0..1000000]]\n", argv[0], MAX_COUNT);
        return 2;
    }
    a = open_bound(&sa);
    b = open_bound(&sb);
    pid = fork();
    if (pid < 0) {
        perror("fork");
        return 1;
    }
    if (pid == 0)
        echo(b, &sa, count);
    rtt = calloc((size_t)count, sizeof *rtt);
    if (!rtt)
        return 1;
    for (; got < count; got++) {
        double t0;
        usleep((useconds_t)wait_us);
        t0 = now_us();
        if (sendto(a, buf, sizeof buf, 0, (const struct sockaddr *)&sb, sizeof sb) < 0 ||
            recv_within(a, buf, sizeof buf) < 0)
            break;
        rtt[got] = now_us() - t0;
    }
    waitpid(pid, &status, 0);
    if (got == 0) {
        fprintf(stderr, "no datagram came back\n");
        return 1;
    }
    qsort(rtt, (size_t)got, sizeof *rtt, cmp_double);
    printf("%.3f / %.3f (%d round trips)\n", rtt[got / 2] / 1e3, rtt[(got * 99) / 100] / 1e3, got);
    free(rtt);
    return got == count ? 0 : 1;
}
