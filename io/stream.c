/* A non-blocking TCP byte stream, plain or TLS; see stream.h for the contract.
 *
 * Life of a stream (state):
 *   CONNECTING -> [HANDSHAKE] -> OPEN            dialled
 *   ACCEPTED (plain) or HANDSHAKE (TLS) -> OPEN  accepted
 *   OPEN -> FLUSHING -> SHUTDOWN -> [LINGER] -> DEAD   graceful close or EOF
 *   any -> DEAD                                  error, timeout, close(at once)
 *
 * Reentrancy: API calls never run owner callbacks. They change state and
 * start the `kick` timer (0 s), whose handler does the work on the next loop
 * iteration: delivering on_open for accepted plain streams, flushing writes
 * (so every write of one iteration leaves in one send or TLS record batch),
 * reading input mbedTLS holds, and delivering on_close. DEAD streams are
 * freed only there, right after on_close returns, so no callback can ever
 * return into freed memory. */
#include "io/stream.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/tls.h"

/* Plaintext delivered per read callback; lives on the stack, not per stream,
 * so a thousand idle streams cost no read buffers. */
#define READ_MAX ((size_t)64 * 1024)
/* A drained write buffer larger than this is released. */
#define WBUF_KEEP ((size_t)16 * 1024)
#define WBUF_MIN 4096
/* After our FIN, how long to wait for the peer's: closing with unread input
 * makes the kernel send RST, which can destroy the tail we just wrote. */
#define LINGER_S 2.0
/* A graceful close still ends when the peer stops reading and the owner set
 * no write timeout. */
#define CLOSE_FLUSH_S 30.0
/* TCP keepalive as derper sets it: a backstop for peers that vanish. */
#define KEEPALIVE_IDLE_S 600
#define KEEPALIVE_INTVL_S 60

enum st_state {
    ST_CONNECTING,   /* TCP connect in flight */
    ST_ACCEPTED,     /* accepted plain stream; on_open waits for the loop */
    ST_HANDSHAKE,    /* TLS handshake */
    ST_OPEN,
    ST_FLUSHING,     /* closing: writing what is buffered; input is discarded */
    ST_SHUTDOWN,     /* closing: TLS close_notify, then FIN */
    ST_LINGER,       /* FIN sent; discarding input until the peer's FIN */
    ST_DEAD,         /* socket closed; on_close pending */
};

struct wbuf {
    uint8_t *data;
    size_t off, len, cap;   /* unsent bytes are data[off, len) */
};

struct vole_stream {
    struct ev_loop *loop;
    int fd;
    enum st_state state;
    struct vole_stream_ops ops;
    struct vole_tls *tls;      /* NULL: plain */
    struct wbuf out;
    ev_io io;
    int io_events;             /* what io watches now */
    ev_timer wtimer;           /* write timeout; the linger bound */
    ev_timer kick;             /* deferred work, see the top */
    double write_timeout;
    ev_tstamp last_progress;   /* the socket last took bytes (or writing began) */
    int op_want;               /* EV_READ/EV_WRITE a handshake or close_notify waits for */
    int rd_want, wr_want;      /* what a TLS read / write waits for (EV_READ / EV_WRITE) */
    bool wr_blocked;           /* the last write hit EAGAIN: wait for wr_want */
    bool read_paused;
    bool rd_eof;               /* the peer's FIN (or close_notify) was read */
    char alpn[32];
    char peer_ip[INET6_ADDRSTRLEN];
    char why[160];             /* the first reason the stream started to end */
};

static void finish(struct vole_stream *s, const char *why);
static void progress(struct vole_stream *s);

/* ---- small pieces -------------------------------------------------------- */

static void set_why(struct vole_stream *s, const char *why)
{
    if (!s->why[0])
        snprintf(s->why, sizeof s->why, "%s", why);
}

