/* DERP server URLs and their addresses: parsing "http[s]://host[:port][/path]"
 * as the DERP client dials it, and resolving the host without blocking the
 * loop (numeric hosts at once, names through glibc's getaddrinfo_a). */
#ifndef VOLE_DERP_URL_H
#define VOLE_DERP_URL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define DERP_URL_HOST_MAX 256        /* a DNS name is at most 253 bytes */
#define DERP_URL_PATH_MAX 1024
#define DERP_URL_DEFAULT_PATH "/derp"
#define DERP_RESOLVE_MAX_ADDRS 8     /* addresses kept per name, in getaddrinfo's order */

struct derp_url {
    bool tls;                            /* https */
    char host[DERP_URL_HOST_MAX];        /* without the brackets of an IPv6 literal */
    uint16_t port;                       /* explicit, or 443 / 80 */
    /* The Host header: the URL's authority as written (brackets and an
     * explicit port kept), as Go's http.Request.Write sends it. */
    char authority[DERP_URL_HOST_MAX + 8];
    char path[DERP_URL_PATH_MAX];        /* "/derp" when the URL has none */
};

/* 0, or -1 with err: another scheme, userinfo, an empty or oversized host,
 * a bad port, a fragment, spaces or control bytes. */
int derp_url_parse(const char *url, struct derp_url *u, char *err, size_t errlen);

/* One address to dial. */
struct derp_addr {
    struct sockaddr_storage ss;
    socklen_t len;
};

/* An address lookup in progress. Names are looked up on glibc's resolver
 * threads; the loop polls derp_resolve_poll (it never blocks). */
struct derp_resolve;

/* Starts a lookup of host:port (TCP). A numeric host is done at once. NULL
 * with err only when the lookup cannot even start. */
struct derp_resolve *derp_resolve_start(const char *host, uint16_t port, char *err, size_t errlen);
/* 1: done, addrs[0..*n) filled (at most cap, in the resolver's order);
 * 0: still running; -1: failed (err says why). */
int derp_resolve_poll(struct derp_resolve *r, struct derp_addr *addrs, size_t cap, size_t *n, char *err,
                      size_t errlen);
/* Cancels and frees. A lookup that cannot be cancelled is left to finish on
 * its thread and its small state leaked: freeing it would race that thread. */
void derp_resolve_free(struct derp_resolve *r);

#endif
