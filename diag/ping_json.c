/* `vole ping -o json`: the document of coder-behaviour.md §1.7, written as
 * Go's json.MarshalIndent(v, "", "  ") writes it: Go's string escaping and
 * Go's shortest float text, which jansson does not produce. */
#include <stdlib.h>
#include <string.h>

#include "diag/ping_report.h"

#define NS_PER_MS 1000000LL

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n, unsigned long *cp)
{
    size_t len = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc0 ? 2 : 0;
    static const unsigned long min[5] = { 0, 0, 0x80, 0x800, 0x10000 };

    if (len == 0 || len > n || s[0] > 0xf4)
        return 0;
    *cp = s[0] & (0x7f >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        *cp = (*cp << 6) | (s[i] & 0x3f);
    }
    if (*cp < min[len] || *cp > 0x10ffff || (*cp >= 0xd800 && *cp <= 0xdfff))
        return 0;
    return len;
}

/* Go's encoding/json: \" \\ \n \r \t \b \f, other controls and <, >, &,
 * U+2028, U+2029 as \u00XX / \u20XX, bad UTF-8 as \ufffd. */
static void put_string(FILE *f, const char *str)
{
    const unsigned char *s = (const unsigned char *)(str ? str : "");
    size_t n = strlen((const char *)s);
    static const char short_esc[] = "\"\\\n\r\t\b\f", short_letter[] = "\"\\nrtbf";

    fputc('"', f);
    for (size_t i = 0; i < n;) {
        unsigned long cp;
        const char *e = strchr(short_esc, s[i]);
        if (s[i] < 0x80) {
            if (s[i] && e)
                fprintf(f, "\\%c", short_letter[e - short_esc]);
            else if (s[i] < 0x20 || s[i] == '<' || s[i] == '>' || s[i] == '&')
                fprintf(f, "\\u%04x", s[i]);
            else
                fputc(s[i], f);
            i++;
            continue;
        }
        size_t len = utf8_len(s + i, n - i, &cp);
        if (len == 0) {
            fputs("\\ufffd", f);
            i++;
        } else if (cp == 0x2028 || cp == 0x2029) {
            fprintf(f, "\\u%04lx", cp);
            i += len;
        } else {
            fwrite(s + i, 1, len, f);
            i += len;
        }
    }
    fputc('"', f);
}

/* ns / 1e6 as Go formats the float64: the exact decimal, trailing zeros
 * trimmed. It is the shortest text that reads back as the same float when it
 * has at most 15 significant digits, i.e. below 1e15 ns (11 days). */
static void put_ms(FILE *f, int64_t ns)
{
    unsigned long long u = ns < 0 ? 0ull - (unsigned long long)ns : (unsigned long long)ns;
    char frac[8];
    int len = 6;

    snprintf(frac, sizeof frac, "%06llu", u % NS_PER_MS);
    while (len > 0 && frac[len - 1] == '0')
        len--;
    fprintf(f, "%s%llu", ns < 0 ? "-" : "", u / NS_PER_MS);
    if (len)
        fprintf(f, ".%.*s", len, frac);
}

/* Go's time.Time.MarshalJSON: RFC 3339 with nanoseconds, zeros trimmed. */
static void put_time(FILE *f, int64_t unix_ns)
{
    int64_t sec = unix_ns / 1000000000LL, nsec = unix_ns % 1000000000LL;
    char t[32], frac[16];
    int len = 9;

    if (nsec < 0) {
        sec--;
        nsec += 1000000000LL;
    }
    vole_ping_rfc3339(t, sec, 0);
    t[strlen(t) - 1] = '\0';    /* the 'Z', written after the fraction */
    snprintf(frac, sizeof frac, "%09lld", (long long)nsec);
    while (len > 0 && frac[len - 1] == '0')
        len--;
    fprintf(f, "\"%s%s%.*sZ\"", t, len ? "." : "", len, frac);
}

static void put_pong(FILE *f, const struct vole_ping_json_pong *p, const struct derp_map *m)
{
    fprintf(f, "    {\n      \"sequence\": %ld,\n      \"time\": ", p->sequence);
    put_time(f, p->unix_ns);
    if (p->error) {
        fputs(",\n      \"error\": ", f);
        put_string(f, p->error);
        fputs("\n    }", f);
        return;
    }
    fputs(",\n      \"latency_ms\": ", f);
    put_ms(f, p->pong.latency_ns);
    fprintf(f, ",\n      \"direct\": %s", p->pong.direct ? "true" : "false");
    if (!p->pong.direct) {
        fputs(",\n      \"derp_region\": ", f);
        put_string(f, vole_ping_region_name(m, p->pong.derp_region));
    }
    fputs("\n    }", f);
}

static void put_ms_field(FILE *f, const char *key, bool have, int64_t ns)
{
    if (!have)
        return;   /* omitempty */
    fprintf(f, ",\n    \"%s\": ", key);
    put_ms(f, ns);
}

static void put_summary(FILE *f, const struct vole_ping_summary *s)
{
    int64_t avg = 0, var = 0;
    bool have_avg = vole_ping_summary_avg(s, &avg), have_var = vole_ping_summary_variance(s, &var);

    fprintf(f, "  \"summary\": {\n    \"total\": %ld,\n    \"successful\": %ld", s->total, s->successful);
    put_ms_field(f, "min_ms", s->successful > 0, s->min_ns);
    put_ms_field(f, "avg_ms", have_avg, avg);
    put_ms_field(f, "max_ms", s->successful > 0, s->max_ns);
    put_ms_field(f, "variance_ms", have_var, var);
    fputs("\n  }\n", f);
}

char *vole_ping_json(const char *name, const struct vole_ping_json_pong *pongs, size_t n,
                     const struct vole_ping_summary *s, const struct derp_map *m)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    if (!f)
        return NULL;
    fputs("{\n  \"workspace\": ", f);
    put_string(f, name);
    fputs(",\n  \"pongs\": [", f);
    for (size_t i = 0; i < n; i++) {
        fputs(i ? ",\n" : "\n", f);
        put_pong(f, &pongs[i], m);
    }
    fputs(n ? "\n  ],\n" : "],\n", f);
    put_summary(f, s);
    fputs("}\n", f);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}
