/* The candidate table of one peer's path (tailscale-wire.md §3.4): one entry
 * per address, with a bit per source (coordinator, CallMeMaybe, ping), so an
 * address a source forgets stays while another source still names it. */
#include "disco/path_internal.h"

#include <string.h>

static const uint8_t v4_mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
static const uint8_t coder_ula_prefix[6] = {0xfd, 0x7a, 0x11, 0x5c, 0xa1, 0xe0};   /* fd7a:115c:a1e0::/48 */

static bool all_zero(const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (b[i] != 0)
            return false;
    return true;
}

/* Addresses WireGuard must never be sent to directly: the overlay itself
 * (a peer may list its tailnet address among its interfaces) and, for IPv6,
 * link-local addresses, which need a zone the peer cannot tell us (§3.4). */
static bool unusable(const struct wg_endpoint *ep)
{
    if (ep->port == 0 || all_zero(ep->addr, wg_endpoint_addr_len(ep)))
        return true;
    if (ep->family == 4)
        return ep->addr[0] == 100 && (ep->addr[1] & 0xc0) == 64;   /* 100.64.0.0/10 */
    if (ep->addr[0] == 0xfe && (ep->addr[1] & 0xc0) == 0x80)       /* fe80::/10 */
        return true;
    return memcmp(ep->addr, coder_ula_prefix, sizeof(coder_ula_prefix)) == 0;
}

bool disco_path_cand_normalize(const struct wg_endpoint *in, struct wg_endpoint *out)
{
    memset(out, 0, sizeof(*out));
    if (in->family == 6 && memcmp(in->addr, v4_mapped_prefix, sizeof(v4_mapped_prefix)) == 0) {
        out->family = 4;
        memcpy(out->addr, in->addr + 12, 4);
    } else if (in->family == 4 || in->family == 6) {
        out->family = in->family;
        memcpy(out->addr, in->addr, wg_endpoint_addr_len(in));
    } else {
        return false;
    }
    out->port = in->port;
    return !unusable(out);
}

struct disco_path_candidate *disco_path_cand_find(struct disco_path *p, const struct wg_endpoint *ep)
{
    for (size_t i = 0; i < p->n_cand; i++)
        if (wg_endpoint_equal(&p->cand[i].addr, ep))
            return &p->cand[i];
    return NULL;
}

struct disco_path_candidate *disco_path_cand_add(struct disco_path *p, const struct wg_endpoint *ep,
                                                 unsigned source)
{
    struct wg_endpoint norm;
    if (!disco_path_cand_normalize(ep, &norm)) {
        p->ignored_candidates++;
        return NULL;
    }
    struct disco_path_candidate *c = disco_path_cand_find(p, &norm);
    if (c == NULL) {
        if (p->n_cand >= DISCO_PATH_MAX_CANDIDATES) {
            p->ignored_candidates++;
            return NULL;
        }
        c = &p->cand[p->n_cand++];
        memset(c, 0, sizeof(*c));
        c->addr = norm;
    }
    c->sources |= source;
    return c;
}

void disco_path_cand_clear_source(struct disco_path *p, unsigned source)
{
    for (size_t i = 0; i < p->n_cand; i++)
        p->cand[i].sources &= ~source;
}

/* deleteEndpointLocked: a best that is no longer a candidate is forgotten,
 * so best is always one of the candidates (the heartbeat pings it as one). */
void disco_path_cand_compact(struct disco_path *p)
{
    size_t kept = 0;
    for (size_t i = 0; i < p->n_cand; i++) {
        if (p->cand[i].sources != 0) {
            p->cand[kept++] = p->cand[i];
        } else if (p->has_best && wg_endpoint_equal(&p->cand[i].addr, &p->best)) {
            disco_path_best_forget(p);
        }
    }
    p->n_cand = kept;
}

void disco_path_cand_expire(struct disco_path *p, uint64_t now)
{
    for (size_t i = 0; i < p->n_cand; i++) {
        struct disco_path_candidate *c = &p->cand[i];
        if ((c->sources & DISCO_PATH_FROM_PING) && now > c->last_got_ping &&
            now - c->last_got_ping > DISCO_PATH_SESSION_ACTIVE)
            c->sources &= ~(unsigned)DISCO_PATH_FROM_PING;
    }
    disco_path_cand_compact(p);
}
