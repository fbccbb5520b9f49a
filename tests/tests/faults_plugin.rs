//! Plugin faults, end to end: a plugin that panics on every event, and a plugin that
//! hands the host malformed actions (null pointers with lengths, an address of no
//! family, a non-UTF-8 path) across the C ABI.
//!
//! The malformed plugin is C, compiled here with the system `cc`: the Rust SDK cannot
//! produce such calls, which is the point of checking them at the boundary.
//! (`supervision.rs` covers panics on command, the restart window and calls with ids
//! that do not exist.)

use std::time::Duration;

use serde_json::Value;
use switchyard_e2e::{Host, compile_c, try_udp_roundtrip, udp_roundtrip};

const WAIT: Duration = Duration::from_secs(10);

/// `h` (the plugin under test, on UDP `f`) beside an echo on UDP `e`.
fn beside_echo(handler: &str, plugins: &str) -> Host {
    Host::start(&format!(
        r#"(
    plugins: {{ {plugins} }},
    listeners: {{
        "f": (kind: udp, bind: "127.0.0.1:0"),
        "e": (kind: udp, bind: "127.0.0.1:0"),
    }},
    handlers: {{ "h": ({handler}), "echo": (plugin: "echo") }},
    routes: [ (from: "f", to: "h"), (from: "e", to: "echo") ],
)"#
    ))
}

fn is_recreated(j: &Value) -> bool {
    j["msg"] == "plugin panicked; instance recreated" && j["handler"] == "h"
}

/// A plugin that panics on every event (its start included) cannot serve: it is
/// recreated `max_restarts` times, then stopped with an ERROR line, without a datagram
/// ever being needed; the host and the echo beside it go on.
#[test]
fn a_plugin_panicking_on_every_event_is_stopped_and_the_rest_serves() {
    let mut host = beside_echo(
        r#"plugin: "faulty", config: (panic_always: true), restart: (max_restarts: 2, within_secs: 60)"#,
        "",
    );
    let stopped = host.expect_log(
        "the handler stopped",
        |j| {
            j["msg"] == "handler stopped: plugin restart intensity exceeded"
                && j["handler"] == "h"
                && j["level"] == "error"
        },
        WAIT,
    );
    assert_eq!(stopped["max_restarts"], 2, "{stopped}");
    assert_eq!(host.logs_where(is_recreated).len(), 2);
    assert_eq!(
        try_udp_roundtrip(host.addr("f"), b"ping", Duration::from_millis(500)),
        None,
        "a stopped handler answers nothing"
    );
    assert_eq!(
        host.logs_where(is_recreated).len(),
        2,
        "and is not restarted"
    );
    assert_eq!(
        udp_roundtrip(host.addr("e"), b"still here", WAIT),
        b"still here"
    );
    assert!(host.is_running());
}

/// On every datagram: five malformed calls, then a proper reply listing their statuses.
const MALFORMED_C: &str = r#"
#include <stdio.h>
#include <stdlib.h>
#include "switchyard.h"

SWITCHYARD_DECLARE_C_PLUGIN();

struct SyInstance { int unused; };

static uint32_t check(const SyHostApi *api, SyHostCtx *ctx, SyStr config) {
    (void)api; (void)ctx; (void)config;
    return SY_OK;
}

static uint32_t create(const SyHostApi *api, SyHostCtx *ctx, SyStr config, SyInstance **out) {
    (void)api; (void)ctx; (void)config;
    *out = calloc(1, sizeof **out);
    return *out ? SY_OK : SY_ERR_LIMIT;
}

static void destroy(SyInstance *inst) { free(inst); }

static uint32_t on_event(SyInstance *inst, const SyHostApi *api, SyHostCtx *ctx, const SyEvent *ev) {
    (void)inst;
    if (ev->tag != SY_EV_DATAGRAM) {
        return SY_OK;
    }
    SyBytes null_with_len = {NULL, 5};
    SyAddr no_family = ev->peer;
    no_family.family = 77;
    const uint8_t bad_utf8[] = {0xff, 0xfe};
    SyStr bad_path = {bad_utf8, 2};
    uint64_t file = 0, size = 0;
    uint32_t s[5] = {
        api->send_datagram(ctx, ev->socket, NULL, ev->data),
        api->send_datagram(ctx, ev->socket, &no_family, ev->data),
        api->send_datagram(ctx, ev->socket, &ev->peer, null_with_len),
        api->write(ctx, 1, null_with_len),
        api->open_read(ctx, bad_path, &file, &size),
    };
    char reply[64];
    int n = snprintf(reply, sizeof reply, "%u %u %u %u %u", s[0], s[1], s[2], s[3], s[4]);
    SyBytes text = {(const uint8_t *)reply, (size_t)n};
    api->send_datagram(ctx, ev->socket, &ev->peer, text);
    return SY_OK;
}

static uint64_t active(SyInstance *inst) { (void)inst; return 0; }

static const SyPluginVTable VTABLE = {
    .struct_size = sizeof(SyPluginVTable),
    .abi_version = SY_ABI_VERSION,
    .name = SY_STR("malformed"),
    .version = SY_STR("0.1.0"),
    .description = SY_STR("test: hands the host malformed actions"),
    .listener_kinds = SY_LISTEN_UDP,
    .instance_mode = SY_INSTANCE_PER_HANDLER,
    .ports = NULL,
    .port_count = 0,
    .check_config = check,
    .create = create,
    .destroy = destroy,
    .on_event = on_event,
    .active_sessions = active,
};

__attribute__((visibility("default"))) const SyPluginVTable *switchyard_plugin_entry(uint32_t v) {
    return v == SY_ABI_VERSION ? &VTABLE : NULL;
}
"#;

/// Each malformed action is refused with `SY_ERR_INVALID` (2) before it reaches any
/// socket or file, logged as a WARN naming the call, and the plugin lives on: the same
/// instance answers again, nothing is restarted, the echo beside it serves.
#[test]
fn malformed_actions_are_refused_logged_and_survived() {
    let dir = tempfile::tempdir().unwrap();
    let lib = compile_c(dir.path(), "libswitchyard_malformed.so", MALFORMED_C);
    let mut host = beside_echo(
        r#"plugin: "malformed", restart: (max_restarts: 0, within_secs: 60)"#,
        &format!(r#""malformed": "{}""#, lib.display()),
    );
    for _ in 0..2 {
        assert_eq!(
            udp_roundtrip(host.addr("f"), b"go", WAIT),
            b"2 2 2 2 2",
            "every malformed call refused as SY_ERR_INVALID"
        );
    }
    let refused = |j: &Value| {
        j["msg"] == "plugin call refused: malformed arguments"
            && j["handler"] == "h"
            && j["level"] == "warn"
    };
    host.wait_for_nth_log(10, refused, WAIT)
        .expect("ten WARN lines, five per datagram");
    let calls: Vec<String> = host
        .logs_where(refused)
        .iter()
        .take(5)
        .map(|j| j["call"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        calls,
        [
            "send_datagram",
            "send_datagram",
            "send_datagram",
            "write",
            "open_read"
        ]
    );
    assert!(host.logs_where(is_recreated).is_empty());
    assert_eq!(udp_roundtrip(host.addr("e"), b"echo", WAIT), b"echo");
    assert!(host.is_running());
}
