/* Parser for wg-quick style configuration files ([Interface] + [Peer]s).
 * Accepts what `wg setconf` and wg-quick accept for the keys vole uses;
 * wg-quick keys vole does not use are kept as warnings, not errors. */
#ifndef VOLE_CONF_WGCONF_H
#define VOLE_CONF_WGCONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VOLE_CONF_LINE_MAX 4096          /* longest accepted line, without newline */
#define VOLE_CONF_FILE_MAX (16u << 20)   /* largest accepted file, in bytes */

/* Host bits are kept as written: for Address they are the interface's own
 * address (10.0.0.2/24), so masking is left to whoever builds routes. */
struct vole_cidr {
    uint8_t family;      /* 4 or 6 */
    uint8_t addr[16];    /* network order; IPv4 uses the first 4 bytes */
    uint8_t cidr;        /* prefix length */
};

struct vole_conf_peer {
    uint8_t public_key[32];
    bool has_psk;
    uint8_t psk[32];
    bool has_endpoint;
    char endpoint_host[256];         /* name or address literal, without brackets */
    uint16_t endpoint_port;          /* 1..65535 when has_endpoint */
    struct vole_cidr *allowed_ips;
    size_t n_allowed_ips;
    uint16_t persistent_keepalive;   /* seconds, 0 = off ("off" accepted) */
    unsigned line;                   /* line of its [Peer] header, for messages */
};

struct vole_conf {
    bool has_private_key;            /* always true after a successful parse */
    uint8_t private_key[32];
    struct vole_cidr *addresses;
    size_t n_addresses;
    bool has_listen_port;
    uint16_t listen_port;            /* 0 = pick a random port */
    uint16_t mtu;                    /* 0 = not given */
    struct vole_conf_peer *peers;
    size_t n_peers;
    char **warnings;                 /* "wg0.conf:5: DNS is not used by vole; ignored" */
    size_t n_warnings;
};

/* Both fill *c (its old contents are overwritten, not freed) and return 0, or
 * return -1 with *c empty and err = "NAME:LINE: message" (one line, no
 * newline, truncated to errlen). LINE is 0 when the error concerns the whole
 * file: it cannot be read, is too large, or has no [Interface] section.
 * name is what messages call the text; parse_file uses the path. */
int vole_conf_parse_file(struct vole_conf *c, const char *path, char *err, size_t errlen);
int vole_conf_parse_string(struct vole_conf *c, const char *text, const char *name,
                           char *err, size_t errlen);

/* Wipes key material and frees everything; leaves *c empty. Safe on an empty
 * or failed conf. */
void vole_conf_free(struct vole_conf *c);

/* Parse "a.b.c.d/n", "x::y/n" or a bare address (then /32 or /128).
 * No whitespace. 0, or -1 with *out zeroed. */
int vole_cidr_parse(struct vole_cidr *out, const char *s);

#endif
