/* `vole agent`: being written (issue #5). */
#include <stdio.h>

#include "cli/commands.h"

int cmd_agent(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "vole agent: not built yet\n");
    return 2;
}
