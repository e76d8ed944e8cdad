/* WireGuard keys in the text form used by `wg genkey` / `wg pubkey` and by
 * config files: standard padded base64 of 32 bytes, always 44 characters. */
#ifndef VOLE_CONF_KEY_H
#define VOLE_CONF_KEY_H

#include <stdint.h>

#define VOLE_KEY_LEN     32
#define VOLE_KEY_B64_LEN 45   /* 44 chars + NUL */

/* 0, or -1 unless s is exactly a 44-char padded base64 of 32 bytes with the
 * unused low bits of the last symbol zero (the one canonical spelling, as wg
 * requires). Strict: callers strip whitespace and newlines themselves.
 * out is left zeroed on failure. */
int vole_key_from_base64(uint8_t out[VOLE_KEY_LEN], const char *s);

/* Always writes 44 chars + NUL. */
/* As vole_key_from_base64, after trimming surrounding ASCII whitespace from s in place
 * (a key read from a file or stdin ends with a newline). */
int vole_key_from_text(uint8_t out[32], char *s);
void vole_key_to_base64(char out[VOLE_KEY_B64_LEN], const uint8_t key[VOLE_KEY_LEN]);

/* A random private key, clamped as `wg genkey` does, so the text it prints is
 * byte-for-byte what wg would produce for the same random bytes. */
void vole_key_generate_private(uint8_t out[VOLE_KEY_LEN]);

/* X25519 with the base point. The scalar is clamped during the multiplication,
 * so an unclamped private key gives the same public key as with `wg pubkey`. */
void vole_key_public(uint8_t pub[VOLE_KEY_LEN], const uint8_t priv[VOLE_KEY_LEN]);

#endif
