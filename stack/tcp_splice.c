/* TCP splice: a kernel socket <-> an lwIP tcp_pcb.
 *
 * kernel -> lwIP: read only as much as tcp_sndbuf() allows, tcp_write it with
 *   COPY (u16 chunks, MORE while more follows); the ev_io read watcher is
 *   stopped while lwIP's send buffer is full and restarted from the sent
 *   callback. Bytes read but refused by tcp_write (ERR_MEM) wait in a stash.
 * lwIP -> kernel: pbufs from the recv callback are queued and written with
 *   one sendmsg per loop iteration (the prepare flush); tcp_recved() is called
 *   only for bytes the socket took, so lwIP's window closes when the kernel
 *   side does not read.
 * Half-close: kernel EOF -> tcp_shutdown(TX) once the stash is in lwIP;
 *   lwIP FIN -> shutdown(SHUT_WR) once the queue is written. Each side is
 *   released when both its directions are done; the splice frees itself when
 *   both sides are released. Any error resets both sides.
 * Memory per connection: the queue is bounded by TCP_WND bytes and
 *   VOLE_SPLICE_MAX_PBUFS pbufs, the stash by one read (64 KiB), lwIP's send
 *   buffer by TCP_SND_BUF.
 *
 * Re-entrancy rule: lwIP callbacks only record state and mark the splice;
 * the work (and any teardown) happens from libev callbacks, where no lwIP
 * frame is on the stack. The exception is tcp_err, where lwIP has already
 * freed the pcb. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "stack/pbuf_queue.h"
#include "stack/runtime.h"
#include "stack/stack_priv.h"
#include "stack/tcp_splice.h"
#include "stack/pcb.h"

#define VOLE_SPLICE_READ_CHUNK  ((size_t)64 * 1024)
/* Bytes read from one socket per readiness event, so one busy connection
 * cannot starve the others in the same loop iteration. */
#define VOLE_SPLICE_READ_BUDGET ((size_t)512 * 1024)
/* Queue cap in pbufs: TCP_WND caps the bytes, but a peer sending tiny
 * segments would make each byte cost a whole pbuf. Segments of 512 bytes or
 * more never reach this cap; beyond it the recv callback refuses data, which
 * lwIP keeps and offers again from its timer. */
#define VOLE_SPLICE_MAX_PBUFS   (TCP_WND / 512 > 64 ? TCP_WND / 512 : 64)
#define VOLE_SPLICE_IOV         64
/* Hysteresis: once paused, reading resumes only when this much send buffer is
 * free, so a full buffer does not cost one wakeup per ACK. */
#define VOLE_SPLICE_RESUME \
    (TCP_SND_BUF / 2 < 0xFFFF ? TCP_SND_BUF / 2 : 0xFFFF)

struct vole_splice {
    struct vole_link reg;       /* in the stack's registry */
    struct vole_flush flush;    /* pending work for the prepare watcher */
    struct vole_stack *stack;
    struct tcp_pcb *pcb;        /* NULL once the lwIP side is released */
    int fd;                     /* -1 once the kernel side is closed */
    ev_io rd, wr;

    struct vole_pbuf_queue q;   /* lwIP -> kernel, not yet written */

    /* kernel -> lwIP: bytes read but not yet accepted by tcp_write. */
    uint8_t *stash;
    size_t stash_len, stash_off;

    bool fd_connecting, pcb_connecting;
    bool k_eof;       /* the kernel peer sent FIN */
    bool l_tx_shut;   /* our FIN is queued in lwIP */
    bool l_eof;       /* the lwIP peer sent FIN */
    bool k_tx_shut;   /* shutdown(fd, SHUT_WR) done */
};

/* One thread, and data is copied into lwIP before the next read. */
static uint8_t read_buf[VOLE_SPLICE_READ_CHUNK];

struct vole_splice *vole_splice_from_link(struct vole_link *l)
{
    return vole_container_of(l, struct vole_splice, reg);
}

static void mark(struct vole_splice *sp)
{
    vole_runtime_mark(&sp->flush);
}

static size_t min_sz(size_t a, size_t b)
{
    return a < b ? a : b;
}

/* ---- teardown ---------------------------------------------------------- */

