#include "coord/jsonf.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int jf_fail(const struct jf *c, const char *field, const char *fmt, ...)
{
    char why[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    const char *dot = *c->where && *field ? "." : "";
    const char *sep = *c->where || *field ? ": " : "";
    snprintf(c->err, c->errlen, "%s%s%s%s%s", c->where, dot, field, sep, why);
    return -1;
}

void jf_child(const struct jf *c, const char *field, char *buf, size_t cap, struct jf *child)
{
    snprintf(buf, cap, "%s%s%s", c->where, *c->where ? "." : "", field);
    *child = (struct jf){buf, c->err, c->errlen};
}

/* JSON null counts as absent, as Go's encoding/json treats it. */
static json_t *get(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_null(v) ? NULL : v;
}

int jf_string(const struct jf *c, json_t *obj, const char *key, bool required, char *out, size_t cap)
{
    json_t *v = get(obj, key);
    if (!v)
        return required ? jf_fail(c, key, "missing") : 0;
    if (!json_is_string(v))
        return jf_fail(c, key, "not a string");
    size_t n = json_string_length(v);
    if (n >= cap)
        return jf_fail(c, key, "longer than %zu bytes", cap - 1);
    if (strlen(json_string_value(v)) != n)
        return jf_fail(c, key, "has a NUL byte");
    memcpy(out, json_string_value(v), n + 1);
    return 0;
}

int jf_int(const struct jf *c, json_t *obj, const char *key, bool required, long long lo, long long hi,
           long long *out)
{
    json_t *v = get(obj, key);
    if (!v)
        return required ? jf_fail(c, key, "missing") : 0;
    if (!json_is_integer(v))
        return jf_fail(c, key, "not an integer");
    long long x = json_integer_value(v);
    if (x < lo || x > hi)
        return jf_fail(c, key, "%lld is out of range %lld..%lld", x, lo, hi);
    *out = x;
    return 0;
}

int jf_bool(const struct jf *c, json_t *obj, const char *key, bool *out)
{
    json_t *v = get(obj, key);
    if (!v)
        return 0;
    if (!json_is_boolean(v))
        return jf_fail(c, key, "not a boolean");
    *out = json_is_true(v);
    return 0;
}

int jf_array(const struct jf *c, json_t *obj, const char *key, bool required, size_t max, json_t **out)
{
    json_t *v = get(obj, key);
    *out = NULL;
    if (!v)
        return required ? jf_fail(c, key, "missing") : 0;
    if (!json_is_array(v))
        return jf_fail(c, key, "not an array");
    if (json_array_size(v) > max)
        return jf_fail(c, key, "more than %zu entries", max);
    *out = v;
    return 0;
}

int jf_key(const struct jf *c, json_t *obj, const char *key, const char *prefix, uint8_t out[32])
{
    char s[128];
    size_t plen = strlen(prefix), got = 0;
    if (jf_string(c, obj, key, true, s, sizeof s) < 0)
        return -1;
    if (strncmp(s, prefix, plen) != 0)
        return jf_fail(c, key, "does not start with \"%s\"", prefix);
    if (strlen(s + plen) != 64 ||
        sodium_hex2bin(out, 32, s + plen, 64, NULL, &got, NULL) != 0 || got != 32)
        return jf_fail(c, key, "not \"%s\" and 64 hex digits", prefix);
    return 0;
}
