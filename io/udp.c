/* The node's UDP socket; see udp.h for the contract.
 *
 * Memory: every buffer is allocated once at open. Receives land in batch
 * slots of max_datagram bytes, or with UDP_GRO in 16 slots of 64 KiB (1 MiB,
 * whose pages stay untouched until traffic fills them). Sends are encrypted
 * into an arena of slots of max_datagram bytes: batch of them, or with GSO
 * up to 256 (at most 1 MiB) so one flush can carry several 64-datagram GSO
 * runs. Only a send slot above max_datagram (rare: big-MTU tests) gets its
 * own malloc'd buffer, freed once the datagram has left.
 *
 * Send layout: the pending datagrams are kept one per index (iov, address,
 * buffer); at flush they are laid out as sendmmsg entries, one per GSO run
 * or per single datagram, whose msg_iov points straight at the run's iovecs
 * (scatter-gather: nothing is copied). */
#include "io/udp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "conf/bool.h"
#include "io/udp_gso.h"

/* wireguard-go asks for 7 MB; a deep receive queue absorbs bursts while the
 * single thread is busy encrypting (performance.md §6.2). */
#define SOCK_BUF_BYTES (7 << 20)
/* Bound the receive work per wakeup so a flood cannot starve timers and the
 * send flush: ~512 datagrams (8 batches of 64 without GRO), and a syscall
 * bound for when GRO buffers arrive nearly empty. */
#define RX_DGRAMS_PER_WAKEUP 512
#define RX_SYSCALLS_PER_WAKEUP 32
/* The kernel caps sendmmsg/recvmmsg vectors at UIO_MAXIOV. */
#define MAX_BATCH 1024
/* A GRO buffer holds at most one IP packet's worth (< 64 KiB). */
#define GRO_SLOTS 16
#define GRO_SLOT_BYTES 65536
/* See the memory note above. */
#define TX_BATCH_GSO 256
#define TX_ARENA_MAX ((size_t)1 << 20)
/* wireguard-go enables UDP_GRO only from Linux 5.12 on (performance.md
 * §1.2: earlier kernels had GRO bugs). */
#define GRO_MIN_KERNEL_MAJOR 5
#define GRO_MIN_KERNEL_MINOR 12

/* Room for one UDP_SEGMENT (u16) or UDP_GRO (int) control message. */
union udp_ctl {
    struct cmsghdr align;
    uint8_t buf[CMSG_SPACE(sizeof(int))];
};

struct udp_rx {
    struct mmsghdr *msgs;
    struct iovec *iov;
    struct sockaddr_storage *addrs;
    union udp_ctl *ctl;   /* per slot, for the UDP_GRO message; NULL without GRO */
    uint8_t *arena;
    size_t slots;
};

enum tx_open { TX_OPEN_NONE, TX_OPEN_SLOT, TX_OPEN_SINK };

struct udp_tx {
    /* Per pending datagram. */
    struct iovec *iov;
    struct sockaddr_storage *addrs;
    socklen_t *alen;
    uint8_t **bufs;       /* the arena slot each index owns; indexes swap them on compaction */
    uint8_t **big;        /* per-index buffer for slots above max_datagram, or NULL */
    uint8_t *arena;
    size_t head, count;   /* pending datagrams are indexes [head, count) */
    size_t split_end;     /* indexes below this go one by one: their GSO send failed */
    /* Per sendmmsg entry, laid out afresh by each flush. */
    struct mmsghdr *msgs;
    union udp_ctl *ctl;
    size_t *ndgrams;      /* datagrams in each entry */
    enum tx_open open;    /* the slot handed out and not yet committed lives at index count */
    size_t open_cap;
    uint8_t *sink;        /* scratch slot when the kernel cannot take a full batch */
    size_t sink_cap;
    bool wait_writable;   /* EAGAIN seen: the write watcher is armed */
};

struct vole_udp {
    struct ev_loop *loop;
    int fd;               /* -1 only after a failed same-port rebind */
    bool v6;
    bool dont_fragment;   /* vole_udp_set_dont_fragment: kept across rebinds */
    uint16_t port;
    char *bind_addr;      /* NULL = any */
    size_t batch, max_dgram;
    size_t tx_batch;      /* pending datagrams (tx arena slots) */
    bool no_offload;
    vole_udp_recv_fn recv;
    void *ctx;
    ev_io rio, wio;
    ev_prepare prep;
    struct udp_rx rx;
    struct udp_tx tx;
    struct vole_udp_stats st;
};

