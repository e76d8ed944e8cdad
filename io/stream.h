/* A non-blocking byte stream over a TCP socket, plain or TLS (mbedTLS), on the
 * libev loop: the transport of DERP and the coordinator. Reads are delivered
 * as they arrive; writes are buffered and flushed when the socket is writable.
 * The owner sees plaintext either way. */
#ifndef VOLE_IO_STREAM_H
#define VOLE_IO_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct ev_loop;
struct vole_stream;
struct vole_tls_server;      /* a certificate and key, shared by accepted streams */

struct vole_stream_ops {
    void *ctx;
    /* Connected (and the TLS handshake done, for TLS). Optional for accepted
     * plain streams, which get it on the next loop iteration, before any on_read. */
    void (*on_open)(void *ctx, struct vole_stream *s);
    /* Plaintext bytes arrived. The buffer is valid during the call only. */
    void (*on_read)(void *ctx, struct vole_stream *s, const uint8_t *buf, size_t len);
    /* Every buffered byte was written (a place to produce more). Optional. */
    void (*on_drained)(void *ctx, struct vole_stream *s);
    /* The stream is finished (EOF, error, TLS failure, write timeout). why is
     * a short text. The stream is freed after this returns. */
    void (*on_close)(void *ctx, struct vole_stream *s, const char *why);
};

struct vole_tls_client_config {
    const char *server_name;     /* SNI and certificate name check */
    const char *ca_file;         /* NULL: the system CAs (/etc/ssl/certs/ca-certificates.crt) */
    bool insecure;               /* skip verification (InsecureForTests only) */
    bool alpn_http11;            /* offer ALPN "http/1.1" (as Coder's DERP client) */
};

/* TLS 1.2+ server credentials (PEM files). NULL with err on a bad file. A
 * client offering ALPN "http/1.1" gets it. */
struct vole_tls_server *vole_tls_server_new(const char *cert_file, const char *key_file, char *err, size_t errlen);
/* Streams already accepted hold their own reference: free any time. */
void vole_tls_server_free(struct vole_tls_server *t);

/* Wraps an accepted socket (non-blocking is set here); tls NULL: plain.
 * NULL only when out of memory; the caller then still owns fd. */
struct vole_stream *vole_stream_accept(struct ev_loop *loop, int fd, struct vole_tls_server *tls,
                                       const struct vole_stream_ops *ops);
/* Starts a non-blocking connect; tls NULL: plain. on_open or on_close follows.
 * NULL with err only for immediate failures. */
struct vole_stream *vole_stream_connect(struct ev_loop *loop, const struct sockaddr *addr, socklen_t addrlen,
                                        const struct vole_tls_client_config *tls,
                                        const struct vole_stream_ops *ops, char *err, size_t errlen);
/* Replace the callbacks (e.g. the HTTP layer hands an upgraded stream to DERP). */
void vole_stream_set_ops(struct vole_stream *s, const struct vole_stream_ops *ops);

/* Buffers bytes for writing; 0, or -1 when the stream is closing. */
int vole_stream_write(struct vole_stream *s, const void *buf, size_t len);
/* Bytes buffered but not yet written to the socket. */
size_t vole_stream_pending(const struct vole_stream *s);
/* Stop / resume delivering reads (backpressure toward a slow reader). */
void vole_stream_pause_read(struct vole_stream *s, bool paused);
/* Close after the buffered bytes are written (graceful) or at once. on_close
 * is called either way (from the loop, never from inside this call). Graceful:
 * no more reads are delivered; flush (bounded by the write timeout, or 30 s
 * without one), TLS close_notify, FIN, then up to 2 s waiting for the peer's
 * FIN so unread input cannot turn our close into a RST. The peer's EOF ends a
 * stream the same way (what was written before still goes out). */
void vole_stream_close(struct vole_stream *s, bool graceful);
/* A write that makes no progress for this long closes the stream; 0: never. */
void vole_stream_set_write_timeout(struct vole_stream *s, double seconds);
/* The ALPN protocol the TLS server chose ("" for none or plain). */
const char *vole_stream_alpn(const struct vole_stream *s);
/* The peer's address as "ip" text, for logs and admission. */
const char *vole_stream_peer_ip(const struct vole_stream *s);
int vole_stream_fd(const struct vole_stream *s);

#endif
