/* AWS's published IP ranges (https://ip-ranges.amazonaws.com/ip-ranges.json,
 * saved to a file: vole fetches nothing itself), for the "AWS uses hard NAT"
 * checks of `vole ping` (coder-behaviour.md §1.5). */
#ifndef VOLE_DIAG_AWS_RANGES_H
#define VOLE_DIAG_AWS_RANGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vole_ip_prefix {
    uint8_t family;     /* 4 or 6 */
    uint8_t addr[16];   /* network order, host bits cleared */
    uint8_t len;
};

struct vole_aws_ranges {
    struct vole_ip_prefix *prefixes;   /* IPv4 ones, then IPv6 ones */
    size_t n_prefixes;
};

/* Reads prefixes[].ip_prefix and ipv6_prefixes[].ipv6_prefix; other fields
 * are ignored. 0, or -1 with err saying where it went wrong, e.g.
 * `prefixes[2].ip_prefix: "3.5.140.0/33" is not an IPv4 prefix`; r is empty
 * then (vole_aws_ranges_free is still safe). */
int vole_aws_ranges_parse(const char *json, size_t len, struct vole_aws_ranges *r, char *err, size_t errlen);
/* The same from a file; err starts with the path. */
int vole_aws_ranges_load(const char *path, struct vole_aws_ranges *r, char *err, size_t errlen);
void vole_aws_ranges_free(struct vole_aws_ranges *r);

/* "1.2.3.4", "1.2.3.4:41641", "2001:db8::1", "[2001:db8::1]:41641" -> the
 * address, port stripped (NetInfo's GlobalV4/V6 carry one). */
bool vole_ip_parse_loose(const char *s, uint8_t *family, uint8_t addr[16]);

/* Go's netip IsLoopback / IsLinkLocalUnicast / IsPrivate. */
bool vole_ip_is_loopback(uint8_t family, const uint8_t *addr);
bool vole_ip_is_link_local(uint8_t family, const uint8_t *addr);
bool vole_ip_is_private(uint8_t family, const uint8_t *addr);

/* Coder's CheckIP on a NetInfo address: false for loopback, link-local or
 * private addresses and for text that holds no address; else whether a
 * prefix contains it. */
bool vole_aws_ranges_contains(const struct vole_aws_ranges *r, const char *ip_maybe_port);

#endif
