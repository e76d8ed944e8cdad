/* The coordinator's state, shared by coordinator.c (sessions, key binding)
 * and coordinator_peers.c (tunnels and who learns what). */
#ifndef VOLE_COORD_COORDINATOR_INT_H
#define VOLE_COORD_COORDINATOR_INT_H

#include "coord/addrs.h"
#include "coord/coordinator.h"

struct coord_session {
    struct coord_coordinator *co;
    void *io;
    enum coord_role role;
    size_t principal;           /* agent index, or client token index, in co->tokens */
    int64_t id;                 /* unique per session, never reused */
    bool bound;                 /* the first update_self fixed node.key */
    bool ever_ready;            /* peers may have been told about this node */
    struct coord_node node;     /* the latest, with the server's id, addresses and name */
    uint8_t *tunnels;           /* clients: a bit per agent index */
    struct coord_session *prev, *next;
};

struct coord_coordinator {
    const struct coord_tokens *tokens;
    struct coord_coordinator_ops ops;
    bool block_direct;
    char *derp_map_json;
    struct coord_addrs addrs;
    struct coord_session *sessions;
    struct coord_session **agent_live;   /* per agent index: its bound session, or NULL */
    size_t n_sessions;
    int64_t next_id;
};

/* A node with a home region can be reached (through DERP at least). */
static inline bool coord_ready(const struct coord_session *s)
{
    return s->bound && s->node.preferred_derp != 0;
}

/* ---- coordinator_peers.c ---- */

/* x's node went out or changed: tell its ready tunnel peers; if x has just
 * become ready, tell x about them too. */
void coord_peers_node_changed(struct coord_coordinator *c, struct coord_session *x, bool became_ready);
/* x is leaving: its tunnel peers get kind (DISCONNECTED or LOST) with its id. */
void coord_peers_gone(struct coord_coordinator *c, struct coord_session *x, enum coord_peer_kind kind,
                      const char *reason);
/* add_tunnel from a client. */
void coord_peers_add_tunnel(struct coord_coordinator *c, struct coord_session *x, const char *agent);
/* An error message to one session (which stays open). */
void coord_send_error(struct coord_coordinator *c, struct coord_session *x, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
