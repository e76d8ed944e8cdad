/* Fitting inner packets to a peer's path MTU (issue #7), as pure functions on
 * whole IP packets (no lwIP state): the tunnel's sending side fragments an
 * IPv4 or IPv6 packet larger than the peer's inner MTU (the receiving lwIP
 * reassembles), and clamps the MSS option of TCP SYNs in both directions so
 * that new connections need no fragments. Both ends are vole: toward a plain
 * WireGuard peer the configured MTU rules and nothing here runs. */
#ifndef VOLE_STACK_IPFRAG_H
#define VOLE_STACK_IPFRAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One fragment, a whole IP packet of len bytes (valid during the call). */
typedef void (*vole_frag_emit_fn)(void *ctx, const uint8_t *pkt, size_t len);

/* Splits pkt (len bytes, IPv4 or IPv6) into fragments of at most mtu bytes
 * each and emits them in order. IPv4: the header (with options) copied into
 * each, offsets in 8-byte units, MF on all but the last, total length and
 * header checksum recomputed; an already-fragmented packet is split further
 * (its offset and MF kept); DF is ignored (our own stack's packets).
 * IPv6: a Fragment header (next header 44) after the fixed header, with
 * identification id; a packet that already has a Fragment header, or
 * extension headers before its payload, is refused. A packet of at most mtu
 * bytes is emitted unchanged. Returns the number of packets emitted, or -1
 * with nothing emitted: malformed, or mtu too small to carry 8 bytes of
 * payload after the headers (IPv4 below 68; IPv6 below 56 — under IPv6's
 * 1280 minimum, which is fine between two vole ends that reassemble). */
int vole_ip_fragment(const uint8_t *pkt, size_t len, size_t mtu, uint32_t id, vole_frag_emit_fn emit, void *ctx);

/* If pkt is a TCP segment with SYN set and an MSS option above max_mss,
 * lowers the option to max_mss and updates the TCP checksum incrementally
 * (RFC 1624). true when it changed pkt. Fragments and non-TCP: false. */
bool vole_tcp_clamp_mss(uint8_t *pkt, size_t len, uint16_t max_mss);

/* If pkt is a TCP segment with SYN set and an MSS option: its value in
 * *advertised (if not NULL), the option set to mss with the TCP checksum
 * updated incrementally, and true. Else false, pkt unchanged. Issue #8:
 * the peer's SYN raised to lwIP's large segment size (stack/tso.h). */
bool vole_tcp_set_mss(uint8_t *pkt, size_t len, uint16_t mss, uint16_t *advertised);

/* The MSS that fits an inner MTU for a family (4: mtu - 40, 6: mtu - 60). */
static inline uint16_t vole_mss_for_mtu(uint8_t family, uint16_t mtu)
{
    unsigned h = family == 6 ? 60u : 40u;
    return mtu > h ? (uint16_t)(mtu - h) : 0;
}

#endif
