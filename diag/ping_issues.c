/* Why a connection may not be direct: Coder's ConnDiags rules in Coder's
 * order (coder-behaviour.md §1.3, splitDiagnostics), then vole's own VPN and
 * endpoint-firewall checks, which Coder only documents. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "diag/ifaces.h"
#include "diag/ping_report.h"

struct list {
    char ***v;
    size_t *n;
    bool *oom;
};

static void add(struct list l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(struct list l, const char *fmt, ...)
{
    char *s = NULL, **grown;
    va_list ap;

    if (*l.oom)
        return;
    va_start(ap, fmt);
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    grown = n < 0 ? NULL : realloc(*l.v, (*l.n + 1) * sizeof *grown);
    if (!grown) {
        if (n >= 0)
            free(s);
        *l.oom = true;
        return;
    }
    grown[(*l.n)++] = s;
    *l.v = grown;
}

/* Appends "\n<url>#low-mtu" to the last message, as Coder does. */
static void link_last(struct list l, const char *url)
{
    char *s = NULL;

    if (*l.oom || *l.n == 0)
        return;
    if (asprintf(&s, "%s\n%s#low-mtu", (*l.v)[*l.n - 1], url) < 0) {
        *l.oom = true;
        return;
    }
    free((*l.v)[*l.n - 1]);
    (*l.v)[*l.n - 1] = s;
}

/* ---- interfaces --------------------------------------------------------- */

static bool link_local_multicast(const struct vole_ping_ifaddr *a)
{
    if (a->family == 4)
        return a->addr[0] == 224 && a->addr[1] == 0 && a->addr[2] == 0;
    return a->addr[0] == 0xff && (a->addr[1] & 0x0f) == 0x02;
}

bool vole_ping_iface_counts(const struct vole_ping_iface *i)
{
    if (!i->up)
        return false;
    for (size_t k = 0; k < i->n_addrs; k++) {
        const struct vole_ping_ifaddr *a = &i->addrs[k];
        if (!vole_ip_is_link_local(a->family, a->addr) && !link_local_multicast(a))
            return true;
    }
    return false;
}

bool vole_ping_iface_mtu_low(const struct vole_ping_iface *i)
{
    return vole_ping_iface_counts(i) && i->mtu > 0 && i->mtu < VOLE_PING_SAFE_MTU;
}

/* The words are vole_ifaces_mtu_message's; the buffer fits any name. */
static void mtu_warning(struct list l, const struct vole_ping_iface *it)
{
    size_t len = (it->name ? strlen(it->name) : 0) + 160;
    char *msg = malloc(len);

    if (!msg) {
        *l.oom = true;
        return;
    }
    vole_ifaces_mtu_message(msg, len, it->name, it->mtu);
    add(l, "%s", msg);
    free(msg);
}

static void mtu_warnings(struct list l, const struct vole_ping_side *s, const char *url)
{
    if (!s || !s->have_ifaces)
        return;
    size_t before = *l.n;
    for (size_t i = 0; i < s->n_ifaces; i++)
        if (vole_ping_iface_mtu_low(&s->ifaces[i]))
            mtu_warning(l, &s->ifaces[i]);
    if (*l.n > before)
        link_last(l, url);
}

/* Names VPN clients give their interfaces: kernel tun/tap, WireGuard,
 * PPP, macOS utun, IPsec, and a few vendors' (Cisco, Palo Alto, NordVPN,
 * ZeroTier, Tailscale). */
bool vole_ping_is_vpn_iface(const char *name)
{
    static const char *const prefixes[] = {
        "tun", "tap", "wg", "ppp", "utun", "ipsec", "cscotun", "gpd", "nordlynx", "zt", "tailscale",
    };
    if (!name)
        return false;
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        if (strncmp(name, prefixes[i], strlen(prefixes[i])) == 0)
            return true;
    return false;
}

/* ---- the rules ------------------------------------------------------------- */

struct lists {
    struct list general, client, agent;
    const char *url;
};

static bool derp_map_has_stun(const struct derp_map *m)
{
    for (size_t r = 0; r < m->n_regions; r++)
        for (size_t n = 0; n < m->regions[r].n_nodes; n++)
            if (m->regions[r].nodes[n].stun_port >= 0)
                return true;
    return false;
}

static bool side_is_aws(const struct vole_aws_ranges *aws, const struct vole_ping_side *s)
{
    const struct vole_ping_netinfo *ni = s ? s->netinfo : NULL;
    if (!aws || !ni)
        return false;
    return (ni->global_v4 && *ni->global_v4 && vole_aws_ranges_contains(aws, ni->global_v4)) ||
           (ni->global_v6 && *ni->global_v6 && vole_aws_ranges_contains(aws, ni->global_v6));
}

/* 1-3 of Coder's rules: the local switch and the server's; true: stop. */
static bool policy(struct lists *L, const struct vole_ping_diag *d)
{
    if (d->disable_direct) {
        add(L->general, "❗ Direct connections are disabled locally, by `--disable-direct-connections` or "
                        "`VOLE_DISABLE_DIRECT_CONNECTIONS`.\n   They may still be established over a private network.");
        if (!d->verbose)
            return true;
    }
    if (d->server_blocks_direct) {
        add(L->general, "❗ Your vole administrator has blocked direct connections\n   %s#disabled-deployment-wide", L->url);
        if (!d->verbose)
            return true;
    }
    return false;
}

