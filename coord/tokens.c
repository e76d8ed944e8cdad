#include "coord/tokens.h"

#include "conf/file.h"

#include <jansson.h>
#include <sodium.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

/* Error reporting: every message is "FILE: PLACE: WHY" on one line. */
struct tctx {
    const char *fname;
    char *err;
    size_t errlen;
};

__attribute__((format(printf, 3, 4)))
static int fail(const struct tctx *c, const char *place, const char *fmt, ...)
{
    char why[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    snprintf(c->err, c->errlen, "%s: %s%s%s", c->fname, place, *place ? ": " : "", why);
    return -1;
}

bool coord_agent_name_valid(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > COORD_AGENT_NAME_MAX || name[0] == '-' || name[n - 1] == '-')
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-'))
            return false;
    }
    return true;
}

/* Hashing gives every token the same length, so sodium_memcmp applies, and
 * the table holds no token after the parse. */
void coord_token_hash(uint8_t out[COORD_TOKEN_HASH_LEN], const char *tok, size_t len)
{
    static const char domain[] = "vole coord token v1";
    crypto_generichash(out, COORD_TOKEN_HASH_LEN, (const unsigned char *)tok, len,
                       (const unsigned char *)domain, sizeof domain - 1);
}

/* A token string: present, a string, 1..COORD_TOKEN_MAX_LEN bytes, no NUL. */
static int get_token(const struct tctx *c, const char *place, json_t *obj, uint8_t hash[COORD_TOKEN_HASH_LEN])
{
    json_t *v = json_object_get(obj, "token");
    if (!v)
        return fail(c, place, "missing \"token\"");
    if (!json_is_string(v))
        return fail(c, place, "\"token\" is not a string");
    size_t n = json_string_length(v);
    if (n == 0)
        return fail(c, place, "\"token\" is empty");
    if (n > COORD_TOKEN_MAX_LEN)
        return fail(c, place, "\"token\" is longer than %d bytes", COORD_TOKEN_MAX_LEN);
    if (strlen(json_string_value(v)) != n)
        return fail(c, place, "\"token\" has a NUL byte");
    coord_token_hash(hash, json_string_value(v), n);
    return 0;
}

static json_t *get_array(const struct tctx *c, const char *place, json_t *obj, const char *key, size_t max)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        fail(c, place, "missing \"%s\"", key);
        return NULL;
    }
    if (!json_is_array(v)) {
        fail(c, place, "\"%s\" is not an array", key);
        return NULL;
    }
    if (json_array_size(v) > max) {
        fail(c, place, "\"%s\" has more than %zu entries", key, max);
        return NULL;
    }
    return v;
}

/* 1 with where naming an earlier entry that has this hash, else 0. Agents
 * and clients share one token space: a token must say who presents it. */
static int find_dup(const struct coord_tokens *t, const uint8_t h[COORD_TOKEN_HASH_LEN], char *where, size_t cap)
{
    for (size_t i = 0; i < t->n_agents; i++)
        if (sodium_memcmp(t->agents[i].hash, h, COORD_TOKEN_HASH_LEN) == 0) {
            snprintf(where, cap, "agents[%zu]", i);
            return 1;
        }
    for (size_t i = 0; i < t->n_clients; i++)
        if (sodium_memcmp(t->clients[i].hash, h, COORD_TOKEN_HASH_LEN) == 0) {
            snprintf(where, cap, "clients[%zu]", i);
            return 1;
        }
    return 0;
}

static int check_unique_token(const struct tctx *c, const char *place, const struct coord_tokens *t,
                              const uint8_t h[COORD_TOKEN_HASH_LEN])
{
    char other[32];
    if (find_dup(t, h, other, sizeof other))
        return fail(c, place, "\"token\" is the same as %s's", other);
    return 0;
}

static ssize_t agent_index(const struct coord_tokens *t, const char *name)
{
    for (size_t i = 0; i < t->n_agents; i++)
        if (strcmp(t->agents[i].name, name) == 0)
            return (ssize_t)i;
    return -1;
}

/* An agent name string for place; out gets a copy. */
static int get_name(const struct tctx *c, const char *place, json_t *v, char out[COORD_AGENT_NAME_MAX + 1])
{
    if (!json_is_string(v))
        return fail(c, place, "agent name is not a string");
    const char *s = json_string_value(v);
    if (strlen(s) != json_string_length(v) || !coord_agent_name_valid(s))
        return fail(c, place, "agent name \"%.70s\" is not 1..%d of [a-z0-9-] (no leading or trailing -)",
                    s, COORD_AGENT_NAME_MAX);
    memcpy(out, s, strlen(s) + 1);
    return 0;
}

static int parse_agent(const struct tctx *c, struct coord_tokens *t, size_t i, json_t *e)
{
    char place[32];
    snprintf(place, sizeof place, "agents[%zu]", i);
    struct coord_agent_token *a = &t->agents[t->n_agents];
    if (!json_is_object(e))
        return fail(c, place, "is not an object");
    json_t *name = json_object_get(e, "name");
    if (!name)
        return fail(c, place, "missing \"name\"");
    if (get_name(c, place, name, a->name) < 0 || get_token(c, place, e, a->hash) < 0)
        return -1;
    if (agent_index(t, a->name) >= 0)
        return fail(c, place, "duplicate agent name \"%s\"", a->name);
    if (check_unique_token(c, place, t, a->hash) < 0)
        return -1;
    t->n_agents++;
    return 0;
}

