/* Address text and address classes, as Go's net/netip sees them: enough for
 * the AWS check and the "over a private network" verdict. */
#include <arpa/inet.h>
#include <string.h>

#include "diag/aws_ranges.h"

#define IP_TEXT_MAX 64

/* "[v6]:port" and "[v6]" -> "v6"; "v4:port" -> "v4"; a bare address as is. */
static bool host_part(const char *s, char out[IP_TEXT_MAX])
{
    const char *end;
    size_t n;

    if (s[0] == '[') {
        end = strchr(s, ']');
        if (!end || (end[1] != '\0' && end[1] != ':'))
            return false;
        s++;
    } else {
        const char *colon = strchr(s, ':');
        /* Two colons or more: a bare IPv6 address, no port. */
        end = colon && !strchr(colon + 1, ':') ? colon : s + strlen(s);
    }
    n = (size_t)(end - s);
    if (n == 0 || n >= IP_TEXT_MAX)
        return false;
    memcpy(out, s, n);
    out[n] = '\0';
    return true;
}

bool vole_ip_parse_loose(const char *s, uint8_t *family, uint8_t addr[16])
{
    char host[IP_TEXT_MAX];

    if (!s || !host_part(s, host))
        return false;
    memset(addr, 0, 16);
    if (inet_pton(AF_INET, host, addr) == 1) {
        *family = 4;
        return true;
    }
    if (inet_pton(AF_INET6, host, addr) == 1) {
        *family = 6;
        return true;
    }
    return false;
}

bool vole_ip_is_loopback(uint8_t family, const uint8_t *addr)
{
    static const uint8_t v6[16] = { [15] = 1 };
    return family == 4 ? addr[0] == 127 : family == 6 && memcmp(addr, v6, 16) == 0;
}

bool vole_ip_is_link_local(uint8_t family, const uint8_t *addr)
{
    if (family == 4)
        return addr[0] == 169 && addr[1] == 254;
    return family == 6 && addr[0] == 0xfe && (addr[1] & 0xc0) == 0x80;
}

bool vole_ip_is_private(uint8_t family, const uint8_t *addr)
{
    if (family == 4)
        return addr[0] == 10 || (addr[0] == 172 && (addr[1] & 0xf0) == 16) ||
               (addr[0] == 192 && addr[1] == 168);
    return family == 6 && (addr[0] & 0xfe) == 0xfc;
}
