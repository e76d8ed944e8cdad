/* The per-ping lines of `vole ping NAME` and the final verdict, byte for
 * byte as coder ping prints them without colours (coder-behaviour.md §1.3). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "diag/duration.h"
#include "diag/ping_report.h"

#define NS_PER_MS 1000000LL

int64_t vole_ping_round(int64_t ns, int64_t m)
{
    int64_t r = ns % m;

    if (ns < 0) {
        r = -r;
        if (r + r < m)
            return ns + r;
        return ns < INT64_MIN + (m - r) ? INT64_MIN : ns - (m - r);   /* saturate, as Go */
    }
    if (r + r < m)
        return ns - r;
    return ns > INT64_MAX - (m - r) ? INT64_MAX : ns + (m - r);
}

const char *vole_ping_rfc3339(char buf[32], int64_t unix_s, int utc_offset_s)
{
    time_t shifted = (time_t)(unix_s + utc_offset_s);
    struct tm tm;
    int off = abs(utc_offset_s) / 60;
    size_t n;

    if (!gmtime_r(&shifted, &tm)) {
        snprintf(buf, 32, "(bad time)");
        return buf;
    }
    n = strftime(buf, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    if (utc_offset_s == 0)
        snprintf(buf + n, 32 - n, "Z");
    else
        snprintf(buf + n, 32 - n, "%c%02d:%02d", utc_offset_s < 0 ? '-' : '+', off / 60, off % 60);
    return buf;
}

const char *vole_ping_region_name(const struct derp_map *m, long long id)
{
    const struct derp_map_region *r = m ? derp_map_region(m, id) : NULL;
    return r ? r->name : "unknown";
}

static void print_time_prefix(FILE *f, const struct vole_ping_clock *c)
{
    char t[32];
    if (c && c->show)
        fprintf(f, "[%s] ", vole_ping_rfc3339(t, c->unix_s, c->utc_offset_s));
}

void vole_ping_print_pong(FILE *f, const char *name, const struct vole_ping_pong *p,
                          const struct derp_map *m, const struct vole_ping_clock *c)
{
    char dur[VOLE_DURATION_STR_MAX];

    vole_duration_format(dur, vole_ping_round(p->latency_ns, NS_PER_MS));
    print_time_prefix(f, c);
    if (p->direct)
        fprintf(f, "pong from %s p2p via %s in %s\n", name, p->endpoint ? p->endpoint : "", dur);
    else
        fprintf(f, "pong from %s proxied via DERP(%s) in %s\n", name, vole_ping_region_name(m, p->derp_region), dur);
}

/* Go's %q for the text a user typed: quotes, backslash escapes, \xNN for
 * other control bytes; bytes from 0x80 pass through (UTF-8 names). */
static void print_quoted(FILE *f, const char *s)
{
    static const char esc[] = "\a\b\t\n\v\f\r";
    static const char letter[] = "abtnvfr";

    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        const char *e = *p ? strchr(esc, *p) : NULL;
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (e)
            fprintf(f, "\\%c", letter[e - esc]);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(f, "\\x%02x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

/* Coder prints the time prefix on pong lines only; errors have none. */
void vole_ping_print_timeout(FILE *f, const char *name)
{
    fputs("ping to ", f);
    print_quoted(f, name);
    fputs(" timed out \n", f);
}

void vole_ping_print_failed(FILE *f, const char *name, const char *err)
{
    fputs("ping to ", f);
    print_quoted(f, name);
    fprintf(f, " failed %s\n", err);
}

void vole_ping_print_p2p_established(FILE *f, int64_t since_start_ns)
{
    char dur[VOLE_DURATION_STR_MAX];
    fprintf(f, "p2p connection established in %s\n",
            vole_duration_format(dur, vole_ping_round(since_start_ns, NS_PER_MS)));
}

static bool endpoint_is_private(const char *ep)
{
    uint8_t family, addr[16];
    return ep && vole_ip_parse_loose(ep, &family, addr) && vole_ip_is_private(family, addr);
}

void vole_ping_print_verdict(FILE *f, const struct vole_ping_pong *last, const char *url)
{
    if (last && last->direct) {
        fprintf(f, "✔ You are connected directly (p2p)%s\n",
                endpoint_is_private(last->endpoint) ? ", over a private network" : "");
        return;
    }
    fprintf(f, "❗ You are connected via a DERP relay, not directly (p2p)\n   %s#common-problems-with-direct-connections\n",
            url ? url : VOLE_TROUBLESHOOTING_URL);
}
