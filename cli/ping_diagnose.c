/* What `vole ping NAME` prints around its pong lines (coder-behaviour.md
 * §1.2 steps 4-11 and 13-14): the facts are gathered here from the node
 * (tailnet/diag.h), this host's interfaces (diag/ifaces.h), the agent's
 * report and the AWS ranges file; the words come from diag/ping_report.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/ping_node.h"
#include "diag/agent_report.h"
#include "diag/aws_ranges.h"
#include "diag/ifaces.h"

/* Everything the checklist and the rules read; big, so on the heap. */
struct facts {
    struct vole_tailnet_peer_diag peer;
    const char *endpoint_ptrs[COORD_MAX_ENDPOINTS];
    struct vole_ping_peer_diag checklist;
    struct vole_tailnet_netinfo netinfo;
    struct vole_ifaces local_ifaces;
    struct vole_ping_side client, agent;
    struct vole_agent_report report;
    bool have_report;
    struct vole_aws_ranges aws;
    bool have_aws;
    struct vole_ping_diag diag;
};

static void gather_checklist(struct tping *p, struct facts *f)
{
    struct vole_ping_peer_diag *c = &f->checklist;

    vole_tailnet_peer_diag(p->t, p->a.agent, &f->peer);
    for (size_t i = 0; i < f->peer.n_peer_endpoints; i++)
        f->endpoint_ptrs[i] = f->peer.peer_endpoints[i];
    c->preferred_derp = f->peer.preferred_derp;
    c->derp_map = vole_tailnet_derp_map(p->t);
    c->sent_node = f->peer.sent_node;
    c->received_node = f->peer.received_node;
    c->peer_preferred_derp = f->peer.peer_preferred_derp;
    c->peer_endpoints = f->endpoint_ptrs;
    c->n_peer_endpoints = f->peer.n_peer_endpoints;
    c->have_handshake = f->peer.have_handshake;
    c->handshake_age_ns = (int64_t)f->peer.handshake_age_ns;
    c->path_mtu_wire = f->peer.path_mtu_wire;
    c->inner_mtu = f->peer.inner_mtu;
    c->path_mtu_settled = f->peer.path_mtu_settled;
}

/* The local half: interfaces (Coder prints a failure and goes on), NetInfo
 * (nil until the first STUN round), and our disco counts toward the agent. */
static void gather_client(struct tping *p, struct facts *f)
{
    char err[256];

    if (vole_ifaces_read(&f->local_ifaces, err, sizeof err) == 0)
        vole_ifaces_side(&f->local_ifaces, &f->client);
    else
        fprintf(stderr, "Failed to retrieve local interfaces report: %s\n", err);
    if (vole_tailnet_netinfo(p->t, &f->netinfo))
        f->client.netinfo = &f->netinfo.ni;
}

/* The agent's half, from its report over the tunnel, in Coder's words for
 * an agent that cannot give one. */
static void gather_agent(struct tping *p, struct facts *f)
{
    char err[256];

    if (p->report_status == 404) {
        fprintf(stderr, "Could not generate full connection report as the agent is outdated\n");
        return;
    }
    if (p->report_status != 200) {
        if (p->report_status)
            snprintf(err, sizeof err, "HTTP %d", p->report_status);
        fprintf(stderr, "Failed to retrieve connection report from agent: %s\n",
                p->report_status ? err : (*p->report_err ? p->report_err : "no answer"));
        return;
    }
    if (vole_agent_report_parse(p->report_body, p->report_len, &f->report, err, sizeof err) < 0) {
        fprintf(stderr, "Failed to retrieve connection report from agent: %s\n", err);
        return;
    }
    f->have_report = true;
    vole_agent_report_side(&f->report, &f->agent);
    /* A new client has no disco history with the agent yet: the firewall
     * check waits for the end (tping_print_firewall). */
    f->agent.have_disco_counts = false;
}

static void gather_aws(struct tping *p, struct facts *f)
{
    char err[512];

    if (!p->a.aws_path || !*p->a.aws_path)
        return;
    if (vole_aws_ranges_load(p->a.aws_path, &f->aws, err, sizeof err) < 0) {
        /* Coder logs a failed download at debug level and goes on; a file
         * the user named deserves a line. */
        fprintf(stderr, "vole ping: --aws-ip-ranges: %s (AWS checks skipped)\n", err);
        return;
    }
    f->have_aws = true;
}

