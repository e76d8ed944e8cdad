/* Token lookups. Every entry is compared, with no early exit, so the time a
 * lookup takes says nothing about which token matched or how closely. */
#include "coord/tokens.h"

#include <sodium.h>
#include <string.h>

const struct coord_agent_token *coord_tokens_agent(const struct coord_tokens *t, const char *token)
{
    uint8_t h[COORD_TOKEN_HASH_LEN];
    const struct coord_agent_token *hit = NULL;
    coord_token_hash(h, token, strlen(token));
    for (size_t i = 0; i < t->n_agents; i++)
        if (sodium_memcmp(t->agents[i].hash, h, sizeof h) == 0)
            hit = &t->agents[i];
    return hit;
}

const struct coord_client_token *coord_tokens_client(const struct coord_tokens *t, const char *token)
{
    uint8_t h[COORD_TOKEN_HASH_LEN];
    const struct coord_client_token *hit = NULL;
    coord_token_hash(h, token, strlen(token));
    for (size_t i = 0; i < t->n_clients; i++)
        if (sodium_memcmp(t->clients[i].hash, h, sizeof h) == 0)
            hit = &t->clients[i];
    return hit;
}

bool coord_tokens_may_reach(const struct coord_tokens *t, const struct coord_client_token *c,
                            const char *agent_name)
{
    if (!c)
        return false;
    for (size_t i = 0; i < c->n_agents; i++)
        if (c->agents[i] < t->n_agents && strcmp(t->agents[c->agents[i]].name, agent_name) == 0)
            return true;
    return false;
}