static void schedule(struct vole_stream *s)
{
    if (!ev_is_active(&s->kick)) {
        ev_timer_set(&s->kick, 0., 0.);
        ev_timer_start(s->loop, &s->kick);
    }
}

static size_t out_pending(const struct vole_stream *s)
{
    return s->out.len - s->out.off;
}

static bool closing(const struct vole_stream *s)
{
    return s->state >= ST_FLUSHING;
}

/* Appends; -1 when memory runs out. Compacts before growing. */
static int wbuf_append(struct wbuf *b, const void *p, size_t n)
{
    if (b->cap - b->len < n && b->off > 0) {
        memmove(b->data, b->data + b->off, b->len - b->off);
        b->len -= b->off;
        b->off = 0;
    }
    if (b->cap - b->len < n) {
        size_t cap = b->cap ? b->cap : WBUF_MIN;
        while (cap - b->len < n)
            cap *= 2;
        uint8_t *d = realloc(b->data, cap);
        if (!d)
            return -1;
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

static void wbuf_consumed(struct wbuf *b, size_t n)
{
    b->off += n;
    if (b->off < b->len)
        return;
    b->off = b->len = 0;
    if (b->cap > WBUF_KEEP) {
        free(b->data);
        b->data = NULL;
        b->cap = 0;
    }
}

/* Best effort: a socket without these options still works. */
static void tune_socket(int fd)
{
    int on = 1, idle = KEEPALIVE_IDLE_S, intvl = KEEPALIVE_INTVL_S;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);   /* writes are already batched */
    (void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
    (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
    (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
}

/* "ip" text; an IPv4 peer of a dual-stack socket shows as plain IPv4. */
static void format_ip(char *out, size_t n, const struct sockaddr *sa)
{
    snprintf(out, n, "?");
    if (sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)n);
    } else if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a))
            inet_ntop(AF_INET, a->s6_addr + 12, out, (socklen_t)n);
        else
            inet_ntop(AF_INET6, a, out, (socklen_t)n);
    }
}

/* ---- watchers ------------------------------------------------------------ */

static int wanted_events(const struct vole_stream *s)
{
    switch (s->state) {
    case ST_CONNECTING:
        return EV_WRITE;
    case ST_HANDSHAKE:
    case ST_SHUTDOWN:
        return s->op_want | (s->state == ST_SHUTDOWN && !s->rd_eof ? EV_READ : 0);
    case ST_OPEN:
        return (s->read_paused ? 0 : s->rd_want) | (s->wr_blocked ? s->wr_want : 0);
    case ST_FLUSHING:
        return (s->rd_eof ? 0 : EV_READ) | (s->wr_blocked ? s->wr_want : 0);
    case ST_LINGER:
        return EV_READ;
    default:
        return 0;
    }
}

static void update_io(struct vole_stream *s)
{
    int ev = wanted_events(s);
    if (ev == s->io_events)
        return;
    ev_io_stop(s->loop, &s->io);
    if (ev) {
        ev_io_set(&s->io, s->fd, ev);
        ev_io_start(s->loop, &s->io);
    }
    s->io_events = ev;
}

static double write_limit(const struct vole_stream *s)
{
    if (s->write_timeout > 0)
        return s->write_timeout;
    return closing(s) ? CLOSE_FLUSH_S : 0;
}

static bool writing(const struct vole_stream *s)
{
    return (s->state == ST_OPEN || s->state == ST_FLUSHING) ? out_pending(s) > 0 : s->state == ST_SHUTDOWN;
}

/* Starts the no-progress clock when there is something to write. */
static void arm_wtimer(struct vole_stream *s)
{
    double limit = write_limit(s);
    if (limit <= 0 || !writing(s) || ev_is_active(&s->wtimer))
        return;
    s->last_progress = ev_now(s->loop);
    ev_timer_set(&s->wtimer, limit, 0.);
    ev_timer_start(s->loop, &s->wtimer);
}

/* Rather than restart a timer on every write, the handler re-arms itself for
 * the time left since the last progress. */
