/* Durations as text, spelled exactly like Go's time.Duration so that output
 * lines match the tools this project mirrors (coder ping, speedtest). */
#ifndef VOLE_DIAG_DURATION_H
#define VOLE_DIAG_DURATION_H

#include <stdint.h>

/* The longest output, "-2562047h47m16.854775808s", is 25 bytes plus NUL. */
#define VOLE_DURATION_STR_MAX 40

/* Go's Duration.String(): "0s", "1ns", "1.5µs" (U+00B5), "42ms", "1.234s",
 * "1m0s", "1h2m3.5s"; trailing fraction zeros trimmed; '-' when negative.
 * Returns buf. */
const char *vole_duration_format(char buf[VOLE_DURATION_STR_MAX], int64_t ns);

/* Go's time.ParseDuration: an optional sign, then one or more decimal
 * numbers with a unit (ns, us, µs, μs, ms, s, m, h), e.g. "1m30s", "1.5s",
 * "250us"; a bare "0" is allowed. Fractions are computed exactly (Go uses a
 * float64, which can differ by 1ns in contrived inputs). 0, or -1 on a
 * syntax error or overflow (*ns untouched). */
int vole_duration_parse(const char *s, int64_t *ns);

#endif
