/* Binding responses: the two a server sends, and parsing a success as a client. */
#include <string.h>

#include "stun/address.h"
#include "stun/fingerprint.h"
#include "stun/wire.h"
#include "stun/writer.h"

#define ERROR_CLASS_4XX 4
#define ERROR_NUMBER_UNKNOWN 20          /* 420 = class 4, number 20 */

_Static_assert(STUN_HEADER_LEN + 4 + 20 <= STUN_MAX_RESPONSE, "an IPv6 success fits");
_Static_assert(STUN_HEADER_LEN + 4 + 4 + 4 + 8 <= STUN_MAX_RESPONSE, "a 420 listing four types fits");

size_t stun_build_success(uint8_t *out, size_t cap, const struct stun_request *req,
                          const struct wg_endpoint *mapped)
{
    size_t value_len = stun_address_value_len(mapped);
    if (value_len == 0)
        return 0;
    struct stun_writer w;
    stun_writer_init(&w, out, cap);
    stun_writer_header(&w, STUN_BINDING_SUCCESS, req->classic, req->txid);
    /* RFC 3489 clients know only MAPPED-ADDRESS; without a cookie an XOR
     * would mean nothing to them (RFC 5389 §12.2). */
    uint16_t type = req->classic ? STUN_ATTR_MAPPED_ADDRESS : STUN_ATTR_XOR_MAPPED_ADDRESS;
    uint8_t *value = stun_writer_attr(&w, type, value_len);
    if (value != NULL)
        stun_address_encode(value, mapped, req->classic ? NULL : out + 4);
    return stun_writer_finish(&w);
}

/* ERROR-CODE: 21 zero bits, the class in 3 bits, the number in 8, then a
 * reason phrase, which vole leaves empty (RFC 8489 §14.8 allows it; an empty
 * phrase is also a multiple of 4, as RFC 3489 wants): an error answer stays as
 * small as the request that drew it. */
static void put_error_code(struct stun_writer *w)
{
    uint8_t *value = stun_writer_attr(w, STUN_ATTR_ERROR_CODE, 4);
    if (value == NULL)
        return;
    stun_put16(value, 0);
    value[2] = ERROR_CLASS_4XX;
    value[3] = ERROR_NUMBER_UNKNOWN;
}

/* UNKNOWN-ATTRIBUTES: 16-bit types. RFC 3489 filled an odd list to 4 bytes by
 * repeating a type and counted it; RFC 5389+ counts only the list and pads
 * with zeros. */
static void put_unknown_attributes(struct stun_writer *w, const struct stun_request *req)
{
    size_t n = req->n_unknown;
    if (n > sizeof(req->unknown) / sizeof(req->unknown[0]))
        n = sizeof(req->unknown) / sizeof(req->unknown[0]);
    bool repeat = req->classic && n % 2 == 1;
    uint8_t *value = stun_writer_attr(w, STUN_ATTR_UNKNOWN_ATTRIBUTES, 2 * n + (repeat ? 2 : 0));
    if (value == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        stun_put16(value + 2 * i, req->unknown[i]);
    if (repeat)
        stun_put16(value + 2 * n, req->unknown[n - 1]);
}

size_t stun_build_error_420(uint8_t *out, size_t cap, const struct stun_request *req)
{
    struct stun_writer w;
    stun_writer_init(&w, out, cap);
    stun_writer_header(&w, STUN_BINDING_ERROR, req->classic, req->txid);
    put_error_code(&w);
    put_unknown_attributes(&w, req);
    return stun_writer_finish(&w);
}

/* The first of each address attribute a response carries, in preference order. */
struct mapped_attrs {
    struct stun_attr xor_std, xor_alt, plain;
    bool has_xor_std, has_xor_alt, has_plain;
};

static void note_address(struct mapped_attrs *f, const struct stun_attr *a)
{
    if (a->type == STUN_ATTR_XOR_MAPPED_ADDRESS && !f->has_xor_std) {
        f->xor_std = *a;
        f->has_xor_std = true;
    } else if (a->type == STUN_ATTR_XOR_MAPPED_ALT && !f->has_xor_alt) {
        f->xor_alt = *a;
        f->has_xor_alt = true;
    } else if (a->type == STUN_ATTR_MAPPED_ADDRESS && !f->has_plain) {
        f->plain = *a;
        f->has_plain = true;
    }
}

/* The walk's error beats a fingerprint error, which beats an unknown
 * attribute: a message that fails the first two may not be STUN at all. */
static enum stun_status walk_response(const struct stun_msg *m, struct mapped_attrs *f)
{
    struct stun_attr_walk w;
    struct stun_attr a;
    bool unknown = false, integrity_seen = false;
    stun_walk_init(&w, m);
    while (stun_walk_next(&w, &a)) {
        if (a.type == STUN_ATTR_FINGERPRINT) {
            enum stun_status st = stun_fingerprint_check(m, &a);
            if (st != STUN_OK)
                return st;
        } else if (!integrity_seen) {
            integrity_seen = a.type == STUN_ATTR_MESSAGE_INTEGRITY ||
                             a.type == STUN_ATTR_MESSAGE_INTEGRITY256;
            unknown |= stun_attr_required(a.type) && !stun_attr_known(a.type);
            note_address(f, &a);
        }
    }
    if (w.status != STUN_OK)
        return w.status;
    /* RFC 8489 §6.3.3: unknown comprehension-required attributes in a success
     * response fail the transaction. */
    return unknown ? STUN_ERR_UNKNOWN_REQUIRED : STUN_OK;
}

static enum stun_status decode_best(const struct stun_msg *m, const struct mapped_attrs *f,
                                    struct wg_endpoint *mapped)
{
    if (f->has_xor_std)
        return stun_address_decode(&f->xor_std, stun_msg_xor_key(m), mapped);
    if (f->has_xor_alt)
        return stun_address_decode(&f->xor_alt, stun_msg_xor_key(m), mapped);
    if (f->has_plain)
        return stun_address_decode(&f->plain, NULL, mapped);
    return STUN_ERR_NO_ADDRESS;
}

enum stun_status stun_parse_response(const uint8_t *b, size_t len, uint8_t txid[STUN_TXID_LEN],
                                     struct wg_endpoint *mapped)
{
    memset(mapped, 0, sizeof(*mapped));
    struct stun_msg m;
    enum stun_status st = stun_msg_open(&m, b, len, true);
    if (st != STUN_OK)
        return st;
    if (m.type != STUN_BINDING_SUCCESS)
        return STUN_ERR_NOT_BINDING;
    memcpy(txid, stun_msg_txid(&m), STUN_TXID_LEN);
    struct mapped_attrs found;
    memset(&found, 0, sizeof(found));
    st = walk_response(&m, &found);
    if (st == STUN_OK)
        st = decode_best(&m, &found, mapped);
    if (st != STUN_OK)
        memset(mapped, 0, sizeof(*mapped));
    return st;
}
