/* vole stun [--listen ADDR:PORT]... [-v]
 * A standalone STUN server: one UDP socket per listen address, all feeding
 * one stun_server (so one rate limit per source across them). */
#include <arpa/inet.h>
#include <ev.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "io/udp.h"
#include "node/tunnel.h"
#include "stun/server.h"

#define MAX_LISTEN 16
#define DEFAULT_PORT 3478

static const char USAGE[] =
    "usage: vole stun [--listen ADDR:PORT]... [-v]\n"
    "\n"
    "Answers STUN binding requests (RFC 8489/5389, and classic RFC 3489 clients)\n"
    "over UDP with the address and port each request came from.\n"
    "\n"
    "  -l, --listen ADDR:PORT  listen here; repeatable. ADDR is an IPv4 literal,\n"
    "                          [IPv6] in brackets, or empty, * or [::] for all\n"
    "                          addresses, IPv4 and IPv6 (default [::]:3478).\n"
    "                          Port 0 picks a free port.\n"
    "  -v, --verbose           print the counters at exit\n"
    "\n"
    "Runs until SIGINT or SIGTERM.\n";

struct listen_spec {
    char addr[INET6_ADDRSTRLEN];   /* numeric literal; "" = all addresses */
    uint16_t port;
};

struct stun_args {
    struct listen_spec listen[MAX_LISTEN];
    size_t n_listen;
    bool verbose;
};

struct listener {
    struct stun_run *run;
    struct vole_udp *udp;
};

struct stun_run {
    struct stun_args *a;
    struct ev_loop *loop;
    struct stun_server *server;     /* ~128 KiB of rate-limit table: on the heap */
    struct listener listeners[MAX_LISTEN];
};

static int parse_port(const char *s, uint16_t *out)
{
    char *end;
    long n = strtol(s, &end, 10);
    if (*s < '0' || *s > '9' || *end != '\0' || n > 65535)
        return -1;
    *out = (uint16_t)n;
    return 0;
}

/* Copies the address part, checked to be a numeric literal of its family;
 * "" for all addresses. NULL, or what is wrong. */
static const char *take_addr(const char *host, size_t hlen, bool v6, struct listen_spec *out)
{
    uint8_t bin[16];

    if (hlen >= sizeof out->addr)
        return v6 ? "address is not an IPv6 literal" : "address is not an IPv4 literal";
    memcpy(out->addr, host, hlen);
    out->addr[hlen] = '\0';
    /* All addresses: dual-stack, with the IPv4-only fallback io/udp has. */
    if (!strcmp(out->addr, "*") || !strcmp(out->addr, "::")) {
        out->addr[0] = '\0';
        return NULL;
    }
    if ((!v6 && hlen == 0) || inet_pton(v6 ? AF_INET6 : AF_INET, out->addr, bin) == 1)
        return NULL;
    if (v6)
        return hlen ? "address is not an IPv6 literal" : "empty brackets; use [::] for all addresses";
    return "address is not an IPv4 literal (IPv6 goes in brackets; no host names)";
}

/* Splits [IPv6]:PORT or IPv4:PORT (the address may be empty or *). NULL, or
 * what is wrong. */
static const char *parse_listen(const char *spec, struct listen_spec *out)
{
    const char *port, *why;
    bool v6 = spec[0] == '[';

    if (v6) {
        const char *close = strchr(spec, ']');
        if (!close || close[1] != ':')
            return "want [IPv6]:PORT, e.g. [::1]:3478";
        port = close + 2;
        why = take_addr(spec + 1, (size_t)(close - spec - 1), true, out);
    } else {
        const char *colon = strrchr(spec, ':');
        if (!colon)
            return "want ADDR:PORT, e.g. 0.0.0.0:3478 or [::1]:3478";
        if (memchr(spec, ':', (size_t)(colon - spec)))
            return "an IPv6 address needs brackets, e.g. [::1]:3478";
        port = colon + 1;
        why = take_addr(spec, (size_t)(colon - spec), false, out);
    }
    if (why)
        return why;
    return parse_port(port, &out->port) < 0 ? "port is not a number from 0 to 65535" : NULL;
}

static int add_listen(struct stun_args *a, const char *spec)
{
    const char *why;
    if (a->n_listen == MAX_LISTEN) {
        fprintf(stderr, "vole stun: at most %d --listen addresses\n", MAX_LISTEN);
        return -1;
    }
    why = parse_listen(spec, &a->listen[a->n_listen]);
    if (why) {
        fprintf(stderr, "vole stun: --listen %s: %s\n", spec, why);
        return -1;
    }
    a->n_listen++;
    return 0;
}

