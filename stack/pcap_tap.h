/* --pcap-file: the inner IP packets crossing a tunnel netif (both ways),
 * written with libpcap's dump API as LINKTYPE_RAW (DLT_RAW), so tshark and
 * tcpdump read the file. */
#ifndef VOLE_STACK_PCAP_TAP_H
#define VOLE_STACK_PCAP_TAP_H

#include <stddef.h>
#include <stdint.h>

struct vole_stack;
struct vole_pcap_tap;

/* Creates (truncates) path. NULL with err. */
struct vole_pcap_tap *vole_pcap_tap_open(const char *path, char *err, size_t errlen);
/* Starts capturing s's packets (s NULL: stops); one stack at a time. */
void vole_pcap_tap_attach(struct vole_pcap_tap *t, struct vole_stack *s);
/* Packets written so far. */
uint64_t vole_pcap_tap_count(const struct vole_pcap_tap *t);
/* Detaches, flushes and closes. 0, or -1 with err if the file could not be
 * written completely. */
int vole_pcap_tap_close(struct vole_pcap_tap *t, char *err, size_t errlen);

#endif
