/* Pure helpers for UDP segmentation offload (io/udp.c): which pending
 * datagrams can leave as one UDP_SEGMENT send, and how a UDP_GRO receive
 * buffer is cut back into datagrams. No sockets here, so both rules are
 * tested directly (test_udp_gso.c).
 *
 * The kernel's GSO rule (Linux udp_send_skb): every segment is gso_size
 * bytes except the last, which may be shorter; all go to one destination.
 * wireguard-go keeps a send to at most 64 segments; we do the same and also
 * keep the payload under what one IP packet can carry. */
#ifndef VOLE_IO_UDP_GSO_H
#define VOLE_IO_UDP_GSO_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/uio.h>

#define VOLE_UDP_GSO_MAX_SEGMENTS 64
#define VOLE_UDP_GSO_MAX_BYTES 65000   /* below 65535 minus IPv4/IPv6 + UDP headers */

/* How many of the n datagrams at the front (payload iov[i], destination
 * addrs[i] of alen[i] bytes) can go out as one GSO send: a run of the same
 * destination where every datagram has the first one's length, except that
 * the run may end with one shorter datagram. At most max_segs datagrams and
 * max_bytes of payload. Always >= 1 when n >= 1 (a datagram alone is a run
 * of one; so is an empty one, which cannot set a segment size). 0 when n = 0. */
size_t vole_udp_gso_run(const struct iovec *iov, const struct sockaddr_storage *addrs, const socklen_t *alen,
                        size_t n, size_t max_segs, size_t max_bytes);

/* The size to cut a received buffer of len bytes by: gso_size from the
 * UDP_GRO control message, or len when the buffer is one datagram (no
 * message: 0, or gso_size >= len). */
size_t vole_udp_gro_seg_size(size_t len, size_t gso_size);

/* Datagrams in a buffer of len bytes cut by seg (from vole_udp_gro_seg_size):
 * segment k starts at k * seg and is min(seg, len - k * seg) long. At least
 * 1: an empty buffer is one empty datagram. */
size_t vole_udp_gro_count(size_t len, size_t seg);

#endif
