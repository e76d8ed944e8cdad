#include "io/logf.h"

#include <stdio.h>

void vole_vlogf(vole_log_fn log, void *ctx, const char *fmt, va_list ap)
{
    char msg[VOLE_LOG_LINE_MAX];

    if (!log)
        return;
    vsnprintf(msg, sizeof msg, fmt, ap);
    log(ctx, msg);
}

void vole_logf(vole_log_fn log, void *ctx, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vole_vlogf(log, ctx, fmt, ap);
    va_end(ap);
}

int vole_errf(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}
