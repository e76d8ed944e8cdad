/* The TLS half of io/stream: one mbedTLS session per stream over a
 * non-blocking socket. Internal to io/; owners use io/stream.h.
 *
 * Every call returns at once: WANT_READ / WANT_WRITE say which socket event
 * to wait for before calling again. Randomness: a server's entropy and
 * CTR-DRBG live in its struct vole_tls_server and are shared by the sessions
 * it accepts (one thread); a client session owns its own config, CA chain and
 * DRBG. There is no process-wide state. */
#ifndef VOLE_IO_TLS_H
#define VOLE_IO_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "io/stream.h"

#define VOLE_TLS_SYSTEM_CA "/etc/ssl/certs/ca-certificates.crt"
/* Plaintext per record: the TLS maximum, so bulk data costs one record
 * header and tag per 16 KiB. */
#define VOLE_TLS_RECORD_MAX 16384

struct vole_tls;

enum vole_tls_io {
    VOLE_TLS_OK,
    VOLE_TLS_WANT_READ,
    VOLE_TLS_WANT_WRITE,
    VOLE_TLS_EOF,    /* close_notify, or the socket's EOF */
    VOLE_TLS_FAIL,   /* vole_tls_error() says why */
};

/* A client session on a connecting socket; verifies against cfg->ca_file or
 * the system CAs unless cfg->insecure. NULL with err (bad CA file, no name). */
struct vole_tls *vole_tls_client_new(int fd, const struct vole_tls_client_config *cfg, char *err, size_t errlen);
/* A server session on an accepted socket; holds a reference to srv. */
struct vole_tls *vole_tls_server_session(int fd, struct vole_tls_server *srv);
void vole_tls_free(struct vole_tls *t);

enum vole_tls_io vole_tls_handshake(struct vole_tls *t);
/* OK with *n > 0 plaintext bytes in buf. */
enum vole_tls_io vole_tls_read(struct vole_tls *t, uint8_t *buf, size_t cap, size_t *n);
/* OK with *n bytes of buf consumed (at most one record). After a WANT, call
 * again with the same bytes at the head of buf: mbedTLS already holds the
 * record and only finishes sending it. */
enum vole_tls_io vole_tls_write(struct vole_tls *t, const uint8_t *buf, size_t len, size_t *n);
enum vole_tls_io vole_tls_close_notify(struct vole_tls *t);

/* Decrypted or undecrypted input mbedTLS holds that the socket no longer
 * signals: read again without waiting for EV_READ. */
bool vole_tls_buffered(const struct vole_tls *t);
/* Raw bytes the socket has accepted so far (write-timeout progress). */
uint64_t vole_tls_bytes_sent(const struct vole_tls *t);
const char *vole_tls_alpn(const struct vole_tls *t);
/* Why the last call returned VOLE_TLS_FAIL, e.g. "tls: certificate verify failed: ...". */
const char *vole_tls_error(const struct vole_tls *t);

#endif