static void on_wtimer(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    struct vole_stream *s = w->data;
    if (s->state == ST_LINGER) {
        finish(s, "closed");
        return;
    }
    double limit = write_limit(s);
    if (limit <= 0 || !writing(s))
        return;
    double idle = ev_now(loop) - s->last_progress;
    if (idle >= limit) {
        finish(s, "write timeout");
        return;
    }
    ev_timer_set(w, limit - idle, 0.);
    ev_timer_start(loop, w);
}

/* ---- ending -------------------------------------------------------------- */

/* Closes the socket now; on_close follows from the loop. */
static void finish(struct vole_stream *s, const char *why)
{
    if (s->state == ST_DEAD)
        return;
    set_why(s, why);
    s->state = ST_DEAD;
    ev_io_stop(s->loop, &s->io);
    s->io_events = 0;
    ev_timer_stop(s->loop, &s->wtimer);
    vole_tls_free(s->tls);
    s->tls = NULL;
    close(s->fd);
    s->fd = -1;
    schedule(s);
}

static void fail_errno(struct vole_stream *s, const char *what, int e)
{
    char why[128];
    snprintf(why, sizeof why, "%s: %s", what, strerror(e));
    finish(s, why);
}

static void stream_free(struct vole_stream *s)
{
    ev_timer_stop(s->loop, &s->kick);
    free(s->out.data);
    free(s);
}

/* Starts the graceful end: flush, close_notify, FIN, linger. */
static void begin_close(struct vole_stream *s, const char *why)
{
    set_why(s, why);
    s->state = ST_FLUSHING;
    arm_wtimer(s);
    schedule(s);
}

/* ---- writing ------------------------------------------------------------- */

enum wr { WR_DONE, WR_BLOCKED, WR_FAILED };

static enum wr write_plain(struct vole_stream *s)
{
    while (out_pending(s) > 0) {
        ssize_t n = send(s->fd, s->out.data + s->out.off, out_pending(s), MSG_NOSIGNAL);
        if (n > 0) {
            wbuf_consumed(&s->out, (size_t)n);
            s->last_progress = ev_now(s->loop);
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            s->wr_want = EV_WRITE;
            return WR_BLOCKED;
        } else {
            fail_errno(s, "write", n < 0 ? errno : EPIPE);
            return WR_FAILED;
        }
    }
    return WR_DONE;
}

static enum wr write_tls(struct vole_stream *s)
{
    while (out_pending(s) > 0) {
        uint64_t before = vole_tls_bytes_sent(s->tls);
        size_t n = 0;
        enum vole_tls_io r = vole_tls_write(s->tls, s->out.data + s->out.off, out_pending(s), &n);
        if (vole_tls_bytes_sent(s->tls) != before)
            s->last_progress = ev_now(s->loop);
        if (r == VOLE_TLS_OK) {
            wbuf_consumed(&s->out, n);
        } else if (r == VOLE_TLS_WANT_READ || r == VOLE_TLS_WANT_WRITE) {
            s->wr_want = r == VOLE_TLS_WANT_READ ? EV_READ : EV_WRITE;
            return WR_BLOCKED;
        } else {
            finish(s, vole_tls_error(s->tls));
            return WR_FAILED;
        }
    }
    return WR_DONE;
}

/* Writes what the socket takes; tells the owner when everything has gone. */
static void flush_out(struct vole_stream *s)
{
    enum wr r = s->tls ? write_tls(s) : write_plain(s);
    if (r == WR_BLOCKED)
        s->wr_blocked = true;
    if (r != WR_DONE)
        return;
    if (s->state == ST_OPEN) {
        ev_timer_stop(s->loop, &s->wtimer);
        if (s->ops.on_drained)
            s->ops.on_drained(s->ops.ctx, s);
    }
}

/* ---- reading ------------------------------------------------------------- */

enum rd { RD_AGAIN, RD_FULL, RD_EOF, RD_FAILED };

