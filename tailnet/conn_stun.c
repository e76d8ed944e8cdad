/* Endpoint discovery and the home region (tailscale-wire.md §4.2): a STUN
 * round (stun/probe.h) from the shared socket to every STUN node of the DERP
 * map, then our endpoints (reflexive addresses, then local interface
 * addresses with the socket's port) and the home region (lowest latency,
 * sticky as netcheck is). Rounds repeat every 20-26 s while a peer was sent
 * to within 45 s. A map without STUN (block-direct): the home is the
 * embedded region, else the first region with a relay.
 *
 * STUN nodes named by host name are resolved with a blocking getaddrinfo
 * once per round; vole's own maps name them by address. */
#include "tailnet/conn_int.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>

#include "io/udp.h"
#include "node/tunnel.h"

/* ---- targets ---- */

static bool parse_literal(const char *s, struct wg_endpoint *ep, int port)
{
    memset(ep, 0, sizeof *ep);
    ep->port = (uint16_t)port;
    if (inet_pton(AF_INET, s, ep->addr) == 1)
        ep->family = 4;
    else if (inet_pton(AF_INET6, s, ep->addr) == 1)
        ep->family = 6;
    return ep->family != 0;
}

static bool resolve_name(const char *host, struct wg_endpoint *ep, int port)
{
    struct addrinfo hints = { .ai_socktype = SOCK_DGRAM }, *res;
    if (getaddrinfo(host, NULL, &hints, &res) != 0)
        return false;
    vole_sockaddr_to_endpoint(ep, res->ai_addr);
    ep->port = (uint16_t)port;
    freeaddrinfo(res);
    return ep->family != 0;
}

static void add_target(struct vole_conn *c, struct stun_probe_target *t, const struct derp_map_node *n,
                       const struct wg_endpoint *ep)
{
    size_t i = c->n_stun_targets;
    if (i >= STUN_PROBER_MAX_SERVERS)
        return;
    snprintf(c->stun_names[i], sizeof c->stun_names[i], "%s", n->name);
    t[i].name = c->stun_names[i];
    t[i].ep = *ep;
    c->stun_region[i] = (int32_t)n->region_id;
    c->n_stun_targets++;
}

/* A node's STUN addresses: its IPv4 / IPv6 fields when they are addresses,
 * else its host name. */
static void node_targets(struct vole_conn *c, struct stun_probe_target *t, const struct derp_map_node *n)
{
    struct wg_endpoint ep;
    bool any = false;
    if (n->stun_port < 0)
        return;
    if (parse_literal(n->ipv4, &ep, n->stun_port) && ep.family == 4) {
        add_target(c, t, n, &ep);
        any = true;
    }
    if (parse_literal(n->ipv6, &ep, n->stun_port) && ep.family == 6) {
        add_target(c, t, n, &ep);
        any = true;
    }
    if (!any && (parse_literal(n->host_name, &ep, n->stun_port) || resolve_name(n->host_name, &ep, n->stun_port)))
        add_target(c, t, n, &ep);
}

/* ---- results ---- */

static bool ep_listed(const struct coord_endpoint *list, size_t n, const struct coord_endpoint *e)
{
    for (size_t i = 0; i < n; i++)
        if (list[i].family == e->family && list[i].port == e->port &&
            memcmp(list[i].ip, e->ip, e->family == 4 ? 4 : 16) == 0)
            return true;
    return false;
}

/* Field by field: the structs have padding. Order matters (it is priority). */
static bool same_endpoints(const struct coord_endpoint *a, size_t na, const struct coord_endpoint *b, size_t nb)
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++)
        if (a[i].family != b[i].family || a[i].port != b[i].port || memcmp(a[i].ip, b[i].ip, 16) != 0)
            return false;
    return true;
}

static void ep_add(struct coord_endpoint *list, size_t *n, int family, const void *ip, uint16_t port)
{
    struct coord_endpoint e;
    memset(&e, 0, sizeof e);
    e.family = (uint8_t)family;
    e.port = port;
    memcpy(e.ip, ip, family == 4 ? 4 : 16);
    if (*n < COORD_MAX_ENDPOINTS && port != 0 && !ep_listed(list, *n, &e))
        list[(*n)++] = e;
}

