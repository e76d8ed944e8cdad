/* Sending ICMP / ICMPv6 echo requests through the tunnel and timing replies.
 * (Answering echo requests is lwIP's own job.) */
#ifndef VOLE_PING_H
#define VOLE_PING_H

#include <stddef.h>
#include <stdint.h>

#include "lwip/ip_addr.h"

struct vole_stack;
struct vole_pinger;

#define VOLE_PING_MAX_PAYLOAD 65000

/* A reply to one of our requests: seq, its payload length, round-trip time. */
typedef void (*vole_ping_reply_fn)(void *ctx, uint16_t seq, size_t payload_len, uint64_t rtt_ns);

/* Pings dst (IPv4 or IPv6) through s with a random echo identifier. */
struct vole_pinger *vole_pinger_new(struct vole_stack *s, const ip_addr_t *dst,
                                    vole_ping_reply_fn cb, void *ctx);
/* One echo request; payload_len up to VOLE_PING_MAX_PAYLOAD (lwIP fragments
 * anything above the MTU). 0 or a negative err_t. */
int vole_pinger_send(struct vole_pinger *p, uint16_t seq, size_t payload_len);
void vole_pinger_free(struct vole_pinger *p);

#endif
