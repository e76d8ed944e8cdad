/* ClientInfo and ServerInfo frames (§1.4): NaCl boxes of the JSON documents
 * between the client's and the server's node keys. Go's box.Seal output is
 * tag || ciphertext, exactly crypto_box_easy's, so the frame is
 *   ClientInfo: clientPub(32) || nonce(24) || tag(16) || ciphertext
 *   ServerInfo:                  nonce(24) || tag(16) || ciphertext */
#include "derp/handshake.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "derp/handshake_json.h"

/* Fixed nonce for tests, else a fresh random one: a repeated nonce under the
 * same key pair would leak the XOR of two plaintexts. */
static int put_nonce(uint8_t out[DERP_NONCE_LEN], const uint8_t *nonce)
{
    if (nonce != NULL) {
        memcpy(out, nonce, DERP_NONCE_LEN);
        return 0;
    }
    if (sodium_init() < 0)
        return -1;
    randombytes_buf(out, DERP_NONCE_LEN);
    return 0;
}

/* Writes header || prefix || nonce || box(json) into out; prefix is the
 * client key for ClientInfo and empty for ServerInfo. */
static size_t seal_frame(uint8_t *out, size_t cap, uint8_t type, const uint8_t *prefix, size_t prefix_len,
                         const char *json, size_t json_len, const uint8_t *nonce, const uint8_t peer_pub[DERP_KEY_LEN],
                         const uint8_t my_priv[DERP_KEY_LEN])
{
    const size_t len = prefix_len + DERP_NONCE_LEN + crypto_box_MACBYTES + json_len;
    if (json_len == 0 || cap < DERP_FRAME_HEADER_LEN + len)
        return 0;
    uint8_t *w = out + derp_write_header(out, cap, type, (uint32_t)len);
    if (prefix_len > 0)
        memcpy(w, prefix, prefix_len);
    w += prefix_len;
    if (put_nonce(w, nonce) != 0)
        return 0;
    /* Fails only for a low-order peer key, where the shared secret is zero. */
    if (crypto_box_easy(w + DERP_NONCE_LEN, (const uint8_t *)json, json_len, w, peer_pub, my_priv) != 0)
        return 0;
    return DERP_FRAME_HEADER_LEN + len;
}

size_t derp_build_client_info(uint8_t *out, size_t cap, const struct derp_keypair *client,
                              const uint8_t server_pub[DERP_KEY_LEN], const struct derp_client_info *info,
                              const uint8_t *nonce)
{
    char json[DERP_JSON_OUT_MAX];
    size_t n = derp_client_info_json(json, sizeof(json), info);
    n = seal_frame(out, cap, DERP_FRAME_CLIENT_INFO, client->pub, DERP_KEY_LEN, json, n, nonce, server_pub,
                   client->priv);
    sodium_memzero(json, sizeof(json));   /* it may hold the mesh key */
    return n;
}

size_t derp_build_server_info(uint8_t *out, size_t cap, const struct derp_keypair *server,
                              const uint8_t client_pub[DERP_KEY_LEN], const struct derp_server_info *info,
                              const uint8_t *nonce)
{
    char json[DERP_JSON_OUT_MAX];
    size_t n = derp_server_info_json(json, sizeof(json), info);
    return seal_frame(out, cap, DERP_FRAME_SERVER_INFO, NULL, 0, json, n, nonce, client_pub, server->priv);
}

/* Opens nonce || box into a fresh heap buffer (ClientInfo may be 256 KiB, too
 * much for the stack); NULL if the box is short or does not open. */
static uint8_t *open_box(const uint8_t *nonce_box, size_t len, const uint8_t peer_pub[DERP_KEY_LEN],
                         const uint8_t my_priv[DERP_KEY_LEN], size_t *plain_len)
{
    if (len < DERP_NONCE_LEN + crypto_box_MACBYTES)
        return NULL;
    const size_t box_len = len - DERP_NONCE_LEN;
    *plain_len = box_len - crypto_box_MACBYTES;
    uint8_t *plain = malloc(*plain_len > 0 ? *plain_len : 1);
    if (plain == NULL)
        return NULL;
    if (crypto_box_open_easy(plain, nonce_box + DERP_NONCE_LEN, box_len, nonce_box, peer_pub, my_priv) != 0) {
        free(plain);
        return NULL;
    }
    return plain;
}

static void free_plain(uint8_t *plain, size_t len)
{
    sodium_memzero(plain, len);
    free(plain);
}

int derp_open_client_info(const struct derp_frame *f, const struct derp_keypair *server,
                          uint8_t client_pub[DERP_KEY_LEN], struct derp_client_info *info)
{
    memset(info, 0, sizeof(*info));
    if (f->type != DERP_FRAME_CLIENT_INFO || f->len < DERP_CLIENT_INFO_MIN || f->len > DERP_CLIENT_INFO_MAX)
        return -1;
    size_t plain_len = 0;
    uint8_t *plain = open_box(f->payload + DERP_KEY_LEN, f->len - DERP_KEY_LEN, f->payload, server->priv,
                              &plain_len);
    if (plain == NULL)
        return -1;
    int rc = derp_client_info_parse(plain, plain_len, info);
    free_plain(plain, plain_len);
    if (rc == 0)
        memcpy(client_pub, f->payload, DERP_KEY_LEN);
    return rc;
}

int derp_open_server_info(const struct derp_frame *f, const struct derp_keypair *client,
                          const uint8_t server_pub[DERP_KEY_LEN], struct derp_server_info *info)
{
    memset(info, 0, sizeof(*info));
    if (f->type != DERP_FRAME_SERVER_INFO || f->len > DERP_MAX_INFO_LEN)
        return -1;
    size_t plain_len = 0;
    uint8_t *plain = open_box(f->payload, f->len, server_pub, client->priv, &plain_len);
    if (plain == NULL)
        return -1;
    int rc = derp_server_info_parse(plain, plain_len, info);
    free_plain(plain, plain_len);
    return rc;
}
