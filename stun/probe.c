/* The STUN prober: a small state machine per server (tries sent, txids, when
 * the next try is due) and one report that every answer updates. */
#include "stun/probe.h"

#include <sodium.h>
#include <string.h>

static void copy_name(char dst[STUN_SERVER_NAME_MAX], const char *src)
{
    size_t n = src ? strnlen(src, STUN_SERVER_NAME_MAX - 1) : 0;
    if (n)
        memcpy(dst, src, n);
    dst[n] = '\0';
}

int stun_prober_init(struct stun_prober *p, const struct stun_probe_target *targets, size_t n, uint64_t now)
{
    if (n == 0 || n > STUN_PROBER_MAX_SERVERS)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (targets[i].ep.family != 4 && targets[i].ep.family != 6)
            return -1;
    memset(p, 0, sizeof *p);
    p->start = now;
    p->phase_end = now + STUN_PROBER_PHASE_NS;
    p->report.n_servers = n;
    for (size_t i = 0; i < n; i++) {
        struct stun_server_result *r = &p->report.servers[i];
        copy_name(r->name, targets[i].name);
        r->server = targets[i].ep;
        r->error = STUN_PROBE_TIMED_OUT;
        p->slots[i].next_at = now;
    }
    return 0;
}

/* ---- sending ---- */

static bool wants_try(const struct stun_prober *p, size_t i, uint64_t now)
{
    const struct stun_probe_slot *s = &p->slots[i];
    return !p->report.servers[i].answered && s->tries < STUN_PROBER_TRIES && now >= s->next_at;
}

/* Every send gets its own txid so that an answer tells which send it
 * answers, and the latency is measured from that send, not from a
 * retransmission that went out later. */
static void send_try(struct stun_prober *p, size_t i, uint64_t now, stun_emit_fn emit, void *ctx)
{
    struct stun_probe_slot *s = &p->slots[i];
    uint8_t req[STUN_REQUEST_LEN];
    unsigned t = s->tries;

    randombytes_buf(s->txid[t], STUN_TXID_LEN);
    stun_build_request(req, s->txid[t]);
    s->sent_at[t] = now;
    s->tries = t + 1;
    /* Relative to the actual send, so a late poll does not bunch tries up. */
    s->next_at = now + (t == 0 ? STUN_PROBER_FIRST_RETRY_NS : STUN_PROBER_NEXT_RETRY_NS);
    emit(ctx, &p->report.servers[i].server, req, sizeof req);
}

void stun_prober_poll(struct stun_prober *p, uint64_t now, stun_emit_fn emit, void *ctx)
{
    if (now >= p->phase_end)
        return;
    for (size_t i = 0; i < p->report.n_servers; i++)
        if (wants_try(p, i, now))
            send_try(p, i, now, emit, ctx);
}

static struct stun_server_result *server_by_ep(struct stun_prober *p, const struct wg_endpoint *ep,
                                               size_t *idx)
{
    for (size_t i = 0; i < p->report.n_servers; i++) {
        if (wg_endpoint_equal(&p->report.servers[i].server, ep)) {
            *idx = i;
            return &p->report.servers[i];
        }
    }
    return NULL;
}

void stun_prober_sent(struct stun_prober *p, const struct wg_endpoint *dst, bool ok)
{
    size_t i;
    struct stun_server_result *r = server_by_ep(p, dst, &i);
    struct stun_probe_slot *s;

    if (!r || p->slots[i].tries == 0)
        return;
    s = &p->slots[i];
    if (ok) {
        if (dst->family == 4)
            p->report.ipv4_can_send = true;
        else
            p->report.ipv6_can_send = true;
        if (r->error == STUN_PROBE_SEND_FAILED)
            r->error = STUN_PROBE_TIMED_OUT;
        return;
    }
    if (s->send_failures < s->tries)
        s->send_failures++;
    if (r->error == STUN_PROBE_TIMED_OUT && s->send_failures == s->tries)
        r->error = STUN_PROBE_SEND_FAILED;
}

/* ---- receiving ---- */

static bool find_txid(const struct stun_prober *p, const uint8_t txid[STUN_TXID_LEN], size_t *idx,
                      unsigned *try_)
{
    for (size_t i = 0; i < p->report.n_servers; i++) {
        const struct stun_probe_slot *s = &p->slots[i];
        for (unsigned t = 0; t < s->tries; t++) {
            if (memcmp(s->txid[t], txid, STUN_TXID_LEN) == 0) {
                *idx = i;
                *try_ = t;
                return true;
            }
        }
    }
    return false;
}

