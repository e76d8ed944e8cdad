/* `vole server` (server/server.h): the tokens, the state directory, the DERP
 * server with the /api/ hook and admission, the STUN listeners, the DERP map
 * built from what was actually bound, and the coordinator. */
#include "server/server_int.h"
#include "io/logf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "derp/derpmap.h"
#include "derp/server.h"

#define KEY_FILE_NAME "derp.key"

void srv_log(struct vole_server *s, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vole_vlogf(s->log, s->log_ctx, fmt, ap);
    va_end(ap);
}

/* DERP admits a key only while a coordinator session has registered it. */
static bool admit(void *ctx, const uint8_t client_pub[DERP_KEY_LEN], const char *source)
{
    struct vole_server *s = ctx;
    return s->co && coord_key_registered(s->co, client_pub);
}

/* The directory, created 0700 when missing; the key file's path in it. */
static int state_dir(const char *dir, char *key_path, size_t cap, char *err, size_t errlen)
{
    struct stat st;

    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "state directory %s: %s", dir, strerror(errno));
        return -1;
    }
    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "state directory %s: not a directory", dir);
        return -1;
    }
    if ((size_t)snprintf(key_path, cap, "%s/%s", dir, KEY_FILE_NAME) >= cap) {
        snprintf(err, errlen, "state directory %s: path too long", dir);
        return -1;
    }
    return 0;
}

static int start_derp(struct vole_server *s, const struct vole_server_config *cfg, char *err, size_t errlen)
{
    char key_path[4096];
    struct vole_derp_server_config dc = {
        .listen = cfg->listen, .tls_cert = cfg->tls_cert, .tls_key = cfg->tls_key, .admit = admit, .admit_ctx = s,
        .log = cfg->log, .log_ctx = cfg->log_ctx, .api = srv_api, .api_ctx = s,
    };
    const char *why = srv_addr_parse(cfg->listen, &s->listen);

    if (why) {
        snprintf(err, errlen, "--listen %s: %s", cfg->listen, why);
        return -1;
    }
    if (cfg->state_dir) {
        if (state_dir(cfg->state_dir, key_path, sizeof key_path, err, errlen) < 0)
            return -1;
        dc.key_file = key_path;
    }
    s->derp = vole_derp_server_new(s->loop, &dc, err, errlen);
    if (!s->derp)
        return -1;
    srv_addr_format(&s->listen, vole_derp_server_port(s->derp), s->listen_text);
    return 0;
}

/* Default STUN: the --listen host, UDP 3478. */
static int start_stun(struct vole_server *s, const struct vole_server_config *cfg, char *err, size_t errlen)
{
    char def[SRV_ADDR_TEXT];
    const char *one = def;

    if (cfg->no_stun)
        return 0;
    if (cfg->n_stun_listen)
        return srv_stun_open(s, cfg->stun_listen, cfg->n_stun_listen, err, errlen);
    if (!s->listen.host[0])
        snprintf(def, sizeof def, "[::]:%d", VOLE_SERVER_STUN_PORT);
    else
        srv_addr_format(&s->listen, VOLE_SERVER_STUN_PORT, def);
    return srv_stun_open(s, &one, 1, err, errlen);
}

static void machine_name(char *out, size_t cap)
{
    if (gethostname(out, cap) < 0 || !out[0])
        snprintf(out, cap, "vole");
    out[cap - 1] = '\0';
}

/* The map clients get: this server's region (where it listens, and its
 * STUN listeners), plus the --derp-map file's. */
