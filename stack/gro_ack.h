/* The ACK policy for merged segments (stack/gro.h). */
#ifndef VOLE_STACK_GRO_ACK_H
#define VOLE_STACK_GRO_ACK_H

#include "lwip/pbuf.h"

/* p is a merged TCP segment (an IP packet of two or more full segments)
 * about to enter lwIP. lwIP ACKs every second segment it sees, so alone it
 * would hold the ACK for a merged run of, say, 50 segments until the next
 * segment or its fast timer; RFC 1122 asks for an ACK at least every second
 * full-sized segment, and so does Linux for its GRO segments. This marks the
 * connection as owing a delayed ACK, so that lwIP's own "second segment"
 * rule sends the ACK for p at once. No connection matches: nothing to do. */
void vole_gro_ack_hint(const struct pbuf *p);

#endif
