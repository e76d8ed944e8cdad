/* ClientInfo and ServerInfo JSON (§1.4) with jansson. Field order and
 * omitempty follow Coder's fork, the byte-compatibility reference:
 *   {"version":2,"meshKey":"…"?,"CanAckPings":bool,"IsProber":true?}
 *   {"version":2,"TokenBucketBytesPerSecond":N?,"TokenBucketBytesBurst":N?}
 * so a typical client writes {"version":2,"CanAckPings":true}, 32 bytes. */
#include "derp/handshake_json.h"

#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

/* json_object_set_new steals the value even on failure, so chaining these
 * with || leaks nothing. */
static int set(json_t *o, const char *key, json_t *v)
{
    return json_object_set_new(o, key, v);
}

/* Compact, in insertion order (jansson keeps it since 2.8). */
static size_t dump(json_t *o, int failed, char *out, size_t cap)
{
    size_t n = failed ? 0 : json_dumpb(o, out, cap, JSON_COMPACT);
    json_decref(o);
    return n <= cap ? n : 0;
}

size_t derp_client_info_json(char *out, size_t cap, const struct derp_client_info *info)
{
    size_t mesh_len = strnlen(info->mesh_key, sizeof(info->mesh_key));
    json_t *o = json_object();
    if (o == NULL || mesh_len == sizeof(info->mesh_key))
        return dump(o, 1, out, cap);
    int failed = 0;
    if (info->version != 0)
        failed |= set(o, "version", json_integer(info->version));
    if (mesh_len > 0)   /* NULL when not UTF-8; set() fails on NULL */
        failed |= set(o, "meshKey", json_stringn(info->mesh_key, mesh_len));
    failed |= set(o, "CanAckPings", json_boolean(info->can_ack_pings));
    if (info->is_prober)
        failed |= set(o, "IsProber", json_true());
    return dump(o, failed, out, cap);
}

size_t derp_server_info_json(char *out, size_t cap, const struct derp_server_info *info)
{
    json_t *o = json_object();
    if (o == NULL || info->token_bucket_bytes_per_second > LLONG_MAX || info->token_bucket_bytes_burst > LLONG_MAX)
        return dump(o, 1, out, cap);
    int failed = 0;
    if (info->version != 0)
        failed |= set(o, "version", json_integer(info->version));
    if (info->token_bucket_bytes_per_second != 0)
        failed |= set(o, "TokenBucketBytesPerSecond", json_integer((json_int_t)info->token_bucket_bytes_per_second));
    if (info->token_bucket_bytes_burst != 0)
        failed |= set(o, "TokenBucketBytesBurst", json_integer((json_int_t)info->token_bucket_bytes_burst));
    return dump(o, failed, out, cap);
}

/* Readers of one value each. Go leaves a field alone on null and fails the
 * whole Unmarshal on a value of the wrong type (2.0 is not an int). */
static int take_int(json_t *v, json_int_t lo, json_int_t hi, json_int_t *out, bool *seen)
{
    if (json_is_null(v))
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return -1;
    *out = json_integer_value(v);
    *seen = true;
    return 0;
}

static int take_bool(json_t *v, bool *out)
{
    if (json_is_null(v))
        return 0;
    if (!json_is_boolean(v))
        return -1;
    *out = json_is_true(v);
    return 0;
}

/* jansson already refused \u0000 (no JSON_ALLOW_NUL), so the copy is a C string. */
static int take_string(json_t *v, char *out, size_t cap)
{
    if (json_is_null(v))
        return 0;
    if (!json_is_string(v) || json_string_length(v) >= cap)
        return -1;
    memcpy(out, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

struct client_fields {
    struct derp_client_info *info;
    json_int_t version;
    bool have_version;
};

/* Unknown keys (AppName, future fields) are ignored, as Go does. */
static int client_field(struct client_fields *c, const char *key, json_t *v)
{
    if (strcasecmp(key, "version") == 0)
        return take_int(v, INT_MIN, INT_MAX, &c->version, &c->have_version);
    if (strcasecmp(key, "meshKey") == 0)
        return take_string(v, c->info->mesh_key, sizeof(c->info->mesh_key));
    if (strcasecmp(key, "CanAckPings") == 0)
        return take_bool(v, &c->info->can_ack_pings);
    if (strcasecmp(key, "IsProber") == 0)
        return take_bool(v, &c->info->is_prober);
    return 0;
}

/* A top-level null decodes to nothing in Go; anything but an object or null
 * is a type error. */
static json_t *load_object(const uint8_t *json, size_t len)
{
    json_error_t err;
    json_t *root = json_loadb((const char *)json, len, JSON_DECODE_ANY, &err);
    if (root != NULL && !json_is_object(root) && !json_is_null(root)) {
        json_decref(root);
        return NULL;
    }
    return root;
}

int derp_client_info_parse(const uint8_t *json, size_t len, struct derp_client_info *info)
{
    memset(info, 0, sizeof(*info));
    json_t *root = load_object(json, len);
    if (root == NULL)
        return -1;
    struct client_fields c = {.info = info};
    const char *key;
    json_t *v;
    int rc = 0;
    json_object_foreach(root, key, v) {
        if (rc == 0)
            rc = client_field(&c, key, v);
    }
    json_decref(root);
    info->version = (int)c.version;
    if (rc != 0 || !c.have_version) {
        memset(info, 0, sizeof(*info));
        return -1;
    }
    return 0;
}

struct server_fields {
    json_int_t version, rate, burst;
    bool seen;   /* not required: Go's server omits a zero version */
};

static int server_field(struct server_fields *s, const char *key, json_t *v)
{
    if (strcasecmp(key, "version") == 0)
        return take_int(v, INT_MIN, INT_MAX, &s->version, &s->seen);
    if (strcasecmp(key, "TokenBucketBytesPerSecond") == 0)
        return take_int(v, 0, LLONG_MAX, &s->rate, &s->seen);
    if (strcasecmp(key, "TokenBucketBytesBurst") == 0)
        return take_int(v, 0, LLONG_MAX, &s->burst, &s->seen);
    return 0;
}

int derp_server_info_parse(const uint8_t *json, size_t len, struct derp_server_info *info)
{
    memset(info, 0, sizeof(*info));
    json_t *root = load_object(json, len);
    if (root == NULL)
        return -1;
    struct server_fields s = {0};
    const char *key;
    json_t *v;
    int rc = 0;
    json_object_foreach(root, key, v) {
        if (rc == 0)
            rc = server_field(&s, key, v);
    }
    json_decref(root);
    if (rc != 0)
        return -1;
    info->version = (int)s.version;
    info->token_bucket_bytes_per_second = (uint64_t)s.rate;
    info->token_bucket_bytes_burst = (uint64_t)s.burst;
    return 0;
}
