/* `vole netcheck`'s run end to end, on loopback: against the in-process
 * vole server (its DERP map fetched over HTTP with a token, the exchange's
 * keys registered with its coordinator, its STUN listener), and against a
 * map whose relay refuses connections and whose STUN port is dead. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <ev.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag/ifaces.h"
#include "diag/netcheck_coder.h"
#include "diag/netcheck_http.h"
#include "diag/netcheck_run.h"
#include "node/tunnel.h"
#include "test/unit/evloop.h"
#include "test/unit/tailnet_fixture.h"

/* A loopback port of type type, bound (so no one else takes it) and
 * returned with its socket: TCP without listen() refuses connections; UDP
 * that nobody reads never answers. */
static int bound_port(int type, int *fd)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof sa;
    *fd = socket(AF_INET, type, 0);
    assert_true(*fd >= 0);
    assert_int_equal(bind(*fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(getsockname(*fd, (struct sockaddr *)&sa, &len), 0);
    return ntohs(sa.sin_port);
}

struct fetch {
    bool done;
    int status;
    char *body;
};

static void on_fetch(void *ctx, const struct vole_nc_http_result *r)
{
    struct fetch *f = ctx;
    f->done = true;
    f->status = r->error ? -1 : r->status;
    f->body = strdup(r->body);
}

static bool fetch_done(void *arg)
{
    return ((struct fetch *)arg)->done;
}

/* GET url+path with the token; the status, the body in *body. */
static int get(struct ev_loop *loop, const char *url, const char *token, char **body)
{
    char full[256], header[128], err[256];
    struct fetch f = {0};
    snprintf(full, sizeof full, "%s/api/v2/derp-map", url);
    snprintf(header, sizeof header, "Authorization: Bearer %s", token);
    struct vole_nc_http_config hc = { .url = full, .header = header, .timeout = 5 };
    struct vole_nc_http *h = vole_nc_http_get(loop, &hc, on_fetch, &f, err, sizeof err);
    assert_non_null(h);
    assert_true(run_until(loop, fetch_done, &f, 6));
    vole_nc_http_free(h);
    *body = f.body;
    return f.status;
}

static void on_done(void *ctx, struct vole_netcheck_run *r)
{
    *(bool *)ctx = true;
}

static bool is_true(void *arg)
{
    return *(bool *)arg;
}

/* The -v lines of a run, kept to look for some. */
struct log_lines {
    char text[16384];
    size_t len;
};

static void log_line(void *ctx, const char *msg)
{
    struct log_lines *l = ctx;
    int n = snprintf(l->text + l->len, sizeof l->text - l->len, "%s\n", msg);
    if (n > 0 && (size_t)n < sizeof l->text - l->len)
        l->len += (size_t)n;
}

static bool log_has(const struct log_lines *l, const char *s)
{
    if (!strstr(l->text, s))
        fprintf(stderr, "not logged: %s\nlog:\n%s", s, l->text);
    return strstr(l->text, s) != NULL;
}

static void test_against_vole_server(void **state)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct tn_server s;
    struct derp_map map;
    char err[256], *body = NULL;
    bool done = false;

    (void)state;
    tn_server_start(&s, loop, "/tmp/vole-netcheck-XXXXXX");
    assert_int_equal(get(loop, s.url, "not-a-token", &body), 401);
    free(body);
    assert_int_equal(get(loop, s.url, TN_CLIENT_TOKEN, &body), 200);
    assert_int_equal(derp_map_parse(body, strlen(body), &map, err, sizeof err), 0);
    free(body);

    struct log_lines lines = {0};
    struct vole_netcheck_run_config cfg = { .map = &map, .url = s.url, .token = TN_CLIENT_TOKEN,
                                            .log = log_line, .log_ctx = &lines };
    struct vole_netcheck_run *r = vole_netcheck_run_start(loop, &cfg, on_done, &done, err, sizeof err);
    assert_non_null(r);
    assert_true(run_until(loop, is_true, &done, 15));
    const struct vole_derp_health *h = vole_netcheck_run_report(r);

    assert_true(h->stun->udp);
    assert_int_equal(h->preferred_derp, 999);
    assert_int_equal(h->n_regions, 1);
    const struct vole_derp_region_health *reg = &h->regions[0];
    assert_true(reg->healthy);
    assert_true(reg->have_latency);
    assert_true(reg->latency_ns > 0);
    assert_string_equal(reg->nodes[0].node->name, "999b");
    assert_true(reg->nodes[0].can_exchange_messages);
    assert_true(reg->nodes[0].round_trip_ns > 0);
    assert_string_equal(reg->nodes[1].node->name, "999stun0");
    assert_true(reg->nodes[1].can_stun);
    assert_int_equal(h->severity, VOLE_HEALTH_OK);
    /* The path MTU phase: loopback carries the largest size probed, and the
     * STUN server answered the padded requests (IPv4: up to 1472 bytes). */
    assert_int_equal(reg->nodes[1].path_mtu, 1500);
    assert_int_equal(h->stun->n_servers, 1);
    assert_int_equal(h->stun->servers[0].path_mtu, 1500);
    assert_true(log_has(&lines, "path MTU probe to 999stun0: 1500 bytes (1472 of STUN)"));
    assert_true(log_has(&lines, "path MTU probe to 999stun0: 1500 bytes: answered"));
    char *table = NULL;
    size_t table_len = 0;
    FILE *out = open_memstream(&table, &table_len);
    assert_non_null(out);
    vole_netcheck_coder_print(out, h, NULL);
    fclose(out);
    assert_non_null(strstr(table, "; STUN: ok, path MTU 1500\n"));
    assert_non_null(strstr(table, ", path MTU 1500\n"));
    free(table);

    /* The document, with this host's interfaces: lo is among them. */
    struct vole_ifaces *x = calloc(1, sizeof *x);
    assert_non_null(x);
    assert_int_equal(vole_ifaces_read(x, err, sizeof err), 0);
    json_t *ifaces = vole_ifaces_report_json(x);
    char *text = vole_netcheck_coder_json_text(h, ifaces);
    assert_non_null(text);
    assert_non_null(strstr(text, "\"name\": \"lo\""));
    assert_non_null(strstr(text, "\"can_exchange_messages\": true"));
    assert_non_null(strstr(text, "\"PreferredDERP\": 999"));
    assert_non_null(strstr(text, "\"PathMTU\": 1500"));
    free(text);
    json_decref(ifaces);
    free(x);

    vole_netcheck_run_free(r);
    derp_map_free(&map);
    /* The exchange's coordinator sessions ended with it. */
    run_for(loop, 0.2);
    assert_int_equal(vole_server_sessions(s.server), 0);
    tn_server_stop(&s);
    ev_loop_destroy(loop);
}

