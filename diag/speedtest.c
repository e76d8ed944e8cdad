/* The speedtest handshake and accounting (diag/speedtest.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "diag/speedtest.h"

size_t vole_speedtest_config_encode(const struct vole_speedtest_config *c, char *buf, size_t len)
{
    /* Go's json.Encoder: struct field order, no spaces, a trailing '\n'. */
    int n = snprintf(buf, len, "{\"version\":%" PRId64 ",\"time\":%" PRId64 ",\"direction\":%" PRId64 "}\n",
                     c->version, c->time_ns, c->direction);
    return n > 0 && (size_t)n < len ? (size_t)n : 0;
}

/* An integer member, 0 when absent (Go leaves a missing field zero). */
static int get_int(json_t *o, const char *key, int64_t *out, char *err, size_t errlen)
{
    json_t *v = json_object_get(o, key);

    if (!v) {
        *out = 0;
        return 0;
    }
    if (!json_is_integer(v)) {
        snprintf(err, errlen, "bad config: \"%s\" is not an integer", key);
        return -1;
    }
    *out = json_integer_value(v);
    return 0;
}

int vole_speedtest_config_decode(const char *line, size_t len, struct vole_speedtest_config *out, char *err,
                                 size_t errlen)
{
    json_error_t je;
    json_t *o = json_loadb(line, len, JSON_DECODE_ANY, &je);
    int rc = -1;

    if (!o || !json_is_object(o)) {
        snprintf(err, errlen, "bad config: %s", o ? "not a JSON object" : je.text);
        json_decref(o);
        return -1;
    }
    if (get_int(o, "version", &out->version, err, errlen) < 0 || get_int(o, "time", &out->time_ns, err, errlen) < 0 ||
        get_int(o, "direction", &out->direction, err, errlen) < 0)
        goto done;
    if (out->version != VOLE_SPEEDTEST_VERSION)
        snprintf(err, errlen, "version mismatch! Server is version %d, client is version %" PRId64,
                 VOLE_SPEEDTEST_VERSION, out->version);
    else if (out->direction != VOLE_SPEEDTEST_DOWNLOAD && out->direction != VOLE_SPEEDTEST_UPLOAD)
        snprintf(err, errlen, "bad config: direction %" PRId64 " is neither 0 (download) nor 1 (upload)",
                 out->direction);
    else if (out->time_ns <= 0 || out->time_ns > VOLE_SPEEDTEST_MAX_NS)
        snprintf(err, errlen, "bad config: time %" PRId64 "ns is not within 1ns..30s", out->time_ns);
    else
        rc = 0;
done:
    json_decref(o);
    return rc;
}

size_t vole_speedtest_response_encode(const char *error, char *buf, size_t len)
{
    json_t *o;
    char *s;
    int n;

    if (!error) {
        n = snprintf(buf, len, "{}\n");
        return n > 0 && (size_t)n < len ? (size_t)n : 0;
    }
    o = json_pack("{s:s}", "error", error);
    s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    n = s ? snprintf(buf, len, "%s\n", s) : -1;
    free(s);
    return n > 0 && (size_t)n < len ? (size_t)n : 0;
}

int vole_speedtest_response_decode(const char *line, size_t len, char *err, size_t errlen)
{
    json_error_t je;
    json_t *o = json_loadb(line, len, JSON_DECODE_ANY, &je);
    json_t *e;
    int rc = 0;

    if (!o || !json_is_object(o)) {
        snprintf(err, errlen, "bad answer from the server: %s", o ? "not a JSON object" : je.text);
        json_decref(o);
        return -1;
    }
    e = json_object_get(o, "error");
    if (e && !json_is_string(e)) {
        snprintf(err, errlen, "bad answer from the server: \"error\" is not a string");
        rc = -1;
    } else if (e && json_string_length(e) > 0) {   /* Go omits an empty error */
        snprintf(err, errlen, "%s", json_string_value(e));
        rc = -1;
    }
    json_decref(o);
    return rc;
}

long vole_speedtest_line_feed(struct vole_speedtest_line *l, const uint8_t *p, size_t n)
{
    size_t i;

    for (i = 0; i < n && !l->done; i++) {
        if (l->len == VOLE_SPEEDTEST_LINE_MAX)
            return -1;
        l->buf[l->len++] = (char)p[i];
        l->done = p[i] == '\n';
    }
    l->buf[l->len] = '\0';
    return (long)i;
}

double vole_speedtest_megabits(const struct vole_speedtest_result *r)
{
    return (double)r->bytes / 1e6 * 8;
}

double vole_speedtest_mbits_per_second(const struct vole_speedtest_result *r)
{
    double secs = (double)(r->end_ns - r->start_ns) / 1e9;
    return secs > 0 ? vole_speedtest_megabits(r) / secs : 0;
}

void vole_speedtest_meter_start(struct vole_speedtest_meter *m, bool sender, uint64_t duration_ns,
                                uint64_t now_ns)
{
    memset(m, 0, sizeof *m);
    m->sender = sender;
    m->duration_ns = duration_ns;
    m->start_ns = m->last_ns = m->now_ns = now_ns;
}

uint64_t vole_speedtest_meter_room(const struct vole_speedtest_meter *m)
{
    return m->stopped || m->finished ? 0 : VOLE_SPEEDTEST_BLOCK - m->block_fill;
}

static void emit(struct vole_speedtest_meter *m, uint64_t bytes, uint64_t start, uint64_t end, bool total)
{
    if (m->n_results == VOLE_SPEEDTEST_MAX_RESULTS) {
        m->n_lost++;
        return;
    }
    m->results[m->n_results++] = (struct vole_speedtest_result){ bytes, start, end, total };
}

/* One whole block ended at now: Go's loop body after a full read or write. */
static void block_done(struct vole_speedtest_meter *m, uint64_t now)
{
    m->interval_bytes += VOLE_SPEEDTEST_BLOCK;
    m->now_ns = now;
    if (now - m->last_ns >= VOLE_SPEEDTEST_INCREMENT_NS) {
        emit(m, m->interval_bytes, m->last_ns, now, false);
        m->last_ns = now;
        m->total_bytes += m->interval_bytes;
        m->interval_bytes = 0;
    }
    if (m->sender && now - m->start_ns > m->duration_ns)
        m->stopped = true;
}

void vole_speedtest_meter_add(struct vole_speedtest_meter *m, uint64_t n, uint64_t now_ns)
{
    if (m->finished)
        return;
    /* A clock that went backwards must not make an interval negative. */
    if (now_ns < m->now_ns)
        now_ns = m->now_ns;
    while (n > 0 && !m->stopped) {
        uint64_t take = VOLE_SPEEDTEST_BLOCK - m->block_fill;
        if (take > n)
            take = n;
        m->block_fill += take;
        n -= take;
        if (m->block_fill == VOLE_SPEEDTEST_BLOCK) {
            m->block_fill = 0;
            block_done(m, now_ns);
        }
    }
}

void vole_speedtest_meter_finish(struct vole_speedtest_meter *m)
{
    if (m->finished)
        return;
    m->finished = true;
    if (m->now_ns - m->last_ns > VOLE_SPEEDTEST_MIN_INTERVAL_NS)
        emit(m, m->interval_bytes, m->last_ns, m->now_ns, false);
    m->total_bytes += m->interval_bytes;
    if (m->now_ns - m->start_ns > VOLE_SPEEDTEST_MIN_INTERVAL_NS)
        emit(m, m->total_bytes, m->start_ns, m->now_ns, true);
}
