/* Tailscale's speedtest protocol, version 2 (tailscale-wire.md §5), sans-IO:
 * the handshake lines and the block/interval accounting both ends run. The
 * TCP side is tailnet/speedtest.h; the printing is diag/speedtest_format.h.
 *
 * One TCP stream: the client sends {"version":2,"time":NS,"direction":D}\n
 * (D from the client's view: 0 download, 1 upload), the server answers {}\n
 * or {"error":"..."}\n, then one side writes 2 MiB blocks until the duration
 * has passed and closes; the other reads until EOF. Both count whole blocks
 * and close an interval after the first block that ends 1 s or more after
 * the previous interval; a last partial interval and the total are kept if
 * longer than 10 ms. */
#ifndef VOLE_DIAG_SPEEDTEST_H
#define VOLE_DIAG_SPEEDTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VOLE_SPEEDTEST_VERSION        2
#define VOLE_SPEEDTEST_PORT           3      /* Coder's WorkspaceAgentSpeedtestPort */
#define VOLE_SPEEDTEST_BLOCK          ((uint64_t)2 * 1024 * 1024)
#define VOLE_SPEEDTEST_INCREMENT_NS   1000000000ULL
#define VOLE_SPEEDTEST_MIN_INTERVAL_NS 10000000ULL
#define VOLE_SPEEDTEST_DEFAULT_NS     5000000000LL
#define VOLE_SPEEDTEST_MAX_NS         30000000000LL
/* A handshake line longer than this is an error, not a reason to buffer. */
#define VOLE_SPEEDTEST_LINE_MAX       512
/* Intervals are at least 1 s and a receiver gives up after 4x the duration
 * (at most 120 s), so this holds every interval of a legal test. */
#define VOLE_SPEEDTEST_MAX_RESULTS    192

enum vole_speedtest_direction { VOLE_SPEEDTEST_DOWNLOAD = 0, VOLE_SPEEDTEST_UPLOAD = 1 };

struct vole_speedtest_config {
    int64_t version;
    int64_t time_ns;
    int64_t direction;   /* the client's view */
};

/* The client's line, '\n' included, NUL-terminated. Returns its length, or 0
 * if buf is too small. */
size_t vole_speedtest_config_encode(const struct vole_speedtest_config *c, char *buf, size_t len);
/* The server's reading of one line (without or with its '\n'): 0, or -1 with
 * err holding what the server answers. Checks the version (Go's words:
 * "version mismatch! Server is version 2, client is version N"), the
 * direction (0 or 1) and the time (1 ns .. 30 s). */
int vole_speedtest_config_decode(const char *line, size_t len, struct vole_speedtest_config *out, char *err,
                                 size_t errlen);

/* The server's answer line: "{}\n" when error is NULL, else
 * {"error":"..."}\n. Returns its length, or 0 if buf is too small. */
size_t vole_speedtest_response_encode(const char *error, char *buf, size_t len);
/* The client's reading: 0 for {}, or -1 with err (the server's error text, or
 * why the line is not an answer). */
int vole_speedtest_response_decode(const char *line, size_t len, char *err, size_t errlen);

/* Collects one '\n'-terminated line from a byte stream. */
struct vole_speedtest_line {
    char buf[VOLE_SPEEDTEST_LINE_MAX + 1];
    size_t len;
    bool done;
};

/* Takes bytes up to and including the first '\n'; returns how many it took
 * (the rest belongs to the data phase), or -1 if the line is too long. */
long vole_speedtest_line_feed(struct vole_speedtest_line *l, const uint8_t *p, size_t n);

struct vole_speedtest_result {
    uint64_t bytes;
    uint64_t start_ns, end_ns;   /* on the caller's clock */
    bool total;
};

/* Bytes / 1e6 * 8, and that over the interval's seconds (0 for an empty one). */
double vole_speedtest_megabits(const struct vole_speedtest_result *r);
double vole_speedtest_mbits_per_second(const struct vole_speedtest_result *r);

/* One end's accounting. */
struct vole_speedtest_meter {
    bool sender;
    bool stopped;             /* a sender's duration has passed: write no more */
    bool finished;
    uint64_t duration_ns;
    uint64_t start_ns, last_ns, now_ns;   /* now: when the last whole block ended */
    uint64_t block_fill;      /* bytes of the block in progress */
    uint64_t interval_bytes, total_bytes;
    struct vole_speedtest_result results[VOLE_SPEEDTEST_MAX_RESULTS];
    size_t n_results;
    size_t n_lost;            /* intervals beyond the array (never in a legal test) */
};

void vole_speedtest_meter_start(struct vole_speedtest_meter *m, bool sender, uint64_t duration_ns,
                                uint64_t now_ns);
/* How many bytes a sender may write before the block in progress ends: a
 * write never crosses a block boundary, so the duration is checked after
 * every whole block as Go's sender does. */
uint64_t vole_speedtest_meter_room(const struct vole_speedtest_meter *m);
/* n bytes were written (sender: at most room) or read, at now. Whole blocks
 * close intervals; a sender whose block ended after the duration is
 * stopped (m->stopped). Results appear in m->results as they close. */
void vole_speedtest_meter_add(struct vole_speedtest_meter *m, uint64_t n, uint64_t now_ns);
/* The end (a sender stopped, a receiver saw EOF): the last partial interval
 * and the total, each if longer than 10 ms. The bytes of a partial last block
 * are not counted, as Go's io.ReadFull loop does not. Idempotent. */
void vole_speedtest_meter_finish(struct vole_speedtest_meter *m);

#endif
