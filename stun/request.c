/* Binding requests: the one vole sends, and parsing one as a server. */
#include <string.h>

#include "stun/fingerprint.h"
#include "stun/wire.h"
#include "stun/writer.h"

#define SOFTWARE_LEN (sizeof(STUN_SOFTWARE) - 1)

_Static_assert(STUN_HEADER_LEN + STUN_ATTR_HEADER_LEN + SOFTWARE_LEN + STUN_FINGERPRINT_ATTR_LEN ==
               STUN_REQUEST_LEN, "\"tailnode\" is 8 bytes, so SOFTWARE needs no padding");

void stun_build_request(uint8_t out[STUN_REQUEST_LEN], const uint8_t txid[STUN_TXID_LEN])
{
    struct stun_writer w;
    stun_writer_init(&w, out, STUN_REQUEST_LEN);
    stun_writer_header(&w, STUN_BINDING_REQUEST, false, txid);
    stun_writer_put(&w, STUN_ATTR_SOFTWARE, STUN_SOFTWARE, SOFTWARE_LEN);
    stun_writer_fingerprint(&w);
    (void)stun_writer_finish(&w);
}

size_t stun_build_padded_request(uint8_t *out, size_t len, const uint8_t txid[STUN_TXID_LEN])
{
    struct stun_writer w;
    uint8_t *fill;

    if (len < STUN_PADDED_REQUEST_MIN || len > 65532 || len % 4 != 0)
        return 0;
    stun_writer_init(&w, out, len);
    stun_writer_header(&w, STUN_BINDING_REQUEST, false, txid);
    stun_writer_put(&w, STUN_ATTR_SOFTWARE, STUN_SOFTWARE, SOFTWARE_LEN);
    fill = stun_writer_attr(&w, STUN_ATTR_PROBE_PADDING, len - STUN_PADDED_REQUEST_MIN);
    if (fill)
        memset(fill, 0, len - STUN_PADDED_REQUEST_MIN);
    stun_writer_fingerprint(&w);
    return stun_writer_finish(&w) == len ? len : 0;
}

/* Remembers an unknown type once; more than four still fail the request, the
 * 420 just lists the first four. */
static void add_unknown(struct stun_request *req, uint16_t type)
{
    for (size_t i = 0; i < req->n_unknown; i++)
        if (req->unknown[i] == type)
            return;
    if (req->n_unknown < sizeof(req->unknown) / sizeof(req->unknown[0]))
        req->unknown[req->n_unknown++] = type;
}

/* Flags 0 ask for nothing (stun-client's first test sends that), so vole can
 * honour the attribute. A change of address or port it cannot honour with one
 * socket; answering from the same address would make the client's NAT-type
 * test conclude wrongly, so the request is refused as not understood. */
static void note_change_request(struct stun_request *req, const struct stun_attr *a)
{
    if (a->len != 4) {
        add_unknown(req, a->type);
        return;
    }
    req->change_flags = a->value[3] & (STUN_CHANGE_IP | STUN_CHANGE_PORT);
    if (req->change_flags != 0)
        add_unknown(req, a->type);
}

static void note_software(struct stun_request *req, const struct stun_attr *a)
{
    if (req->has_software)
        return;   /* RFC 8489 §14: only the first of duplicates counts */
    req->has_software = true;
    req->software_is_tailnode = a->len == SOFTWARE_LEN &&
                                memcmp(a->value, STUN_SOFTWARE, SOFTWARE_LEN) == 0;
}

/* One attribute before any MESSAGE-INTEGRITY, FINGERPRINT excluded. */
static void note_attr(struct stun_request *req, const struct stun_attr *a, bool *integrity_seen)
{
    switch (a->type) {
    case STUN_ATTR_SOFTWARE:
        note_software(req, a);
        break;
    case STUN_ATTR_CHANGE_REQUEST:
        note_change_request(req, a);
        break;
    case STUN_ATTR_MESSAGE_INTEGRITY:
    case STUN_ATTR_MESSAGE_INTEGRITY256:
        *integrity_seen = true;
        break;
    default:
        if (stun_attr_required(a->type) && !stun_attr_known(a->type))
            add_unknown(req, a->type);
        break;
    }
}

static enum stun_status walk_request(const struct stun_msg *m, struct stun_request *req)
{
    struct stun_attr_walk w;
    struct stun_attr a;
    bool integrity_seen = false;
    stun_walk_init(&w, m);
    while (stun_walk_next(&w, &a)) {
        if (a.type == STUN_ATTR_FINGERPRINT) {
            enum stun_status st = stun_fingerprint_check(m, &a);
            if (st != STUN_OK)
                return st;
            req->has_fingerprint = true;
        } else if (!integrity_seen) {
            /* After MESSAGE-INTEGRITY only FINGERPRINT may follow; anything
             * else there is ignored (RFC 8489 §14.5). */
            note_attr(req, &a, &integrity_seen);
        }
    }
    return w.status;
}

enum stun_status stun_parse_request(const uint8_t *b, size_t len, struct stun_request *req)
{
    memset(req, 0, sizeof(*req));
    struct stun_msg m;
    enum stun_status st = stun_msg_open(&m, b, len, false);
    if (st != STUN_OK)
        return st;
    if (m.type != STUN_BINDING_REQUEST)
        return STUN_ERR_NOT_BINDING;
    req->classic = m.classic;
    memcpy(req->txid, stun_msg_txid(&m), stun_msg_txid_len(&m));
    st = walk_request(&m, req);
    if (st != STUN_OK)
        return st;
    return req->n_unknown > 0 ? STUN_ERR_UNKNOWN_REQUIRED : STUN_OK;
}
