//! Plugins built against an earlier SDK of ABI 1 keep loading: the host reads a vtable
//! only as far as its `struct_size`, so fields added since (the state handover, the
//! config format, sharding) keep their old meaning even when the bytes behind a shorter
//! table hold something else. Each table is a C plugin whose "newer" fields are poison:
//! an `export_state` that aborts the process, a `config_format` asking for JSON, a
//! `sharding` no host knows (a loader reading it would refuse the plugin).

use std::path::Path;
use std::time::Duration;

use switchyard_e2e::{Host, compile_c, udp_roundtrip};

const WAIT: Duration = Duration::from_secs(5);

/// An echo plugin declaring a vtable of `size` bytes; it refuses a config that is not
/// RON (JSON starts with `{`). With `poisoned_handover`, its handover entries (past a
/// V2 table's end) abort if ever called.
fn old_echo(size: &str, poisoned_handover: bool) -> String {
    // Inside a V4 or V5 table the config format is the plugin's own: RON, as it reads.
    let format = if size == "SY_VTABLE_SIZE_V4" || size == "SY_VTABLE_SIZE_V5" {
        "SY_CONFIG_RON"
    } else {
        "SY_CONFIG_JSON"
    };
    // Inside a V5 table sharding is the plugin's own: one worker; past its end only
    // the storage calls, poisoned.
    let sharding = if size == "SY_VTABLE_SIZE_V5" {
        "0"
    } else {
        "99"
    };
    let handover = if poisoned_handover {
        ".export_state = never_export,\n    .import_state = never_import,"
    } else {
        ""
    };
    format!(
        r#"
#include <stdlib.h>
#include "switchyard.h"
SWITCHYARD_DECLARE_C_PLUGIN();
struct SyInstance {{ int unused; }};
static SyInstance ONE;
static uint32_t create(const SyHostApi *a, SyHostCtx *c, SyStr cfg, SyInstance **out) {{
    (void)a; (void)c;
    if (cfg.len > 0 && cfg.ptr[0] == '{{') return SY_ERR_CONFIG;
    *out = &ONE; return SY_OK;
}}
static void destroy(SyInstance *i) {{ (void)i; }}
static uint32_t on_event(SyInstance *i, const SyHostApi *a, SyHostCtx *c, const SyEvent *e) {{
    (void)i;
    if (e->tag == SY_EV_DATAGRAM) a->send_datagram(c, e->socket, &e->peer, e->data);
    return SY_OK;
}}
__attribute__((unused)) static uint32_t never_export(SyInstance *i, const SyHostApi *a,
                                                    SyHostCtx *c, uint64_t n) {{
    (void)i; (void)a; (void)c; (void)n; abort();
}}
__attribute__((unused)) static uint32_t never_import(SyInstance *i, const SyHostApi *a,
                                                    SyHostCtx *c, uint64_t n, uint32_t v,
                                                    SyBytes d) {{
    (void)i; (void)a; (void)c; (void)n; (void)v; (void)d; abort();
}}
static const SyPluginVTable VTABLE = {{
    .struct_size = {size},
    .abi_version = SY_ABI_VERSION,
    .name = SY_STR("old-echo"),
    .version = SY_STR("0.1.0"),
    .listener_kinds = SY_LISTEN_UDP,
    .instance_mode = SY_INSTANCE_PER_HANDLER,
    .create = create,
    .destroy = destroy,
    .on_event = on_event,
    {handover}
    .config_format = {format},
    .sharding = {sharding},
    .input_delivery = {sharding},
    .storage_calls = 99,
}};
__attribute__((visibility("default"))) const SyPluginVTable *switchyard_plugin_entry(uint32_t v) {{
    (void)v; return &VTABLE;
}}
"#
    )
}

fn topology(lib: &Path, config: &str) -> String {
    format!(
        r#"(
    plugins: {{ "old-echo": "{}" }},
    listeners: {{ "u": (kind: udp, bind: "127.0.0.1:0") }},
    handlers: {{ "e": (plugin: "old-echo", config: {config}) }},
    routes: [ (from: "u", to: "e") ],
)"#,
        lib.display()
    )
}

#[test]
fn vtables_from_before_the_handover_config_format_sharding_and_waits_load_and_reload() {
    // V2 ends before the handover entries; V3 before the config format (its handover
    // entries are its own: left null, as a plugin without the hook); V4 before
    // sharding (it runs on one worker); V5 before its storage calls (synchronous).
    for (size, poisoned_handover) in [
        ("SY_VTABLE_SIZE_V2", true),
        ("SY_VTABLE_SIZE_V3", false),
        ("SY_VTABLE_SIZE_V4", false),
        ("SY_VTABLE_SIZE_V5", false),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let lib = compile_c(
            dir.path(),
            "libold_echo.so",
            &old_echo(size, poisoned_handover),
        );
        let host = Host::start(&topology(&lib, "()"));
        assert_eq!(udp_roundtrip(host.addr("u"), b"hi", WAIT), b"hi", "{size}");
        // A reload that replaces the handler: with the handover entries read, the old
        // instance's `export_state` would abort the host.
        host.reload_to(&topology(&lib, "( )"), 1);
        assert_eq!(
            udp_roundtrip(host.addr("u"), b"again", WAIT),
            b"again",
            "{size}"
        );
    }
}
