/* Strict JSON field readers shared by the coordinator codecs (internal).
 * Each returns 0 (an absent optional field leaves *out untouched) or -1 with
 * "WHERE.FIELD: why" in the error buffer. */
#ifndef VOLE_COORD_JSONF_H
#define VOLE_COORD_JSONF_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct jf {
    const char *where;   /* "node", "peer_updates[2].node": a prefix for messages */
    char *err;
    size_t errlen;
};

__attribute__((format(printf, 3, 4)))
int jf_fail(const struct jf *c, const char *field, const char *fmt, ...);

int jf_string(const struct jf *c, json_t *obj, const char *key, bool required, char *out, size_t cap);
int jf_int(const struct jf *c, json_t *obj, const char *key, bool required, long long lo, long long hi,
           long long *out);
int jf_bool(const struct jf *c, json_t *obj, const char *key, bool *out);
/* *out is NULL when an optional array is absent. */
int jf_array(const struct jf *c, json_t *obj, const char *key, bool required, size_t max, json_t **out);
/* "PREFIX<64 hex>" into 32 bytes. */
int jf_key(const struct jf *c, json_t *obj, const char *key, const char *prefix, uint8_t out[32]);

/* A child context: where + "." + field (or field alone at the top). */
void jf_child(const struct jf *c, const char *field, char *buf, size_t cap, struct jf *child);

#endif