static enum rd read_plain(struct vole_stream *s, uint8_t *buf, size_t *got, char *err, size_t errlen)
{
    ssize_t n = recv(s->fd, buf, READ_MAX, 0);
    if (n > 0) {
        *got = (size_t)n;
        return RD_AGAIN;   /* level-triggered: more input wakes us again */
    }
    if (n == 0)
        return RD_EOF;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        return RD_AGAIN;
    snprintf(err, errlen, "read: %s", strerror(errno));
    return RD_FAILED;
}

/* Whole records until READ_MAX is full or the socket is dry. */
static enum rd read_tls(struct vole_stream *s, uint8_t *buf, size_t *got, char *err, size_t errlen)
{
    s->rd_want = EV_READ;
    while (*got < READ_MAX) {
        size_t n = 0;
        enum vole_tls_io r = vole_tls_read(s->tls, buf + *got, READ_MAX - *got, &n);
        if (r == VOLE_TLS_OK) {
            *got += n;
        } else if (r == VOLE_TLS_WANT_READ || r == VOLE_TLS_WANT_WRITE) {
            s->rd_want = r == VOLE_TLS_WANT_WRITE ? EV_WRITE : EV_READ;
            return RD_AGAIN;
        } else if (r == VOLE_TLS_EOF) {
            return RD_EOF;
        } else {
            snprintf(err, errlen, "%s", vole_tls_error(s->tls));
            return RD_FAILED;
        }
    }
    return RD_FULL;
}

/* Reads and delivers one batch. The owner may close, pause or replace the
 * callbacks inside on_read; the stream stays allocated until the loop frees it. */
static void do_read(struct vole_stream *s)
{
    uint8_t buf[READ_MAX];
    size_t got = 0;
    char err[160] = "";
    enum rd r = s->tls ? read_tls(s, buf, &got, err, sizeof err) : read_plain(s, buf, &got, err, sizeof err);
    if (got > 0 && s->ops.on_read)
        s->ops.on_read(s->ops.ctx, s, buf, got);
    if (s->state != ST_OPEN)
        return;
    if (r == RD_EOF) {
        /* Half-close: what the owner wrote before learning of the EOF still
         * goes out (then close_notify and FIN) before on_close says "eof". */
        s->rd_eof = true;
        begin_close(s, "eof");
    } else if (r == RD_FAILED) {
        finish(s, err);
    } else if (r == RD_FULL && s->tls && vole_tls_buffered(s->tls)) {
        schedule(s);   /* the socket will not signal what mbedTLS already holds */
    }
}

/* Reads and drops input while closing; notes the peer's FIN. */
static void discard_input(struct vole_stream *s)
{
    uint8_t buf[4096];
    ssize_t n = recv(s->fd, buf, sizeof buf, 0);
    if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)))
        return;
    s->rd_eof = true;
    if (s->state == ST_LINGER || n < 0)
        finish(s, "closed");
}

/* ---- opening ------------------------------------------------------------- */

static void become_open(struct vole_stream *s)
{
    s->state = ST_OPEN;
    if (s->tls)
        snprintf(s->alpn, sizeof s->alpn, "%s", vole_tls_alpn(s->tls));
    arm_wtimer(s);
    if (s->ops.on_open)
        s->ops.on_open(s->ops.ctx, s);
}

static void handshake_step(struct vole_stream *s)
{
    enum vole_tls_io r = vole_tls_handshake(s->tls);
    if (r == VOLE_TLS_OK)
        become_open(s);
    else if (r == VOLE_TLS_WANT_READ || r == VOLE_TLS_WANT_WRITE)
        s->op_want = r == VOLE_TLS_WANT_READ ? EV_READ : EV_WRITE;
    else
        finish(s, vole_tls_error(s->tls));
}

