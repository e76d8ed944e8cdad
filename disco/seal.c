/* The outer packet (tailscale-wire.md §3.1): magic ‖ sender disco key ‖ nonce
 * ‖ box, where the box is crypto_box_easy_afternm (Poly1305 tag ‖ XSalsa20
 * ciphertext) under the key box.Precompute gave, as Go's SealAfterPrecomputation. */
#include "disco/wire.h"

#include <string.h>

#define KEY_OFF DISCO_MAGIC_LEN
#define NONCE_OFF (DISCO_MAGIC_LEN + DISCO_KEY_LEN)

size_t disco_seal(uint8_t *out, size_t cap, const struct disco_msg *msg, bool padded,
                  const uint8_t my_pub[DISCO_KEY_LEN], const struct disco_shared *s,
                  const uint8_t *nonce)
{
    if (!s->ok || cap < DISCO_HEADER_LEN + DISCO_BOX_OVERHEAD)
        return 0;
    size_t room = cap - DISCO_HEADER_LEN - DISCO_BOX_OVERHEAD;
    if (room > DISCO_MAX_PLAINTEXT)
        room = DISCO_MAX_PLAINTEXT;   /* what disco_open would refuse, we do not build */
    uint8_t *box = out + DISCO_HEADER_LEN;
    /* The plaintext goes where its ciphertext will be and is sealed in place:
     * libsodium's *_easy functions allow the message to overlap the output. */
    size_t plen = disco_msg_encode(box + DISCO_BOX_OVERHEAD, room, msg, padded);
    if (plen == 0)
        return 0;
    disco_write_magic(out);
    memcpy(out + KEY_OFF, my_pub, DISCO_KEY_LEN);
    if (nonce)
        memcpy(out + NONCE_OFF, nonce, DISCO_NONCE_LEN);
    else
        randombytes_buf(out + NONCE_OFF, DISCO_NONCE_LEN);
    crypto_box_easy_afternm(box, box + DISCO_BOX_OVERHEAD, plen, out + NONCE_OFF, s->k);
    return DISCO_HEADER_LEN + DISCO_BOX_OVERHEAD + plen;
}

int disco_open(const uint8_t *b, size_t len, const struct disco_shared *s, struct disco_msg *out)
{
    if (!s->ok || !disco_looks_like(b, len) || len < DISCO_HEADER_LEN + DISCO_BOX_OVERHEAD ||
        len > DISCO_MAX_PACKET)
        return -1;
    uint8_t plain[DISCO_MAX_PLAINTEXT];
    size_t clen = len - DISCO_HEADER_LEN;
    if (crypto_box_open_easy_afternm(plain, b + DISCO_HEADER_LEN, clen, b + NONCE_OFF, s->k) != 0)
        return -1;
    return disco_msg_decode(plain, clen - DISCO_BOX_OVERHEAD, out);
}
