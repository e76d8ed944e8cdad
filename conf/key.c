#include "conf/key.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#define KEY_B64_CHARS (VOLE_KEY_B64_LEN - 1)

static int is_b64_symbol(char ch)
{
    unsigned char u = (unsigned char)ch;
    return (u >= 'A' && u <= 'Z') || (u >= 'a' && u <= 'z') || (u >= '0' && u <= '9') ||
           u == '+' || u == '/';
}

_Static_assert(sodium_base64_ENCODED_LEN(VOLE_KEY_LEN, sodium_base64_VARIANT_ORIGINAL)
               == VOLE_KEY_B64_LEN, "44 base64 chars + NUL");

int vole_key_from_base64(uint8_t out[VOLE_KEY_LEN], const char *s)
{
    size_t bin_len = 0;
    const char *end = NULL;

    /* strnlen: never read further than one char past a valid key. */
    if (strnlen(s, KEY_B64_CHARS + 1) != KEY_B64_CHARS || s[KEY_B64_CHARS - 1] != '=')
        goto bad;
    /* Checked here because libsodium 1.0.18 decodes bytes >= 0x80 as if they
     * were symbols, which wg (and so every peer) rejects. */
    for (size_t i = 0; i < KEY_B64_CHARS - 1; i++)
        if (!is_b64_symbol(s[i]))
            goto bad;
    /* libsodium also rejects non-zero unused bits in the last symbol, as wg
     * does, so each key has exactly one accepted spelling. */
    if (sodium_base642bin(out, VOLE_KEY_LEN, s, KEY_B64_CHARS, NULL, &bin_len, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0)
        goto bad;
    if (bin_len != VOLE_KEY_LEN || end != s + KEY_B64_CHARS)
        goto bad;
    return 0;
bad:
    sodium_memzero(out, VOLE_KEY_LEN);
    return -1;
}

void vole_key_to_base64(char out[VOLE_KEY_B64_LEN], const uint8_t key[VOLE_KEY_LEN])
{
    sodium_bin2base64(out, VOLE_KEY_B64_LEN, key, VOLE_KEY_LEN,
                      sodium_base64_VARIANT_ORIGINAL);
}

void vole_key_generate_private(uint8_t out[VOLE_KEY_LEN])
{
    /* sodium_init is idempotent. If the RNG cannot be set up, a predictable
     * private key would be far worse than stopping. */
    if (sodium_init() < 0)
        abort();
    randombytes_buf(out, VOLE_KEY_LEN);
    out[0] &= 248;
    out[31] &= 127;
    out[31] |= 64;
}

void vole_key_public(uint8_t pub[VOLE_KEY_LEN], const uint8_t priv[VOLE_KEY_LEN])
{
    /* Cannot fail for the base point (a clamped scalar is never zero mod the
     * group order), but the result is checked rather than trusted. */
    if (crypto_scalarmult_base(pub, priv) != 0)
        sodium_memzero(pub, VOLE_KEY_LEN);
}

int vole_key_from_text(uint8_t out[32], char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return vole_key_from_base64(out, s);
}
