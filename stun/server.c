#include "stun/server.h"

#include <sodium.h>
#include <string.h>

#include "stun/wire.h"

int stun_server_init(struct stun_server *s)
{
    memset(s, 0, sizeof *s);
    /* The limiter's hash key comes from libsodium's RNG; idempotent. */
    if (sodium_init() < 0)
        return -1;
    wg_ratelimit_init(&s->limit, STUN_SERVER_RATE_PER_SEC, STUN_SERVER_RATE_BURST);
    return 0;
}

/* A well-framed STUN message (its length exactly the datagram's, as classic
 * messages without the cookie must be too) of a class other than request:
 * an indication, a success or an error response. Those are never answered:
 * answering responses is how two servers spoofed at each other would loop.
 * Anything else is left to the parser, which says why it is malformed. */
static bool is_non_request(const uint8_t *b, size_t len)
{
    if (len < STUN_HEADER_LEN || (b[0] & 0xc0) != 0)
        return false;
    size_t body = stun_get16(b + 2);
    if (body % 4 != 0 || STUN_HEADER_LEN + body != len)
        return false;
    return (stun_get16(b) & 0x0110) != 0;   /* class bits C1 (0x100), C0 (0x010) */
}

/* Where would the reply go? Port 0 cannot be answered, and family 0 means
 * the socket layer could not tell us. */
static bool source_usable(const struct wg_endpoint *src)
{
    return (src->family == 4 || src->family == 6) && src->port != 0;
}

/* Classic clients send CHANGE-REQUEST (RFC 3489 §11.2.4) in every request;
 * in tests II and III with a flag set, which the parser lists as unknown. We
 * have one address, so it is answered from it unchanged: a classic client then
 * sees its mapping, which is all we promise. Removes it from the unknown
 * list; true if nothing else is left there. */
static bool ignore_change_request(struct stun_request *r)
{
    size_t kept = 0, n = r->n_unknown;

    if (n > sizeof r->unknown / sizeof r->unknown[0])
        n = sizeof r->unknown / sizeof r->unknown[0];
    for (size_t i = 0; i < n; i++)
        if (r->unknown[i] != STUN_ATTR_CHANGE_REQUEST)
            r->unknown[kept++] = r->unknown[i];
    r->n_unknown = kept;
    return kept == 0;
}

/* Parses and counts a parse failure; true when the request is to be answered
 * (*error_420 tells how). */
static bool accept_request(struct stun_server *s, const uint8_t *b, size_t len, struct stun_request *r,
                           bool *error_420)
{
    enum stun_status st = stun_parse_request(b, len, r);

    if (st == STUN_ERR_UNKNOWN_REQUIRED && ignore_change_request(r))
        st = STUN_OK;
    *error_420 = st == STUN_ERR_UNKNOWN_REQUIRED;
    if (st == STUN_OK || *error_420)
        return true;
    s->dropped_malformed[(unsigned)st < STUN_SERVER_N_STATUS ? st : STUN_ERR_NOT_STUN]++;
    return false;
}

static size_t respond(struct stun_server *s, const struct stun_request *r, bool error_420, size_t req_len,
                      const struct wg_endpoint *src, uint8_t *out, size_t cap)
{
    /* The cap is the amplification bound, whatever room the caller has. */
    size_t n = error_420 ? stun_build_error_420(out, cap, r) : stun_build_success(out, cap, r, src);

    if (n == 0) {
        s->dropped_unanswerable++;
        return 0;
    }
    /* A success carries just the mapped address; an error carries nothing the
     * client needs, so it is never larger than the request that drew it. */
    if (error_420 && n > req_len) {
        s->dropped_would_amplify++;
        return 0;
    }
    if (error_420) {
        s->errors_420++;
    } else {
        s->answered++;
        s->answered_classic += r->classic;
    }
    return n;
}

size_t stun_server_handle(struct stun_server *s, const uint8_t *req, size_t len, const struct wg_endpoint *src,
                          uint64_t now_ns, uint8_t *out, size_t cap)
{
    struct stun_request r;
    bool error_420;

    if (len > STUN_SERVER_MAX_REQUEST) {
        s->dropped_oversized++;
        return 0;
    }
    if (is_non_request(req, len)) {
        s->dropped_not_request++;
        return 0;
    }
    memset(&r, 0, sizeof r);
    if (!accept_request(s, req, len, &r, &error_420))
        return 0;
    if (!source_usable(src)) {
        s->dropped_unanswerable++;
        return 0;
    }
    /* Only answerable requests spend tokens: garbage spoofed from a client's
     * address must not starve that client. */
    if (!wg_ratelimit_allow(&s->limit, src, now_ns)) {
        s->dropped_ratelimited++;
        return 0;
    }
    return respond(s, &r, error_420, len, src, out, cap < STUN_MAX_RESPONSE ? cap : STUN_MAX_RESPONSE);
}

uint64_t stun_server_dropped_malformed(const struct stun_server *s)
{
    uint64_t n = 0;
    for (size_t i = 0; i < STUN_SERVER_N_STATUS; i++)
        n += s->dropped_malformed[i];
    return n;
}

size_t stun_server_counters(const struct stun_server *s, struct stun_server_counter *out, size_t cap)
{
    const struct stun_server_counter scalars[] = {
        { "answered", NULL, s->answered },
        { "answered classic", NULL, s->answered_classic },
        { "errors 420", NULL, s->errors_420 },
        { "dropped: a 420 would be larger than the request", NULL, s->dropped_would_amplify },
        { "dropped malformed", NULL, stun_server_dropped_malformed(s) },
        { "dropped oversized", NULL, s->dropped_oversized },
        { "dropped rate-limited", NULL, s->dropped_ratelimited },
        { "dropped not a request", NULL, s->dropped_not_request },
        { "dropped unanswerable", NULL, s->dropped_unanswerable },
    };
    size_t n = 0;

    for (size_t i = 0; i < sizeof scalars / sizeof scalars[0] && n < cap; i++)
        out[n++] = scalars[i];
    for (size_t st = 0; st < STUN_SERVER_N_STATUS && n < cap; st++)
        if (s->dropped_malformed[st])
            out[n++] = (struct stun_server_counter){ "malformed", stun_status_str((enum stun_status)st),
                                                     s->dropped_malformed[st] };
    return n;
}
