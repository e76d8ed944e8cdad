/* `vole server`: being written (issue #5). */
#include <stdio.h>

#include "cli/commands.h"

int cmd_server(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "vole server: not built yet\n");
    return 2;
}
