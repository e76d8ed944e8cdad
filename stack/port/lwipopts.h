/* lwIP options for vole: NO_SYS=1 on one libev loop, one netif per WireGuard
 * tunnel, sized for 1 Gbit/s at 30 ms RTT. See shared/reference/performance.md §2. */
#ifndef VOLE_LWIPOPTS_H
#define VOLE_LWIPOPTS_H

#define NO_SYS                     1
#define LWIP_TIMERS                1   /* sys_check_timeouts() from an ev_timer */
#define SYS_LIGHTWEIGHT_PROT       0   /* one thread */
#define LWIP_NETCONN               0
#define LWIP_SOCKET                0

/* Memory: libc malloc for the heap and the pools. lwIP's fixed heap is the usual
 * cause of tcp_write ERR_MEM at speed. */
#define MEM_LIBC_MALLOC            1
#define MEMP_MEM_MALLOC            1
#define MEM_ALIGNMENT              8
#define MEMP_NUM_TCP_PCB           1024
#define MEMP_NUM_TCP_PCB_LISTEN    64
#define MEMP_NUM_UDP_PCB           64
#define MEMP_NUM_RAW_PCB           16
#define MEMP_NUM_TCP_SEG           16384
#define MEMP_NUM_PBUF              4096
#define PBUF_POOL_SIZE             256
/* Headroom before the IP header: room for the 16-byte WireGuard data header so
 * the send path could prepend it in place. */
#define PBUF_LINK_HLEN             16

/* Protocols. No link layer: the netif carries bare IP packets. */
#define LWIP_ARP                   0
#define LWIP_ETHERNET              0
#define LWIP_IPV4                  1
#define LWIP_IPV6                  1
#define LWIP_ICMP                  1
#define LWIP_ICMP6                 1
#define LWIP_RAW                   1
#define LWIP_UDP                   1
#define LWIP_TCP                   1
#define LWIP_DHCP                  0
#define LWIP_AUTOIP                0
#define LWIP_ACD                   0
#define LWIP_IGMP                  0
#define LWIP_DNS                   0
#define LWIP_IPV6_MLD              0
#define LWIP_IPV6_AUTOCONFIG       0
#define LWIP_IPV6_DHCP6            0
#define LWIP_IPV6_SEND_ROUTER_SOLICIT 0
#define LWIP_IPV6_DUP_DETECT_ATTEMPTS 0  /* overlay addresses are valid at once */
#define LWIP_IPV6_NUM_ADDRESSES    3
#define LWIP_ND6_ALLOW_RA_UPDATES  0
#define LWIP_HAVE_LOOPIF           0
#define LWIP_NETIF_LOOPBACK        0
#define LWIP_NETIF_STATUS_CALLBACK 0
#define LWIP_NETIF_LINK_CALLBACK   0

/* Fragmentation and reassembly of inner packets up to 64 KiB: one 64 KiB UDP
 * datagram over a 1280-byte MTU is ~52 fragments. */
#define IP_FRAG                    1
#define IP_REASSEMBLY              1
#define LWIP_IPV6_FRAG             1
#define LWIP_IPV6_REASS            1
#define IPV6_FRAG_COPYHEADER       1   /* required where pointers are 8 bytes */
#define IP_REASS_MAX_PBUFS         256
#define MEMP_NUM_REASSDATA         16
#define MEMP_NUM_FRAG_PBUF         256
#define IP_REASS_MAXAGE            5

/* Checksums: generated on send (a kernel peer may verify), never verified on
 * receive: every packet reaching lwIP was authenticated by Poly1305. */
#define CHECKSUM_GEN_IP            1
#define CHECKSUM_GEN_UDP           1
#define CHECKSUM_GEN_TCP           1
#define CHECKSUM_GEN_ICMP          1
#define CHECKSUM_GEN_ICMP6         1
#define CHECKSUM_CHECK_IP          0
#define CHECKSUM_CHECK_UDP         0
#define CHECKSUM_CHECK_TCP         0
#define CHECKSUM_CHECK_ICMP        0
#define CHECKSUM_CHECK_ICMP6       0
/* Not on copy: tcp_write would sum every byte as it copies (lwIP's
 * "on copy" is a memcpy followed by a sum, not one pass), which a TSO netif
 * (stack/stack.h vole_stack_set_tso) throws away: there lwIP's TCP checksum
 * is off and stack/tso.c sums each packet that leaves. The plain tunnel
 * sums each segment once at output instead. Measured, direct speedtest on
 * loopback: 5.6 -> 6.2 Gbit/s. The sum itself is port/chksum.c's
 * (LWIP_CHKSUM in arch/cc.h). */
