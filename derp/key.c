/* Node keys for DERP: the same clamped X25519 keys as WireGuard's (conf/key
 * makes and derives them), in DERP's hex text forms (§0): bare lowercase hex
 * in HTTP headers, "nodekey:" + hex where Go prints a key.NodePublic. */
#include "derp/handshake.h"

#include <sodium.h>
#include <string.h>

#include "conf/key.h"

#define NODEKEY_PREFIX "nodekey:"
#define HEX_LEN ((size_t)2 * DERP_KEY_LEN)

void derp_key_hex(char out[2 * DERP_KEY_LEN + 1], const uint8_t key[DERP_KEY_LEN])
{
    sodium_bin2hex(out, HEX_LEN + 1, key, DERP_KEY_LEN);
}

void derp_key_nodekey(char out[DERP_NODEKEY_TEXT_LEN], const uint8_t key[DERP_KEY_LEN])
{
    strcpy(out, NODEKEY_PREFIX);   /* its NUL is overwritten by the hex */
    derp_key_hex(out + strlen(NODEKEY_PREFIX), key);
}

int derp_key_from_hex(uint8_t out[DERP_KEY_LEN], const char *hex)
{
    if (strncmp(hex, NODEKEY_PREFIX, strlen(NODEKEY_PREFIX)) == 0)
        hex += strlen(NODEKEY_PREFIX);
    size_t bin_len = 0;
    const char *end = NULL;
    /* Exactly 64 hex digits, either case (Go's hex.Decode takes both), and
     * nothing after them. */
    if (strnlen(hex, HEX_LEN + 1) != HEX_LEN ||
        sodium_hex2bin(out, DERP_KEY_LEN, hex, HEX_LEN, NULL, &bin_len, &end) != 0 || bin_len != DERP_KEY_LEN ||
        end != hex + HEX_LEN) {
        sodium_memzero(out, DERP_KEY_LEN);
        return -1;
    }
    return 0;
}

void derp_keypair_generate(struct derp_keypair *kp)
{
    vole_key_generate_private(kp->priv);
    vole_key_public(kp->pub, kp->priv);
}

void derp_keypair_from_private(struct derp_keypair *kp, const uint8_t priv[DERP_KEY_LEN])
{
    memmove(kp->priv, priv, DERP_KEY_LEN);   /* priv may be kp->priv itself */
    vole_key_public(kp->pub, kp->priv);
}
