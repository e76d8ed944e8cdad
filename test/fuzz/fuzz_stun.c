/* libFuzzer target for the STUN codec and the socket classifier: both parsers
 * on every input, and for whatever a parser accepts, the invariants the rest
 * of vole relies on (answers fit STUN_MAX_RESPONSE, a modern answer parses
 * back to the same txid and address). Built and run by scripts/fuzz.sh. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node/classify.h"
#include "stun/stun.h"

/* A violated invariant is a crash, so libFuzzer keeps the input. */
static void check(int ok)
{
    if (!ok)
        abort();
}

static void answer_request(const struct stun_request *req)
{
    static const struct wg_endpoint mapped = {
        .family = 6, .addr = {0x20, 0x01, 0x0d, 0xb8, [15] = 7}, .port = 3478};
    uint8_t out[STUN_MAX_RESPONSE];
    size_t n = stun_build_success(out, sizeof(out), req, &mapped);
    check(n > 0 && n <= STUN_MAX_RESPONSE);
    if (!req->classic) {
        uint8_t txid[STUN_TXID_LEN];
        struct wg_endpoint got;
        check(stun_parse_response(out, n, txid, &got) == STUN_OK);
        check(memcmp(txid, req->txid, STUN_TXID_LEN) == 0 && wg_endpoint_equal(&got, &mapped));
    }
    n = stun_build_error_420(out, sizeof(out), req);
    check(n > 0 && n <= STUN_MAX_RESPONSE);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct stun_request req;
    enum stun_status st = stun_parse_request(data, size, &req);
    check(stun_status_str(st) != NULL);
    if (st == STUN_OK || st == STUN_ERR_UNKNOWN_REQUIRED)
        answer_request(&req);

    uint8_t txid[STUN_TXID_LEN];
    struct wg_endpoint mapped;
    st = stun_parse_response(data, size, txid, &mapped);
    check(st == STUN_OK ? mapped.family == 4 || mapped.family == 6 : mapped.family == 0);

    enum vole_packet_kind kind = vole_classify(data, size);
    check(kind != VOLE_PKT_STUN || stun_is(data, size));
    return 0;
}