static void connect_done(struct vole_stream *s)
{
    int e = 0;
    socklen_t len = sizeof e;
    if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0)
        e = errno;
    if (e != 0) {
        fail_errno(s, "connect", e);
        return;
    }
    if (s->tls) {
        s->state = ST_HANDSHAKE;
        handshake_step(s);
    } else {
        become_open(s);
    }
}

/* ---- closing ------------------------------------------------------------- */

/* close_notify (TLS), then our FIN; then wait for the peer's unless it came. */
static void shutdown_step(struct vole_stream *s)
{
    if (s->tls) {
        enum vole_tls_io r = vole_tls_close_notify(s->tls);
        if (r == VOLE_TLS_WANT_READ || r == VOLE_TLS_WANT_WRITE) {
            s->op_want = r == VOLE_TLS_WANT_READ ? EV_READ : EV_WRITE;
            return;
        }
        if (r == VOLE_TLS_FAIL) {
            finish(s, vole_tls_error(s->tls));
            return;
        }
    }
    if (shutdown(s->fd, SHUT_WR) < 0 || s->rd_eof) {
        finish(s, "closed");
        return;
    }
    s->state = ST_LINGER;
    ev_timer_stop(s->loop, &s->wtimer);
    ev_timer_set(&s->wtimer, LINGER_S, 0.);
    ev_timer_start(s->loop, &s->wtimer);
}

/* Moves a stream as far as it can go without waiting. */
static void progress(struct vole_stream *s)
{
    if ((s->state == ST_OPEN || s->state == ST_FLUSHING) && out_pending(s) > 0 && !s->wr_blocked)
        flush_out(s);
    if (s->state == ST_FLUSHING && out_pending(s) == 0) {
        s->state = ST_SHUTDOWN;
        s->op_want = 0;
        arm_wtimer(s);   /* a close_notify the peer never takes is bounded too */
    }
    if (s->state == ST_SHUTDOWN && s->op_want == 0)
        shutdown_step(s);
    if (s->state != ST_DEAD)
        update_io(s);
}

static void on_io(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    struct vole_stream *s = w->data;
    if (revents & s->wr_want)
        s->wr_blocked = false;
    switch (s->state) {
    case ST_CONNECTING:
        connect_done(s);
        break;
    case ST_HANDSHAKE:
        handshake_step(s);
        break;
    case ST_OPEN:
        if ((revents & s->rd_want) && !s->read_paused)
            do_read(s);
        break;
    case ST_SHUTDOWN:
        if (revents & s->op_want)
            s->op_want = 0;   /* progress() retries close_notify */
        if ((revents & EV_READ) && !s->rd_eof)
            discard_input(s);
        break;
    case ST_FLUSHING:
    case ST_LINGER:
        if (revents & EV_READ)
            discard_input(s);
        break;
    default:
        break;
    }
    progress(s);
}

static void on_kick(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    struct vole_stream *s = w->data;
    if (s->state == ST_DEAD) {
        if (s->ops.on_close)
            s->ops.on_close(s->ops.ctx, s, s->why[0] ? s->why : "closed");
        stream_free(s);
        return;
    }
    if (s->state == ST_ACCEPTED)
        become_open(s);
    else if (s->state == ST_HANDSHAKE)
        handshake_step(s);
    else if (s->state == ST_OPEN && !s->read_paused && s->tls && vole_tls_buffered(s->tls))
        do_read(s);
    progress(s);
}

/* ---- API ----------------------------------------------------------------- */

static struct vole_stream *stream_new(struct ev_loop *loop, int fd, const struct vole_stream_ops *ops)
{
    struct vole_stream *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->loop = loop;
    s->fd = fd;
    s->ops = *ops;
    s->rd_want = EV_READ;
    s->wr_want = EV_WRITE;
    ev_io_init(&s->io, on_io, fd, EV_READ);
    s->io.data = s;
    ev_timer_init(&s->wtimer, on_wtimer, 0., 0.);
    s->wtimer.data = s;
    ev_timer_init(&s->kick, on_kick, 0., 0.);
    s->kick.data = s;
    return s;
}

