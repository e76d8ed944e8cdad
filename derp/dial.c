#include "derp/dial.h"

#include <stdio.h>

/* Connects addresses from d->next on until one starts; err keeps the last
 * immediate failure (or what it held) when none does. */
static enum derp_dial_status connect_next(struct derp_dial *d, derp_dial_connect_fn fn, void *ctx, char *err,
                                          size_t errlen)
{
    while (d->next < d->n_addrs) {
        const struct derp_addr *a = &d->addrs[d->next++];
        if (fn(ctx, a, err, errlen) == 0)
            return DERP_DIAL_CONNECTING;
    }
    return DERP_DIAL_FAILED;
}

enum derp_dial_status derp_dial_start(struct derp_dial *d, const char *host, uint16_t port,
                                      derp_dial_connect_fn fn, void *ctx, char *err, size_t errlen)
{
    derp_dial_stop(d);
    d->n_addrs = d->next = 0;
    d->resolve = derp_resolve_start(host, port, err, errlen);
    if (!d->resolve)
        return DERP_DIAL_FAILED;
    return derp_dial_poll(d, fn, ctx, err, errlen);
}

enum derp_dial_status derp_dial_poll(struct derp_dial *d, derp_dial_connect_fn fn, void *ctx, char *err,
                                     size_t errlen)
{
    int rc = derp_resolve_poll(d->resolve, d->addrs, DERP_RESOLVE_MAX_ADDRS, &d->n_addrs, err, errlen);

    if (rc == 0)
        return DERP_DIAL_RESOLVING;
    derp_dial_stop(d);
    if (rc < 0)
        return DERP_DIAL_FAILED;
    d->next = 0;
    snprintf(err, errlen, "no address to connect to");
    return connect_next(d, fn, ctx, err, errlen);
}

enum derp_dial_status derp_dial_next(struct derp_dial *d, const char *why, derp_dial_connect_fn fn, void *ctx,
                                     char *err, size_t errlen)
{
    snprintf(err, errlen, "%s", why);
    return connect_next(d, fn, ctx, err, errlen);
}

void derp_dial_stop(struct derp_dial *d)
{
    if (d->resolve) {
        derp_resolve_free(d->resolve);
        d->resolve = NULL;
    }
}