/* tailscale-wire.md §4.2: the first IPv4 answer is GlobalV4; a later one
 * (from another server) with another ip:port means the NAT picks a mapping
 * per destination; an equal one settles "no" unless "yes" was already seen. */
static void note_ipv4(struct stun_report *rep, const struct wg_endpoint *mapped)
{
    rep->ipv4 = true;
    if (rep->global_v4.family == 0)
        rep->global_v4 = *mapped;
    else if (!wg_endpoint_equal(&rep->global_v4, mapped))
        rep->mapping_varies_by_dest_ip = STUN_YES;
    else if (rep->mapping_varies_by_dest_ip == STUN_UNKNOWN)
        rep->mapping_varies_by_dest_ip = STUN_NO;
}

static void note_answer(struct stun_report *rep, struct stun_server_result *r, const struct wg_endpoint *mapped,
                        uint64_t latency_ns)
{
    r->answered = true;
    r->error = STUN_PROBE_OK;
    r->latency_ns = latency_ns;
    r->mapped = *mapped;
    rep->udp = true;
    if (mapped->family == 4) {
        note_ipv4(rep, mapped);
    } else if (mapped->family == 6) {
        rep->ipv6 = true;
        if (rep->global_v6.family == 0)
            rep->global_v6 = *mapped;
    }
}

bool stun_prober_handle(struct stun_prober *p, const struct wg_endpoint *src, const uint8_t *buf,
                        size_t len, uint64_t now)
{
    uint8_t txid[STUN_TXID_LEN];
    struct wg_endpoint mapped = {0};
    enum stun_status st;
    size_t i;
    unsigned t;
    struct stun_server_result *r;

    /* Not matched on src: a server may answer from another address (NAT in
     * front of it, anycast, several interfaces); the random txid is proof enough. */
    (void)src;
    if (!stun_is(buf, len))
        return false;
    /* stun_is means a full header with the magic cookie, so the txid is at
     * its fixed place even when the parser rejects the rest: a broken answer
     * to our request is still ours to consume and to report. */
    memcpy(txid, buf + STUN_HEADER_LEN - STUN_TXID_LEN, STUN_TXID_LEN);
    st = stun_parse_response(buf, len, txid, &mapped);
    if (!find_txid(p, txid, &i, &t))
        return false;
    r = &p->report.servers[i];
    /* Late answers and answers to a second try of an answered server are
     * ours but change nothing: one answer per server keeps the mapping
     * comparison to distinct destinations. */
    if (now >= p->phase_end || r->answered)
        return true;
    if (st != STUN_OK) {
        r->error = STUN_PROBE_BAD_RESPONSE;
        r->bad_status = st;
        return true;
    }
    note_answer(&p->report, r, &mapped, now - p->slots[i].sent_at[t]);
    return true;
}

/* ---- time ---- */

uint64_t stun_prober_deadline(const struct stun_prober *p)
{
    uint64_t d = p->phase_end;
    for (size_t i = 0; i < p->report.n_servers; i++) {
        const struct stun_probe_slot *s = &p->slots[i];
        if (!p->report.servers[i].answered && s->tries < STUN_PROBER_TRIES && s->next_at < d)
            d = s->next_at;
    }
    return d;
}

/* Nothing more to learn from a server that answered, or that we could not
 * send a single request to. */
static bool finished(const struct stun_prober *p, size_t i)
{
    const struct stun_probe_slot *s = &p->slots[i];
    return p->report.servers[i].answered ||
           (s->tries == STUN_PROBER_TRIES && s->send_failures == STUN_PROBER_TRIES);
}

bool stun_prober_done(const struct stun_prober *p, uint64_t now)
{
    if (now >= p->phase_end)
        return true;
    for (size_t i = 0; i < p->report.n_servers; i++)
        if (!finished(p, i))
            return false;
    return true;
}

const struct stun_report *stun_prober_report(const struct stun_prober *p)
{
    return &p->report;
}

const char *stun_probe_error_str(enum stun_probe_error e)
{
    switch (e) {
    case STUN_PROBE_OK: return "ok";
    case STUN_PROBE_TIMED_OUT: return "timed out";
    case STUN_PROBE_SEND_FAILED: return "send failed";
    case STUN_PROBE_BAD_RESPONSE: return "bad response";
    }
    return "unknown";
}
