/* -R: lwIP listens on the overlay port (IPv4 and IPv6); each accepted tunnel
 * connection gets a non-blocking kernel connect() to host:port and is spliced.
 * Until that connect completes the splice holds lwIP's data without
 * tcp_recved(), so the tunnel peer's window closes instead of data piling up. */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lwip/tcp.h"

#include "stack/forward.h"
#include "stack/stack_priv.h"
#include "stack/tcp_splice.h"

struct vole_forward_remote {
    struct vole_stack *stack;
    struct tcp_pcb *listen;
    struct sockaddr_storage dst;   /* resolved once, at creation */
    socklen_t dstlen;
};

/* Starts the kernel connect. Returns the fd and sets *pending, or -1. */
static int connect_kernel(const struct vole_forward_remote *fr, bool *pending)
{
    int fd = socket(fr->dst.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -1;
    if (connect(fd, (const struct sockaddr *)&fr->dst, fr->dstlen) == 0) {
        *pending = false;
        return fd;
    }
    if (errno == EINPROGRESS) {
        *pending = true;
        return fd;
    }
    close(fd);
    return -1;
}

static err_t on_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
    struct vole_forward_remote *fr = arg;
    struct vole_splice *sp;
    bool pending;
    int fd;

    if (err != ERR_OK || !pcb)
        return ERR_VAL;
    fd = connect_kernel(fr, &pending);
    if (fd < 0) {
        tcp_abort(pcb);   /* RST to the tunnel peer: nothing listens there */
        return ERR_ABRT;
    }
    sp = vole_splice_new(fr->stack, pcb, fd, pending ? VOLE_SPLICE_FD_CONNECTING : 0);
    if (!sp) {
        close(fd);
        tcp_abort(pcb);
        return ERR_ABRT;
    }
    return ERR_OK;
}

static int resolve(const char *host, uint16_t port, struct vole_forward_remote *fr,
                   char *err, size_t errlen)
{
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
    struct addrinfo *res;
    char portstr[8];
    int rc;

    snprintf(portstr, sizeof portstr, "%u", port);
    rc = getaddrinfo(host, portstr, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "destination '%s': %s", host, gai_strerror(rc));
        return -1;
    }
    memcpy(&fr->dst, res->ai_addr, res->ai_addrlen);
    fr->dstlen = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static struct tcp_pcb *listen_overlay(struct vole_stack *s, uint16_t oport,
                                      char *err, size_t errlen)
{
    struct tcp_pcb *pcb = tcp_new_ip_type(IPADDR_TYPE_ANY);   /* v4 and v6 */
    struct tcp_pcb *lpcb;
    err_t e;

    if (!pcb) {
        snprintf(err, errlen, "out of lwIP pcbs");
        return NULL;
    }
    tcp_bind_netif(pcb, &s->netif);
    e = tcp_bind(pcb, IP_ANY_TYPE, oport);
    if (e != ERR_OK) {
        if (e == ERR_USE)
            snprintf(err, errlen, "overlay port %u is already in use", oport);
        else
            snprintf(err, errlen, "overlay port %u: lwIP error %d", oport, e);
        tcp_close(pcb);
        return NULL;
    }
    lpcb = tcp_listen_with_backlog_and_err(pcb, TCP_DEFAULT_LISTEN_BACKLOG, &e);
    if (!lpcb) {
        snprintf(err, errlen, "listen on overlay port %u: lwIP error %d", oport, e);
        tcp_close(pcb);
        return NULL;
    }
    return lpcb;
}

struct vole_forward_remote *vole_forward_remote_new(struct vole_stack *s, uint16_t oport,
                                                    const char *host, uint16_t port,
                                                    char *err, size_t errlen)
{
    struct vole_forward_remote *fr;

    if (!oport || !host || !*host || !port) {
        snprintf(err, errlen, "need an overlay port, a host and a port");
        return NULL;
    }
    fr = calloc(1, sizeof *fr);
    if (!fr) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    fr->stack = s;
    if (resolve(host, port, fr, err, errlen) < 0) {
        free(fr);
        return NULL;
    }
    fr->listen = listen_overlay(s, oport, err, errlen);
    if (!fr->listen) {
        free(fr);
        return NULL;
    }
    tcp_arg(fr->listen, fr);
    tcp_accept(fr->listen, on_accept);
    return fr;
}

struct vole_forward_remote *vole_forward_remote_start(struct vole_stack *s,
                                                      const struct vole_forward_spec *spec,
                                                      char *err, size_t errlen)
{
    return vole_forward_remote_new(s, spec->listen_port, spec->host, spec->port, err, errlen);
}

void vole_forward_remote_free(struct vole_forward_remote *fr)
{
    if (!fr)
        return;
    tcp_arg(fr->listen, NULL);
    tcp_accept(fr->listen, NULL);
    tcp_close(fr->listen);   /* always succeeds for a listener */
    free(fr);
}
