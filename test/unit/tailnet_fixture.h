/* The in-process tailnet of the end-to-end tests: `vole server`'s runtime on
 * loopback (with a STUN listener) given a tokens file in a temporary
 * directory, and nodes (tailnet/node.h) that record what they are told. A
 * test's own record of a node starts with a struct tn_node, so that the
 * callbacks here and the test's own share one ctx. */
#ifndef VOLE_TEST_TAILNET_FIXTURE_H
#define VOLE_TEST_TAILNET_FIXTURE_H

#include <ev.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/server.h"
#include "tailnet/node.h"

#define TN_AGENT_TOKEN  "agent-token-dev-0123456789"
#define TN_PROD_TOKEN   "agent-token-prod-0123456789"
#define TN_CLIENT_TOKEN "client-token-0123456789"
#define TN_LOG_MAX      16384

/* ---- the server ---------------------------------------------------------- */

struct tn_server {
    char dir[64];
    char tokens[96];
    char url[64];
    struct vole_server *server;
};

/* Agents dev and prod; one client, allowed dev only. */
static inline void tn_write_tokens(const char *path)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "{\"agents\": [{\"name\": \"dev\", \"token\": \"%s\"}, {\"name\": \"prod\", \"token\": \"%s\"}],\n"
               " \"clients\": [{\"token\": \"%s\", \"agents\": [\"dev\"]}]}\n",
            TN_AGENT_TOKEN, TN_PROD_TOKEN, TN_CLIENT_TOKEN);
    assert_int_equal(fclose(f), 0);
}

/* dir_template: a mkdtemp template, e.g. "/tmp/vole-tailnet-XXXXXX";
 * block_direct: the server's --block-direct-connections. */
static inline void tn_server_start_opts(struct tn_server *s, struct ev_loop *loop, const char *dir_template,
                                        bool block_direct)
{
    const char *stun[] = { "127.0.0.1:0" };
    struct vole_server_config sc = { .listen = "127.0.0.1:0", .stun_listen = stun, .n_stun_listen = 1,
                                     .region_name = "test", .block_direct = block_direct };
    char err[256];

    snprintf(s->dir, sizeof s->dir, "%s", dir_template);
    assert_non_null(mkdtemp(s->dir));
    snprintf(s->tokens, sizeof s->tokens, "%s/tokens.json", s->dir);
    tn_write_tokens(s->tokens);
    sc.tokens_file = s->tokens;
    s->server = vole_server_new(loop, &sc, err, sizeof err);
    if (!s->server)
        fail_msg("vole_server_new: %s", err);
    snprintf(s->url, sizeof s->url, "http://127.0.0.1:%u", vole_server_port(s->server));
}

static inline void tn_server_start(struct tn_server *s, struct ev_loop *loop, const char *dir_template)
{
    tn_server_start_opts(s, loop, dir_template, false);
}

/* The test removes its own files in s->dir first. */
static inline void tn_server_stop(struct tn_server *s)
{
    vole_server_free(s->server);
    s->server = NULL;
    unlink(s->tokens);
    rmdir(s->dir);
}

/* ---- one node ------------------------------------------------------------ */

struct tn_node {
    const char *who;
    bool ready;
    char peer[64];            /* the last on_peer name */
    char log[TN_LOG_MAX];     /* every log line, '\n'-separated */
    size_t log_len;
    struct vole_tailnet *t;
};

static inline void tn_log(void *ctx, const char *msg)
{
    struct tn_node *n = ctx;
    int len = snprintf(n->log + n->log_len, sizeof n->log - n->log_len, "%s\n", msg);
    if (len > 0 && (size_t)len < sizeof n->log - n->log_len)
        n->log_len += (size_t)len;
    if (getenv("VOLE_TEST_VERBOSE"))
        fprintf(stderr, "[%s] %s\n", n->who, msg);
}

/* An on_peer callback; ctx starts with a struct tn_node. */
static inline void tn_on_peer(void *ctx, const char *name, const struct coord_node *node)
{
    struct tn_node *n = ctx;
    (void)node;
    snprintf(n->peer, sizeof n->peer, "%s", name);
}

/* Starts node n at the server; ops->ctx is the test's record, which starts
 * with n. disable_direct: the node's --disable-direct-connections. */
static inline struct vole_tailnet *tn_node_new_opts(struct tn_node *n, struct ev_loop *loop,
                                                    const struct tn_server *s, const char *who, const char *name,
                                                    const char *token, bool verbose, bool disable_direct,
                                                    const struct vole_tailnet_ops *ops)
{
    struct vole_tailnet_config cfg = { .url = s->url, .token = token, .name = name, .verbose = verbose,
                                       .disable_direct = disable_direct, .log = tn_log, .log_ctx = n };
    char err[256];

    n->who = who;
    n->t = vole_tailnet_new(loop, &cfg, ops, err, sizeof err);
    if (!n->t)
        fail_msg("vole_tailnet_new(%s): %s", who, err);
    return n->t;
}

static inline struct vole_tailnet *tn_node_new(struct tn_node *n, struct ev_loop *loop, const struct tn_server *s,
                                               const char *who, const char *name, const char *token, bool verbose,
                                               const struct vole_tailnet_ops *ops)
{
    return tn_node_new_opts(n, loop, s, who, name, token, verbose, false, ops);
}

/* Both ready, the client knows agent dev and the agent knows the client. */
static inline bool tn_met(const struct tn_node *agent, const struct tn_node *client)
{
    return agent->ready && client->ready && strcmp(client->peer, "dev") == 0 &&
           strncmp(agent->peer, "client-", 7) == 0;
}

#endif