static bool skip_local(int family, const uint8_t *a, bool loopback_ok)
{
    if (family == 4)
        return (a[0] == 127 && !loopback_ok) || (a[0] == 169 && a[1] == 254);
    if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
        return true;   /* link-local */
    if (IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)a) || coord_v6_in_overlay(a))
        return true;
    return IN6_IS_ADDR_LOOPBACK((const struct in6_addr *)a) && !loopback_ok;
}

/* Interface addresses with our port; loopback only when there is nothing else. */
static void local_endpoints(struct coord_endpoint *list, size_t *n, uint16_t port)
{
    struct ifaddrs *ifa, *i;
    size_t before = *n;
    if (getifaddrs(&ifa) < 0)
        return;
    for (int pass = 0; pass < 2 && *n == before; pass++)
        for (i = ifa; i; i = i->ifa_next) {
            const uint8_t *a;
            int fam;
            if (!i->ifa_addr || !(i->ifa_flags & IFF_UP))
                continue;
            if (i->ifa_addr->sa_family == AF_INET) {
                fam = 4;
                a = (const uint8_t *)&((const struct sockaddr_in *)(const void *)i->ifa_addr)->sin_addr;
            } else if (i->ifa_addr->sa_family == AF_INET6) {
                fam = 6;
                a = ((const struct sockaddr_in6 *)(const void *)i->ifa_addr)->sin6_addr.s6_addr;
            } else {
                continue;
            }
            if (!skip_local(fam, a, pass == 1))
                ep_add(list, n, fam, a, port);
        }
    freeifaddrs(ifa);
}

/* Lowest latency per region with a relay; keep the old home unless the best
 * is clearly better (within 10 ms or not 1/3 faster: netcheck's stickiness). */
static int32_t choose_home(const struct vole_conn *c, const struct stun_report *rep)
{
    uint64_t best_lat = UINT64_MAX, old_lat = UINT64_MAX;
    int32_t best = 0;

    for (size_t i = 0; i < rep->n_servers && i < c->n_stun_targets; i++) {
        const struct stun_server_result *s = &rep->servers[i];
        const struct derp_map_region *r = derp_map_region(&c->map, c->stun_region[i]);
        if (!s->answered || !r || !conn_derp_region_has_relay(r))
            continue;
        if (s->latency_ns < best_lat) {
            best_lat = s->latency_ns;
            best = c->stun_region[i];
        }
        if (c->stun_region[i] == c->home && s->latency_ns < old_lat)
            old_lat = s->latency_ns;
    }
    if (best == 0)
        return c->home;   /* nothing answered: keep what we have */
    if (c->home != 0 && old_lat != UINT64_MAX &&
        (old_lat - best_lat < CONN_HOME_STICKY_NS || best_lat > old_lat / 3 * 2))
        return c->home;
    return best;
}

static int32_t default_home(const struct vole_conn *c)
{
    for (size_t i = 0; i < c->map.n_regions; i++)
        if (c->map.regions[i].embedded_relay && conn_derp_region_has_relay(&c->map.regions[i]))
            return (int32_t)c->map.regions[i].region_id;
    for (size_t i = 0; i < c->map.n_regions; i++)
        if (conn_derp_region_has_relay(&c->map.regions[i]))
            return (int32_t)c->map.regions[i].region_id;
    return 0;
}

static void apply(struct vole_conn *c, const struct stun_report *rep)
{
    struct coord_endpoint eps[COORD_MAX_ENDPOINTS];
    size_t n = 0;
    uint16_t port = vole_udp_local_port(c->udp);
    int32_t home = rep ? choose_home(c, rep) : c->home;
    bool changed;

    if (home == 0)
        home = default_home(c);
    if (rep && rep->global_v4.family == 4)
        ep_add(eps, &n, 4, rep->global_v4.addr, rep->global_v4.port);
    if (rep && rep->global_v6.family == 6)
        ep_add(eps, &n, 6, rep->global_v6.addr, rep->global_v6.port);
    if (!c->block_endpoints)
        local_endpoints(eps, &n, port);
    changed = home != c->home || !same_endpoints(eps, n, c->endpoints, c->n_endpoints);
    memcpy(c->endpoints, eps, n * sizeof eps[0]);
    c->n_endpoints = n;
    if (home != c->home) {
        conn_logf(c, true, "home derp region %d", (int)home);
        conn_derp_set_home(c, home);
    }
    if (changed)
        conn_self_changed(c);
}

