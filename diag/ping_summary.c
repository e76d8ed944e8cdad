/* The statistics after the pings (Coder's pingSummary, coder-behaviour.md
 * §1.7): float seconds, Welford's variance in s² shown as if seconds, and
 * durations converted back by truncation, as Go's time.Duration(f) does. */
#include <string.h>

#include "diag/duration.h"
#include "diag/ping_report.h"

#define NS_PER_S 1000000000LL

/* Go's Duration.Seconds(). */
static double seconds(int64_t ns)
{
    int64_t whole = ns / NS_PER_S;   /* whole seconds first, as Go does */
    return (double)whole + (double)(ns % NS_PER_S) / 1e9;
}

/* Go's time.Duration(f * float64(time.Second)), in range. */
static int64_t duration_of(double s)
{
    double ns = s * 1e9;
    if (ns >= 9.2e18)
        return INT64_MAX;
    if (ns <= -9.2e18)
        return INT64_MIN;
    return (int64_t)ns;
}

void vole_ping_summary_init(struct vole_ping_summary *s, const char *name)
{
    memset(s, 0, sizeof *s);
    s->name = name;
}

void vole_ping_summary_add(struct vole_ping_summary *s, bool ok, int64_t latency_ns)
{
    s->total++;
    if (!ok)
        return;
    s->successful++;
    double sec = seconds(latency_ns);
    int64_t d = duration_of(sec);
    if (s->successful == 1 || d < s->min_ns)
        s->min_ns = d;
    if (s->successful == 1 || d > s->max_ns)
        s->max_ns = d;
    s->sum_s += sec;
    double delta = sec - s->mean_s;
    s->mean_s += delta / (double)s->successful;
    s->m2 += delta * (sec - s->mean_s);
}

bool vole_ping_summary_avg(const struct vole_ping_summary *s, int64_t *ns)
{
    if (s->successful < 1)
        return false;
    *ns = duration_of(s->sum_s / (double)s->successful);
    return true;
}

bool vole_ping_summary_variance(const struct vole_ping_summary *s, int64_t *ns)
{
    if (s->successful < 2)
        return false;
    *ns = duration_of(s->m2 / (double)(s->successful - 1));
    return true;
}

/* ---- the table ------------------------------------------------------------ */

#define COLS 7
#define CELL_MAX 256   /* a DNS name is at most 253 */

/* Display columns: UTF-8 continuation bytes take none ("µs"). */
static size_t columns(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

static void duration_cell(char cell[CELL_MAX], bool have, int64_t ns)
{
    char dur[VOLE_DURATION_STR_MAX];
    snprintf(cell, CELL_MAX, "%s", have ? vole_duration_format(dur, ns) : "<nil>");
}

/* go-pretty as cliui.DisplayTable sets it up: no borders or separators,
 * every column padded on the right with two spaces (the last one too). */
static void print_row(FILE *f, char cells[COLS][CELL_MAX], const size_t width[COLS])
{
    for (int i = 0; i < COLS; i++)
        fprintf(f, "%s%*s", cells[i], (int)(width[i] - columns(cells[i]) + 2), "");
    fputc('\n', f);
}

void vole_ping_print_summary(FILE *f, const struct vole_ping_summary *s)
{
    char head[COLS][CELL_MAX] = { "WORKSPACE", "TOTAL", "SUCCESSFUL", "MIN", "AVG", "MAX", "VARIANCE" };
    char row[COLS][CELL_MAX];
    size_t width[COLS], line = 0;
    int64_t avg = 0, var = 0;
    bool have_avg = vole_ping_summary_avg(s, &avg), have_var = vole_ping_summary_variance(s, &var);

    snprintf(row[0], CELL_MAX, "%s", s->name ? s->name : "");
    snprintf(row[1], CELL_MAX, "%ld", s->total);
    snprintf(row[2], CELL_MAX, "%ld", s->successful);
    duration_cell(row[3], s->successful > 0, s->min_ns);
    duration_cell(row[4], have_avg, avg);
    duration_cell(row[5], s->successful > 0, s->max_ns);
    duration_cell(row[6], have_var, var);
    for (int i = 0; i < COLS; i++) {
        size_t h = columns(head[i]), r = columns(row[i]);
        width[i] = h > r ? h : r;
        line += width[i] + 2;
    }
    /* Coder's dashes: the byte length of the header line. */
    for (size_t i = 0; i < line; i++)
        fputc('-', f);
    fputc('\n', f);
    print_row(f, head, width);
    print_row(f, row, width);
}
