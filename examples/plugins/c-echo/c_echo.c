/*
 * c_echo.c — a Switchyard protocol plugin written in C: UDP and TCP echo.
 *
 * This is the example for C plugin authors. It uses nothing but the ABI header
 * (core/sdk/include/switchyard.h, the specification of the boundary) and libc, and
 * shows every obligation a plugin has:
 *
 *   - export the declaration data symbol (SWITCHYARD_DECLARE_C_PLUGIN) and the entry
 *     function `switchyard_plugin_entry`, which returns a static vtable;
 *   - keep per-instance state in memory the plugin allocates and frees itself (the host
 *     never frees plugin memory, and the plugin never frees host memory);
 *   - check `struct_size` before reading a struct that may grow;
 *   - ignore event tags it does not know (a newer host may send more);
 *   - check its configuration and report errors with api->config_error, so that the
 *     operator sees them at the right place in the topology file (the host hands the
 *     config over as JSON, `config_format = SY_CONFIG_JSON`, read with the header-only
 *     helpers of switchyard_json.h; an error names its field, and the caret lands on
 *     that field's value);
 *   - act only through the host API during a call, never keep a pointer it was lent.
 *
 * Build: make -C examples/plugins/c-echo
 * Serve: switchyard serve --config config/examples/echo-c.ron
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "switchyard.h"
#include "switchyard_json.h"

/* The longest `prefix`: a reply must still fit a datagram. */
#define MAX_PREFIX 64

/* Export the declaration symbol: magic, ABI version and SY_FLAG_NO_UNWIND (C does not
 * unwind, so the host may load it; a Rust plugin built with panic=abort is refused). */
SWITCHYARD_DECLARE_C_PLUGIN();

/* Instance state: malloc'd in create, freed in destroy. One instance serves the whole
 * handler (SY_INSTANCE_PER_HANDLER), so it counts all its connections. */
typedef struct CEcho {
    uint64_t open_conns; /* for active_sessions: the host waits for these when draining */
    uint64_t datagrams;  /* echoed datagrams: state that lives as long as the instance */
    size_t prefix_len;   /* `prefix` option: put before each UDP reply */
    char prefix[MAX_PREFIX + 1];
    uint8_t reply[MAX_PREFIX + 65536]; /* a datagram's reply, prefix first */
} CEcho;

/* Our SyInstance is a CEcho; the host only ever sees the opaque pointer. */
struct SyInstance {
    CEcho echo;
};

/* The host API must reach the last entry this plugin calls (shutdown_write and close
 * are older): a table that ends before it comes from an older host. Checking the whole
 * sizeof(SyHostApi) instead would refuse older hosts for entries never called. */
static int api_ok(const SyHostApi *api) {
    return api != NULL && api->abi_version == SY_ABI_VERSION &&
           api->struct_size >= offsetof(SyHostApi, config_error) + sizeof(void *) &&
           api->struct_size >= offsetof(SyHostApi, close) + sizeof(void *);
}

static void log_text(const SyHostApi *api, SyHostCtx *ctx, uint32_t level, const char *text) {
    SyStr s = {(const uint8_t *)text, strlen(text)};
    api->log(ctx, level, s);
}

/*
 * The options, from the config as JSON (the host converts the topology's RON): only
 * `prefix`, a string of at most MAX_PREFIX bytes put before each UDP reply. An unknown
 * option or a bad value is reported naming its field; the host puts the caret on it.
 * With `echo` non-NULL the prefix is stored there.
 */
static uint32_t read_config(const SyHostApi *api, SyHostCtx *ctx, SyStr config, CEcho *echo) {
    size_t pos = 0;
    SyStr key, value;
    uint32_t status = SY_OK;
    while (sy_json_next(config, &pos, &key, &value)) {
        if (!sy_json_key_is(key, "prefix")) {
            sy_config_field_error_len(api, ctx, key, "unknown option: c-echo takes `prefix`");
            status = SY_ERR_CONFIG;
            continue;
        }
        char prefix[MAX_PREFIX + 1];
        if (!sy_json_string(value, prefix, sizeof prefix)) {
            sy_config_field_error(api, ctx, "prefix", "a string of at most 64 bytes");
            status = SY_ERR_CONFIG;
            continue;
        }
        if (echo != NULL) {
            echo->prefix_len = strlen(prefix);
            memcpy(echo->prefix, prefix, echo->prefix_len + 1);
        }
    }
    return status;
}