static void close_fd(struct vole_splice *sp, bool reset)
{
    struct ev_loop *loop = sp->stack->loop;

    ev_io_stop(loop, &sp->rd);
    ev_io_stop(loop, &sp->wr);
    if (reset) {
        /* Linger 0: close() sends RST, so the kernel peer sees the error. */
        struct linger lg = { .l_onoff = 1, .l_linger = 0 };
        setsockopt(sp->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    close(sp->fd);
    sp->fd = -1;
}

static void splice_free(struct vole_splice *sp)
{
    vole_runtime_unmark(&sp->flush);
    vole_stack_splice_del(sp->stack, &sp->reg);
    vole_pbuf_queue_clear(&sp->q);
    free(sp->stash);
    free(sp);
}

void vole_splice_reset(struct vole_splice *sp)
{
    if (sp->pcb) {
        struct tcp_pcb *pcb = sp->pcb;
        sp->pcb = NULL;
        vole_pcb_detach(pcb);   /* tcp_abort would call our err callback */
        tcp_abort(pcb);
    }
    if (sp->fd >= 0)
        close_fd(sp, true);
    splice_free(sp);
}

/* ---- lwIP -> kernel ---------------------------------------------------- */

/* Re-open lwIP's window for bytes that reached the kernel; tcp_recved takes
 * a u16, so a large write is credited in pieces. */
static void credit_window(struct vole_splice *sp, size_t n)
{
    while (sp->pcb && n) {
        u16_t c = (u16_t)min_sz(n, 0xFFFF);
        tcp_recved(sp->pcb, c);
        n -= c;
    }
}

/* n bytes reached the kernel. */
static void consumed(struct vole_splice *sp, size_t n)
{
    vole_pbuf_queue_pop(&sp->q, n);
    credit_window(sp, n);
}

/* false: the splice was reset and freed. */
static bool flush_to_kernel(struct vole_splice *sp)
{
    while (sp->q.bytes) {
        struct iovec iov[VOLE_SPLICE_IOV];
        struct msghdr mh = { .msg_iov = iov };
        ssize_t n;

        mh.msg_iovlen = (size_t)vole_pbuf_queue_iov(&sp->q, iov, VOLE_SPLICE_IOV);
        n = sendmsg(sp->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n >= 0) {
            consumed(sp, (size_t)n);
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            ev_io_start(sp->stack->loop, &sp->wr);
            return true;
        }
        vole_splice_reset(sp);
        return false;
    }
    vole_pbuf_queue_pop(&sp->q, 0);   /* drop zero-length leftovers */
    return true;
}

static err_t on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    struct vole_splice *sp = arg;
    (void)pcb;

    if (!p) {
        sp->l_eof = true;
        mark(sp);
        return ERR_OK;
    }
    if (err != ERR_OK) {   /* not produced by lwIP 2.2; never drop silently */
        return ERR_VAL;
    }
    if (sp->q.pbufs + pbuf_clen(p) > VOLE_SPLICE_MAX_PBUFS)
        return ERR_MEM;    /* lwIP keeps p as refused data and retries */
    vole_pbuf_queue_push(&sp->q, p);
    mark(sp);
    return ERR_OK;
}

/* ---- kernel -> lwIP ---------------------------------------------------- */

static size_t lwip_room(const struct vole_splice *sp)
{
    if (!sp->pcb || tcp_sndqueuelen(sp->pcb) >= TCP_SNDQUEUELOWAT)
        return 0;
    return tcp_sndbuf(sp->pcb);
}

static bool can_read(const struct vole_splice *sp)
{
    return sp->fd >= 0 && !sp->fd_connecting && sp->pcb && !sp->pcb_connecting &&
           !sp->k_eof && !sp->l_tx_shut && !sp->stash_len;
}

/* Pause reading while lwIP cannot take data; resume with hysteresis. */
static void update_reading(struct vole_splice *sp)
{
    bool active = ev_is_active(&sp->rd);
    size_t need = active ? 1 : VOLE_SPLICE_RESUME;
    bool want = can_read(sp) && lwip_room(sp) >= need;

    if (want && !active)
        ev_io_start(sp->stack->loop, &sp->rd);
    else if (!want && active)
        ev_io_stop(sp->stack->loop, &sp->rd);
}

/* Bytes lwIP accepted, or -1 on a fatal error. */
static ssize_t write_lwip(struct tcp_pcb *pcb, const uint8_t *buf, size_t len)
{
    size_t done = 0;

    while (done < len) {
        u16_t chunk = (u16_t)min_sz(min_sz(len - done, 0xFFFF), tcp_sndbuf(pcb));
        u8_t flags = TCP_WRITE_FLAG_COPY;
        err_t e;

        if (!chunk)
            break;
        if (done + chunk < len)
            flags |= TCP_WRITE_FLAG_MORE;
        e = tcp_write(pcb, buf + done, chunk, flags);
        if (e == ERR_MEM)
            break;
        if (e != ERR_OK)
            return -1;
        done += chunk;
    }
    return (ssize_t)done;
}

static bool stash_put(struct vole_splice *sp, const uint8_t *buf, size_t len)
{
    sp->stash = malloc(len);
    if (!sp->stash)
        return false;
    memcpy(sp->stash, buf, len);
    sp->stash_len = len;
    sp->stash_off = 0;
    return true;
}

/* false: the splice was reset and freed. */
static bool to_lwip(struct vole_splice *sp, const uint8_t *buf, size_t len)
{
    ssize_t done = write_lwip(sp->pcb, buf, len);

    if (done < 0 || ((size_t)done < len && !stash_put(sp, buf + done, len - (size_t)done))) {
        vole_splice_reset(sp);
        return false;
    }
    return true;
}

static bool push_stash(struct vole_splice *sp)
{
    ssize_t done;

    if (!sp->stash_len)
        return true;
    done = write_lwip(sp->pcb, sp->stash + sp->stash_off, sp->stash_len);
    if (done < 0) {
        vole_splice_reset(sp);
        return false;
    }
    sp->stash_off += (size_t)done;
    sp->stash_len -= (size_t)done;
    if (!sp->stash_len) {
        free(sp->stash);
        sp->stash = NULL;
    }
    return true;
}

/* false: the splice was reset and freed. */
static bool read_from_kernel(struct vole_splice *sp)
{
    size_t budget = VOLE_SPLICE_READ_BUDGET;

    while (budget && can_read(sp)) {
        size_t want = min_sz(min_sz(lwip_room(sp), sizeof read_buf), budget);
        ssize_t n;

        if (!want)
            break;
        n = recv(sp->fd, read_buf, want, 0);
        if (n > 0) {
            budget -= (size_t)n;
            if (!to_lwip(sp, read_buf, (size_t)n))
                return false;
            if ((size_t)n < want)
                break;     /* socket drained: skip the EAGAIN round trip */
        } else if (n == 0) {
            sp->k_eof = true;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            break;
        } else if (errno != EINTR) {
            vole_splice_reset(sp);
            return false;
        }
    }
    update_reading(sp);
    mark(sp);   /* tcp_output once per iteration, from the prepare flush */
    return true;
}

static err_t on_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
    struct vole_splice *sp = arg;
    (void)pcb; (void)len;

    update_reading(sp);
    if (sp->stash_len || sp->k_eof)
        mark(sp);
    return ERR_OK;
}