/* ---- rounds ---- */

static void arm(struct vole_conn *c, double after)
{
    ev_timer_stop(c->loop, &c->stun_timer);
    ev_timer_set(&c->stun_timer, after > 0 ? after : 0., 0.);
    ev_timer_start(c->loop, &c->stun_timer);
}

static void schedule_next(struct vole_conn *c)
{
    arm(c, CONN_STUN_MIN + (double)randombytes_uniform(CONN_STUN_JITTER_MS) / 1000.0);
}

static void emit(void *ctx, const struct wg_endpoint *dst, const uint8_t *buf, size_t len)
{
    struct vole_conn *c = ctx;
    uint8_t *slot = vole_udp_tx_slot(c->udp, len);
    if (!slot)
        return;
    memcpy(slot, buf, len);
    vole_udp_tx_commit(c->udp, dst, len);
}

static void round_begin(struct vole_conn *c, uint64_t now)
{
    struct stun_probe_target t[STUN_PROBER_MAX_SERVERS];

    c->n_stun_targets = 0;
    if (c->block_endpoints) {
        apply(c, NULL);   /* DERP only: the default home, no endpoints, no rounds */
        return;
    }
    for (size_t r = 0; r < c->map.n_regions; r++)
        for (size_t i = 0; i < c->map.regions[r].n_nodes; i++)
            node_targets(c, t, &c->map.regions[r].nodes[i]);
    if (c->n_stun_targets == 0 || stun_prober_init(&c->prober, t, c->n_stun_targets, now) < 0) {
        apply(c, NULL);   /* no STUN: local addresses only, the default home */
        schedule_next(c);
        return;
    }
    /* The coordinator tells peers about a node only once it has a home
     * region: take the default one now rather than after a round that, with
     * UDP blocked, lasts its whole 3 s. The round's result may move it. */
    if (c->home == 0)
        apply(c, NULL);
    c->stun_running = true;
    stun_prober_poll(&c->prober, now, emit, c);
    arm(c, (double)(stun_prober_deadline(&c->prober) - now) / 1e9);
}

static void round_end(struct vole_conn *c)
{
    c->stun_running = false;
    c->st.stun_rounds++;
    c->netinfo = *stun_prober_report(&c->prober);
    c->have_netinfo = true;
    apply(c, &c->netinfo);
    schedule_next(c);
}

static void on_stun_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct vole_conn *c = w->data;
    uint64_t now = vole_now_ns();
    (void)loop;
    (void)revents;

    if (c->stun_running) {
        stun_prober_poll(&c->prober, now, emit, c);
        if (stun_prober_done(&c->prober, now)) {
            round_end(c);
            return;
        }
        uint64_t at = stun_prober_deadline(&c->prober);
        arm(c, at > now ? (double)(at - now) / 1e9 : 0.);
        return;
    }
    /* Idle: nobody to reach, so nothing to refresh (sessionActiveTimeout). */
    if (c->home != 0 && now - c->last_active > CONN_STUN_ACTIVE) {
        schedule_next(c);
        return;
    }
    round_begin(c, now);
}

void conn_stun_start(struct vole_conn *c)
{
    if (!c->stun_timer.data) {
        ev_timer_init(&c->stun_timer, on_stun_timer, 0., 0.);
        c->stun_timer.data = c;
    }
    c->stun_running = false;
    round_begin(c, vole_now_ns());
}

void conn_stun_stop(struct vole_conn *c)
{
    if (c->stun_timer.data)
        ev_timer_stop(c->loop, &c->stun_timer);
    c->stun_running = false;
}

bool conn_stun_input(struct vole_conn *c, const struct wg_endpoint *src, const uint8_t *buf, size_t len)
{
    uint64_t now = vole_now_ns();
    if (!c->stun_running || !stun_prober_handle(&c->prober, src, buf, len, now))
        return false;
    if (stun_prober_done(&c->prober, now))
        arm(c, 0.);   /* finish from the timer, not from inside the socket's callback */
    return true;
}