/* 0 ok, 1 help printed, -1 error printed */
static int parse_args(int argc, char **argv, struct stun_args *a)
{
    static const struct option opts[] = {
        { "listen", required_argument, NULL, 'l' }, { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
    };
    int c;

    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":l:vh", opts, NULL)) != -1) {
        switch (c) {
        case 'l': if (add_listen(a, optarg) < 0) return -1; break;
        case 'v': a->verbose = true; break;
        case 'h': fputs(USAGE, stdout); return 1;
        case ':': fprintf(stderr, "vole stun: flag %s needs a value\n", argv[optind - 1]); return -1;
        default: fprintf(stderr, "vole stun: unknown flag %s\n%s", argv[optind - 1], USAGE); return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "vole stun: unexpected argument \"%s\"\n%s", argv[optind], USAGE);
        return -1;
    }
    if (a->n_listen == 0) {
        a->listen[0] = (struct listen_spec){ .addr = "", .port = DEFAULT_PORT };
        a->n_listen = 1;
    }
    return 0;
}

static void on_datagram(void *ctx, const struct wg_endpoint *src, uint8_t *buf, size_t len)
{
    struct listener *l = ctx;
    uint8_t *out = vole_udp_tx_slot(l->udp, STUN_MAX_RESPONSE);
    size_t n;

    if (!out)
        return;
    n = stun_server_handle(l->run->server, buf, len, src, vole_now_ns(), out, STUN_MAX_RESPONSE);
    /* An uncommitted slot is simply reused by the next request. */
    if (n)
        vole_udp_tx_commit(l->udp, src, n);
}

static void format_listen(char *buf, size_t len, const struct listen_spec *ls, uint16_t port)
{
    if (ls->addr[0] == '\0')
        snprintf(buf, len, "*:%u", port);
    else if (strchr(ls->addr, ':'))
        snprintf(buf, len, "[%s]:%u", ls->addr, port);
    else
        snprintf(buf, len, "%s:%u", ls->addr, port);
}

static int open_all(struct stun_run *r)
{
    char err[256], where[INET6_ADDRSTRLEN + 8], line[MAX_LISTEN * (sizeof where + 2)] = "";
    size_t used = 0;

    for (size_t i = 0; i < r->a->n_listen; i++) {
        const struct listen_spec *ls = &r->a->listen[i];
        struct vole_udp_config cfg = { .port = ls->port, .bind_addr = ls->addr[0] ? ls->addr : NULL };
        struct listener *l = &r->listeners[i];

        l->run = r;
        l->udp = vole_udp_open(r->loop, &cfg, on_datagram, l, err, sizeof err);
        if (!l->udp) {
            fprintf(stderr, "vole stun: %s\n", err);
            return -1;
        }
        format_listen(where, sizeof where, ls, vole_udp_local_port(l->udp));
        used += (size_t)snprintf(line + used, sizeof line - used, "%s%s", i ? ", " : "", where);
    }
    fprintf(stderr, "vole stun: listening on %s\n", line);
    return 0;
}

static void print_counters(const struct stun_run *r)
{
    struct stun_server_counter c[STUN_SERVER_MAX_COUNTERS];
    size_t n = stun_server_counters(r->server, c, STUN_SERVER_MAX_COUNTERS);
    uint64_t too_big = 0;

    for (size_t i = 0; i < n; i++) {
        if (c[i].reason)
            fprintf(stderr, "vole stun:   %s (%s): %llu\n", c[i].name, c[i].reason, (unsigned long long)c[i].value);
        else
            fprintf(stderr, "vole stun: %s: %llu\n", c[i].name, (unsigned long long)c[i].value);
    }
    /* Datagrams beyond the socket's receive slot never reach the server. */
    for (size_t i = 0; i < r->a->n_listen; i++)
        too_big += r->listeners[i].udp ? vole_udp_stats(r->listeners[i].udp)->rx_dropped : 0;
    fprintf(stderr, "vole stun: dropped by the socket as too big: %llu\n", (unsigned long long)too_big);
}

static void close_all(struct stun_run *r)
{
    for (size_t i = 0; i < r->a->n_listen; i++)
        if (r->listeners[i].udp)
            vole_udp_close(r->listeners[i].udp);
}

int cmd_stun(int argc, char **argv)
{
    struct stun_args a = {0};
    struct stun_run r = { .a = &a };
    int p = parse_args(argc, argv, &a), rc = 1;

    if (p != 0)
        return p > 0 ? 0 : 2;
    r.server = malloc(sizeof *r.server);
    r.loop = ev_default_loop(EVFLAG_AUTO);
    if (!r.server || !r.loop) {
        fprintf(stderr, "vole stun: out of memory\n");
        free(r.server);
        return 1;
    }
    if (stun_server_init(r.server) < 0) {
        fprintf(stderr, "vole stun: cannot initialise libsodium\n");
        free(r.server);
        return 1;
    }
    if (open_all(&r) == 0) {
        cli_stop_on_signals(r.loop);
        ev_run(r.loop, 0);
        if (a.verbose)
            print_counters(&r);
        rc = 0;
    }
    close_all(&r);
    free(r.server);
    return rc;
}