/* ---- endpoint <-> sockaddr -------------------------------------------- */

void vole_sockaddr_to_endpoint(struct wg_endpoint *ep, const struct sockaddr *sa)
{
    memset(ep, 0, sizeof *ep);
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
        ep->family = 4;
        memcpy(ep->addr, &s4->sin_addr, 4);
        ep->port = ntohs(s4->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        /* A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d; the core
         * must see one spelling per peer or roaming checks misfire. */
        bool mapped = IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr);
        ep->family = mapped ? 4 : 6;
        memcpy(ep->addr, s6->sin6_addr.s6_addr + (mapped ? 12 : 0), mapped ? 4 : 16);
        ep->port = ntohs(s6->sin6_port);
    }
}

socklen_t vole_endpoint_to_sockaddr(struct sockaddr_storage *ss, const struct wg_endpoint *ep, bool v6_socket)
{
    memset(ss, 0, sizeof *ss);
    if (v6_socket && (ep->family == 4 || ep->family == 6)) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(ep->port);
        if (ep->family == 6) {
            memcpy(s6->sin6_addr.s6_addr, ep->addr, 16);
        } else {
            s6->sin6_addr.s6_addr[10] = 0xff;
            s6->sin6_addr.s6_addr[11] = 0xff;
            memcpy(s6->sin6_addr.s6_addr + 12, ep->addr, 4);
        }
        return sizeof *s6;
    }
    if (!v6_socket && ep->family == 4) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons(ep->port);
        memcpy(&s4->sin_addr, ep->addr, 4);
        return sizeof *s4;
    }
    return 0;
}

/* ---- socket ------------------------------------------------------------ */

static void format_sockaddr(char *out, size_t n, const struct sockaddr_storage *ss)
{
    char a[INET6_ADDRSTRLEN] = "?";
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof a);
        snprintf(out, n, "[%s]:%u", a, ntohs(s6->sin6_port));
    } else {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &s4->sin_addr, a, sizeof a);
        snprintf(out, n, "%s:%u", a, ntohs(s4->sin_port));
    }
}

static socklen_t any_addr(struct sockaddr_storage *ss, bool v6, uint16_t port)
{
    memset(ss, 0, sizeof *ss);
    if (v6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_addr = in6addr_any;
        s6->sin6_port = htons(port);
        return sizeof *s6;
    }
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    s4->sin_family = AF_INET;
    s4->sin_addr.s_addr = htonl(INADDR_ANY);
    s4->sin_port = htons(port);
    return sizeof *s4;
}

/* Numeric literals only: a bind address is configuration, and a DNS lookup
 * here would block the loop. getaddrinfo also handles "fe80::1%eth0". */
static socklen_t parse_bind_addr(struct sockaddr_storage *ss, const char *addr, uint16_t port,
                                 char *err, size_t errlen)
{
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC,
        .ai_socktype = SOCK_DGRAM,
        .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE,
    };
    struct addrinfo *res = NULL;
    char ps[8];
    snprintf(ps, sizeof ps, "%u", port);
    int rc = getaddrinfo(addr, ps, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "bind address \"%s\": %s", addr, gai_strerror(rc));
        return 0;
    }
    socklen_t len = (socklen_t)res->ai_addrlen;
    memcpy(ss, res->ai_addr, len);
    freeaddrinfo(res);
    return len;
}

/* Buffer sizes are best effort: *BUFFORCE needs CAP_NET_ADMIN, the plain
 * option is clamped to net.core.[rw]mem_max. Neither failure matters. */
static void set_buf(int fd, int force_opt, int opt)
{
    int v = SOCK_BUF_BYTES;
    if (setsockopt(fd, SOL_SOCKET, force_opt, &v, sizeof v) == 0)
        return;
    (void)setsockopt(fd, SOL_SOCKET, opt, &v, sizeof v);
}

