/* The node's UDP socket: one socket, batched receives (recvmmsg) and batched
 * sends (sendmmsg) driven by a libev loop on one thread.
 *
 * Send path: the sans-IO core asks for a slot, encrypts straight into it and
 * commits it with its destination. Nothing is sent at commit time; an
 * ev_prepare watcher at EV_MINPRI flushes the whole batch with one sendmmsg
 * just before the loop blocks, after every other prepare watcher has had its
 * chance to add packets (performance.md §2.3, §6.1).
 *
 * Offload, where the kernel has it (performance.md §1.2, §6.2), invisible
 * to callers except in the stats: at flush, a run of pending datagrams to
 * one destination, all of one length except a shorter last one, leaves as
 * one UDP_SEGMENT (GSO) send; with UDP_GRO the kernel hands over coalesced
 * buffers, which are cut back into datagrams for the recv callback. */
#ifndef VOLE_IO_UDP_H
#define VOLE_IO_UDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "wg/endpoint.h"

struct ev_loop;
struct vole_udp;

/* buf is one received datagram, writable (decrypt in place if you like) and
 * valid only during the call. Do not call vole_udp_close() from here. */
typedef void (*vole_udp_recv_fn)(void *ctx, const struct wg_endpoint *src, uint8_t *buf, size_t len);

#define VOLE_UDP_DEFAULT_BATCH 64
#define VOLE_UDP_DEFAULT_MAX_DATAGRAM 2048
#define VOLE_UDP_MAX_PAYLOAD 65535

struct vole_udp_config {
    uint16_t port;           /* 0 = ephemeral */
    const char *bind_addr;   /* numeric IPv4/IPv6 literal; NULL = any (dual-stack) */
    size_t batch;            /* datagrams per recvmmsg/sendmmsg; 0 = 64 */
    size_t max_datagram;     /* largest datagram received (the receive slot size
                              * without GRO); larger ones are dropped and counted
                              * in rx_dropped; 0 = 2048 */
    bool no_offload;         /* never use UDP GSO or GRO (tests; ruling it out); the
                              * environment's VOLE_UDP_NO_OFFLOAD=1 does the same */
};

/* Opens a dual-stack AF_INET6 socket (IPV6_V6ONLY=0; IPv4 peers appear as
 * family 4, never v4-mapped), falling back to AF_INET when IPv6 is missing.
 * An IPv4 bind_addr gives an AF_INET socket, which cannot reach IPv6 peers.
 * Returns NULL with err filled, e.g. "bind [::]:51820: Address already in use". */
struct vole_udp *vole_udp_open(struct ev_loop *loop, const struct vole_udp_config *cfg,
                               vole_udp_recv_fn recv, void *ctx, char *err, size_t errlen);

/* Stops the watchers and closes the socket; pending sends are discarded. */
void vole_udp_close(struct vole_udp *u);

uint16_t vole_udp_local_port(const struct vole_udp *u);

/* A slot of at least cap bytes (cap <= 65535) in the pending batch. NULL only
 * if cap is too big (or memory is exhausted). If the batch is full it is
 * flushed first; if the kernel still cannot take it (EAGAIN), the returned
 * slot is scratch space and its commit counts as tx_dropped. Asking for a new
 * slot without committing the previous one abandons the previous one. */
uint8_t *vole_udp_tx_slot(struct vole_udp *u, size_t cap);

/* Commit the last slot with its real length (<= the cap asked for) and
 * destination. An unreachable destination (IPv6 from an AF_INET socket, no
 * family) counts as tx_errors. */
void vole_udp_tx_commit(struct vole_udp *u, const struct wg_endpoint *dst, size_t len);

/* sendmmsg everything pending. On EAGAIN keep the rest and wait for EV_WRITE;
 * a datagram the kernel rejects is counted in tx_errors and skipped. A GSO
 * run the kernel rejects is resent one datagram at a time, so each datagram
 * fares as it would have without GSO; EIO (no checksum offload on the way
 * out) also turns GSO off for good. */
void vole_udp_flush(struct vole_udp *u);

struct vole_udp_stats {
    uint64_t rx_datagrams, rx_bytes, rx_syscalls;
    uint64_t tx_datagrams, tx_bytes, tx_syscalls, tx_errors, tx_dropped;
    uint64_t rx_dropped;   /* larger than max_datagram (MSG_TRUNC) */
    uint64_t rx_errors;    /* recvmmsg failures other than EAGAIN/EINTR */
    uint64_t tx_gso_sends;     /* sendmmsg entries carrying a UDP_SEGMENT run */
    uint64_t tx_gso_datagrams; /* datagrams sent in those (also in tx_datagrams) */
    uint64_t rx_gro_buffers;   /* received buffers holding more than one datagram */
    bool gso;              /* UDP GSO in use: probed at open, off for good after EIO */
    bool gro;              /* UDP_GRO enabled on the socket */
};
const struct vole_udp_stats *vole_udp_stats(const struct vole_udp *u);

/* Move to another local port (roaming tests, rebind after a network change).
 * The new socket is opened before the old one is closed, so on failure the
 * old socket keeps working; rebinding to the current port closes first.
 * Pending sends go out from the new socket. 0, or -1 with err. */
int vole_udp_rebind(struct vole_udp *u, uint16_t port, char *err, size_t errlen);

/* (An addition, for tailnet/conn.c.) Don't fragment anything this socket
 * sends, IPv4 and IPv6 (IP_PMTUDISC_DO / IPV6_PMTUDISC_DO), also after a
 * rebind: a datagram above the path MTU fails (tx_errors) instead of being
 * fragmented. 0, or -1 if the kernel refused. */
int vole_udp_set_dont_fragment(struct vole_udp *u);

/* Conversions used elsewhere. v4-mapped IPv6 addresses become family 4. */
void vole_sockaddr_to_endpoint(struct wg_endpoint *ep, const struct sockaddr *sa);
/* For a v6 socket an IPv4 endpoint becomes ::ffff:a.b.c.d. Returns 0 when the
 * endpoint cannot be expressed for that socket (IPv6 on AF_INET, family 0). */
socklen_t vole_endpoint_to_sockaddr(struct sockaddr_storage *ss, const struct wg_endpoint *ep, bool v6_socket);

#endif
