/* The handshake's JSON documents (§1.4), internal to derp/: written as Go's
 * encoding/json writes them (struct order, omitempty, compact) and read as
 * it reads them (keys matched case-insensitively, unknown keys ignored, null
 * leaves a field alone, a value of the wrong type is an error). */
#ifndef VOLE_DERP_HANDSHAKE_JSON_H
#define VOLE_DERP_HANDSHAKE_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "derp/handshake.h"

/* Longest ClientInfo JSON we write: a 79-byte mesh key escaped at worst. */
#define DERP_JSON_OUT_MAX 640

/* Each returns the JSON's length (no NUL), or 0 if it does not fit in cap or
 * a field cannot be encoded (mesh key not NUL-terminated or not UTF-8). */
size_t derp_client_info_json(char *out, size_t cap, const struct derp_client_info *info);
size_t derp_server_info_json(char *out, size_t cap, const struct derp_server_info *info);

/* 0 or -1; info is zeroed first. ClientInfo also needs a version. */
int derp_client_info_parse(const uint8_t *json, size_t len, struct derp_client_info *info);
int derp_server_info_parse(const uint8_t *json, size_t len, struct derp_server_info *info);

#endif
