#include "conf/bool.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

int vole_parse_bool(const char *v, bool *out)
{
    if (!strcasecmp(v, "true") || !strcasecmp(v, "t") || !strcmp(v, "1"))
        *out = true;
    else if (!strcasecmp(v, "false") || !strcasecmp(v, "f") || !strcmp(v, "0") || !*v)
        *out = false;
    else
        return -1;
    return 0;
}

bool vole_env_bool(const char *name, bool dflt)
{
    const char *v = getenv(name);
    bool b;

    if (!v || !*v || vole_parse_bool(v, &b) < 0)
        return dflt;
    return b;
}
