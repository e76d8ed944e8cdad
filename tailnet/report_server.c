/* Placeholder until the report server lands (next commit). */
#include "tailnet/node_int.h"
void tn_report_server_start(struct vole_tailnet *t) { (void)t; }
void tn_report_server_stop(struct vole_tailnet *t) { (void)t; }
