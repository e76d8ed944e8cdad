/* betterAddr, Coder's version (tailscale-wire.md §3.4): latency improvement
 * in percentage points, a bonus for loopback / private / IPv6 addresses so
 * that roughly equal paths prefer the local one, and hysteresis so two
 * equivalent paths do not flap. Upstream's link-local bonus, MTU and relay
 * preferences are not in the Coder fork and not here. */
#include "disco/path.h"

static bool valid(const struct wg_endpoint *ep)
{
    return ep->family == 4 || ep->family == 6;
}

static bool is_loopback(const struct wg_endpoint *ep)
{
    if (ep->family == 4)
        return ep->addr[0] == 127;
    for (int i = 0; i < 15; i++)
        if (ep->addr[i] != 0)
            return false;
    return ep->addr[15] == 1;   /* ::1 */
}

/* netip.Addr.IsPrivate: RFC 1918 and RFC 4193 (fc00::/7). */
static bool is_private(const struct wg_endpoint *ep)
{
    const uint8_t *a = ep->addr;
    if (ep->family == 6)
        return (a[0] & 0xfe) == 0xfc;
    return a[0] == 10 || (a[0] == 172 && (a[1] & 0xf0) == 16) || (a[0] == 192 && a[1] == 168);
}

/* 100 - fast*100/slow (slow > fast), Go's integer arithmetic on ns; for
 * latencies too large to multiply by 100 (never from a 5 s ping timeout, but
 * the function is public) the divisor is scaled instead, rounding differently
 * but never overflowing. */
static int improvement(uint64_t fast, uint64_t slow)
{
    uint64_t pct = fast <= UINT64_MAX / 100 ? fast * 100 / slow : fast / (slow / 100);
    return pct >= 100 ? 0 : (int)(100 - pct);
}

static int bonus(const struct wg_endpoint *ep)
{
    int points = 0;
    if (is_loopback(ep))
        points += 50;
    else if (is_private(ep))
        points += 20;
    if (ep->family == 6)
        points += 10;
    return points;
}

bool disco_path_better_addr(const struct wg_endpoint *a, uint64_t la, const struct wg_endpoint *b, uint64_t lb,
                            bool b_valid)
{
    b_valid = b_valid && valid(b);
    if (b_valid && wg_endpoint_equal(a, b))
        return false;
    if (!b_valid)
        return valid(a);
    if (!valid(a))
        return false;

    int a_points = 0, b_points = 0;
    if (la > lb && la > 0)
        b_points = improvement(lb, la);
    else if (lb > 0)
        a_points = improvement(la, lb);
    a_points += bonus(a);
    b_points += bonus(b);

    if (a_points <= 1 && b_points == 0)
        return false;
    return a_points > b_points;
}