struct vole_stream *vole_stream_accept(struct ev_loop *loop, int fd, struct vole_tls_server *tls,
                                       const struct vole_stream_ops *ops)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return NULL;
    struct vole_stream *s = stream_new(loop, fd, ops);
    if (!s)
        return NULL;
    if (tls) {
        s->tls = vole_tls_server_session(fd, tls);
        if (!s->tls) {
            stream_free(s);
            return NULL;
        }
    }
    tune_socket(fd);
    struct sockaddr_storage ss = {.ss_family = AF_UNSPEC};
    socklen_t len = sizeof ss;
    if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0)
        format_ip(s->peer_ip, sizeof s->peer_ip, (struct sockaddr *)&ss);
    s->state = tls ? ST_HANDSHAKE : ST_ACCEPTED;
    schedule(s);   /* the handshake or on_open starts from the loop */
    return s;
}

struct vole_stream *vole_stream_connect(struct ev_loop *loop, const struct sockaddr *addr, socklen_t addrlen,
                                        const struct vole_tls_client_config *tls,
                                        const struct vole_stream_ops *ops, char *err, size_t errlen)
{
    int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return NULL;
    }
    struct vole_stream *s = stream_new(loop, fd, ops);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        close(fd);
        return NULL;
    }
    if (tls && !(s->tls = vole_tls_client_new(fd, tls, err, errlen))) {
        stream_free(s);
        close(fd);
        return NULL;
    }
    tune_socket(fd);
    format_ip(s->peer_ip, sizeof s->peer_ip, addr);
    if (connect(fd, addr, addrlen) < 0 && errno != EINPROGRESS) {
        snprintf(err, errlen, "connect %s: %s", s->peer_ip, strerror(errno));
        vole_tls_free(s->tls);
        stream_free(s);
        close(fd);
        return NULL;
    }
    s->state = ST_CONNECTING;   /* EV_WRITE reports the outcome, even of an immediate success */
    update_io(s);
    return s;
}

void vole_stream_set_ops(struct vole_stream *s, const struct vole_stream_ops *ops)
{
    s->ops = *ops;
}

int vole_stream_write(struct vole_stream *s, const void *buf, size_t len)
{
    if (closing(s))
        return -1;
    if (len == 0)
        return 0;
    if (wbuf_append(&s->out, buf, len) != 0)
        return -1;
    if (s->state == ST_OPEN) {
        arm_wtimer(s);
        if (!s->wr_blocked)
            schedule(s);
    }
    return 0;
}

size_t vole_stream_pending(const struct vole_stream *s)
{
    return out_pending(s);
}

void vole_stream_pause_read(struct vole_stream *s, bool paused)
{
    s->read_paused = paused;
    if (s->state != ST_OPEN)
        return;
    update_io(s);
    if (!paused && s->tls && vole_tls_buffered(s->tls))
        schedule(s);
}

void vole_stream_close(struct vole_stream *s, bool graceful)
{
    if (s->state == ST_DEAD)
        return;
    bool connected = s->state == ST_OPEN || s->state == ST_ACCEPTED;
    if (graceful && connected) {
        begin_close(s, "closed");
        update_io(s);   /* stop delivering reads now */
    } else if (!graceful || !closing(s)) {
        finish(s, "closed");
    }
}

void vole_stream_set_write_timeout(struct vole_stream *s, double seconds)
{
    s->write_timeout = seconds > 0 ? seconds : 0;
    if (s->state == ST_LINGER || s->state == ST_DEAD)
        return;
    ev_timer_stop(s->loop, &s->wtimer);
    arm_wtimer(s);
}

const char *vole_stream_alpn(const struct vole_stream *s)
{
    return s->alpn;
}

const char *vole_stream_peer_ip(const struct vole_stream *s)
{
    return s->peer_ip;
}

int vole_stream_fd(const struct vole_stream *s)
{
    return s->fd;
}
