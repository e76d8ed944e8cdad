/* One HTTP(S) GET on the libev loop, for `vole netcheck`: the DERP map
 * from the server's API and the /derp/latency-check of each DERP node.
 * It dials as the DERP client does (derp/dial.h), sends one request with
 * Connection: close, and reads the whole response (bounded). The time from
 * the request being written to the response's first byte is measured: the
 * server-processing time that Coder's netcheck takes as region latency. */
#ifndef VOLE_DIAG_NETCHECK_HTTP_H
#define VOLE_DIAG_NETCHECK_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ev_loop;
struct vole_nc_http;

#define VOLE_NC_HTTP_BODY_MAX (4u << 20)   /* a DERP map is a few KiB; more is refused */

struct vole_nc_http_config {
    const char *url;               /* http[s]://host[:port]/path */
    const char *header;            /* one extra "Name: value" line, or NULL */
    const char *tls_server_name;   /* NULL: the URL's host */
    const char *ca_file;           /* NULL: system CAs */
    bool insecure;                 /* skip TLS verification */
    double timeout;                /* seconds for everything; > 0 */
};

struct vole_nc_http_result {
    const char *error;             /* NULL: a complete response arrived */
    int status;                    /* the HTTP status, 0 when none */
    const char *body;              /* NUL-terminated, valid during the callback */
    size_t body_len;
    uint64_t first_byte_ns;        /* request written -> first response byte */
};

/* Called once, from the loop (never from inside vole_nc_http_get). The
 * request may be freed from inside it. */
typedef void (*vole_nc_http_done_fn)(void *ctx, const struct vole_nc_http_result *r);

/* NULL with err for a bad URL or header; otherwise the request is running. */
struct vole_nc_http *vole_nc_http_get(struct ev_loop *loop, const struct vole_nc_http_config *cfg,
                                      vole_nc_http_done_fn done, void *ctx, char *err, size_t errlen);
/* Stops it if still running (done is then not called) and frees it. NULL is fine. */
void vole_nc_http_free(struct vole_nc_http *h);

#endif
