/* Coordinator messages: names and encoding (msg.h). */
#include "coord/msg.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static const char *const type_names[] = {
    [COORD_MSG_UPDATE_SELF] = "update_self", [COORD_MSG_ADD_TUNNEL] = "add_tunnel",
    [COORD_MSG_DISCONNECT] = "disconnect",   [COORD_MSG_SELF] = "self",
    [COORD_MSG_PEER_UPDATES] = "peer_updates", [COORD_MSG_ERROR] = "error",
    [COORD_MSG_DERP_MAP] = "derp_map",
};

static const char *const kind_names[] = {
    [COORD_PEER_NODE] = "NODE", [COORD_PEER_DISCONNECTED] = "DISCONNECTED", [COORD_PEER_LOST] = "LOST",
};

const char *coord_msg_type_name(enum coord_msg_type t)
{
    return (unsigned)t < sizeof type_names / sizeof *type_names ? type_names[t] : NULL;
}

const char *coord_peer_kind_name(enum coord_peer_kind k)
{
    return (unsigned)k < sizeof kind_names / sizeof *kind_names ? kind_names[k] : NULL;
}

static json_t *update_json(const struct coord_peer_update *u)
{
    const char *kind = coord_peer_kind_name(u->kind);
    json_t *o = kind ? json_object() : NULL;
    if (!o)
        return NULL;
    json_object_set_new(o, "id", json_integer(u->id));
    json_object_set_new(o, "kind", json_string(kind));
    if (u->kind == COORD_PEER_NODE)
        json_object_set_new(o, "node", coord_node_to_json(&u->node));
    else if (u->reason[0])
        json_object_set_new(o, "reason", json_string(u->reason));
    return o;
}

static json_t *updates_json(const struct coord_msg *m)
{
    if (m->n_updates == 0 || m->n_updates > COORD_MSG_MAX_UPDATES)
        return NULL;
    json_t *a = json_array();
    for (size_t i = 0; a && i < m->n_updates; i++) {
        json_t *u = update_json(&m->updates[i]);
        if (!u || json_array_append_new(a, u) < 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

/* The DERP map goes in as the object it is, not as a string. */
static int derp_map_json(json_t *o, const char *text)
{
    json_t *v = text ? json_loads(text, JSON_REJECT_DUPLICATES, NULL) : NULL;
    if (!json_is_object(v)) {
        json_decref(v);
        return -1;
    }
    return json_object_set_new(o, "derp_map", v);
}

/* The body after "type"; -1 when the message cannot be built. */
static int add_body(json_t *o, const struct coord_msg *m)
{
    switch (m->type) {
    case COORD_MSG_UPDATE_SELF:
        return json_object_set_new(o, "node", coord_node_to_json(&m->node));
    case COORD_MSG_SELF:
        if (json_object_set_new(o, "node", coord_node_to_json(&m->node)) < 0)
            return -1;
        return json_object_set_new(o, "block_endpoints", json_boolean(m->block_endpoints));
    case COORD_MSG_ADD_TUNNEL:
        return json_object_set_new(o, "agent", json_string(m->agent));
    case COORD_MSG_PEER_UPDATES:
        return json_object_set_new(o, "peer_updates", updates_json(m));
    case COORD_MSG_ERROR:
        return json_object_set_new(o, "error", json_string(m->error));
    case COORD_MSG_DERP_MAP:
        return derp_map_json(o, m->derp_map);
    case COORD_MSG_DISCONNECT:
        return 0;
    }
    return -1;
}

char *coord_msg_encode(const struct coord_msg *m)
{
    const char *type = coord_msg_type_name(m->type);
    json_t *o = type ? json_object() : NULL;
    char *s = NULL;
    if (o && json_object_set_new(o, "type", json_string(type)) == 0 && add_body(o, m) == 0)
        s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (s && strlen(s) > COORD_MSG_MAX_LEN) {   /* the peer would refuse it */
        free(s);
        s = NULL;
    }
    return s;
}

void coord_msg_free(struct coord_msg *m)
{
    free(m->updates);
    free(m->derp_map);
    memset(m, 0, sizeof *m);
}
