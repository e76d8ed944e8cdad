/* `vole forward`: being written (issue #5). */
#include <stdio.h>

#include "cli/commands.h"

int cmd_forward(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "vole forward: not built yet\n");
    return 2;
}
