/* Printing speedtest results as Coder's CLI does (coder-behaviour.md §2):
 * the INTERVAL / TRANSFER / BANDWIDTH table, one row per interval as it
 * completes, and the -o json document. Times are seconds since the first
 * interval's start; the total row starts at 0.00. */
#ifndef VOLE_DIAG_SPEEDTEST_FORMAT_H
#define VOLE_DIAG_SPEEDTEST_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "diag/speedtest.h"

/* Coder's cliui tables size columns to their widest cell, which a streamed
 * table cannot know: these are the widths of a 5 s test at 100-999 Mbit/s
 * (Coder's own example), so such output matches it byte for byte; a wider
 * cell pushes the rest of its row right. Every cell is followed by two
 * spaces, as cliui pads. */
#define VOLE_SPEEDTEST_COL_INTERVAL  13
#define VOLE_SPEEDTEST_COL_TRANSFER  15
#define VOLE_SPEEDTEST_COL_BANDWIDTH 18
#define VOLE_SPEEDTEST_LINE_STR_MAX  256   /* three cells of up to 63 bytes and their padding */

/* "Starting a 5s download test..." (whole seconds, as Coder's %d). */
const char *vole_speedtest_starting_line(char buf[VOLE_SPEEDTEST_LINE_STR_MAX], int64_t duration_ns, int direction);
/* "INTERVAL       TRANSFER         BANDWIDTH           " */
const char *vole_speedtest_table_header(char buf[VOLE_SPEEDTEST_LINE_STR_MAX]);
/* "0.00-1.00 sec  630.7840 MBits   630.7404 Mbits/sec  "; base_ns is the
 * first interval's start; a total row starts at 0.00. */
const char *vole_speedtest_table_row(char buf[VOLE_SPEEDTEST_LINE_STR_MAX], const struct vole_speedtest_result *r,
                                     uint64_t base_ns);
/* Dashes across the table's width. */
const char *vole_speedtest_table_separator(char buf[VOLE_SPEEDTEST_LINE_STR_MAX]);

/* Coder's -o json, as Go's json.MarshalIndent(v, "", "  ") writes it, with a
 * final '\n': {"overall":{start_time_seconds (0), end_time_seconds,
 * throughput_mbits}, "intervals":[...]}. malloc'd; NULL when out of memory. */
char *vole_speedtest_json(const struct vole_speedtest_result *r, size_t n);

/* A float64 as Go's encoding/json writes it: the shortest text that reads
 * back as the same double, fixed notation ("0", "1.0028", "911.9") unless
 * below 1e-6 or from 1e21 ("1e-7"). */
#define VOLE_GO_FLOAT_STR_MAX 40
const char *vole_go_json_float(char buf[VOLE_GO_FLOAT_STR_MAX], double v);

/* Go's time.Duration.Seconds(). */
double vole_go_seconds(int64_t ns);

#endif