/* A NULL map is unknown, not empty: the STUN rule is skipped then. */
static void stun_and_nat(struct lists *L, const struct vole_ping_diag *d)
{
    const struct vole_ping_netinfo *local = d->client ? d->client->netinfo : NULL;
    const struct vole_ping_netinfo *remote = d->agent ? d->agent->netinfo : NULL;

    if (d->derp_map && !derp_map_has_stun(d->derp_map))
        add(L->general, "❗ The DERP map is not configured to use STUN\n   %s#no-stun-servers", L->url);
    else if (local && !local->udp)
        add(L->client, "Client could not connect to STUN over UDP\n   %s#udp-blocked", L->url);
    /* Two spaces before this link: Coder's typo, kept byte for byte. */
    if (local && local->mapping_varies == VOLE_PING_YES)
        add(L->client, "Client is potentially behind a hard NAT, as multiple endpoints were retrieved "
                       "from different STUN servers\n  %s#endpoint-dependent-nat-hard-nat", L->url);
    if (remote && remote->mapping_varies == VOLE_PING_YES)
        add(L->agent, "Agent is potentially behind a hard NAT, as multiple endpoints were retrieved "
                      "from different STUN servers\n   %s#endpoint-dependent-nat-hard-nat", L->url);
    if (remote && !remote->udp)
        add(L->agent, "Agent could not connect to STUN over UDP\n   %s#udp-blocked", L->url);
    if (side_is_aws(d->aws, d->client))
        add(L->client, "Client IP address is within an AWS range (AWS uses hard NAT)\n   %s#endpoint-dependent-nat-hard-nat", L->url);
    if (side_is_aws(d->aws, d->agent))
        add(L->agent, "Agent IP address is within an AWS range (AWS uses hard NAT)\n   %s#endpoint-dependent-nat-hard-nat", L->url);
}

static void vpn(struct list l, const struct vole_ping_side *s, const char *who, const char *url)
{
    if (s && vole_ping_is_vpn_iface(s->default_route_iface))
        add(l, "%s default route goes through %s, which looks like a VPN; the VPN may block or "
               "reroute direct connections\n   %s#vpn-default-route", who, s->default_route_iface, url);
}

/* From one side's counts: is the other side's firewall (*other) or this
 * side's own (*own) dropping unsolicited UDP? */
static void firewall_evidence(const struct vole_ping_side *s, bool *own, bool *other)
{
    const struct vole_ping_disco_counts *c = &s->disco;
    if (!s->have_disco_counts || c->pings_sent < VOLE_PING_FIREWALL_MIN_PINGS)
        return;
    if (c->pongs_received == 0 && c->peer_pings_received > 0)
        *other = true;
    if (c->pongs_received > 0 && c->peer_pings_received == 0)
        *own = true;
}

static void firewall(struct lists *L, const struct vole_ping_diag *d)
{
    bool client_fw = false, agent_fw = false;

    if (d->client)
        firewall_evidence(d->client, &client_fw, &agent_fw);
    if (d->agent)
        firewall_evidence(d->agent, &agent_fw, &client_fw);
    if (client_fw)
        add(L->client, "Client firewall may be blocking incoming UDP, as the agent's pings to the client's "
                       "endpoints go unanswered while the client's pings reach the agent\n   %s#endpoint-firewall", L->url);
    if (agent_fw)
        add(L->agent, "Agent firewall may be blocking incoming UDP, as the client's pings to the agent's "
                      "endpoints go unanswered while the agent's pings reach the client\n   %s#endpoint-firewall", L->url);
}

int vole_ping_diagnose(const struct vole_ping_diag *d, struct vole_ping_issues *out)
{
    bool oom = false;
    struct lists L = {
        .general = { &out->general, &out->n_general, &oom },
        .client = { &out->client, &out->n_client, &oom },
        .agent = { &out->agent, &out->n_agent, &oom },
        .url = d->troubleshooting_url ? d->troubleshooting_url : VOLE_TROUBLESHOOTING_URL,
    };

    memset(out, 0, sizeof *out);
    mtu_warnings(L.agent, d->agent, L.url);
    mtu_warnings(L.client, d->client, L.url);
    if ((d->ping_p2p && !d->verbose) || policy(&L, d))
        goto done;
    stun_and_nat(&L, d);
    vpn(L.client, d->client, "Client", L.url);
    vpn(L.agent, d->agent, "Agent", L.url);
    firewall(&L, d);
done:
    if (oom) {
        vole_ping_issues_free(out);
        return -1;
    }
    return 0;
}

static void free_list(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void vole_ping_issues_free(struct vole_ping_issues *x)
{
    free_list(x->general, x->n_general);
    free_list(x->client, x->n_client);
    free_list(x->agent, x->n_agent);
    memset(x, 0, sizeof *x);
}

void vole_ping_print_issues(FILE *f, const struct vole_ping_issues *x)
{
    fputc('\n', f);
    for (size_t i = 0; i < x->n_general; i++)
        fprintf(f, "%s\n", x->general[i]);
    if (x->n_general)
        fputc('\n', f);
    if (x->n_client)
        fputs("Possible client-side issues with direct connection:\n\n", f);
    for (size_t i = 0; i < x->n_client; i++)
        fprintf(f, " - %s\n\n", x->client[i]);
    if (x->n_agent)
        fputs("Possible agent-side issues with direct connections:\n\n", f);
    for (size_t i = 0; i < x->n_agent; i++)
        fprintf(f, " - %s\n\n", x->agent[i]);
}
