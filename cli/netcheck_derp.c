/* `vole netcheck` without --stun, as `coder netcheck` (coder-behaviour.md
 * §3): the DERP map (the server's, or --derp-map FILE), the run
 * (diag/netcheck_run.h), this host's interfaces (diag/ifaces.h), and the
 * report as Coder's JSON or as a table (diag/netcheck_coder.h). */
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/common.h"
#include "cli/netcheck_int.h"
#include "derp/derpmap.h"
#include "diag/ifaces.h"
#include "diag/netcheck_coder.h"
#include "diag/netcheck_http.h"
#include "diag/netcheck_run.h"
#include "node/tunnel.h"

#define MAP_PATH "/api/v2/derp-map"
#define MAP_TIMEOUT 10.0   /* of the overall 30 s */

struct nc_cli {
    struct ev_loop *loop;
    const struct netcheck_args *a;
    const char *url, *token;
    struct derp_map map;
    bool fetched;
    int fetch_rc;
};

static void log_line(void *ctx, const char *msg)
{
    fprintf(stderr, "vole netcheck: %s\n", msg);
}

/* ---- the DERP map ---- */

static void on_map(void *ctx, const struct vole_nc_http_result *res)
{
    struct nc_cli *c = ctx;
    char err[256];

    c->fetched = true;
    c->fetch_rc = 1;
    ev_break(c->loop, EVBREAK_ALL);
    if (res->error) {
        fprintf(stderr, "vole netcheck: GET %s%s: %s\n", c->url, MAP_PATH, res->error);
    } else if (res->status != 200) {
        /* The server's one-line reason, e.g. "invalid token". */
        fprintf(stderr, "vole netcheck: GET %s%s: HTTP %d: %.*s\n", c->url, MAP_PATH, res->status,
                (int)strcspn(res->body, "\r\n"), res->body);
    } else if (derp_map_parse(res->body, res->body_len, &c->map, err, sizeof err) < 0) {
        fprintf(stderr, "vole netcheck: the server's DERP map: %s\n", err);
    } else {
        c->fetch_rc = 0;
    }
}

static int fetch_map(struct nc_cli *c)
{
    char url[2048], header[2200], err[256];
    size_t len = strlen(c->url);
    struct vole_nc_http *h;

    while (len > 0 && c->url[len - 1] == '/')
        len--;
    snprintf(url, sizeof url, "%.*s%s", (int)len, c->url, MAP_PATH);
    snprintf(header, sizeof header, "Authorization: Bearer %s", c->token);
    struct vole_nc_http_config hc = { .url = url, .header = header, .ca_file = c->a->ca_file,
                                      .insecure = c->a->insecure, .timeout = MAP_TIMEOUT };
    h = vole_nc_http_get(c->loop, &hc, on_map, c, err, sizeof err);
    if (!h) {
        fprintf(stderr, "vole netcheck: --url %s: %s\n", c->url, err);
        return 2;
    }
    if (c->a->verbose)
        fprintf(stderr, "vole netcheck: fetching the DERP map from %s\n", url);
    ev_run(c->loop, 0);
    vole_nc_http_free(h);
    if (!c->fetched)   /* a signal */
        return 1;
    return c->fetch_rc;
}

static int load_map(struct nc_cli *c)
{
    char err[512];

    if (c->a->derp_map_file) {
        if (derp_map_load(c->a->derp_map_file, &c->map, err, sizeof err) < 0) {
            fprintf(stderr, "vole netcheck: --derp-map %s: %s\n", c->a->derp_map_file, err);
            return 1;
        }
        return 0;
    }
    if (!c->url || !c->url[0]) {
        fprintf(stderr, "vole netcheck: --url URL (or VOLE_URL) is required without --derp-map\n");
        return 2;
    }
    if (!c->token || !c->token[0]) {
        fprintf(stderr, "vole netcheck: --token TOKEN (or VOLE_TOKEN) is required to fetch the DERP map\n");
        return 2;
    }
    return fetch_map(c);
}

/* ---- interfaces ---- */

/* healthsdk.InterfacesReport, or NULL (said on stderr) when unreadable. */
static json_t *interfaces_report(void)
{
    struct vole_ifaces *x = calloc(1, sizeof *x);
    char err[256];
    json_t *j = NULL;

    if (!x)
        return NULL;
    if (vole_ifaces_read(x, err, sizeof err) < 0)
        fprintf(stderr, "vole netcheck: interfaces: %s\n", err);
    else
        j = vole_ifaces_report_json(x);
    free(x);
    return j;
}

/* ---- the run ---- */

static void on_done(void *ctx, struct vole_netcheck_run *r)
{
    ev_break(ctx, EVBREAK_ALL);
}

static int print_report(const struct nc_cli *c, const struct vole_derp_health *h)
{
    json_t *ifaces = interfaces_report();
    int rc = 0;

    if (c->a->json) {
        char *text = vole_netcheck_coder_json_text(h, ifaces);
        if (text)
            printf("%s\n", text);
        else {
            fprintf(stderr, "vole netcheck: out of memory\n");
            rc = 1;
        }
        free(text);
    } else {
        vole_netcheck_coder_print(stdout, h, ifaces);
    }
    json_decref(ifaces);
    return rc;
}

static int run(struct nc_cli *c, double budget)
{
    struct vole_netcheck_run_config rc = {
        .map = &c->map, .url = c->url, .token = c->token, .ca_file = c->a->ca_file, .insecure = c->a->insecure,
        .total_timeout = budget, .log = c->a->verbose ? log_line : NULL,
    };
    struct vole_netcheck_run *r;
    char err[256];
    int status;

    r = vole_netcheck_run_start(c->loop, &rc, on_done, c->loop, err, sizeof err);
    if (!r) {
        fprintf(stderr, "vole netcheck: %s\n", err);
        return 1;
    }
    ev_run(c->loop, 0);
    status = vole_netcheck_run_done(r) ? print_report(c, vole_netcheck_run_report(r)) : 1;
    vole_netcheck_run_free(r);
    return status;
}

int netcheck_derp(const struct netcheck_args *a)
{
    struct nc_cli c = { .a = a, .loop = ev_default_loop(EVFLAG_AUTO) };
    uint64_t start = vole_now_ns();
    double budget;
    int rc;

    c.url = a->url ? a->url : getenv("VOLE_URL");
    c.token = a->token ? a->token : getenv("VOLE_TOKEN");
    cli_stop_on_signals(c.loop);
    rc = load_map(&c);
    if (rc == 0 && !cli_signalled()) {
        fputs("Gathering a network report. This may take a few seconds...\n\n", stderr);
        budget = VOLE_NETCHECK_TOTAL_TIMEOUT - (double)(vole_now_ns() - start) / 1e9;
        rc = run(&c, budget > 1. ? budget : 1.);
    }
    derp_map_free(&c.map);
    return cli_signalled() ? 1 : rc;
}
