/* See udp_gso.h. */
#include "io/udp_gso.h"

#include <stdbool.h>
#include <string.h>

static bool same_dst(const struct sockaddr_storage *addrs, const socklen_t *alen, size_t a, size_t b)
{
    return alen[a] == alen[b] && memcmp(&addrs[a], &addrs[b], alen[a]) == 0;
}

size_t vole_udp_gso_run(const struct iovec *iov, const struct sockaddr_storage *addrs, const socklen_t *alen,
                        size_t n, size_t max_segs, size_t max_bytes)
{
    if (n == 0)
        return 0;
    size_t seg = iov[0].iov_len, bytes = seg, k = 1;
    if (seg == 0)
        return 1;
    while (k < n && k < max_segs && same_dst(addrs, alen, 0, k)) {
        size_t len = iov[k].iov_len;
        /* A longer one cannot be a segment; an empty one would be no
         * segment at all (the receiver could not tell it was there). */
        if (len > seg || len == 0 || bytes + len > max_bytes)
            break;
        bytes += len;
        k++;
        if (len < seg)
            break;   /* the short tail ends the run */
    }
    return k;
}

size_t vole_udp_gro_seg_size(size_t len, size_t gso_size)
{
    return gso_size == 0 || gso_size >= len ? len : gso_size;
}

size_t vole_udp_gro_count(size_t len, size_t seg)
{
    if (len == 0 || seg == 0)
        return 1;
    return (len + seg - 1) / seg;
}
