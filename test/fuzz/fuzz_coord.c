/* libFuzzer target for the coordinator's messages (coord/msg.h): every line a
 * node or the server receives goes through coord_msg_decode. Whatever decodes
 * must obey the struct's bounds and survive a round trip: encoded again and
 * decoded, it gives the same type and fields. A DERP map inside goes through
 * the DERP map parser as a node would. Built and run by scripts/fuzz.sh. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "coord/msg.h"
#include "derp/derpmap.h"

/* A violated invariant is a crash, so libFuzzer keeps the input. */
static void check(int ok)
{
    if (!ok)
        abort();
}

static void check_node(const struct coord_node *n)
{
    check(n->n_endpoints <= COORD_MAX_ENDPOINTS);
    check(memchr(n->name, '\0', sizeof n->name) != NULL);
    for (size_t i = 0; i < n->n_endpoints; i++)
        check(n->endpoints[i].family == 4 || n->endpoints[i].family == 6);
}

static void check_bounds(const struct coord_msg *m)
{
    check_node(&m->node);
    check(m->n_updates <= COORD_MSG_MAX_UPDATES);
    for (size_t i = 0; i < m->n_updates; i++)
        check_node(&m->updates[i].node);
    check(memchr(m->error, '\0', sizeof m->error) != NULL);
    check(memchr(m->agent, '\0', sizeof m->agent) != NULL);
    check(m->type != COORD_MSG_DERP_MAP || m->derp_map != NULL);
}

static void check_round_trip(const struct coord_msg *m)
{
    struct coord_msg back;
    char err[256];
    char *s = coord_msg_encode(m);
    if (!s)
        return;   /* over the size bound once re-encoded: refused, not built */
    check(coord_msg_decode(s, strlen(s), &back, err, sizeof err) == 0);
    check(back.type == m->type && back.n_updates == m->n_updates);
    check(memcmp(&back.node, &m->node, sizeof m->node) == 0);
    check(strcmp(back.error, m->error) == 0 && strcmp(back.agent, m->agent) == 0);
    coord_msg_free(&back);
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct coord_msg m;
    char err[256];

    if (coord_msg_decode((const char *)data, size, &m, err, sizeof err) == 0) {
        check_bounds(&m);
        check_round_trip(&m);
        if (m.type == COORD_MSG_DERP_MAP) {
            struct derp_map dm;
            if (derp_map_parse(m.derp_map, strlen(m.derp_map), &dm, err, sizeof err) == 0)
                derp_map_free(&dm);
        }
    } else {
        check(err[0] != '\0');
    }
    coord_msg_free(&m);
    return 0;
}
