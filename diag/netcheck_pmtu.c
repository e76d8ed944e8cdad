/* The path MTU phase's state machine (diag/netcheck_pmtu.h): per server a
 * round of sizes in flight, and the bracket [lo, hi) they narrow. */
#include "diag/netcheck_pmtu.h"

#include <sodium.h>
#include <string.h>

unsigned vole_pmtu_overhead(int family)
{
    return family == 6 ? 40 + 8 : 20 + 8;
}

static void start_round(struct vole_pmtu_server *s, const unsigned *sizes, size_t n)
{
    memset(s->round, 0, sizeof s->round);
    for (size_t i = 0; i < n && i < VOLE_PMTU_ROUND_MAX; i++)
        s->round[i].wire = sizes[i];
    s->n_round = n < VOLE_PMTU_ROUND_MAX ? n : VOLE_PMTU_ROUND_MAX;
    s->rounds++;
}

int vole_pmtu_init(struct vole_pmtu_prober *p, const struct wg_endpoint *servers, size_t n, uint64_t now)
{
    static const unsigned ladder[] = VOLE_PMTU_LADDER;

    memset(p, 0, sizeof *p);
    if (n == 0 || n > VOLE_PMTU_MAX_SERVERS || sodium_init() < 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (servers[i].family != 4 && servers[i].family != 6)
            return -1;
    p->n = n;
    p->end = now + VOLE_PMTU_PHASE_NS;
    for (size_t i = 0; i < n; i++) {
        p->s[i].ep = servers[i];
        start_round(&p->s[i], ladder, sizeof ladder / sizeof ladder[0]);
    }
    return 0;
}

/* ---- rounds ---- */

static unsigned best_answered(const struct vole_pmtu_server *s)
{
    unsigned best = 0;
    for (size_t i = 0; i < s->n_round; i++)
        if (s->round[i].answered && s->round[i].wire > best)
            best = s->round[i].wire;
    return best;
}

/* Every size above the largest answered has failed: nothing can still
 * change what the round says. */
static bool round_resolved(const struct vole_pmtu_server *s)
{
    unsigned best = best_answered(s);
    for (size_t i = 0; i < s->n_round; i++)
        if (!s->round[i].answered && !s->round[i].failed && s->round[i].wire > best)
            return false;
    return true;
}

/* The next sizes: evenly between lo and hi, on 8-byte steps from lo. */
static size_t next_sizes(const struct vole_pmtu_server *s, unsigned *out)
{
    size_t n = 0;
    unsigned span = s->hi - s->lo;

    for (unsigned k = 1; k <= VOLE_PMTU_ROUND_MAX; k++) {
        unsigned x = s->lo + span * k / (VOLE_PMTU_ROUND_MAX + 1) / VOLE_PMTU_STEP * VOLE_PMTU_STEP;
        if (x > s->lo && x < s->hi && (n == 0 || out[n - 1] != x))
            out[n++] = x;
    }
    return n;
}

static void advance(struct vole_pmtu_server *s)
{
    unsigned best = best_answered(s), sizes[VOLE_PMTU_ROUND_MAX];
    size_t n;

    if (best > s->lo)
        s->lo = best;
    for (size_t i = 0; i < s->n_round; i++) {
        unsigned w = s->round[i].wire;
        if (!s->round[i].answered && w > s->lo && (s->hi == 0 || w < s->hi))
            s->hi = w;
    }
    /* Nothing answered (padding unwelcome, or the path is that bad), the
     * largest size answered, or the bracket is narrow enough. */
    if (s->lo == 0 || s->hi == 0 || s->hi - s->lo <= VOLE_PMTU_STEP) {
        s->done = true;
        return;
    }
    n = next_sizes(s, sizes);
    if (n == 0) {
        s->done = true;
        return;
    }
    start_round(s, sizes, n);
}

/* ---- sending ---- */

static void note(const struct vole_pmtu_io *io, size_t i, unsigned wire, const char *what)
{
    if (io->note)
        io->note(io->ctx, i, wire, what);
}

static void send_try(struct vole_pmtu_prober *p, size_t i, struct vole_pmtu_size *z, uint64_t now,
                     const struct vole_pmtu_io *io)
{
    struct vole_pmtu_server *s = &p->s[i];
    unsigned over = vole_pmtu_overhead(s->ep.family);
    uint8_t req[VOLE_PMTU_MAX_WIRE];
    size_t len = 0;

    randombytes_buf(z->txid[z->tries], STUN_TXID_LEN);
    if (z->wire > over && z->wire <= sizeof req)
        len = stun_build_padded_request(req, z->wire - over, z->txid[z->tries]);
    z->tries++;
    z->sent_at = now;
    if (len == 0 || !io->send(io->ctx, i, &s->ep, req, len, z->wire)) {
        z->failed = true;   /* the kernel knows the path cannot carry it */
        note(io, i, z->wire, "not sent");
    }
}

static void poll_server(struct vole_pmtu_prober *p, size_t i, uint64_t now, const struct vole_pmtu_io *io)
{
    struct vole_pmtu_server *s = &p->s[i];

    for (size_t k = 0; k < s->n_round; k++) {
        struct vole_pmtu_size *z = &s->round[k];
        if (z->answered || z->failed || (z->tries > 0 && now < z->sent_at + VOLE_PMTU_TRY_NS))
            continue;
        if (z->tries == VOLE_PMTU_TRIES) {
            z->failed = true;
            note(io, i, z->wire, "no answer");
        } else {
            send_try(p, i, z, now, io);
        }
    }
}

void vole_pmtu_poll(struct vole_pmtu_prober *p, uint64_t now, const struct vole_pmtu_io *io)
{
    if (now >= p->end)
        return;
    for (size_t i = 0; i < p->n; i++) {
        /* Bounded: each pass either sends a new round or ends the server. */
        for (unsigned pass = 0; pass < 64 && !p->s[i].done; pass++) {
            unsigned rounds = p->s[i].rounds;
            poll_server(p, i, now, io);
            if (!round_resolved(&p->s[i]))
                break;
            advance(&p->s[i]);
            if (p->s[i].rounds == rounds)
                break;
        }
    }
}

/* ---- answers ---- */

static struct vole_pmtu_size *find(struct vole_pmtu_prober *p, const uint8_t *txid, size_t *server)
{
    for (size_t i = 0; i < p->n; i++)
        for (size_t k = 0; k < p->s[i].n_round; k++) {
            struct vole_pmtu_size *z = &p->s[i].round[k];
            for (unsigned t = 0; t < z->tries; t++)
                if (memcmp(z->txid[t], txid, STUN_TXID_LEN) == 0) {
                    *server = i;
                    return z;
                }
        }
    return NULL;
}

bool vole_pmtu_handle(struct vole_pmtu_prober *p, const uint8_t *buf, size_t len, uint64_t now,
                      const struct vole_pmtu_io *io)
{
    struct vole_pmtu_size *z;
    size_t i = 0;

    if (!stun_is(buf, len))
        return false;
    /* Any answer to our txid (even an error) means the size got there. */
    z = find(p, buf + STUN_HEADER_LEN - STUN_TXID_LEN, &i);
    if (!z)
        return false;
    if (z->answered || now >= p->end || p->s[i].done)
        return true;
    z->answered = true;
    z->failed = false;   /* a late answer to a try we had given up on */
    note(io, i, z->wire, "answered");
    if (round_resolved(&p->s[i]))
        advance(&p->s[i]);
    return true;
}

/* ---- time ---- */

uint64_t vole_pmtu_deadline(const struct vole_pmtu_prober *p)
{
    uint64_t at = p->end;

    for (size_t i = 0; i < p->n; i++) {
        const struct vole_pmtu_server *s = &p->s[i];
        for (size_t k = 0; !s->done && k < s->n_round; k++) {
            const struct vole_pmtu_size *z = &s->round[k];
            uint64_t due = z->tries == 0 ? 0 : z->sent_at + VOLE_PMTU_TRY_NS;
            if (!z->answered && !z->failed && due < at)
                at = due;
        }
    }
    return at;
}

bool vole_pmtu_done(const struct vole_pmtu_prober *p, uint64_t now)
{
    if (now >= p->end)
        return true;
    for (size_t i = 0; i < p->n; i++)
        if (!p->s[i].done)
            return false;
    return true;
}

/* A round cut short by the phase's end still proves what it answered. */
unsigned vole_pmtu_result(const struct vole_pmtu_prober *p, size_t i)
{
    unsigned best;

    if (i >= p->n)
        return 0;
    best = best_answered(&p->s[i]);
    return best > p->s[i].lo ? best : p->s[i].lo;
}
