/* vole-bench-aead: the WireGuard data AEAD's backends side by side (issue #8).
 * For each plaintext size, times sealing from one iov entry and from three
 * (a header and a payload in two pbufs, as lwIP hands them over) and opening,
 * for every backend built in. Prints a markdown table; asserts nothing.
 *   vole-bench-aead [seconds per cell, default 1] */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wg/aead.h"
#include "wg/aead_sodium.h"
#ifdef VOLE_HAVE_LIBCRYPTO
#include "wg/aead_openssl.h"
#endif

#define MAX_SIZE 1440
#define BATCH 256        /* packets between clock reads */

struct backend {
    const char *name;
    void *ctx;
    bool (*seal)(void *ctx, const uint8_t *nonce, const struct wg_iov *iov, int iovcnt, uint8_t *out);
    bool (*open)(void *ctx, const uint8_t *nonce, const uint8_t *in, size_t len, uint8_t *out);
};

static bool s_seal(void *c, const uint8_t *n, const struct wg_iov *iov, int cnt, uint8_t *out)
{
    return wg_aead_sodium_seal(c, n, NULL, 0, iov, cnt, 0, out);
}
static bool s_open(void *c, const uint8_t *n, const uint8_t *in, size_t len, uint8_t *out)
{
    return wg_aead_sodium_open(c, n, NULL, 0, in, len, out);
}
#ifdef VOLE_HAVE_LIBCRYPTO
static bool o_seal(void *c, const uint8_t *n, const struct wg_iov *iov, int cnt, uint8_t *out)
{
    return wg_aead_openssl_seal(c, n, NULL, 0, iov, cnt, 0, out);
}
static bool o_open(void *c, const uint8_t *n, const uint8_t *in, size_t len, uint8_t *out)
{
    return wg_aead_openssl_open(c, n, NULL, 0, in, len, out);
}
#endif

enum op { SEAL_1, SEAL_3, OPEN, OP_COUNT };
static const char *const op_names[OP_COUNT] = { "seal, 1 iov", "seal, 3 iov", "open" };

struct cell {
    double gbps, us_per_packet;
};

static double seconds_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void wg_nonce(uint8_t nonce[WG_AEAD_NONCE_LEN], uint64_t counter)
{
    memset(nonce, 0, WG_AEAD_NONCE_LEN);
    for (int i = 0; i < 8; i++)
        nonce[4 + i] = (uint8_t)(counter >> (8 * i));
}

/* Three pieces: a 40-byte header (IP + TCP) and the payload cut in two. */
static int split(const uint8_t *pt, size_t size, int pieces, struct wg_iov *iov)
{
    size_t head = size >= 120 ? 40 : size / 3, mid = (size - head) / 2;

    if (pieces == 1) {
        iov[0] = (struct wg_iov){ pt, size };
        return 1;
    }
    iov[0] = (struct wg_iov){ pt, head };
    iov[1] = (struct wg_iov){ pt + head, mid };
    iov[2] = (struct wg_iov){ pt + head + mid, size - head - mid };
    return 3;
}

static struct cell measure(const struct backend *b, enum op op, size_t size, double seconds)
{
    static uint8_t pt[MAX_SIZE], ct[MAX_SIZE + 16], back[MAX_SIZE];
    uint8_t nonce[WG_AEAD_NONCE_LEN];
    struct wg_iov iov[3];
    int iovcnt = split(pt, size, op == SEAL_3 ? 3 : 1, iov);
    uint64_t packets = 0, counter = 0;
    double start, elapsed;
    bool ok = true;

    randombytes_buf(pt, size);
    wg_nonce(nonce, 0);
    ok &= b->seal(b->ctx, nonce, iov, iovcnt, ct);   /* what OPEN opens, again and again */
    start = seconds_now();
    do {
        for (int i = 0; i < BATCH; i++) {
            if (op == OPEN) {
                ok &= b->open(b->ctx, nonce, ct, size + 16, back);
            } else {
                wg_nonce(nonce, counter++);
                ok &= b->seal(b->ctx, nonce, iov, iovcnt, ct);
            }
        }
        packets += BATCH;
        elapsed = seconds_now() - start;
    } while (elapsed < seconds);
    if (!ok)
        fprintf(stderr, "vole-bench-aead: %s %s %zu bytes failed\n", b->name, op_names[op], size);
    return (struct cell){ (double)packets * (double)size * 8 / elapsed / 1e9, elapsed / (double)packets * 1e6 };
}

int main(int argc, char **argv)
{
    static const size_t sizes[] = { 64, 576, 1296, 1440 };
    struct wg_aead_sodium sodium_ctx;
#ifdef VOLE_HAVE_LIBCRYPTO
    struct wg_aead_openssl openssl_ctx;
#endif
    struct backend backends[] = {
        { "sodium", &sodium_ctx, s_seal, s_open },
#ifdef VOLE_HAVE_LIBCRYPTO
        { "openssl", &openssl_ctx, o_seal, o_open },
#endif
    };
    const size_t nb = sizeof backends / sizeof backends[0];
    double seconds = argc > 1 ? atof(argv[1]) : 1.0;
    uint8_t key[WG_KEY_LEN];

    if (seconds <= 0 || seconds > 60) {
        fprintf(stderr, "usage: vole-bench-aead [seconds per cell, 0 < s <= 60]\n");
        return 2;
    }
    if (sodium_init() < 0)
        return 1;
    crypto_aead_chacha20poly1305_ietf_keygen(key);
    if (!wg_aead_sodium_init(&sodium_ctx, key))
        return 1;
#ifdef VOLE_HAVE_LIBCRYPTO
    if (!wg_aead_openssl_init(&openssl_ctx, key)) {
        fprintf(stderr, "vole-bench-aead: libcrypto could not set up ChaCha20-Poly1305\n");
        return 1;
    }
#endif
    printf("wg/ uses: %s; %.2f s per cell; Gbit/s of plaintext, one core\n\n", wg_aead_backend(), seconds);
    printf("| bytes | operation |");
    for (size_t b = 0; b < nb; b++)
        printf(" %s Gbit/s | %s µs/packet |", backends[b].name, backends[b].name);
    printf(nb > 1 ? " %s / %s |\n|---|---|" : "\n|---|---|", backends[nb - 1].name, backends[0].name);
    for (size_t b = 0; b < nb; b++)
        printf("---:|---:|");
    printf(nb > 1 ? "---:|\n" : "\n");
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        for (int op = 0; op < OP_COUNT; op++) {
            struct cell c[2];
            printf("| %zu | %s |", sizes[s], op_names[op]);
            for (size_t b = 0; b < nb; b++) {
                c[b] = measure(&backends[b], (enum op)op, sizes[s], seconds);
                printf(" %.2f | %.3f |", c[b].gbps, c[b].us_per_packet);
            }
            if (nb > 1)
                printf(" %.2fx |", c[nb - 1].gbps / c[0].gbps);
            printf("\n");
            fflush(stdout);
        }
    }
    wg_aead_sodium_wipe(&sodium_ctx);
#ifdef VOLE_HAVE_LIBCRYPTO
    wg_aead_openssl_wipe(&openssl_ctx);
#endif
    return 0;
}