/* Returns the fd, or -errno with err filled. */
static int socket_bind(const struct sockaddr_storage *ss, socklen_t len, char *err, size_t errlen)
{
    int fd = socket(ss->ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "socket %s: %s", ss->ss_family == AF_INET6 ? "AF_INET6" : "AF_INET", strerror(e));
        return -e;
    }
    if (ss->ss_family == AF_INET6) {
        int off = 0;   /* dual-stack; also overrides a net.ipv6.bindv6only=1 host default */
        (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
    }
    set_buf(fd, SO_RCVBUFFORCE, SO_RCVBUF);
    set_buf(fd, SO_SNDBUFFORCE, SO_SNDBUF);
    if (bind(fd, (const struct sockaddr *)ss, len) < 0) {
        int e = errno;
        char where[INET6_ADDRSTRLEN + 16];
        format_sockaddr(where, sizeof where, ss);
        snprintf(err, errlen, "bind %s: %s", where, strerror(e));
        close(fd);
        return -e;
    }
    return fd;
}

/* Opens per the bind address; with no address, dual-stack [::] and then
 * 0.0.0.0 when the host has no IPv6 at all. */
static int socket_open(const char *bind_addr, uint16_t port, bool *v6, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t len = bind_addr ? parse_bind_addr(&ss, bind_addr, port, err, errlen) : any_addr(&ss, true, port);
    if (len == 0)
        return -1;
    int fd = socket_bind(&ss, len, err, errlen);
    if (fd < 0 && !bind_addr && (fd == -EAFNOSUPPORT || fd == -EADDRNOTAVAIL)) {
        len = any_addr(&ss, false, port);
        fd = socket_bind(&ss, len, err, errlen);
    }
    if (fd < 0)
        return -1;
    *v6 = ss.ss_family == AF_INET6;
    return fd;
}

static uint16_t socket_port(int fd)
{
    struct sockaddr_storage ss = {0};
    socklen_t len = sizeof ss;
    struct wg_endpoint ep;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        return 0;
    vole_sockaddr_to_endpoint(&ep, (const struct sockaddr *)&ss);
    return ep.port;
}

/* ---- offload probes --------------------------------------------------- */

/* UDP_SEGMENT (Linux 4.18) is sent as a control message; a kernel that
 * knows the option answers getsockopt for it. */
static bool gso_supported(int fd)
{
    int v = 0;
    socklen_t len = sizeof v;
    return getsockopt(fd, SOL_UDP, UDP_SEGMENT, &v, &len) == 0;
}

static bool kernel_at_least(int major, int minor)
{
    struct utsname un;
    int ma = 0, mi = 0;
    if (uname(&un) != 0 || sscanf(un.release, "%d.%d", &ma, &mi) != 2)
        return false;
    return ma > major || (ma == major && mi >= minor);
}

static bool gro_enable(int fd)
{
    int on = 1;
    if (!kernel_at_least(GRO_MIN_KERNEL_MAJOR, GRO_MIN_KERNEL_MINOR))
        return false;
    return setsockopt(fd, SOL_UDP, UDP_GRO, &on, sizeof on) == 0;
}

/* ---- receive ------------------------------------------------------------ */

static bool rx_alloc(struct udp_rx *rx, size_t slots, size_t slot_bytes, bool gro)
{
    rx->slots = slots;
    rx->msgs = calloc(slots, sizeof *rx->msgs);
    rx->iov = calloc(slots, sizeof *rx->iov);
    rx->addrs = calloc(slots, sizeof *rx->addrs);
    rx->ctl = gro ? calloc(slots, sizeof *rx->ctl) : NULL;
    rx->arena = malloc(slots * slot_bytes);
    if (!rx->msgs || !rx->iov || !rx->addrs || (gro && !rx->ctl) || !rx->arena)
        return false;
    for (size_t i = 0; i < slots; i++) {
        rx->iov[i].iov_base = rx->arena + i * slot_bytes;
        rx->iov[i].iov_len = slot_bytes;
        rx->msgs[i].msg_hdr.msg_iov = &rx->iov[i];
        rx->msgs[i].msg_hdr.msg_iovlen = 1;
        rx->msgs[i].msg_hdr.msg_name = &rx->addrs[i];
        rx->msgs[i].msg_hdr.msg_control = gro ? rx->ctl[i].buf : NULL;
    }
    return true;
}

static void rx_free(struct udp_rx *rx)
{
    free(rx->msgs);
    free(rx->iov);
    free(rx->addrs);
    free(rx->ctl);
    free(rx->arena);
}