/* A relay on a port nobody listens on, STUN to a port that never answers. */
static void test_dead_relay_and_stun(void **state)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    int tcp_fd, udp_fd, tcp = bound_port(SOCK_STREAM, &tcp_fd), udp = bound_port(SOCK_DGRAM, &udp_fd);
    char json[512], err[256];
    struct derp_map map;
    bool done = false;

    (void)state;
    snprintf(json, sizeof json,
             "{\"Regions\":{\"7\":{\"RegionID\":7,\"RegionCode\":\"dead\",\"RegionName\":\"Dead\",\"Nodes\":["
             "{\"Name\":\"7a\",\"RegionID\":7,\"HostName\":\"127.0.0.1\",\"DERPPort\":%d,\"ForceHTTP\":true,"
             "\"STUNPort\":%d}]}}}",
             tcp, udp);
    assert_int_equal(derp_map_parse(json, strlen(json), &map, err, sizeof err), 0);
    struct vole_netcheck_run_config cfg = { .map = &map, .node_timeout = 2, .total_timeout = 5 };
    uint64_t t0 = vole_now_ns();
    struct vole_netcheck_run *r = vole_netcheck_run_start(loop, &cfg, on_done, &done, err, sizeof err);
    assert_non_null(r);
    assert_true(run_until(loop, is_true, &done, 8));
    assert_true(vole_now_ns() - t0 < 4500000000ull);   /* the node's 2 s and STUN's 3 s, not the 5 s cap */
    const struct vole_derp_health *h = vole_netcheck_run_report(r);
    const struct vole_derp_node_health *n = &h->regions[0].nodes[0];

    assert_false(h->stun->udp);
    assert_false(h->regions[0].healthy);
    assert_int_equal(h->regions[0].severity, VOLE_HEALTH_ERROR);
    assert_false(n->can_exchange_messages);
    assert_true(n->clients[0].n_errs > 0);
    assert_non_null(strstr(n->clients[0].errs[0], "refused"));
    assert_non_null(strstr(n->error, "cannot exchange messages"));
    assert_false(n->have_latency);
    assert_non_null(strstr(n->latency_error, "refused"));
    assert_false(n->can_stun);
    assert_non_null(strstr(n->stun_error, "timed out"));
    assert_int_equal(h->preferred_derp, 0);
    assert_string_equal(h->warnings.w[0].code, "ESTUN01");
    vole_netcheck_run_free(r);
    derp_map_free(&map);
    close(tcp_fd);
    close(udp_fd);
    ev_loop_destroy(loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_vole_server),
        cmocka_unit_test(test_dead_relay_and_stun),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
