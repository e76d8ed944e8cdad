/* -L: a kernel listening socket; each accepted connection is carried through
 * the tunnel by a new lwIP connection to dst:dport, then spliced. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lwip/tcp.h"

#include "stack/forward.h"
#include "stack/stack_priv.h"
#include "stack/tcp_splice.h"

#define VOLE_LISTEN_BACKLOG 128
#define VOLE_ACCEPTS_PER_EVENT 64
/* Out of descriptors: stop accepting for a moment instead of spinning on a
 * listener that stays readable. */
#define VOLE_ACCEPT_PAUSE_S 0.5

struct vole_forward_local {
    struct vole_stack *stack;
    int fd;
    uint16_t port;          /* the bound port, useful when asked for 0 */
    ip_addr_t dst;
    uint16_t dport;
    ev_io accept_w;
    ev_timer pause_w;
};

static void forward_one(struct vole_forward_local *fl, int fd)
{
    struct tcp_pcb *pcb = tcp_new_ip_type(IP_GET_TYPE(&fl->dst));
    struct vole_splice *sp = NULL;

    if (pcb) {
        tcp_bind_netif(pcb, &fl->stack->netif);   /* this tunnel, whatever the routes */
        sp = vole_splice_new(fl->stack, pcb, fd, VOLE_SPLICE_PCB_CONNECTING);
    }
    if (!sp) {
        if (pcb)
            tcp_abort(pcb);
        close(fd);
        return;
    }
    /* On failure the splice closes fd and frees itself. */
    vole_splice_connect(sp, &fl->dst, fl->dport);
}

static void on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
    struct vole_forward_local *fl = vole_container_of(w, struct vole_forward_local, accept_w);
    (void)revents;

    for (int i = 0; i < VOLE_ACCEPTS_PER_EVENT; i++) {
        int fd = accept4(fl->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            forward_one(fl, fd);
            continue;
        }
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            ev_io_stop(loop, &fl->accept_w);
            ev_timer_set(&fl->pause_w, VOLE_ACCEPT_PAUSE_S, 0.);
            ev_timer_start(loop, &fl->pause_w);
        }
        return;   /* EAGAIN, or a connection that died in the backlog */
    }
}

static void on_pause_over(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct vole_forward_local *fl = vole_container_of(w, struct vole_forward_local, pause_w);
    (void)revents;
    ev_io_start(loop, &fl->accept_w);
}

/* NULL: loopback; "" or "*": every interface, both families if possible. */
static int resolve_bind(const char *bind_addr, uint16_t port, struct sockaddr_storage *ss,
                        socklen_t *sslen, char *err, size_t errlen)
{
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE };
    struct addrinfo *res;
    char portstr[8];
    const char *node = bind_addr;
    int rc;

    if (!node)
        node = "127.0.0.1";
    else if (!*node || !strcmp(node, "*"))
        node = "::";
    snprintf(portstr, sizeof portstr, "%u", port);
    rc = getaddrinfo(node, portstr, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "bind address '%s': %s", node, gai_strerror(rc));
        return -1;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *sslen = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static int listen_on(const struct sockaddr_storage *ss, socklen_t sslen, const char *what,
                     char *err, size_t errlen)
{
    int one = 1, zero = 0;
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0) {
        snprintf(err, errlen, "socket for %s: %s", what, strerror(errno));
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ss->ss_family == AF_INET6)   /* "::" also takes IPv4 where allowed */
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    if (bind(fd, (const struct sockaddr *)ss, sslen) < 0 || listen(fd, VOLE_LISTEN_BACKLOG) < 0) {
        snprintf(err, errlen, "listen on %s: %s", what, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static uint16_t bound_port(int fd)
{
    union {
        struct sockaddr sa;
        struct sockaddr_in in;
        struct sockaddr_in6 in6;
    } u;
    socklen_t len = sizeof u;

    memset(&u, 0, sizeof u);
    if (getsockname(fd, &u.sa, &len) < 0)
        return 0;
    return ntohs(u.sa.sa_family == AF_INET6 ? u.in6.sin6_port : u.in.sin_port);
}

struct vole_forward_local *vole_forward_local_new(struct vole_stack *s, const char *bind_addr,
                                                  uint16_t lport, const ip_addr_t *dst,
                                                  uint16_t dport, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t sslen;
    struct vole_forward_local *fl;
    char what[VOLE_FORWARD_HOST_MAX + 8];
    int fd;

    if (!dst || !dport) {
        snprintf(err, errlen, "missing destination address or port");
        return NULL;
    }
    if (resolve_bind(bind_addr, lport, &ss, &sslen, err, errlen) < 0)
        return NULL;
    snprintf(what, sizeof what, "%s port %u", bind_addr ? bind_addr : "127.0.0.1", lport);
    fd = listen_on(&ss, sslen, what, err, errlen);
    if (fd < 0)
        return NULL;
    fl = calloc(1, sizeof *fl);
    if (!fl) {
        close(fd);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    fl->stack = s;
    fl->fd = fd;
    fl->port = bound_port(fd);
    ip_addr_copy(fl->dst, *dst);
    fl->dport = dport;
    ev_io_init(&fl->accept_w, on_accept, fd, EV_READ);
    ev_init(&fl->pause_w, on_pause_over);
    ev_io_start(s->loop, &fl->accept_w);
    return fl;
}

struct vole_forward_local *vole_forward_local_start(struct vole_stack *s,
                                                    const struct vole_forward_spec *spec,
                                                    char *err, size_t errlen)
{
    return vole_forward_local_new(s, spec->has_bind ? spec->bind : NULL, spec->listen_port,
                                  &spec->dst, spec->port, err, errlen);
}

uint16_t vole_forward_local_port(const struct vole_forward_local *fl)
{
    return fl->port;
}

void vole_forward_local_free(struct vole_forward_local *fl)
{
    if (!fl)
        return;
    ev_io_stop(fl->stack->loop, &fl->accept_w);
    ev_timer_stop(fl->stack->loop, &fl->pause_w);
    close(fl->fd);
    free(fl);
}
