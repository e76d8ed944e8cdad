/* Letting go of an lwIP TCP pcb, the same way everywhere: every callback
 * cleared first (tcp_abort calls the err callback, and a closing pcb may
 * still deliver data), then a graceful close, or an abort if lwIP cannot
 * queue the FIN. */
#ifndef VOLE_STACK_PCB_H
#define VOLE_STACK_PCB_H

#include <stdbool.h>

#include "lwip/tcp.h"

/* arg, recv, sent, err and poll all cleared. */
void vole_pcb_detach(struct tcp_pcb *pcb);

/* Detaches, then tcp_close (graceful) or tcp_abort. The value is what an
 * lwIP callback must return: ERR_ABRT once the pcb was aborted, else ERR_OK.
 * pcb is gone either way. */
err_t vole_pcb_release(struct tcp_pcb *pcb, bool graceful);

#endif
