/* The coordinator's WebSocket messages (one JSON object per text frame),
 * shaped after Coder's CoordinateRequest / CoordinateResponse
 * (coder-behaviour.md §4) but keyed by a "type" field, since vole speaks
 * JSON rather than dRPC:
 *
 * node -> coordinator (CoordinateRequest)
 *   {"type":"update_self","node":{...}}            update_self{node}
 *   {"type":"add_tunnel","agent":"dev"}            add_tunnel{id}: by agent name, not UUID
 *   {"type":"disconnect"}                          disconnect{}
 * coordinator -> node (CoordinateResponse)
 *   {"type":"self","node":{...},"block_endpoints":false}
 *        vole: the node's id and server-assigned addresses, and whether
 *        endpoints are withheld (Coder's BlockEndpoints, told to the node)
 *   {"type":"peer_updates","peer_updates":[{"id":7,"kind":"NODE","node":{...}},
 *        {"id":8,"kind":"LOST","reason":"..."}]}    peer_updates[]{id, node, kind, reason}
 *   {"type":"error","error":"..."}                  error
 *   {"type":"derp_map","derp_map":{...}}            StreamDERPMaps: Tailscale DERPMap JSON,
 *        sent first on every connection (derp/derpmap.h parses it)
 *
 * Parsing is strict about the fields it knows and ignores the rest. */
#ifndef VOLE_COORD_MSG_H
#define VOLE_COORD_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coord/node.h"

#define COORD_MSG_MAX_LEN        (256u << 10)   /* bytes of one message */
#define COORD_MSG_MAX_UPDATES    64             /* peer updates in one message */
#define COORD_MSG_REASON_MAX     127
#define COORD_MSG_ERROR_MAX      255

enum coord_msg_type {
    COORD_MSG_UPDATE_SELF,
    COORD_MSG_ADD_TUNNEL,
    COORD_MSG_DISCONNECT,
    COORD_MSG_SELF,
    COORD_MSG_PEER_UPDATES,
    COORD_MSG_ERROR,
    COORD_MSG_DERP_MAP,
};

enum coord_peer_kind {            /* Coder's CoordinateResponse.PeerUpdate.Kind names */
    COORD_PEER_NODE,              /* "NODE": node is the peer's new info */
    COORD_PEER_DISCONNECTED,      /* "DISCONNECTED": the peer said goodbye */
    COORD_PEER_LOST,              /* "LOST": the peer's connection dropped */
};

struct coord_peer_update {
    int64_t id;                                /* the peer's coord_node.id */
    enum coord_peer_kind kind;
    struct coord_node node;                    /* kind NODE only */
    char reason[COORD_MSG_REASON_MAX + 1];     /* optional, DISCONNECTED/LOST */
};

struct coord_msg {
    enum coord_msg_type type;
    struct coord_node node;                    /* UPDATE_SELF, SELF */
    bool block_endpoints;                      /* SELF */
    char agent[COORD_NODE_NAME_MAX + 1];       /* ADD_TUNNEL */
    struct coord_peer_update *updates;         /* PEER_UPDATES; malloc'd by decode */
    size_t n_updates;                          /* 1..COORD_MSG_MAX_UPDATES */
    char error[COORD_MSG_ERROR_MAX + 1];       /* ERROR */
    char *derp_map;                            /* DERP_MAP: compact JSON; malloc'd by decode, freed by coord_msg_free */
};

/* A malloc'd compact JSON string, or NULL (allocation failure, or a message
 * over the bounds above). */
char *coord_msg_encode(const struct coord_msg *m);
/* 0, or -1 with err naming the field, e.g. `peer_updates[1].kind: unknown
 * kind "GONE"`. m needs coord_msg_free afterwards either way. */
int coord_msg_decode(const char *json, size_t len, struct coord_msg *m, char *err, size_t errlen);
void coord_msg_free(struct coord_msg *m);

const char *coord_msg_type_name(enum coord_msg_type t);
const char *coord_peer_kind_name(enum coord_peer_kind k);

#endif
