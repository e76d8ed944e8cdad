/* Speedtest output lines and JSON (diag/speedtest_format.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag/speedtest_format.h"

#define NS_PER_S 1000000000LL

const char *vole_speedtest_starting_line(char buf[VOLE_SPEEDTEST_LINE_STR_MAX], int64_t duration_ns, int direction)
{
    snprintf(buf, VOLE_SPEEDTEST_LINE_STR_MAX, "Starting a %llds %s test...", (long long)(duration_ns / NS_PER_S),
             direction == VOLE_SPEEDTEST_UPLOAD ? "upload" : "download");
    return buf;
}

static const char *row3(char buf[VOLE_SPEEDTEST_LINE_STR_MAX], const char *a, const char *b, const char *c)
{
    snprintf(buf, VOLE_SPEEDTEST_LINE_STR_MAX, "%-*s  %-*s  %-*s  ", VOLE_SPEEDTEST_COL_INTERVAL, a,
             VOLE_SPEEDTEST_COL_TRANSFER, b, VOLE_SPEEDTEST_COL_BANDWIDTH, c);
    return buf;
}

const char *vole_speedtest_table_header(char buf[VOLE_SPEEDTEST_LINE_STR_MAX])
{
    return row3(buf, "INTERVAL", "TRANSFER", "BANDWIDTH");
}

double vole_go_seconds(int64_t ns)
{
    /* Go splits whole seconds from the rest so large values stay exact. */
    int64_t sec = ns / NS_PER_S, rest = ns % NS_PER_S;
    return (double)sec + (double)rest / 1e9;
}

static double rel(uint64_t t, uint64_t base)
{
    return vole_go_seconds((int64_t)(t - base));
}

const char *vole_speedtest_table_row(char buf[VOLE_SPEEDTEST_LINE_STR_MAX], const struct vole_speedtest_result *r,
                                     uint64_t base_ns)
{
    char a[64], b[64], c[64];

    snprintf(a, sizeof a, "%.2f-%.2f sec", r->total ? 0.0 : rel(r->start_ns, base_ns), rel(r->end_ns, base_ns));
    snprintf(b, sizeof b, "%.4f MBits", vole_speedtest_megabits(r));
    snprintf(c, sizeof c, "%.4f Mbits/sec", vole_speedtest_mbits_per_second(r));
    return row3(buf, a, b, c);
}

const char *vole_speedtest_table_separator(char buf[VOLE_SPEEDTEST_LINE_STR_MAX])
{
    size_t w = VOLE_SPEEDTEST_COL_INTERVAL + VOLE_SPEEDTEST_COL_TRANSFER + VOLE_SPEEDTEST_COL_BANDWIDTH + 3 * 2;

    memset(buf, '-', w);
    buf[w] = '\0';
    return buf;
}

/* The fewest significant digits (1..17) that read back as v, as "%.*e". */
static void shortest_e(char *out, size_t len, double v)
{
    for (int p = 1; p <= 17; p++) {
        snprintf(out, len, "%.*e", p - 1, v);
        if (strtod(out, NULL) == v)
            return;
    }
}

/* digits "d.ddd" and exponent from "%e" text -> plain digits and exp. */
static void split_e(const char *e, char *digits, size_t dlen, int *exp)
{
    size_t n = 0;
    const char *p = e;

    for (; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9' && n + 1 < dlen)
            digits[n++] = *p;
    digits[n] = '\0';
    *exp = *p == 'e' ? atoi(p + 1) : 0;
    while (n > 1 && digits[n - 1] == '0')   /* "%.0e" of 100 is "1e+02" already; trim any other */
        digits[--n] = '\0';
}

static void fixed_from_digits(char *out, size_t len, bool neg, const char *d, int exp)
{
    int nd = (int)strlen(d);
    size_t o = 0;

    if (neg)
        out[o++] = '-';
    if (exp < 0) {
        o += (size_t)snprintf(out + o, len - o, "0.");
        for (int i = -1; i > exp; i--)
            out[o++] = '0';
        snprintf(out + o, len - o, "%s", d);
    } else if (exp + 1 >= nd) {
        o += (size_t)snprintf(out + o, len - o, "%s", d);
        for (int i = nd; i < exp + 1; i++)
            out[o++] = '0';
        out[o] = '\0';
    } else {
        snprintf(out + o, len - o, "%.*s.%s", exp + 1, d, d + exp + 1);
    }
}

const char *vole_go_json_float(char buf[VOLE_GO_FLOAT_STR_MAX], double v)
{
    char e[48], d[24];
    int exp;
    double a = fabs(v);

    if (!isfinite(v)) {   /* Go refuses these; never produced here */
        snprintf(buf, VOLE_GO_FLOAT_STR_MAX, "0");
        return buf;
    }
    if (v == 0) {
        snprintf(buf, VOLE_GO_FLOAT_STR_MAX, "0");
        return buf;
    }
    shortest_e(e, sizeof e, a);
    split_e(e, d, sizeof d, &exp);
    if (a < 1e-6 || a >= 1e21) {
        /* Go's 'e' with the exponent's leading zeros cut: 1e-07 -> 1e-7, 1.5e+21 */
        int nd = (int)strlen(d);
        snprintf(buf, VOLE_GO_FLOAT_STR_MAX, "%s%c%s%se%s%d", v < 0 ? "-" : "", d[0], nd > 1 ? "." : "",
                 nd > 1 ? d + 1 : "", exp >= 0 ? "+" : "", exp);
        return buf;
    }
    fixed_from_digits(buf, VOLE_GO_FLOAT_STR_MAX, v < 0, d, exp);
    return buf;
}

/* One {start,end,throughput} object at the given indent. */
static int put_interval(FILE *f, const char *ind, double start, double end, double mbits)
{
    char a[VOLE_GO_FLOAT_STR_MAX], b[VOLE_GO_FLOAT_STR_MAX], c[VOLE_GO_FLOAT_STR_MAX];

    return fprintf(f,
                   "{\n%s  \"start_time_seconds\": %s,\n%s  \"end_time_seconds\": %s,\n%s  \"throughput_mbits\": %s\n%s}",
                   ind, vole_go_json_float(a, start), ind, vole_go_json_float(b, end), ind,
                   vole_go_json_float(c, mbits), ind);
}

char *vole_speedtest_json(const struct vole_speedtest_result *r, size_t n)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    uint64_t base = n ? r[0].start_ns : 0;
    double oend = 0, ombits = 0;
    bool first = true;

    if (!f)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (r[i].total) {
            oend = rel(r[i].end_ns, base);
            ombits = vole_speedtest_mbits_per_second(&r[i]);
        }
    fputs("{\n  \"overall\": ", f);
    put_interval(f, "  ", 0, oend, ombits);
    fputs(",\n  \"intervals\": [", f);
    for (size_t i = 0; i < n; i++) {
        if (r[i].total)
            continue;
        fputs(first ? "\n    " : ",\n    ", f);
        put_interval(f, "    ", rel(r[i].start_ns, base), rel(r[i].end_ns, base),
                     vole_speedtest_mbits_per_second(&r[i]));
        first = false;
    }
    fputs(first ? "]\n}\n" : "\n  ]\n}\n", f);
    if (fclose(f) != 0) {
        free(out);
        return NULL;
    }
    return out;
}
