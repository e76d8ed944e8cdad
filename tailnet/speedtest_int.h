/* One speedtest TCP connection on lwIP, the part both ends share: the
 * handshake line, the data phase (sender or receiver), deadlines, and
 * delivering the end outside lwIP's call frames. Internal to
 * tailnet/speedtest_*.c. */
#ifndef VOLE_TAILNET_SPEEDTEST_INT_H
#define VOLE_TAILNET_SPEEDTEST_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <ev.h>

#include "diag/speedtest.h"
#include "lwip/tcp.h"

/* The sender's data: random once, written over and over (tcp_write takes at
 * most 64 KiB - 1 at a time). */
#define ST_PATTERN_LEN 32768

struct st_conn;

struct st_conn_ops {
    /* The handshake line arrived (phase HANDSHAKE). May write, start the
     * test or end the connection. */
    void (*on_line)(struct st_conn *c, const char *line, size_t len);
    /* Each result as the meter closes it. Optional. */
    void (*on_result)(struct st_conn *c, const struct vole_speedtest_result *r);
    /* Once, from a libev callback: err NULL or why. c may be freed here. */
    void (*on_end)(struct st_conn *c, const char *err);
};

enum st_phase { ST_CONNECTING, ST_HANDSHAKE, ST_TEST, ST_DRAIN, ST_DONE };

struct st_conn {
    struct tcp_pcb *pcb;         /* NULL once released */
    struct ev_loop *loop;
    const struct st_conn_ops *ops;
    void *owner;
    enum st_phase phase;
    bool wait_eof;               /* a sender that waits for the peer's FIN (the client) */
    bool in_cb;                  /* inside an lwIP callback: abort on return */
    bool abort_pending;
    bool ended;
    ev_timer deadline;           /* handshake or test limit */
    ev_timer later;              /* delivers on_end */
    struct vole_speedtest_line line;
    struct vole_speedtest_meter meter;
    size_t reported;             /* results passed to on_result */
    uint64_t discarded;          /* bytes a sender got from its peer */
    char err[256];
    uint8_t pattern[ST_PATTERN_LEN];
};

uint64_t st_now_ns(void);

/* Takes pcb (connected or connecting); phase is CONNECTING or HANDSHAKE.
 * deadline_s limits the handshake. */
void st_conn_init(struct st_conn *c, struct ev_loop *loop, struct tcp_pcb *pcb, enum st_phase phase,
                  double deadline_s, const struct st_conn_ops *ops, void *owner);
/* Connecting done: the handshake starts. */
void st_conn_connected(struct st_conn *c);
/* Queues a handshake line. 0 or -1 (the connection is ending). */
int st_conn_write(struct st_conn *c, const char *buf, size_t len);
/* Starts the data phase now; the test may run for 4x duration (Coder's
 * receiver deadline: duration + 3 x duration), after that it fails with
 * "i/o timeout". */
void st_conn_start_test(struct st_conn *c, bool sender, uint64_t duration_ns);
/* Ends: err NULL closes gracefully (the FIN after queued data), else resets. */
void st_conn_end(struct st_conn *c, const char *err);
/* The end of an lwIP callback that set c->in_cb: ERR_ABRT if a reset was
 * asked for meanwhile (done here), else ERR_OK. */
err_t st_conn_leave_cb(struct st_conn *c);
/* Stops the timers and resets the connection if still open; no on_end. */
void st_conn_release(struct st_conn *c);

#endif
