/* The server's --tokens file (issue 5, `vole server`): agent tokens bound to
 * an agent name, client tokens with the agent names they may reach.
 *
 *   {"agents":  [{"name": "dev", "token": "..."}],
 *    "clients": [{"token": "...", "agents": ["dev"]}]}
 *
 * Tokens are kept only as BLAKE2b-256 hashes and compared in constant time,
 * so a lookup neither leaks timing nor keeps secrets in memory longer than
 * the parse. No message from this module ever contains a token. */
#ifndef VOLE_COORD_TOKENS_H
#define VOLE_COORD_TOKENS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define COORD_TOKEN_HASH_LEN      32
#define COORD_TOKEN_MAX_LEN       1024        /* bytes of one token */
#define COORD_AGENT_NAME_MAX      63          /* a DNS label */
#define COORD_TOKENS_MAX_AGENTS   4096
#define COORD_TOKENS_MAX_CLIENTS  4096
#define COORD_CLIENT_MAX_AGENTS   4096
#define COORD_TOKENS_MAX_FILE     (4u << 20)  /* a bigger file is a mistake */

struct coord_agent_token {
    char name[COORD_AGENT_NAME_MAX + 1];   /* [a-z0-9-]{1,63}, unique */
    uint8_t hash[COORD_TOKEN_HASH_LEN];
};

struct coord_client_token {
    uint8_t hash[COORD_TOKEN_HASH_LEN];
    size_t *agents;                        /* indices into coord_tokens.agents */
    size_t n_agents;
};

struct coord_tokens {
    struct coord_agent_token *agents;
    size_t n_agents;
    struct coord_client_token *clients;
    size_t n_clients;
};

/* 0, or -1 with a one-line err such as `tokens.json: clients[0].agents[1]:
 * unknown agent "prod"`, prefixed by fname. On error t is left empty
 * (coord_tokens_free is still safe). Unknown keys are ignored. */
int coord_tokens_parse(const char *json, size_t len, const char *fname, struct coord_tokens *t,
                       char *err, size_t errlen);
int coord_tokens_load(const char *path, struct coord_tokens *t, char *err, size_t errlen);
void coord_tokens_free(struct coord_tokens *t);

/* The entry whose token is `token`, or NULL. Every entry is compared, so the
 * time taken does not depend on which one (if any) matches. */
const struct coord_agent_token *coord_tokens_agent(const struct coord_tokens *t, const char *token);
const struct coord_client_token *coord_tokens_client(const struct coord_tokens *t, const char *token);

/* Whether client c may reach the agent called agent_name. */
bool coord_tokens_may_reach(const struct coord_tokens *t, const struct coord_client_token *c,
                            const char *agent_name);

/* The stored form of a token: keyed BLAKE2b-256, the same for parse and lookup. */
void coord_token_hash(uint8_t out[COORD_TOKEN_HASH_LEN], const char *tok, size_t len);

/* [a-z0-9-], 1..63 characters: the agent name becomes a DNS-style name. */
bool coord_agent_name_valid(const char *name);

#endif