#define LWIP_CHECKSUM_ON_COPY      0
#define LWIP_CHECKSUM_CTRL_PER_NETIF 1

/* TCP, sized for 1 Gbit/s x 30 ms (3.75 MB bandwidth-delay product). lwIP has
 * no window autotuning, so the window is the ceiling: 4 MiB both ways.
 * Issue #8: TCP_MSS is the segment size on a TSO netif (stack/tso.h), whose
 * MTU is 64 KiB; stack/tso.c cuts each segment to the path as it leaves.
 * 16000: lwIP's sanity check caps TCP_MSS at 16382; four segments fit a
 * kernel receiver's first ~64 KB window (one 64 KB segment would not: lwIP
 * sends whole segments only), and a loss resends at most 16 KB. Every other
 * netif (the plain tunnel) caps the MSS at its MTU - 40, as before. */
#define TCP_MSS                    16000
#define TCP_CALCULATE_EFF_SEND_MSS 1
#define LWIP_WND_SCALE             1
#define TCP_RCV_SCALE              7
#define TCP_WND                    (4 * 1024 * 1024)
#define TCP_SND_BUF                (4 * 1024 * 1024)
/* In pbufs, and so about segments: enough for a full send buffer of the
 * plain tunnel's ~1380-byte segments with room for chained pbufs (the
 * value the old 1460-byte TCP_MSS gave), far more than TSO's 16000 needs. */
#define TCP_SND_QUEUELEN           (4 * TCP_SND_BUF / 1460)
/* Used by netconn only (off here); lwIP's check wants it 4 MSS below 64 KiB. */
#define TCP_SNDLOWAT               1024
#define TCP_SNDQUEUELOWAT          (TCP_SND_QUEUELEN / 2)
/* A segment's pbuf is allocated at its full size (the MSS at most) when
 * more data is likely to follow, so a segment is one pbuf whatever the
 * write size: on a TSO netif that is up to 16000 bytes per segment. */
#define TCP_OVERSIZE               TCP_MSS
#define TCP_QUEUE_OOSEQ            1
#define LWIP_TCP_SACK_OUT          1
#define LWIP_TCP_MAX_SACK_NUM      4
#define LWIP_TCP_KEEPALIVE         1
#define TCP_LISTEN_BACKLOG         1
#define LWIP_TCP_RTO_TIME          1000  /* initial RTO; 3 s is too slow on a LAN */
/* lwIP counts the RTO in slow-timer ticks (2 x this interval). At the default
 * 250 ms a lost segment that fast retransmit misses stalls a connection for
 * 0.5-1.5 s, and lwIP's Reno recovery misses many (no SACK, and dupacks that
 * carry a window update, as Linux receivers send, are not counted). 10 ms ticks
 * make those stalls ~25x shorter; the timer only runs while connections exist.
 * Measured vole -> wireguard-go: 0.1 Gbit/s at 250 ms, 0.3-0.5 at 25 ms, 0.55-0.6 at 10 ms. */
#define TCP_TMR_INTERVAL           10
/* Random initial sequence numbers (stack/): lwIP's default is a global
 * counter starting at 6510 plus tcp_ticks, i.e. guessable. LWIP_RAND is
 * libsodium's randombytes_random (arch/cc.h). */
#define LWIP_HOOK_TCP_ISN(local_ip, local_port, remote_ip, remote_port) ((u32_t)LWIP_RAND())

#define LWIP_STATS                 0
#define LWIP_STATS_DISPLAY         0
/* LWIP_DEBUG is deliberately left undefined: lwIP tests it with #ifdef, so
 * even "#define LWIP_DEBUG 0" compiles the debug paths in (stack/). */

#endif