/* The UDP_GRO segment size the kernel attached, or 0 (one datagram). */
static size_t rx_gro_size(struct msghdr *h)
{
    if (!h->msg_control)
        return 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c)) {
        if (c->cmsg_level != SOL_UDP || c->cmsg_type != UDP_GRO || c->cmsg_len < CMSG_LEN(sizeof(int)))
            continue;
        int v;
        memcpy(&v, CMSG_DATA(c), sizeof v);
        return v > 0 ? (size_t)v : 0;
    }
    return 0;
}

/* Hands each datagram of one received buffer to the callback (several when
 * GRO coalesced them); returns how many there were. */
static size_t rx_deliver(struct vole_udp *u, struct mmsghdr *m)
{
    /* Truncated means larger than a slot: passing on a prefix would only
     * fail authentication later, so drop it visibly here instead. */
    if (m->msg_hdr.msg_flags & MSG_TRUNC) {
        u->st.rx_dropped++;
        return 1;
    }
    struct wg_endpoint src;
    vole_sockaddr_to_endpoint(&src, m->msg_hdr.msg_name);
    uint8_t *buf = m->msg_hdr.msg_iov->iov_base;
    size_t len = m->msg_len, seg = vole_udp_gro_seg_size(len, rx_gro_size(&m->msg_hdr));
    size_t n = vole_udp_gro_count(len, seg);
    if (n > 1)
        u->st.rx_gro_buffers++;
    for (size_t k = 0, off = 0; k < n; k++, off += seg) {
        size_t l = len - off < seg ? len - off : seg;
        if (l > u->max_dgram) {   /* with GRO the slot is bigger than max_datagram */
            u->st.rx_dropped++;
            continue;
        }
        u->st.rx_datagrams++;
        u->st.rx_bytes += l;
        u->recv(u->ctx, &src, buf + off, l);
    }
    return n;
}

/* Whether another recvmmsg is worth trying after this error. */
static bool rx_error(struct vole_udp *u, int e)
{
    switch (e) {
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
        return false;
    case EINTR:
        return true;
    case ECONNREFUSED:
    case EHOSTUNREACH:
    case ENETUNREACH:
    case EHOSTDOWN:
        /* A queued ICMP error, reported once and then cleared; data may
         * be waiting behind it. */
        u->st.rx_errors++;
        return true;
    default:
        /* ENOBUFS, ENOMEM, ...: give the loop back; retrying now would spin. */
        u->st.rx_errors++;
        return false;
    }
}

/* One recvmmsg, adding the datagrams seen to *dgrams; true when more may be
 * waiting. */
static bool rx_batch(struct vole_udp *u, size_t *dgrams)
{
    struct udp_rx *rx = &u->rx;
    for (size_t i = 0; i < rx->slots; i++) {
        rx->msgs[i].msg_hdr.msg_namelen = sizeof rx->addrs[i];
        rx->msgs[i].msg_hdr.msg_controllen = rx->ctl ? sizeof rx->ctl[i] : 0;
        rx->msgs[i].msg_hdr.msg_flags = 0;
    }
    int n = recvmmsg(u->fd, rx->msgs, (unsigned)rx->slots, MSG_DONTWAIT, NULL);
    u->st.rx_syscalls++;
    if (n < 0)
        return rx_error(u, errno);
    for (int i = 0; i < n; i++)
        *dgrams += rx_deliver(u, &rx->msgs[i]);
    /* A short batch means the queue was empty a moment ago; skip the
     * recvmmsg that would only say EAGAIN. */
    return (size_t)n == rx->slots;
}

static void on_readable(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    struct vole_udp *u = w->data;
    size_t dgrams = 0;
    for (int i = 0; i < RX_SYSCALLS_PER_WAKEUP && dgrams < RX_DGRAMS_PER_WAKEUP && u->fd >= 0; i++)
        if (!rx_batch(u, &dgrams))
            break;
}

/* ---- send ------------------------------------------------------------- */

/* With GSO one sendmmsg entry carries up to 64 datagrams, so a batch of 64
 * would make each flush a single GSO send: keep more pending, within the
 * arena cap. Without GSO the batch is what the caller asked for. */
static size_t tx_batch_size(size_t batch, size_t max_dgram, bool gso)
{
    size_t n = TX_ARENA_MAX / max_dgram;
    if (!gso)
        return batch;
    if (n > TX_BATCH_GSO)
        n = TX_BATCH_GSO;
    return n > batch ? n : batch;
}

