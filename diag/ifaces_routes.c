/* The default route's interface from the kernel's route tables as text
 * (/proc/net/route, /proc/net/ipv6_route). Pure: tests feed fixed text.
 * A malformed line is skipped rather than failing the whole table, since
 * one odd route must not hide the default route of the others. */
#include <errno.h>
#include <net/route.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "diag/ifaces.h"

#define LINE_MAX_LEN 512
#define MAX_FIELDS 12

struct fields {
    char buf[LINE_MAX_LEN];
    char *v[MAX_FIELDS];
    size_t n;
};

/* Copies the line [s, end) and splits it on blanks; false when too long or
 * holding more fields than any route line has. */
static bool split_line(const char *s, const char *end, struct fields *f)
{
    size_t len = (size_t)(end - s);
    char *save = NULL;

    if (len >= sizeof f->buf)
        return false;
    memcpy(f->buf, s, len);
    f->buf[len] = '\0';
    f->n = 0;
    for (char *t = strtok_r(f->buf, " \t\r", &save); t; t = strtok_r(NULL, " \t\r", &save)) {
        if (f->n == MAX_FIELDS)
            return false;
        f->v[f->n++] = t;
    }
    return true;
}

/* The whole token as an unsigned number in base; false on any junk. */
static bool parse_num(const char *s, int base, unsigned long long max, unsigned long long *out)
{
    char *end;

    if (!s || !*s || *s == '-' || *s == '+')
        return false;
    errno = 0;
    unsigned long long v = strtoull(s, &end, base);
    if (errno || *end || v > max)
        return false;
    *out = v;
    return true;
}

static bool all_zero_hex(const char *s, size_t len)
{
    if (strlen(s) != len)
        return false;
    for (size_t i = 0; i < len; i++)
        if (s[i] != '0')
            return false;
    return true;
}

struct best {
    bool found;
    unsigned long long metric;
    char name[IF_NAMESIZE];
};

static void consider(struct best *b, const char *name, unsigned long long flags, unsigned long long metric)
{
    if (!(flags & RTF_UP) || (flags & RTF_REJECT) || strlen(name) >= IF_NAMESIZE || strcmp(name, "lo") == 0)
        return;
    if (b->found && metric >= b->metric)
        return;
    b->found = true;
    b->metric = metric;
    strcpy(b->name, name);
}

/* Iface Destination Gateway Flags RefCnt Use Metric Mask MTU Window IRTT,
 * addresses and flags in hex, metric in decimal. */
static void v4_line(struct fields *f, struct best *b)
{
    unsigned long long flags, metric;

    if (f->n < 8 || !all_zero_hex(f->v[1], 8) || !all_zero_hex(f->v[7], 8))
        return;
    if (!parse_num(f->v[3], 16, 0xffffffffull, &flags) || !parse_num(f->v[6], 10, 0xffffffffull, &metric))
        return;
    consider(b, f->v[0], flags, metric);
}

/* dst dst_len src src_len next_hop metric refcnt use flags dev, all hex. */
static void v6_line(struct fields *f, struct best *b)
{
    unsigned long long dst_len, metric, flags;

    if (f->n != 10 || !all_zero_hex(f->v[0], 32) || strlen(f->v[2]) != 32 || strlen(f->v[4]) != 32)
        return;
    if (!parse_num(f->v[1], 16, 128, &dst_len) || dst_len != 0 || !parse_num(f->v[5], 16, 0xffffffffull, &metric) ||
        !parse_num(f->v[8], 16, 0xffffffffull, &flags))
        return;
    consider(b, f->v[9], flags, metric);
}

static int scan(const char *text, void (*line)(struct fields *, struct best *), char out[IF_NAMESIZE])
{
    struct best b = { 0 };
    struct fields f;

    out[0] = '\0';
    if (!text)
        return -1;
    for (const char *s = text; *s;) {
        const char *end = strchr(s, '\n');
        if (!end)
            end = s + strlen(s);
        if (split_line(s, end, &f))
            line(&f, &b);
        s = *end ? end + 1 : end;
    }
    if (!b.found)
        return -1;
    strcpy(out, b.name);
    return 0;
}

int vole_ifaces_default_route_v4(const char *text, char out[IF_NAMESIZE])
{
    return scan(text, v4_line, out);
}

int vole_ifaces_default_route_v6(const char *text, char out[IF_NAMESIZE])
{
    return scan(text, v6_line, out);
}