/* The client's "agents": known names, each once. */
static int parse_reach(const struct tctx *c, const char *place, struct coord_tokens *t,
                       struct coord_client_token *cl, json_t *list)
{
    cl->agents = calloc(json_array_size(list) + 1, sizeof *cl->agents);
    if (!cl->agents)
        return fail(c, place, "out of memory");
    size_t j;
    json_t *v;
    json_array_foreach(list, j, v) {
        char at[64], name[COORD_AGENT_NAME_MAX + 1];
        snprintf(at, sizeof at, "%s.agents[%zu]", place, j);
        if (get_name(c, at, v, name) < 0)
            return -1;
        ssize_t k = agent_index(t, name);
        if (k < 0)
            return fail(c, at, "unknown agent \"%s\"", name);
        for (size_t m = 0; m < cl->n_agents; m++)
            if (cl->agents[m] == (size_t)k)
                return fail(c, at, "agent \"%s\" listed twice", name);
        cl->agents[cl->n_agents++] = (size_t)k;
    }
    return 0;
}

static int parse_client(const struct tctx *c, struct coord_tokens *t, size_t i, json_t *e)
{
    char place[32];
    snprintf(place, sizeof place, "clients[%zu]", i);
    struct coord_client_token *cl = &t->clients[t->n_clients];
    if (!json_is_object(e))
        return fail(c, place, "is not an object");
    if (get_token(c, place, e, cl->hash) < 0 || check_unique_token(c, place, t, cl->hash) < 0)
        return -1;
    json_t *list = get_array(c, place, e, "agents", COORD_CLIENT_MAX_AGENTS);
    /* Counted before parse_reach so that free releases cl->agents on error. */
    t->n_clients++;
    return list ? parse_reach(c, place, t, cl, list) : -1;
}

static int parse_doc(const struct tctx *c, json_t *root, struct coord_tokens *t)
{
    if (!json_is_object(root))
        return fail(c, "", "the top level is not an object");
    json_t *agents = get_array(c, "", root, "agents", COORD_TOKENS_MAX_AGENTS);
    json_t *clients = agents ? get_array(c, "", root, "clients", COORD_TOKENS_MAX_CLIENTS) : NULL;
    if (!clients)
        return -1;
    t->agents = calloc(json_array_size(agents) + 1, sizeof *t->agents);
    t->clients = calloc(json_array_size(clients) + 1, sizeof *t->clients);
    if (!t->agents || !t->clients)
        return fail(c, "", "out of memory");
    size_t i;
    json_t *e;
    json_array_foreach(agents, i, e)
        if (parse_agent(c, t, i, e) < 0)
            return -1;
    json_array_foreach(clients, i, e)
        if (parse_client(c, t, i, e) < 0)
            return -1;
    return 0;
}

int coord_tokens_parse(const char *json, size_t len, const char *fname, struct coord_tokens *t,
                       char *err, size_t errlen)
{
    struct tctx c = {fname, err, errlen};
    memset(t, 0, sizeof *t);
    if (sodium_init() < 0)
        return fail(&c, "", "libsodium failed to initialise");
    json_error_t je;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)   /* je.text is not used: it may quote the file, tokens included */
        return fail(&c, "", "not JSON (line %d, column %d)", je.line, je.column);
    int rc = parse_doc(&c, root, t);
    json_decref(root);
    if (rc < 0)
        coord_tokens_free(t);
    return rc;
}

int coord_tokens_load(const char *path, struct coord_tokens *t, char *err, size_t errlen)
{
    struct tctx c = {path, err, errlen};
    char *buf;
    size_t n;
    int errnum;
    enum vole_file_status st = vole_file_read(path, COORD_TOKENS_MAX_FILE, &buf, &n, &errnum);
    int rc;

    memset(t, 0, sizeof *t);
    switch (st) {
    case VOLE_FILE_OK: rc = coord_tokens_parse(buf, n, path, t, err, errlen); break;
    case VOLE_FILE_OPEN: rc = fail(&c, "", "cannot open: %s", strerror(errnum)); break;
    case VOLE_FILE_READ: rc = fail(&c, "", "read error"); break;
    case VOLE_FILE_TOO_LARGE: rc = fail(&c, "", "larger than %u bytes", COORD_TOKENS_MAX_FILE); break;
    default: rc = fail(&c, "", "out of memory"); break;
    }
    vole_file_free(buf, n);   /* wiped: the file's tokens */
    return rc;
}

void coord_tokens_free(struct coord_tokens *t)
{
    for (size_t i = 0; i < t->n_clients; i++)
        free(t->clients[i].agents);
    free(t->agents);
    free(t->clients);
    memset(t, 0, sizeof *t);
}