static bool tx_alloc(struct udp_tx *tx, size_t batch, size_t max_dgram)
{
    tx->iov = calloc(batch, sizeof *tx->iov);
    tx->addrs = calloc(batch, sizeof *tx->addrs);
    tx->alen = calloc(batch, sizeof *tx->alen);
    tx->bufs = calloc(batch, sizeof *tx->bufs);
    tx->big = calloc(batch, sizeof *tx->big);
    tx->msgs = calloc(batch, sizeof *tx->msgs);
    tx->ctl = calloc(batch, sizeof *tx->ctl);
    tx->ndgrams = calloc(batch, sizeof *tx->ndgrams);
    tx->arena = malloc(batch * max_dgram);
    if (!tx->iov || !tx->addrs || !tx->alen || !tx->bufs || !tx->big || !tx->msgs || !tx->ctl || !tx->ndgrams ||
        !tx->arena)
        return false;
    for (size_t i = 0; i < batch; i++)
        tx->bufs[i] = tx->arena + i * max_dgram;
    return true;
}

static void tx_free(struct udp_tx *tx, size_t batch)
{
    for (size_t i = 0; tx->big && i < batch; i++)
        free(tx->big[i]);
    free(tx->iov);
    free(tx->addrs);
    free(tx->alen);
    free(tx->bufs);
    free(tx->big);
    free(tx->msgs);
    free(tx->ctl);
    free(tx->ndgrams);
    free(tx->arena);
    free(tx->sink);
}

static void tx_release(struct udp_tx *tx, size_t i)
{
    free(tx->big[i]);
    tx->big[i] = NULL;
}

/* Moves index src to dst. Buffers are swapped, not copied, so the arena slot
 * of an already-sent datagram is recycled instead of leaked. */
static void tx_move(struct udp_tx *tx, size_t dst, size_t src)
{
    uint8_t *b = tx->bufs[dst], *big = tx->big[dst];
    tx->bufs[dst] = tx->bufs[src];
    tx->big[dst] = tx->big[src];
    tx->bufs[src] = b;
    tx->big[src] = big;
    tx->addrs[dst] = tx->addrs[src];
    tx->alen[dst] = tx->alen[src];
    tx->iov[dst].iov_base = tx->big[dst] ? tx->big[dst] : tx->bufs[dst];
    tx->iov[dst].iov_len = tx->iov[src].iov_len;
}

/* After a partial flush, slide what is left (and an open slot) to the front
 * so the batch has room again. */
static void tx_compact(struct udp_tx *tx)
{
    size_t end = tx->count + (tx->open == TX_OPEN_SLOT ? 1 : 0);
    if (tx->head == 0)
        return;
    for (size_t j = 0; tx->head + j < end; j++)
        tx_move(tx, j, tx->head + j);
    tx->count -= tx->head;
    tx->split_end = tx->split_end > tx->head ? tx->split_end - tx->head : 0;
    tx->head = 0;
}

/* Entry e sends the run of datagrams [i, i + run): one iovec each, and a
 * UDP_SEGMENT message with the first one's length when there are several. */
static void tx_entry(struct udp_tx *tx, size_t e, size_t i, size_t run)
{
    struct msghdr *h = &tx->msgs[e].msg_hdr;
    h->msg_name = &tx->addrs[i];
    h->msg_namelen = tx->alen[i];
    h->msg_iov = &tx->iov[i];
    h->msg_iovlen = run;
    h->msg_control = NULL;
    h->msg_controllen = 0;
    tx->ndgrams[e] = run;
    if (run < 2)
        return;
    uint16_t seg = (uint16_t)tx->iov[i].iov_len;   /* <= VOLE_UDP_MAX_PAYLOAD */
    h->msg_control = tx->ctl[e].buf;
    h->msg_controllen = CMSG_SPACE(sizeof seg);
    struct cmsghdr *c = CMSG_FIRSTHDR(h);
    c->cmsg_level = SOL_UDP;
    c->cmsg_type = UDP_SEGMENT;
    c->cmsg_len = CMSG_LEN(sizeof seg);
    memcpy(CMSG_DATA(c), &seg, sizeof seg);
}

