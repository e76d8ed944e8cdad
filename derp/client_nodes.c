/* The nodes a DERP client dials: a region's DERP nodes in the map's order,
 * STUNOnly ones left out (tailscale-wire.md §1.5 dialRegion, §2), or the one
 * URL of vole_derp_client_new as a region of one. Each node carries what the
 * map says about it: the URL, the certificate's name, InsecureForTests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "derp/client_int.h"

static int add_node(struct vole_derp_client *c, const char *url, const char *tls_name, bool insecure, char *err,
                    size_t errlen)
{
    struct derp_client_node *n = &c->nodes[c->n_nodes];

    if (derp_url_parse(url, &n->url, err, errlen) < 0)
        return -1;
    n->tls_name = strdup(tls_name ? tls_name : n->url.host);
    if (!n->tls_name) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    n->insecure = insecure;
    c->n_nodes++;
    return 0;
}

int derp_client_nodes_from_url(struct vole_derp_client *c, const struct vole_derp_client_config *cfg, char *err,
                               size_t errlen)
{
    c->nodes = calloc(1, sizeof *c->nodes);
    if (!c->nodes) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return add_node(c, cfg->url, cfg->tls_server_name, cfg->insecure_for_tests, err, errlen);
}

static size_t count_derp_nodes(const struct derp_map_region *r)
{
    size_t idx = 0, n = 0;
    while (derp_map_next_derp_node(r, &idx))
        n++;
    return n;
}

int derp_client_nodes_from_region(struct vole_derp_client *c, const struct derp_map_region *r, char *err,
                                  size_t errlen)
{
    size_t n = count_derp_nodes(r), idx = 0;
    const struct derp_map_node *node;
    char url[DERP_URL_HOST_MAX + 32], why[192];

    if (n == 0) {
        snprintf(err, errlen, "region %lld has no DERP node (only STUNOnly ones, or none)", r->region_id);
        return -1;
    }
    c->nodes = calloc(n, sizeof *c->nodes);
    if (!c->nodes) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    while ((node = derp_map_next_derp_node(r, &idx))) {
        if (derp_map_node_url(node, url, sizeof url) < 0) {
            snprintf(err, errlen, "node %s: URL too long", node->name);
            return -1;
        }
        if (add_node(c, url, derp_map_node_tls_name(node), node->insecure_for_tests, why, sizeof why) < 0) {
            snprintf(err, errlen, "node %s: %s", node->name, why);
            return -1;
        }
    }
    return 0;
}

void derp_client_nodes_free(struct vole_derp_client *c)
{
    for (size_t i = 0; i < c->n_nodes; i++)
        free(c->nodes[i].tls_name);
    free(c->nodes);
    c->nodes = NULL;
    c->n_nodes = 0;
}