/* Called by `switchyard validate` (and before create): check, allocate nothing. */
static uint32_t c_echo_check_config(const SyHostApi *api, SyHostCtx *ctx, SyStr config) {
    if (!api_ok(api)) {
        return SY_ERR_INVALID;
    }
    return read_config(api, ctx, config, NULL);
}

static uint32_t c_echo_create(const SyHostApi *api, SyHostCtx *ctx, SyStr config, SyInstance **out) {
    if (!api_ok(api) || out == NULL) {
        return SY_ERR_INVALID;
    }
    SyInstance *inst = calloc(1, sizeof *inst);
    if (inst == NULL) {
        return SY_ERR_LIMIT;
    }
    uint32_t status = read_config(api, ctx, config, &inst->echo);
    if (status != SY_OK) {
        free(inst);
        return status;
    }
    *out = inst;
    return SY_OK;
}

/* Exactly once per instance created; the host calls it on restart, reload and exit. */
static void c_echo_destroy(SyInstance *inst) {
    free(inst);
}

static uint32_t c_echo_on_event(SyInstance *inst, const SyHostApi *api, SyHostCtx *ctx, const SyEvent *ev) {
    if (inst == NULL || !api_ok(api) || ev == NULL) {
        return SY_ERR_INVALID;
    }
    /* An older host would send a shorter event: refuse to read past its end. */
    if (ev->struct_size < sizeof(SyEvent)) {
        return SY_ERR_INVALID;
    }
    CEcho *echo = &inst->echo;
    switch (ev->tag) {
    case SY_EV_START:
        log_text(api, ctx, SY_LOG_DEBUG, "c-echo instance started");
        break;
    case SY_EV_DATAGRAM: {
        /* Reply from the socket it came in on, to its sender, with the same bytes after
         * the prefix. The data is borrowed for this call only, so it is copied. */
        size_t n = ev->data.len <= 65536 ? ev->data.len : 65536;
        memcpy(echo->reply, echo->prefix, echo->prefix_len);
        if (n > 0) {
            memcpy(echo->reply + echo->prefix_len, ev->data.ptr, n);
        }
        SyBytes reply = {echo->reply, echo->prefix_len + n};
        if (api->send_datagram(ctx, ev->socket, &ev->peer, reply) == SY_OK) {
            echo->datagrams++;
        }
        break;
    }
    case SY_EV_CONN_OPENED:
        echo->open_conns++;
        break;
    case SY_EV_BYTES:
        /* The host copies what it cannot send at once; a failure means the connection
         * is unusable (or its write buffer limit is reached): give up on it. */
        if (api->write(ctx, ev->conn, ev->data) != SY_OK) {
            api->close(ctx, ev->conn);
        }
        break;
    case SY_EV_PEER_EOF:
        /* The peer is done sending: finish our side once the echo is written. */
        api->shutdown_write(ctx, ev->conn);
        break;
    case SY_EV_CONN_CLOSED:
        if (echo->open_conns > 0) {
            echo->open_conns--;
        }
        break;
    default:
        /* Timers, drain, messages, and tags newer than this plugin: nothing to do. */
        break;
    }
    return SY_OK;
}

/* Consulted while the host drains: it waits until this is 0 (or the deadline). */
static uint64_t c_echo_active_sessions(SyInstance *inst) {
    return inst == NULL ? 0 : inst->echo.open_conns;
}

/* The vtable: static, so it stays valid as long as the library is loaded. */
static const SyPluginVTable VTABLE = {
    .struct_size = sizeof(SyPluginVTable),
    .abi_version = SY_ABI_VERSION,
    .name = SY_STR("c-echo"),
    .version = SY_STR("0.1.0"),
    .description = SY_STR("UDP and TCP echo written in C (example plugin)"),
    .listener_kinds = SY_LISTEN_UDP | SY_LISTEN_TCP,
    .instance_mode = SY_INSTANCE_PER_HANDLER,
    .ports = NULL,
    .port_count = 0,
    .check_config = c_echo_check_config,
    .create = c_echo_create,
    .destroy = c_echo_destroy,
    .on_event = c_echo_on_event,
    .active_sessions = c_echo_active_sessions,
    .storage = SY_STORAGE_SERVED, /* has no root of its own; served is the safe default */
    .config_format = SY_CONFIG_JSON, /* the host converts the RON config to JSON */
};

/* Called once after the declaration was checked. Returning NULL refuses a host that
 * speaks another ABI version. */
__attribute__((visibility("default"))) const SyPluginVTable *switchyard_plugin_entry(uint32_t host_abi_version) {
    if (host_abi_version != SY_ABI_VERSION) {
        return NULL;
    }
    return &VTABLE;
}
