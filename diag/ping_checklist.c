/* The checklist `vole ping` prints before pinging (Coder's PeerDiagnostics,
 * coder-behaviour.md §1.3), with "vole" where Coder says "Coder". */
#include "diag/duration.h"
#include "diag/ping_report.h"

#define NS_PER_S 1000000000LL
/* WireGuard re-handshakes every 2 minutes while in use; 5 minutes without
 * one means the session is idle or broken. */
#define HANDSHAKE_STALE_NS (5LL * 60 * NS_PER_S)

static void print_derp(FILE *f, const struct vole_ping_peer_diag *d)
{
    if (d->preferred_derp > 0)
        fprintf(f, "✔ preferred DERP region: %lld (%s)\n", d->preferred_derp,
                vole_ping_region_name(d->derp_map, d->preferred_derp));
    else
        fputs("✘ not connected to DERP\n", f);
}

static void print_sent(FILE *f, const struct vole_ping_peer_diag *d)
{
    if (d->sent_node)
        fputs("✔ sent local data to vole networking coordinator\n", f);
    else
        fputs("✘ have not sent local data to vole networking coordinator\n", f);
}

static void print_received(FILE *f, const struct vole_ping_peer_diag *d)
{
    if (!d->received_node) {
        fputs("✘ have not received remote agent data from vole networking coordinator\n", f);
        return;
    }
    fputs("✔ received remote agent data from vole networking coordinator\n", f);
    fprintf(f, "    preferred DERP region: %lld (%s)\n", d->peer_preferred_derp,
            vole_ping_region_name(d->derp_map, d->peer_preferred_derp));
    fputs("    endpoints: ", f);
    for (size_t i = 0; i < d->n_peer_endpoints; i++)
        fprintf(f, "%s%s", i ? ", " : "", d->peer_endpoints[i]);
    fputc('\n', f);
}

static void print_handshake(FILE *f, const struct vole_ping_peer_diag *d)
{
    char ago[VOLE_DURATION_STR_MAX];

    if (!d->have_handshake) {
        fputs("✘ Wireguard is not connected\n", f);
        return;
    }
    vole_duration_format(ago, vole_ping_round(d->handshake_age_ns, NS_PER_S));
    fprintf(f, "%s Wireguard handshake %s ago\n", d->handshake_age_ns > HANDSHAKE_STALE_NS ? "⚠" : "✔", ago);
}

/* vole's own line: Coder stays on DERP when full-size packets do not fit;
 * vole lowers the tunnel MTU for that peer and stays direct (issue #7), so
 * a small path MTU is a note, not an obstacle. */
static void print_path_mtu(FILE *f, const struct vole_ping_peer_diag *d)
{
    const char *probing = d->path_mtu_settled ? "" : " (still probing)";

    if (d->path_mtu_wire <= 0)
        return;
    if (d->inner_mtu >= VOLE_PING_TUNNEL_MTU)
        fprintf(f, "✔ direct path MTU %d: full-size tunnel packets fit (tunnel MTU %d)%s\n", d->path_mtu_wire,
                d->inner_mtu, probing);
    else
        fprintf(f, "⚠ direct path MTU %d (less than %d): tunnel MTU lowered to %d toward the agent%s\n",
                d->path_mtu_wire, VOLE_PING_SAFE_MTU, d->inner_mtu, probing);
}

void vole_ping_print_checklist(FILE *f, const struct vole_ping_peer_diag *d)
{
    print_derp(f, d);
    print_sent(f, d);
    print_received(f, d);
    print_handshake(f, d);
    print_path_mtu(f, d);
}