/* Lays the pending datagrams out as sendmmsg entries; returns how many. */
static size_t tx_layout(struct vole_udp *u)
{
    struct udp_tx *tx = &u->tx;
    size_t e = 0;
    for (size_t i = tx->head; i < tx->count; e++) {
        size_t run = 1;
        if (u->st.gso && i >= tx->split_end)
            run = vole_udp_gso_run(&tx->iov[i], &tx->addrs[i], &tx->alen[i], tx->count - i,
                                   VOLE_UDP_GSO_MAX_SEGMENTS, VOLE_UDP_GSO_MAX_BYTES);
        tx_entry(tx, e, i, run);
        i += run;
    }
    return e;
}

static void tx_sent(struct vole_udp *u, size_t entries)
{
    struct udp_tx *tx = &u->tx;
    for (size_t e = 0; e < entries; e++) {
        if (tx->ndgrams[e] > 1) {
            u->st.tx_gso_sends++;
            u->st.tx_gso_datagrams += tx->ndgrams[e];
        }
        for (size_t k = 0; k < tx->ndgrams[e]; k++, tx->head++) {
            u->st.tx_datagrams++;
            u->st.tx_bytes += tx->iov[tx->head].iov_len;
            tx_release(tx, tx->head);
        }
    }
}

static void tx_wait_writable(struct vole_udp *u, bool on)
{
    if (on == u->tx.wait_writable)
        return;
    u->tx.wait_writable = on;
    if (on)
        ev_io_start(u->loop, &u->wio);
    else
        ev_io_stop(u->loop, &u->wio);
}

/* Whether to keep calling sendmmsg after this error, which is about the
 * first entry laid out. */
static bool tx_error(struct vole_udp *u, int e)
{
    struct udp_tx *tx = &u->tx;
    if (e == EINTR)
        return true;
    if (e == EAGAIN || e == EWOULDBLOCK) {
        tx_wait_writable(u, true);
        return false;
    }
    if (tx->ndgrams[0] > 1) {
        /* EIO: the egress device cannot checksum segments, so GSO is off for
         * good (as in wireguard-go). Any other error (EMSGSIZE: segments
         * above the path MTU, ...) may not hold for every datagram alone:
         * resend the run one at a time, so each meets the fate it would
         * have met without GSO. */
        if (e == EIO)
            u->st.gso = false;
        tx->split_end = tx->head + tx->ndgrams[0];
        return true;
    }
    /* sendmmsg fails only on the first datagram it could not send (EINVAL
     * for port 0, EMSGSIZE, ENETUNREACH, EPERM from a firewall, ...). Skip
     * that one so it cannot wedge the rest of the batch. */
    u->st.tx_errors++;
    tx_release(tx, tx->head);
    tx->head++;
    return true;
}

static void tx_drop_pending(struct vole_udp *u)
{
    for (size_t k = u->tx.head; k < u->tx.count; k++) {
        u->st.tx_dropped++;
        tx_release(&u->tx, k);
    }
    u->tx.head = u->tx.count;
}

void vole_udp_flush(struct vole_udp *u)
{
    struct udp_tx *tx = &u->tx;
    if (u->fd < 0)
        tx_drop_pending(u);
    while (tx->head < tx->count) {
        size_t entries = tx_layout(u);
        int n = sendmmsg(u->fd, tx->msgs, (unsigned)entries, MSG_DONTWAIT);
        u->st.tx_syscalls++;
        if (n > 0)
            tx_sent(u, (size_t)n);
        else if (n == 0 || !tx_error(u, errno))
            break;
    }
    if (tx->head == tx->count)
        tx_wait_writable(u, false);
    tx_compact(tx);
}

static uint8_t *tx_sink(struct vole_udp *u, size_t cap)
{
    struct udp_tx *tx = &u->tx;
    if (tx->sink_cap < cap) {
        uint8_t *s = realloc(tx->sink, cap);
        if (!s)
            return NULL;
        tx->sink = s;
        tx->sink_cap = cap;
    }
    tx->open = TX_OPEN_SINK;
    tx->open_cap = cap;
    return tx->sink;
}

