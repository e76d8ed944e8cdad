/* The coordinator core, sans-IO (docs/TAILNET.md "Coordinator conversation"):
 * sessions opened with a token, the node each registers, tunnels from
 * clients to agents, and who learns what. No sockets, no clock, no loop: the
 * embedder feeds decoded messages in and the coordinator answers through
 * ops, like the DERP relay (derp/relay.h).
 *
 * Rules it keeps:
 *  - an agent token opens an agent session bound to the token's agent name;
 *    a client token a client session that may reach the token's agents;
 *  - the first update_self binds the session to its WireGuard key (another
 *    key later is an error and a close); an agent's name must be its
 *    token's; a client's name is cleared (only agents are named);
 *  - a key is held by one principal (one agent name, or one client token):
 *    a newer session of the same principal replaces the older one, another
 *    principal's is refused;
 *  - nodes are exchanged only along tunnels and only once both ends have a
 *    home DERP region (preferred_derp != 0), and again on every change;
 *  - with block_direct every forwarded node loses its endpoints;
 *  - an unknown agent and a forbidden one get the same error text. */
#ifndef VOLE_COORD_COORDINATOR_H
#define VOLE_COORD_COORDINATOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coord/msg.h"
#include "coord/tokens.h"

#define COORD_DEFAULT_MAX_NODES 65536

struct coord_coordinator;
struct coord_session;

enum coord_role {
    COORD_ROLE_REJECTED,   /* no such token */
    COORD_ROLE_AGENT,
    COORD_ROLE_CLIENT,
};

struct coord_coordinator_ops {
    void *ctx;
    /* Deliver m to the session whose I/O handle is io (m is valid during
     * the call only). May be called for any session, from inside any call. */
    void (*send)(void *ctx, void *io, const struct coord_msg *m);
    /* Close the session after what was sent to it. The coordinator has
     * already forgotten it: the embedder must not pass it back in. */
    void (*close)(void *ctx, void *io, const char *why);
};

struct coord_coordinator_config {
    const struct coord_tokens *tokens;   /* borrowed: must outlive the coordinator */
    bool block_direct;                   /* strip endpoints; tell nodes in self */
    const char *derp_map_json;           /* sent first on every session; NULL: none. Copied */
    size_t max_nodes;                    /* WireGuard keys holding addresses; 0: the default */
};

/* NULL when out of memory or max_nodes is out of coord/addrs' bounds. */
struct coord_coordinator *coord_coordinator_new(const struct coord_coordinator_config *cfg,
                                                const struct coord_coordinator_ops *ops);
/* Forgets every session without calling ops: the embedder closes its own. */
void coord_coordinator_free(struct coord_coordinator *c);

/* A new session for io. NULL with *role REJECTED for an unknown token (the
 * embedder answers 401); NULL with another role only when out of memory.
 * The derp_map message is sent from inside this call. */
struct coord_session *coord_session_open(struct coord_coordinator *c, void *io, const char *token,
                                         enum coord_role *role);
/* One message from the node. May send, and may close this session or others
 * (through ops->close, after which the session is gone). */
void coord_session_input(struct coord_coordinator *c, struct coord_session *s, const struct coord_msg *m);
/* The embedder found bad input (a line that does not decode, one too long):
 * the node is told why (error), its peers see it LOST, ops->close follows. */
void coord_session_fail(struct coord_coordinator *c, struct coord_session *s, const char *why);
/* The connection is gone (not through ops->close): peers see the node LOST.
 * Frees s; ops->close is not called. */
void coord_session_closed(struct coord_coordinator *c, struct coord_session *s);

enum coord_role coord_session_role(const struct coord_session *s);
int64_t coord_session_id(const struct coord_session *s);

/* DERP admission: is key bound by a live session? */
bool coord_key_registered(const struct coord_coordinator *c, const uint8_t key[COORD_KEY_LEN]);
size_t coord_session_count(const struct coord_coordinator *c);

/* The error text for an agent a client may not reach or that does not exist. */
#define COORD_ERR_AGENT_FMT "agent \"%s\": not found or not allowed"

#endif
