/* Coordinator messages: strict decoding (msg.h). */
#include "coord/msg.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord/jsonf.h"
#include "coord/tokens.h"

/* A required node object at key, parsed with field names under where.key. */
static int get_node(const struct jf *c, json_t *obj, const char *key, struct coord_node *n)
{
    char at[64];
    struct jf sub;
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return jf_fail(c, key, "missing");
    jf_child(c, key, at, sizeof at, &sub);
    return coord_node_from_json(v, at, n, c->err, c->errlen);
}

static int parse_kind(const struct jf *c, json_t *obj, enum coord_peer_kind *kind)
{
    char s[32];
    if (jf_string(c, obj, "kind", true, s, sizeof s) < 0)
        return -1;
    for (int k = COORD_PEER_NODE; k <= COORD_PEER_LOST; k++)
        if (strcmp(s, coord_peer_kind_name((enum coord_peer_kind)k)) == 0) {
            *kind = (enum coord_peer_kind)k;
            return 0;
        }
    return jf_fail(c, "kind", "unknown kind \"%s\"", s);
}

static int parse_update(const struct jf *c, json_t *obj, struct coord_peer_update *u)
{
    long long id = 0;
    if (!json_is_object(obj))
        return jf_fail(c, "", "not an object");
    if (jf_int(c, obj, "id", true, 0, INT64_MAX, &id) < 0 || parse_kind(c, obj, &u->kind) < 0)
        return -1;
    u->id = id;
    if (u->kind == COORD_PEER_NODE)
        return get_node(c, obj, "node", &u->node);
    return jf_string(c, obj, "reason", false, u->reason, sizeof u->reason);
}

static int parse_updates(const struct jf *c, json_t *obj, struct coord_msg *m)
{
    json_t *arr, *v;
    size_t i;
    if (jf_array(c, obj, "peer_updates", true, COORD_MSG_MAX_UPDATES, &arr) < 0)
        return -1;
    if (json_array_size(arr) == 0)
        return jf_fail(c, "peer_updates", "empty");
    m->updates = calloc(json_array_size(arr), sizeof *m->updates);
    if (!m->updates)
        return jf_fail(c, "peer_updates", "out of memory");
    json_array_foreach(arr, i, v) {
        char at[48];
        struct jf sub;
        snprintf(at, sizeof at, "peer_updates[%zu]", i);
        sub = (struct jf){at, c->err, c->errlen};
        if (parse_update(&sub, v, &m->updates[i]) < 0)
            return -1;
        m->n_updates = i + 1;
    }
    return 0;
}

static int parse_agent(const struct jf *c, json_t *obj, struct coord_msg *m)
{
    if (jf_string(c, obj, "agent", true, m->agent, sizeof m->agent) < 0)
        return -1;
    if (!coord_agent_name_valid(m->agent))
        return jf_fail(c, "agent", "not an agent name");
    return 0;
}

static int parse_derp_map(const struct jf *c, json_t *obj, struct coord_msg *m)
{
    json_t *v = json_object_get(obj, "derp_map");
    if (!json_is_object(v))
        return jf_fail(c, "derp_map", v ? "not an object" : "missing");
    m->derp_map = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
    return m->derp_map ? 0 : jf_fail(c, "derp_map", "out of memory");
}

static int parse_body(const struct jf *c, json_t *obj, struct coord_msg *m)
{
    switch (m->type) {
    case COORD_MSG_UPDATE_SELF:
        return get_node(c, obj, "node", &m->node);
    case COORD_MSG_SELF:
        if (get_node(c, obj, "node", &m->node) < 0)
            return -1;
        return jf_bool(c, obj, "block_endpoints", &m->block_endpoints);
    case COORD_MSG_ADD_TUNNEL:
        return parse_agent(c, obj, m);
    case COORD_MSG_PEER_UPDATES:
        return parse_updates(c, obj, m);
    case COORD_MSG_ERROR:
        return jf_string(c, obj, "error", true, m->error, sizeof m->error);
    case COORD_MSG_DERP_MAP:
        return parse_derp_map(c, obj, m);
    case COORD_MSG_DISCONNECT:
        return 0;
    }
    return -1;
}

static int parse_type(const struct jf *c, json_t *obj, enum coord_msg_type *t)
{
    char s[32];
    if (jf_string(c, obj, "type", true, s, sizeof s) < 0)
        return -1;
    for (int k = COORD_MSG_UPDATE_SELF; k <= COORD_MSG_DERP_MAP; k++)
        if (strcmp(s, coord_msg_type_name((enum coord_msg_type)k)) == 0) {
            *t = (enum coord_msg_type)k;
            return 0;
        }
    return jf_fail(c, "type", "unknown message type \"%s\"", s);
}

int coord_msg_decode(const char *json, size_t len, struct coord_msg *m, char *err, size_t errlen)
{
    struct jf c = {"", err, errlen};
    memset(m, 0, sizeof *m);
    if (len > COORD_MSG_MAX_LEN)
        return jf_fail(&c, "", "message longer than %u bytes", COORD_MSG_MAX_LEN);
    json_error_t je;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return jf_fail(&c, "", "not JSON: %s (line %d, column %d)", je.text, je.line, je.column);
    int rc = json_is_object(root) ? 0 : jf_fail(&c, "", "not a JSON object");
    if (rc == 0)
        rc = parse_type(&c, root, &m->type) < 0 ? -1 : parse_body(&c, root, m);
    json_decref(root);
    if (rc < 0)
        coord_msg_free(m);
    return rc;
}
