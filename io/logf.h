/* Log lines through an embedder's callback: every module that reports
 * something takes a (log, ctx) pair, and formats its line here; and the
 * error text of parsers. */
#ifndef VOLE_IO_LOGF_H
#define VOLE_IO_LOGF_H

#include <stdarg.h>
#include <stddef.h>

typedef void (*vole_log_fn)(void *ctx, const char *msg);

#define VOLE_LOG_LINE_MAX 512   /* longer lines are cut */

/* Formats and passes one line to log; nothing when log is NULL. */
void vole_logf(vole_log_fn log, void *ctx, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void vole_vlogf(vole_log_fn log, void *ctx, const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));

/* The (err, errlen) convention of parsers: formats the reason into err and
 * returns -1, so that `return vole_errf(err, errlen, "...", ...);` ends a
 * failed parse in one line. */
int vole_errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
