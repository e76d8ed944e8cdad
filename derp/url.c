#include "derp/url.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- parsing ------------------------------------------------------------ */

/* Spaces and control bytes would end up in the request line or the Host
 * header: refusing them here is what keeps a URL from injecting headers. */
static bool printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s == 0x7f)
            return false;
    return true;
}

static const char *parse_scheme(const char *url, struct derp_url *u)
{
    if (strncasecmp(url, "https://", 8) == 0) {
        u->tls = true;
        return url + 8;
    }
    if (strncasecmp(url, "http://", 7) == 0) {
        u->tls = false;
        return url + 7;
    }
    return NULL;
}

/* "" keeps the default (Go drops an empty port too); else 1..65535. */
static int parse_port(const char *p, size_t len, uint16_t *port)
{
    unsigned long v = 0;

    if (len == 0)
        return 0;
    if (len > 5)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (unsigned long)(p[i] - '0');
    }
    if (v == 0 || v > 65535)
        return -1;
    *port = (uint16_t)v;
    return 0;
}

/* Splits the authority a[0..len) into host and port. */
static int parse_authority(const char *a, size_t len, struct derp_url *u, char *err, size_t errlen)
{
    const char *host = a, *colon;
    size_t host_len;

    if (len > 0 && a[0] == '[') {
        const char *close = memchr(a, ']', len);
        if (!close || (close + 1 < a + len && close[1] != ':')) {
            snprintf(err, errlen, "malformed IPv6 literal in the URL");
            return -1;
        }
        host = a + 1;
        host_len = (size_t)(close - host);
        colon = close + 1 < a + len ? close + 1 : NULL;
    } else {
        colon = memchr(a, ':', len);
        host_len = colon ? (size_t)(colon - a) : len;
        if (colon && memchr(colon + 1, ':', len - host_len - 1)) {
            snprintf(err, errlen, "an IPv6 host must be in brackets");
            return -1;
        }
    }
    if (host_len == 0 || host_len >= sizeof u->host || memchr(host, '[', host_len) || memchr(host, ']', host_len)) {
        snprintf(err, errlen, "the URL's host is empty, too long or malformed");
        return -1;
    }
    memcpy(u->host, host, host_len);
    u->host[host_len] = '\0';
    u->port = u->tls ? 443 : 80;
    size_t port_len = colon ? len - (size_t)(colon + 1 - a) : 0;
    if (colon && parse_port(colon + 1, port_len, &u->port) < 0) {
        snprintf(err, errlen, "bad port in the URL");
        return -1;
    }
    /* Host header: the authority as written, minus an empty ":". */
    size_t keep = colon && port_len == 0 ? (size_t)(colon - a) : len;
    memcpy(u->authority, a, keep);
    u->authority[keep] = '\0';
    return 0;
}

int derp_url_parse(const char *url, struct derp_url *u, char *err, size_t errlen)
{
    memset(u, 0, sizeof *u);
    if (!url || !printable(url)) {
        snprintf(err, errlen, "the URL is empty or has spaces or control bytes");
        return -1;
    }
    const char *a = parse_scheme(url, u);
    if (!a) {
        snprintf(err, errlen, "the URL must start with http:// or https://");
        return -1;
    }
    size_t alen = strcspn(a, "/?#");
    if (memchr(a, '@', alen)) {
        snprintf(err, errlen, "user info in the URL is not supported");
        return -1;
    }
    if (strchr(a, '#')) {
        snprintf(err, errlen, "a fragment in the URL is not supported");
        return -1;
    }
    if (alen >= sizeof u->authority || parse_authority(a, alen, u, err, errlen) < 0) {
        if (alen >= sizeof u->authority)
            snprintf(err, errlen, "the URL's host is too long");
        return -1;
    }
    const char *path = a + alen;
    if (*path == '\0')
        path = DERP_URL_DEFAULT_PATH;
    if (*path == '?') {
        snprintf(err, errlen, "the URL has a query but no path");
        return -1;
    }
    if (strlen(path) >= sizeof u->path) {
        snprintf(err, errlen, "the URL's path is too long");
        return -1;
    }
    strcpy(u->path, path);
    return 0;
}

/* ---- resolving ---------------------------------------------------------- */

struct derp_resolve {
    struct gaicb cb;
    struct addrinfo hints;
    char host[DERP_URL_HOST_MAX];
    char port[8];
    bool async;                /* cb is owned by a resolver thread until done */
    int numeric_rc;            /* the result of the synchronous numeric lookup */
};

struct derp_resolve *derp_resolve_start(const char *host, uint16_t port, char *err, size_t errlen)
{
    struct derp_resolve *r = calloc(1, sizeof *r);
    if (!r || strlen(host) >= sizeof r->host) {
        snprintf(err, errlen, r ? "host name too long" : "out of memory");
        free(r);
        return NULL;
    }
    strcpy(r->host, host);
    snprintf(r->port, sizeof r->port, "%u", port);
    r->hints.ai_family = AF_UNSPEC;
    r->hints.ai_socktype = SOCK_STREAM;
    r->hints.ai_protocol = IPPROTO_TCP;
    r->cb.ar_name = r->host;
    r->cb.ar_service = r->port;
    r->cb.ar_request = &r->hints;

    /* Literals are the common case (DERP maps carry IPv4): no thread. */
    struct addrinfo numeric = r->hints;
    numeric.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    r->numeric_rc = getaddrinfo(r->host, r->port, &numeric, &r->cb.ar_result);
    if (r->numeric_rc == 0)
        return r;

    r->hints.ai_flags = AI_ADDRCONFIG | AI_NUMERICSERV;
    struct gaicb *list[1] = {&r->cb};
    int rc = getaddrinfo_a(GAI_NOWAIT, list, 1, NULL);
    if (rc != 0) {
        snprintf(err, errlen, "resolving %s: %s", host, gai_strerror(rc));
        free(r);
        return NULL;
    }
    r->async = true;
    return r;
}

static size_t copy_addrs(const struct addrinfo *ai, struct derp_addr *addrs, size_t cap)
{
    size_t n = 0;
    for (; ai && n < cap; ai = ai->ai_next) {
        if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) || ai->ai_addrlen > sizeof addrs[n].ss)
            continue;
        memcpy(&addrs[n].ss, ai->ai_addr, ai->ai_addrlen);
        addrs[n].len = ai->ai_addrlen;
        n++;
    }
    return n;
}

int derp_resolve_poll(struct derp_resolve *r, struct derp_addr *addrs, size_t cap, size_t *n, char *err,
                      size_t errlen)
{
    int rc = r->async ? gai_error(&r->cb) : r->numeric_rc;
    if (rc == EAI_INPROGRESS)
        return 0;
    if (rc != 0) {
        snprintf(err, errlen, "resolving %s: %s", r->host, gai_strerror(rc));
        return -1;
    }
    *n = copy_addrs(r->cb.ar_result, addrs, cap);
    if (*n == 0) {
        snprintf(err, errlen, "resolving %s: no IPv4 or IPv6 address", r->host);
        return -1;
    }
    return 1;
}

void derp_resolve_free(struct derp_resolve *r)
{
    if (!r)
        return;
    /* EAI_CANCELED and EAI_ALLDONE both mean no thread touches r any more. */
    if (r->async && gai_error(&r->cb) == EAI_INPROGRESS && gai_cancel(&r->cb) == EAI_NOTCANCELED)
        return;   /* a resolver thread still writes into r: leak it (see header) */
    if (r->cb.ar_result)
        freeaddrinfo(r->cb.ar_result);
    free(r);
}
