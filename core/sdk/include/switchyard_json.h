/*
 * switchyard_json.h — reading a plugin's config as JSON, for C plugins. Header-only.
 *
 * A plugin whose vtable sets `config_format = SY_CONFIG_JSON` gets its handler's config
 * converted by the host from the topology's RON to compact JSON: an object (`{}` when
 * there is none). These helpers read its top-level fields without a JSON library:
 *
 *     SyStr value;
 *     if (sy_json_find(config, "prefix", &value)) {
 *         char prefix[65];
 *         if (!sy_json_string(value, prefix, sizeof prefix)) {
 *             sy_config_field_error(api, ctx, "prefix", "a string of at most 64 bytes");
 *             return SY_ERR_CONFIG;
 *         }
 *     }
 *
 * The text is the host's own output, so it is valid JSON; the helpers still never read
 * past its end. Errors name their field (sy_config_field_error): the host puts the
 * caret on that field's value in the operator's topology file.
 */
#ifndef SWITCHYARD_JSON_H
#define SWITCHYARD_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "switchyard.h"

/* Position after the JSON value starting at `i` (0 if malformed). */
static inline size_t sy_json_skip(const uint8_t *p, size_t len, size_t i) {
    int depth = 0;
    int in_string = 0;
    for (; i < len; i++) {
        uint8_t c = p[i];
        if (in_string) {
            if (c == '\\') {
                i++;
            } else if (c == '"') {
                in_string = 0;
                if (depth == 0) {
                    return i + 1;
                }
            }
            continue;
        }
        if (c == '"') {
            in_string = 1;
        } else if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            if (depth == 0) {
                return i; /* the end of the enclosing container */
            }
            if (--depth == 0) {
                return i + 1;
            }
        } else if (depth == 0 && c == ',') {
            return i;
        }
    }
    return depth == 0 && !in_string ? len : 0;
}

/* The next top-level member of the object `json`, from `*pos` (start with 0): its key
 * (the raw text between the quotes) and its value (raw JSON). Returns 0 at the end. */
static inline int sy_json_next(SyStr json, size_t *pos, SyStr *key, SyStr *value) {
    const uint8_t *p = json.ptr;
    size_t len = json.ptr == NULL ? 0 : json.len;
    size_t i = *pos;
    if (i == 0) {
        if (len == 0 || p[0] != '{') {
            return 0;
        }
        i = 1;
    }
    if (i < len && p[i] == ',') {
        i++;
    }
    if (i >= len || p[i] != '"') {
        return 0;
    }
    size_t k = i + 1;
    size_t end = sy_json_skip(p, len, i);
    if (end == 0 || end >= len || p[end] != ':') {
        return 0;
    }
    key->ptr = p + k;
    key->len = end - 1 - k;
    size_t v = end + 1;
    size_t vend = sy_json_skip(p, len, v);
    if (vend == 0 || vend <= v) {
        return 0;
    }
    value->ptr = p + v;
    value->len = vend - v;
    *pos = vend;
    return 1;
}

/* Whether raw key text `key` is `name`. */
static inline int sy_json_key_is(SyStr key, const char *name) {
    return key.len == strlen(name) && memcmp(key.ptr, name, key.len) == 0;
}

/* Find top-level field `name` of the object `json`; 1 and its raw value if present. */
static inline int sy_json_find(SyStr json, const char *name, SyStr *value) {
    size_t pos = 0;
    SyStr key;
    while (sy_json_next(json, &pos, &key, value)) {
        if (sy_json_key_is(key, name)) {
            return 1;
        }
    }
    return 0;
}

/* A JSON string value, unescaped into `buf` (NUL-terminated). 0 if it is not a string,
 * does not fit in `cap` bytes with its NUL, or holds an escape other than \" \\ \/ \n
 * \t \r \b \f or a \u escape below U+0080. */
static inline int sy_json_string(SyStr value, char *buf, size_t cap) {
    const uint8_t *p = value.ptr;
    if (value.len < 2 || p[0] != '"' || p[value.len - 1] != '"' || cap == 0) {
        return 0;
    }
    size_t o = 0;
    for (size_t i = 1; i + 1 < value.len; i++) {
        uint8_t c = p[i];
        if (c == '\\') {
            i++;
            if (i >= value.len - 1) {
                return 0;
            }
            switch (p[i]) {
            case '"': c = '"'; break;
            case '\\': c = '\\'; break;
            case '/': c = '/'; break;
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'r': c = '\r'; break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'u': {
                unsigned code = 0;
                if (i + 4 >= value.len) {
                    return 0;
                }
                for (int d = 1; d <= 4; d++) {
                    uint8_t h = p[i + d];
                    code <<= 4;
                    if (h >= '0' && h <= '9') code |= (unsigned)(h - '0');
                    else if (h >= 'a' && h <= 'f') code |= (unsigned)(h - 'a' + 10);
                    else if (h >= 'A' && h <= 'F') code |= (unsigned)(h - 'A' + 10);
                    else return 0;
                }
                if (code >= 0x80) {
                    return 0;
                }
                c = (uint8_t)code;
                i += 4;
                break;
            }
            default:
                return 0;
            }
        }
        if (o + 1 >= cap) {
            return 0;
        }
        buf[o++] = (char)c;
    }
    buf[o] = '\0';
    return 1;
}

/* A non-negative integer value. 0 if it is not one or does not fit in 64 bits. */
static inline int sy_json_u64(SyStr value, uint64_t *out) {
    if (value.len == 0 || value.len > 20) {
        return 0;
    }
    uint64_t n = 0;
    for (size_t i = 0; i < value.len; i++) {
        uint8_t c = value.ptr[i];
        if (c < '0' || c > '9') {
            return 0;
        }
        if (n > (UINT64_MAX - (uint64_t)(c - '0')) / 10) {
            return 0;
        }
        n = n * 10 + (uint64_t)(c - '0');
    }
    *out = n;
    return 1;
}

/* A boolean value. */
static inline int sy_json_bool(SyStr value, int *out) {
    if (value.len == 4 && memcmp(value.ptr, "true", 4) == 0) {
        *out = 1;
        return 1;
    }
    if (value.len == 5 && memcmp(value.ptr, "false", 5) == 0) {
        *out = 0;
        return 1;
    }
    return 0;
}

/* Report `why` about field `field` (raw key text, as sy_json_next gives it) through
 * api->config_error, as "`field`: why" with no position: the host places it on the
 * field's value in the topology. */
static inline void sy_config_field_error_len(const SyHostApi *api, SyHostCtx *ctx, SyStr field, const char *why) {
    char msg[512];
    int n = snprintf(msg, sizeof msg, "`%.*s`: %s", (int)(field.len > 200 ? 200 : field.len),
                     (const char *)field.ptr, why);
    if (n < 0) {
        return;
    }
    SyStr s = {(const uint8_t *)msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1};
    api->config_error(ctx, s, 0, 0);
}

static inline void sy_config_field_error(const SyHostApi *api, SyHostCtx *ctx, const char *field, const char *why) {
    SyStr f = {(const uint8_t *)field, strlen(field)};
    sy_config_field_error_len(api, ctx, f, why);
}

#endif /* SWITCHYARD_JSON_H */