uint8_t *vole_udp_tx_slot(struct vole_udp *u, size_t cap)
{
    struct udp_tx *tx = &u->tx;
    if (cap > VOLE_UDP_MAX_PAYLOAD)
        return NULL;
    if (tx->open == TX_OPEN_SLOT)
        tx_release(tx, tx->count);   /* abandoned without a commit */
    tx->open = TX_OPEN_NONE;
    if (tx->count == u->tx_batch)
        vole_udp_flush(u);
    if (tx->count == u->tx_batch)
        return tx_sink(u, cap);   /* kernel queue full: tail-drop this one */
    size_t i = tx->count;
    if (cap > u->max_dgram) {
        tx->big[i] = malloc(cap);
        if (!tx->big[i])
            return NULL;
    }
    tx->open = TX_OPEN_SLOT;
    tx->open_cap = cap;
    return tx->big[i] ? tx->big[i] : tx->bufs[i];
}

void vole_udp_tx_commit(struct vole_udp *u, const struct wg_endpoint *dst, size_t len)
{
    struct udp_tx *tx = &u->tx;
    enum tx_open open = tx->open;
    size_t i = tx->count;
    tx->open = TX_OPEN_NONE;
    if (open == TX_OPEN_SINK)
        u->st.tx_dropped++;
    if (open != TX_OPEN_SLOT)
        return;
    socklen_t sl = vole_endpoint_to_sockaddr(&tx->addrs[i], dst, u->v6);
    if (sl == 0 || len > tx->open_cap) {
        u->st.tx_errors++;
        tx_release(tx, i);
        return;
    }
    tx->alen[i] = sl;
    tx->iov[i].iov_base = tx->big[i] ? tx->big[i] : tx->bufs[i];
    tx->iov[i].iov_len = len;
    tx->count++;
    /* A full batch goes out now rather than at the next slot request, so
     * the receiver can start on it while we keep encrypting. */
    if (tx->count == u->tx_batch)
        vole_udp_flush(u);
}

static void on_writable(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    vole_udp_flush(w->data);
}

static void on_prepare(struct ev_loop *loop, ev_prepare *w, int revents)
{
    (void)loop;
    (void)revents;
    struct vole_udp *u = w->data;
    /* While blocked on EAGAIN, the write watcher does the flushing; trying
     * here too would cost a failing syscall every iteration. */
    if (!u->tx.wait_writable && u->tx.head < u->tx.count)
        vole_udp_flush(u);
}

/* ---- lifecycle --------------------------------------------------------- */

static size_t clamp(size_t v, size_t dflt, size_t max)
{
    if (v == 0)
        return dflt;
    return v > max ? max : v;
}

static void watchers_start(struct vole_udp *u)
{
    ev_io_set(&u->rio, u->fd, EV_READ);
    ev_io_set(&u->wio, u->fd, EV_WRITE);
    ev_io_start(u->loop, &u->rio);
}

static void watchers_stop(struct vole_udp *u)
{
    ev_io_stop(u->loop, &u->rio);
    tx_wait_writable(u, false);
}

static void watchers_init(struct vole_udp *u)
{
    ev_io_init(&u->rio, on_readable, -1, EV_READ);
    ev_io_init(&u->wio, on_writable, -1, EV_WRITE);
    ev_prepare_init(&u->prep, on_prepare);
    /* Lowest priority: other prepare watchers (lwIP tcp_output, WG timers)
     * generate packets first, and this one sends them all in one go. */
    ev_set_priority(&u->prep, EV_MINPRI);
    u->rio.data = u->wio.data = u->prep.data = u;
}

static void udp_free(struct vole_udp *u)
{
    rx_free(&u->rx);
    tx_free(&u->tx, u->tx_batch);
    free(u->bind_addr);
    free(u);
}

static struct vole_udp *udp_alloc(const struct vole_udp_config *cfg)
{
    struct vole_udp *u = calloc(1, sizeof *u);
    if (!u)
        return NULL;
    u->fd = -1;
    u->batch = clamp(cfg->batch, VOLE_UDP_DEFAULT_BATCH, MAX_BATCH);
    u->max_dgram = clamp(cfg->max_datagram, VOLE_UDP_DEFAULT_MAX_DATAGRAM, VOLE_UDP_MAX_PAYLOAD);
    /* The environment switch reaches every socket (tunnel, tailnet node,
     * netcheck) without a flag in each command: for ruling offload out. */
    u->no_offload = cfg->no_offload || vole_env_bool("VOLE_UDP_NO_OFFLOAD", false);
    if (cfg->bind_addr && !(u->bind_addr = strdup(cfg->bind_addr))) {
        free(u);
        return NULL;
    }
    return u;
}