/* ---- connection events ------------------------------------------------- */

static void on_err(void *arg, err_t err)
{
    struct vole_splice *sp = arg;

    sp->pcb = NULL;   /* lwIP has freed it */
    if (err == ERR_CLSD) {
        /* Graceful: both FINs exchanged. Finish writing to the kernel. */
        sp->l_eof = sp->l_tx_shut = true;
        mark(sp);
        return;
    }
    vole_splice_reset(sp);
}

static err_t on_connected(void *arg, struct tcp_pcb *pcb, err_t err)
{
    struct vole_splice *sp = arg;
    (void)pcb; (void)err;   /* lwIP 2.2 only reports success here */

    sp->pcb_connecting = false;
    update_reading(sp);
    mark(sp);
    return ERR_OK;
}

static void finish_fd_connect(struct vole_splice *sp)
{
    int soerr = 0;
    socklen_t len = sizeof soerr;

    if (getsockopt(sp->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
        soerr = errno;
    if (soerr) {
        vole_splice_reset(sp);   /* RST to the tunnel peer */
        return;
    }
    sp->fd_connecting = false;
    ev_io_stop(sp->stack->loop, &sp->wr);
    mark(sp);
}

static void on_readable(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop; (void)revents;
    read_from_kernel(vole_container_of(w, struct vole_splice, rd));
}

static void on_writable(struct ev_loop *loop, ev_io *w, int revents)
{
    struct vole_splice *sp = vole_container_of(w, struct vole_splice, wr);
    (void)revents;

    if (sp->fd_connecting) {
        finish_fd_connect(sp);
        return;
    }
    ev_io_stop(loop, w);
    mark(sp);   /* write the queue from the prepare flush, with the others */
}

/* ---- the per-iteration pump -------------------------------------------- */

/* Both directions of the lwIP side are done: hand the pcb to lwIP for the
 * rest of its life (FIN retransmits, TIME_WAIT); we must not keep a pointer
 * that lwIP may free without telling us. */
static void release_pcb(struct vole_splice *sp)
{
    struct tcp_pcb *pcb = sp->pcb;

    /* Queued bytes will still reach the kernel; crediting them now keeps
     * tcp_close from answering "unread data" with a RST. */
    credit_window(sp, sp->q.bytes);
    sp->pcb = NULL;
    vole_pcb_detach(pcb);
    if (tcp_close(pcb) != ERR_OK)
        tcp_abort(pcb);
}

static bool pump_kernel_side(struct vole_splice *sp)
{
    if (sp->fd < 0 || sp->fd_connecting)
        return true;
    if (!ev_is_active(&sp->wr) && !flush_to_kernel(sp))
        return false;
    if (sp->l_eof && !sp->q.bytes && !sp->k_tx_shut) {
        shutdown(sp->fd, SHUT_WR);
        sp->k_tx_shut = true;
    }
    /* Nothing more can flow once the kernel peer finished or the lwIP side
     * (the only consumer of what we read) is gone. */
    if (sp->k_tx_shut && (sp->k_eof || !sp->pcb))
        close_fd(sp, false);
    return true;
}

static bool pump_lwip_side(struct vole_splice *sp)
{
    if (!sp->pcb || sp->pcb_connecting)
        return true;
    if (!push_stash(sp))
        return false;
    if (sp->k_eof && !sp->stash_len && !sp->l_tx_shut) {
        if (tcp_shutdown(sp->pcb, 0, 1) != ERR_OK) {
            vole_splice_reset(sp);
            return false;
        }
        sp->l_tx_shut = true;
    }
    if (sp->l_tx_shut && sp->l_eof) {
        release_pcb(sp);   /* tcp_close also runs tcp_output */
        return true;
    }
    update_reading(sp);
    tcp_output(sp->pcb);
    return true;
}

static void pump(struct vole_splice *sp)
{
    if (!pump_kernel_side(sp) || !pump_lwip_side(sp))
        return;
    if (!sp->pcb && sp->fd < 0)
        splice_free(sp);
}

static void on_flush(struct vole_flush *f)
{
    pump(vole_container_of(f, struct vole_splice, flush));
}

/* ---- public ------------------------------------------------------------ */

static void tune_fd(int fd)
{
    int one = 1;

    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    /* Writes are already batched per loop iteration; Nagle would only add
     * latency to interactive sessions. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

struct vole_splice *vole_splice_new(struct vole_stack *s, struct tcp_pcb *pcb, int fd,
                                    unsigned flags)
{
    struct vole_splice *sp = calloc(1, sizeof *sp);

    if (!sp)
        return NULL;
    sp->stack = s;
    sp->pcb = pcb;
    sp->fd = fd;
    sp->fd_connecting = flags & VOLE_SPLICE_FD_CONNECTING;
    sp->pcb_connecting = flags & VOLE_SPLICE_PCB_CONNECTING;
    sp->flush.fn = on_flush;
    ev_io_init(&sp->rd, on_readable, fd, EV_READ);
    ev_io_init(&sp->wr, on_writable, fd, EV_WRITE);
    tune_fd(fd);

    tcp_arg(pcb, sp);
    tcp_recv(pcb, on_recv);
    tcp_sent(pcb, on_sent);
    tcp_err(pcb, on_err);
    tcp_nagle_disable(pcb);
    vole_stack_splice_add(s, &sp->reg);

    if (sp->fd_connecting)
        ev_io_start(s->loop, &sp->wr);
    else
        mark(sp);
    return sp;
}

err_t vole_splice_connect(struct vole_splice *sp, const ip_addr_t *dst, uint16_t port)
{
    err_t e = tcp_connect(sp->pcb, dst, port, on_connected);

    if (e != ERR_OK)
        vole_splice_reset(sp);
    return e;
}

void vole_splice_get_stats(const struct vole_splice *sp, struct vole_splice_stats *st)
{
    st->to_kernel_bytes = sp->q.bytes;
    st->to_kernel_pbufs = sp->q.pbufs;
    st->to_lwip_bytes = sp->stash_len;
}
