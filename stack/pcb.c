#include "stack/pcb.h"

void vole_pcb_detach(struct tcp_pcb *pcb)
{
    tcp_arg(pcb, NULL);
    tcp_recv(pcb, NULL);
    tcp_sent(pcb, NULL);
    tcp_err(pcb, NULL);
    tcp_poll(pcb, NULL, 0);
}

err_t vole_pcb_release(struct tcp_pcb *pcb, bool graceful)
{
    vole_pcb_detach(pcb);
    if (graceful && tcp_close(pcb) == ERR_OK)
        return ERR_OK;
    tcp_abort(pcb);
    return ERR_ABRT;
}