/* Turns offload on where the kernel has it, then sizes the buffers for
 * what is on: that is why the socket opens before the buffers exist. */
static bool udp_setup(struct vole_udp *u)
{
    bool gro;
    u->st.gso = !u->no_offload && gso_supported(u->fd);
    u->st.gro = gro = !u->no_offload && gro_enable(u->fd);
    u->tx_batch = tx_batch_size(u->batch, u->max_dgram, u->st.gso);
    return rx_alloc(&u->rx, gro ? GRO_SLOTS : u->batch, gro ? GRO_SLOT_BYTES : u->max_dgram, gro) &&
           tx_alloc(&u->tx, u->tx_batch, u->max_dgram);
}

struct vole_udp *vole_udp_open(struct ev_loop *loop, const struct vole_udp_config *cfg,
                               vole_udp_recv_fn recv, void *ctx, char *err, size_t errlen)
{
    struct vole_udp *u = udp_alloc(cfg);
    if (!u) {
        snprintf(err, errlen, "udp: out of memory");
        return NULL;
    }
    u->fd = socket_open(u->bind_addr, cfg->port, &u->v6, err, errlen);
    if (u->fd < 0) {
        udp_free(u);
        return NULL;
    }
    if (!udp_setup(u)) {
        snprintf(err, errlen, "udp: out of memory");
        close(u->fd);
        udp_free(u);
        return NULL;
    }
    u->loop = loop;
    u->recv = recv;
    u->ctx = ctx;
    u->port = socket_port(u->fd);
    watchers_init(u);
    watchers_start(u);
    ev_prepare_start(loop, &u->prep);
    return u;
}

void vole_udp_close(struct vole_udp *u)
{
    if (!u)
        return;
    watchers_stop(u);
    ev_prepare_stop(u->loop, &u->prep);
    if (u->fd >= 0)
        close(u->fd);
    udp_free(u);
}

uint16_t vole_udp_local_port(const struct vole_udp *u)
{
    return u->port;
}

const struct vole_udp_stats *vole_udp_stats(const struct vole_udp *u)
{
    return &u->st;
}

/* Swaps in a freshly bound socket. Whatever the old socket could not send
 * stays pending for the new one, unless the address family changed. */
static void install_socket(struct vole_udp *u, int fd, bool v6)
{
    watchers_stop(u);
    if (u->fd >= 0)
        close(u->fd);
    if (v6 != u->v6)
        tx_drop_pending(u);
    u->fd = fd;
    u->v6 = v6;
    /* The buffers stay GRO-sized either way; without the option the kernel
     * just stops coalescing. */
    if (u->st.gro)
        u->st.gro = gro_enable(fd);
    u->port = socket_port(fd);
    watchers_start(u);
    vole_udp_flush(u);
}

/* Linux path MTU discovery "do": DF set, never fragment locally; a send
 * above the known path MTU fails with EMSGSIZE (counted in tx_errors). */
static int apply_dont_fragment(struct vole_udp *u)
{
    int v4 = IP_PMTUDISC_DO, v6 = IPV6_PMTUDISC_DO, rc4, rc6 = 0;
    if (u->fd < 0)
        return -1;
    rc4 = setsockopt(u->fd, IPPROTO_IP, IP_MTU_DISCOVER, &v4, sizeof v4);
    if (u->v6)
        rc6 = setsockopt(u->fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &v6, sizeof v6);
    return rc4 == 0 && rc6 == 0 ? 0 : -1;
}

int vole_udp_set_dont_fragment(struct vole_udp *u)
{
    u->dont_fragment = true;
    return apply_dont_fragment(u);
}

int vole_udp_rebind(struct vole_udp *u, uint16_t port, char *err, size_t errlen)
{
    bool v6 = u->v6;
    /* Datagrams committed before the move leave from the old port. */
    if (u->fd >= 0)
        vole_udp_flush(u);
    if (port != 0 && port == u->port && u->fd >= 0) {
        /* Same port: the old socket must go first or bind says EADDRINUSE. */
        watchers_stop(u);
        close(u->fd);
        u->fd = -1;
    }
    int fd = socket_open(u->bind_addr, port, &v6, err, errlen);
    if (fd < 0)
        return -1;
    install_socket(u, fd, v6);
    if (u->dont_fragment)
        (void)apply_dont_fragment(u);
    return 0;
}