void tping_print_diagnostics(struct tping *p)
{
    struct facts *f = calloc(1, sizeof *f);
    struct vole_ping_issues issues = { 0 };

    if (!f) {
        fprintf(stderr, "vole ping: out of memory for the diagnostics\n");
        return;
    }
    gather_checklist(p, f);
    gather_client(p, f);
    gather_agent(p, f);
    gather_aws(p, f);
    f->diag = (struct vole_ping_diag){
        .ping_p2p = p->ping_p2p,
        .verbose = p->a.cfg.verbose,
        .disable_direct = p->a.cfg.disable_direct,
        .server_blocks_direct = vole_tailnet_server_blocks_direct(p->t),
        .derp_map = vole_tailnet_derp_map(p->t),
        .client = &f->client,
        .agent = f->have_report ? &f->agent : NULL,
        .aws = f->have_aws ? &f->aws : NULL,
    };
    vole_ping_print_checklist(stderr, &f->checklist);
    if (vole_ping_diagnose(&f->diag, &issues) == 0)
        vole_ping_print_issues(stderr, &issues);
    else
        fprintf(stderr, "vole ping: out of memory for the diagnostics\n");
    fflush(stderr);
    vole_ping_issues_free(&issues);
    vole_aws_ranges_free(&f->aws);
    free(f);
}

/* ---- the end ---------------------------------------------------------------------- */

/* The endpoint-firewall check needs disco history (at least
 * VOLE_PING_FIREWALL_MIN_PINGS pings), which a new client only has after
 * its pings: vole prints it after the pong lines, before the verdict, from
 * this client's counts and, when the agent's second report came, the
 * agent's. Only the firewall rule can fire: every other fact is left out. */
static void print_firewall(struct tping *p)
{
    struct vole_tailnet_peer_diag *peer = calloc(1, sizeof *peer);
    struct vole_agent_report *report = calloc(1, sizeof *report);
    struct vole_ping_side client = { 0 }, agent = { 0 };
    struct vole_ping_issues issues = { 0 };
    struct vole_ping_diag d = { .verbose = true, .client = &client };
    char err[256];

    if (!peer || !report || (p->have_last && p->last.pong.direct && !p->a.cfg.verbose))
        goto out;
    vole_tailnet_peer_diag(p->t, p->a.agent, peer);
    client.have_disco_counts = true;
    client.disco = peer->disco;
    if (p->report_status == 200 &&
        vole_agent_report_parse(p->report_body, p->report_len, report, err, sizeof err) == 0 && report->have_disco) {
        agent.have_disco_counts = true;
        agent.disco = report->disco;
        d.agent = &agent;
    }
    if (vole_ping_diagnose(&d, &issues) == 0 && issues.n_client + issues.n_agent + issues.n_general)
        vole_ping_print_issues(stderr, &issues);
    vole_ping_issues_free(&issues);
out:
    free(peer);
    free(report);
}

/* ---- the verdict ----------------------------------------------------------------------- */

static void print_json(struct tping *p)
{
    struct vole_ping_json_pong *v = calloc(p->n_recs ? p->n_recs : 1, sizeof *v);
    char *doc;

    if (!v) {
        fprintf(stderr, "vole ping: out of memory for the JSON document\n");
        return;
    }
    for (size_t i = 0; i < p->n_recs; i++) {
        v[i].sequence = (long)i + 1;
        v[i].unix_ns = p->recs[i].unix_ns;
        v[i].error = p->recs[i].ok ? NULL : p->recs[i].error;
        v[i].pong = p->recs[i].pong;
        if (p->recs[i].pong.direct)
            v[i].pong.endpoint = p->recs[i].ep;
    }
    doc = vole_ping_json(p->a.agent, v, p->n_recs, &p->sum, vole_tailnet_derp_map(p->t));
    if (doc)
        fputs(doc, stdout);
    else
        fprintf(stderr, "vole ping: out of memory for the JSON document\n");
    free(doc);
    free(v);
}

void tping_print_end(struct tping *p)
{
    print_firewall(p);
    vole_ping_print_verdict(stderr, p->have_last ? &p->last.pong : NULL, NULL);
    if (p->a.json)
        print_json(p);
    else
        vole_ping_print_summary(stdout, &p->sum);
    fflush(stdout);
}
