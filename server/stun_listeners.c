/* The server's STUN listeners: one UDP socket per --stun-listen, all feeding
 * one stun_server (stun/server.h), so a source has one rate limit across
 * them. Two addresses let clients run the hard-NAT check against one server. */
#include "server/server_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "io/udp.h"
#include "stun/server.h"

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void on_datagram(void *ctx, const struct wg_endpoint *src, uint8_t *buf, size_t len)
{
    struct srv_stun *l = ctx;
    uint8_t *out = vole_udp_tx_slot(l->udp, STUN_MAX_RESPONSE);
    size_t n;

    if (!out)
        return;
    n = stun_server_handle(l->srv->stun, buf, len, src, now_ns(), out, STUN_MAX_RESPONSE);
    if (n)   /* an uncommitted slot is reused by the next datagram */
        vole_udp_tx_commit(l->udp, src, n);
}

static int open_one(struct vole_server *s, struct srv_stun *l, const char *spec, char *err, size_t errlen)
{
    char why[256];
    const char *bad = srv_addr_parse(spec, &l->addr);
    struct vole_udp_config cfg = { 0 };

    if (bad) {
        snprintf(err, errlen, "--stun-listen %s: %s", spec, bad);
        return -1;
    }
    cfg.port = l->addr.port;
    cfg.bind_addr = l->addr.host[0] ? l->addr.host : NULL;
    l->srv = s;
    l->udp = vole_udp_open(s->loop, &cfg, on_datagram, l, why, sizeof why);
    if (!l->udp) {
        snprintf(err, errlen, "STUN: %s", why);
        return -1;
    }
    srv_addr_format(&l->addr, vole_udp_local_port(l->udp), l->text);
    return 0;
}

int srv_stun_open(struct vole_server *s, const char *const *specs, size_t n, char *err, size_t errlen)
{
    if (n > VOLE_SERVER_MAX_STUN) {
        snprintf(err, errlen, "at most %d STUN listeners", VOLE_SERVER_MAX_STUN);
        return -1;
    }
    s->stun = malloc(sizeof *s->stun);   /* ~128 KiB of rate-limit table */
    if (!s->stun || stun_server_init(s->stun) < 0) {
        snprintf(err, errlen, "STUN: cannot set up the server (out of memory, or no randomness)");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (open_one(s, &s->stuns[i], specs[i], err, errlen) < 0)
            return -1;
        s->n_stun++;
    }
    return 0;
}

void srv_stun_close(struct vole_server *s)
{
    for (size_t i = 0; i < s->n_stun; i++)
        vole_udp_close(s->stuns[i].udp);
    s->n_stun = 0;
    free(s->stun);
    s->stun = NULL;
}

uint16_t srv_stun_port(const struct srv_stun *l)
{
    return vole_udp_local_port(l->udp);
}
