#include "diag/duration.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define NS_PER_US 1000ull
#define NS_PER_MS 1000000ull
#define NS_PER_S 1000000000ull
/* |INT64_MIN|: the largest magnitude a duration can have. */
#define MAGNITUDE_MAX (1ull << 63)

/* ---- format ----------------------------------------------------------- */

struct out {
    char *p, *end;
};

static void put(struct out *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->p, (size_t)(o->end - o->p), fmt, ap);
    va_end(ap);
    if (n > 0)
        o->p += n < o->end - o->p ? n : o->end - o->p - 1;
}

/* ".5" for frac=500 of 3 digits; nothing for 0 (Go prints "1s", not "1.0s"). */
static void put_frac(struct out *o, uint64_t frac, int digits)
{
    if (frac == 0)
        return;
    while (frac % 10 == 0) {
        frac /= 10;
        digits--;
    }
    put(o, ".%0*" PRIu64, digits, frac);
}

/* Seconds and up: "1.5s", "1m0s", "1h0m0s"; the smaller units are always
 * printed once a larger one is. */
static void put_hms(struct out *o, uint64_t u)
{
    uint64_t secs = u / NS_PER_S;
    if (secs >= 3600)
        put(o, "%" PRIu64 "h", secs / 3600);
    if (secs >= 60)
        put(o, "%" PRIu64 "m", secs / 60 % 60);
    put(o, "%" PRIu64, secs % 60);
    put_frac(o, u % NS_PER_S, 9);
    put(o, "s");
}

const char *vole_duration_format(char buf[VOLE_DURATION_STR_MAX], int64_t ns)
{
    struct out o = {buf, buf + VOLE_DURATION_STR_MAX};
    /* Negate in unsigned arithmetic so INT64_MIN has a magnitude too. */
    uint64_t u = ns < 0 ? 0 - (uint64_t)ns : (uint64_t)ns;
    buf[0] = '\0';
    if (ns < 0)
        put(&o, "-");
    if (u == 0) {
        put(&o, "0s");
    } else if (u < NS_PER_US) {
        put(&o, "%" PRIu64 "ns", u);
    } else if (u < NS_PER_MS) {
        put(&o, "%" PRIu64, u / NS_PER_US);
        put_frac(&o, u % NS_PER_US, 3);
        put(&o, "\xc2\xb5s");   /* U+00B5 MICRO SIGN, as Go prints it */
    } else if (u < NS_PER_S) {
        put(&o, "%" PRIu64, u / NS_PER_MS);
        put_frac(&o, u % NS_PER_MS, 6);
        put(&o, "ms");
    } else {
        put_hms(&o, u);
    }
    return buf;
}

/* ---- parse ------------------------------------------------------------ */

struct unit {
    const char *name;
    uint64_t ns;
};

/* Go accepts both the micro sign (U+00B5) and the Greek mu (U+03BC). */
static const struct unit UNITS[] = {
    {"ns", 1},
    {"us", NS_PER_US},
    {"\xc2\xb5s", NS_PER_US},
    {"\xce\xbcs", NS_PER_US},
    {"ms", NS_PER_MS},
    {"s", NS_PER_S},
    {"m", 60 * NS_PER_S},
    {"h", 3600 * NS_PER_S},
};

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* The unit runs up to the next number (or the end), as in Go, so "5 s" has
 * the unknown unit " s" rather than being silently accepted. */
static uint64_t take_unit(const char **s)
{
    size_t n = 0;
    while ((*s)[n] && (*s)[n] != '.' && !is_digit((*s)[n]))
        n++;
    for (size_t i = 0; i < sizeof UNITS / sizeof UNITS[0]; i++) {
        if (strlen(UNITS[i].name) == n && memcmp(UNITS[i].name, *s, n) == 0) {
            *s += n;
            return UNITS[i].ns;
        }
    }
    return 0;
}

/* Integer part; false on overflow. */
static bool take_int(const char **s, uint64_t *v)
{
    *v = 0;
    for (; is_digit(**s); (*s)++) {
        uint64_t d = (uint64_t)(**s - '0');
        if (*v > (MAGNITUDE_MAX - d) / 10)
            return false;
        *v = *v * 10 + d;
    }
    return true;
}

/* Fraction digits as num/scale. Digits past 18 are below a nanosecond even
 * for hours, so they are read and ignored instead of overflowing. */
static void take_frac(const char **s, uint64_t *num, uint64_t *scale)
{
    *num = 0;
    *scale = 1;
    for (; is_digit(**s); (*s)++) {
        if (*scale < 1000000000000000000ull) {
            *num = *num * 10 + (uint64_t)(**s - '0');
            *scale *= 10;
        }
    }
}

/* One "<number><unit>" term, in nanoseconds; false on error. */
static bool take_term(const char **s, uint64_t *out)
{
    uint64_t whole, num = 0, scale = 1;
    const char *start = *s;
    if (!take_int(s, &whole))
        return false;
    bool digits = *s != start;
    if (**s == '.') {
        const char *f = ++*s;
        take_frac(s, &num, &scale);
        digits = digits || *s != f;
    }
    if (!digits)
        return false;   /* "", ".", or a unit with no number */
    uint64_t unit = take_unit(s);
    if (unit == 0 || whole > MAGNITUDE_MAX / unit)
        return false;
    /* 128-bit product: num < 10^18 times an hour in ns fits easily. */
    uint64_t frac = (uint64_t)((unsigned __int128)num * unit / scale);
    *out = whole * unit;
    if (frac > MAGNITUDE_MAX - *out)
        return false;
    *out += frac;
    return true;
}

int vole_duration_parse(const char *s, int64_t *ns)
{
    bool neg = false;
    if (*s == '-' || *s == '+')
        neg = *s++ == '-';
    if (strcmp(s, "0") == 0) {
        *ns = 0;
        return 0;
    }
    if (*s == '\0')
        return -1;
    uint64_t total = 0;
    while (*s) {
        uint64_t term;
        if (!take_term(&s, &term) || term > MAGNITUDE_MAX - total)
            return -1;
        total += term;
    }
    if (!neg && total > (uint64_t)INT64_MAX)
        return -1;
    if (neg)
        *ns = total == MAGNITUDE_MAX ? INT64_MIN : -(int64_t)total;
    else
        *ns = (int64_t)total;
    return 0;
}