static int build_map(struct vole_server *s, const struct vole_server_config *cfg, char *err, size_t errlen)
{
    struct derp_map extra = { 0 }, map;
    struct derp_map_stun_addr stun[VOLE_SERVER_MAX_STUN];
    char host[256];
    int rc;

    machine_name(host, sizeof host);
    const char *name = cfg->region_name && *cfg->region_name ? cfg->region_name : host;
    if (strlen(name) >= sizeof s->region_name) {
        snprintf(err, errlen, "region name: longer than %zu bytes", sizeof s->region_name - 1);
        return -1;
    }
    memcpy(s->region_name, name, strlen(name) + 1);
    if (s->listen.host[0])
        snprintf(host, sizeof host, "%s", s->listen.host);
    for (size_t i = 0; i < s->n_stun; i++)
        stun[i] = (struct derp_map_stun_addr){ .host = s->stuns[i].addr.host,
                                               .port = srv_stun_port(&s->stuns[i]) };
    if (cfg->derp_map_file && derp_map_load(cfg->derp_map_file, &extra, err, errlen) < 0)
        return -1;
    struct derp_map_server_params p = {
        .region_id = cfg->region_id, .region_name = s->region_name, .host_name = host,
        .derp_port = vole_derp_server_port(s->derp), .force_http = !cfg->tls_cert, .stun = stun, .n_stun = s->n_stun,
        .block_direct = cfg->block_direct, .extra = cfg->derp_map_file ? &extra : NULL,
    };
    rc = derp_map_for_server(&map, &p, err, errlen);
    derp_map_free(&extra);
    if (rc < 0)
        return -1;
    s->region_id = cfg->region_id ? cfg->region_id : 999;
    s->derp_map_json = derp_map_to_json(&map);
    derp_map_free(&map);
    if (!s->derp_map_json) {
        snprintf(err, errlen, "DERP map: out of memory");
        return -1;
    }
    return 0;
}

static int start_coordinator(struct vole_server *s, const struct vole_server_config *cfg, char *err, size_t errlen)
{
    struct coord_coordinator_config cc = {
        .tokens = &s->tokens, .block_direct = cfg->block_direct, .derp_map_json = s->derp_map_json,
    };
    struct coord_coordinator_ops ops = SRV_COORD_OPS;

    ops.ctx = s;
    s->co = coord_coordinator_new(&cc, &ops);
    if (!s->co) {
        snprintf(err, errlen, "coordinator: out of memory");
        return -1;
    }
    return 0;
}

struct vole_server *vole_server_new(struct ev_loop *loop, const struct vole_server_config *cfg, char *err,
                                    size_t errlen)
{
    struct vole_server *s;

    if (!cfg->listen || !cfg->tokens_file) {
        snprintf(err, errlen, "%s", !cfg->listen ? "no listen address" : "no tokens file (--tokens)");
        return NULL;
    }
    s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->loop = loop;
    s->log = cfg->log;
    s->log_ctx = cfg->log_ctx;
    if (coord_tokens_load(cfg->tokens_file, &s->tokens, err, errlen) < 0 || start_derp(s, cfg, err, errlen) < 0 ||
        start_stun(s, cfg, err, errlen) < 0 || build_map(s, cfg, err, errlen) < 0 ||
        start_coordinator(s, cfg, err, errlen) < 0) {
        vole_server_free(s);
        return NULL;
    }
    return s;
}

void vole_server_free(struct vole_server *s)
{
    if (!s)
        return;
    srv_sessions_free(s);
    vole_derp_server_free(s->derp);
    srv_stun_close(s);
    coord_coordinator_free(s->co);
    coord_tokens_free(&s->tokens);
    free(s->derp_map_json);
    free(s);
}

uint16_t vole_server_port(const struct vole_server *s)
{
    return vole_derp_server_port(s->derp);
}

const char *vole_server_listen_text(const struct vole_server *s)
{
    return s->listen_text;
}

long long vole_server_region_id(const struct vole_server *s)
{
    return s->region_id;
}

const char *vole_server_region_name(const struct vole_server *s)
{
    return s->region_name;
}

size_t vole_server_n_stun(const struct vole_server *s)
{
    return s->n_stun;
}

const char *vole_server_stun_text(const struct vole_server *s, size_t i)
{
    return i < s->n_stun ? s->stuns[i].text : "";
}

uint16_t vole_server_stun_port(const struct vole_server *s, size_t i)
{
    return i < s->n_stun ? srv_stun_port(&s->stuns[i]) : 0;
}

size_t vole_server_sessions(const struct vole_server *s)
{
    return s->co ? coord_session_count(s->co) : 0;
}
