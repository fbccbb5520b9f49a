//! Libraries the host must refuse, each with a message that says exactly why, from both
//! `validate` (exit 78, at the handler's `plugin` field) and `serve` (exit 78, nothing
//! served):
//! - a plugin built for another ABI version (a C library declaring ABI 99);
//! - a Rust plugin built with `panic = "abort"` (the real external plugin crate, rebuilt
//!   with `--config profile.dev.panic="abort"`): one panic in it would abort the host;
//! - a shared library that is no plugin at all (a C library exporting one function);
//! - a plugin whose entry function refuses this host (returns NULL);
//! - a file that is not a shared library.
//!
//! The broken C libraries make the host crash if it ever ran their code where it must
//! not: their entry functions call `abort()`. So a refusal that comes *after* running
//! plugin code fails these tests instead of passing by accident.

use std::path::{Path, PathBuf};
use std::time::Duration;

use switchyard_e2e::{
    Host, build_external_plugin, compile_c, run_switchyard, try_build_external_plugin,
};

/// A plugin declaring ABI 99. Its entry must never be called: the declaration is data,
/// read and refused before any plugin code runs.
const WRONG_ABI: &str = r#"
#include <stdlib.h>
#include "switchyard.h"
__attribute__((visibility("default"))) const SyPluginDecl switchyard_plugin_decl = {
    SY_MAGIC, 99u, (uint32_t)sizeof(SyPluginDecl), SY_FLAG_NO_UNWIND};
__attribute__((visibility("default"))) const SyPluginVTable *switchyard_plugin_entry(uint32_t v) {
    (void)v;
    abort();
}
"#;

/// An ordinary shared library: no Switchyard symbols.
const NOT_A_PLUGIN: &str = r#"
int add(int a, int b);
int add(int a, int b) { return a + b; }
"#;

/// A well-declared plugin whose entry refuses every host.
/// A declaration without `SY_FLAG_PANIC_UNWIND` or `SY_FLAG_NO_UNWIND`.
const NO_UNWIND_FLAG: &str = r#"
#include "switchyard.h"
__attribute__((visibility("default"))) const SyPluginDecl switchyard_plugin_decl = {
    SY_MAGIC, SY_ABI_VERSION, (uint32_t)sizeof(SyPluginDecl), 0u};
"#;

const ENTRY_REFUSES: &str = r#"
#include "switchyard.h"
SWITCHYARD_DECLARE_C_PLUGIN();
__attribute__((visibility("default"))) const SyPluginVTable *switchyard_plugin_entry(uint32_t v) {
    (void)v;
    return NULL;
}
"#;

/// A topology serving one UDP listener with plugin `name` loaded from `lib`.
fn topology_for(name: &str, lib: &Path) -> String {
    format!(
        r#"(
    plugins: {{ "{name}": "{}" }},
    listeners: {{ "u": (kind: udp, bind: "127.0.0.1:0") }},
    handlers: {{ "h": (plugin: "{name}") }},
    routes: [ (from: "u", to: "h") ],
)
"#,
        lib.display()
    )
}

/// Check that `validate` refuses `lib` with its class's `code`, and that `validate` and
/// `serve` both say `expected`, and `plugins --plugin-dir` lists it with the same reason.
fn assert_refused(name: &str, lib: &Path, code: &str, expected: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(format!("{name}.ron"));
    std::fs::write(&file, topology_for(name, lib)).unwrap();

    let out = run_switchyard(["validate".as_ref(), file.as_os_str()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(78),
        "validate must refuse {name}:\n{err}"
    );
    assert!(
        err.contains(code),
        "validate: not {code} for {name}:\n{err}"
    );
    // Reported at the library's path under `plugins`, what to fix: line 2.
    assert!(
        err.contains(&format!("{}:2:", file.display())),
        "validate: no position for {name}:\n{err}"
    );
    for e in expected {
        assert!(
            unwrapped(&err).contains(e),
            "validate: missing {e:?} for {name}:\n{err}"
        );
    }

    let failure = Host::builder(&topology_for(name, lib))
        .start_timeout(Duration::from_secs(20))
        .try_start()
        .err()
        .unwrap_or_else(|| panic!("serve accepted {name}"));
    assert_eq!(
        failure.code(),
        Some(78),
        "serve must exit 78 for {name}:\n{}",
        failure.text()
    );
    let log = failure.text();
    for e in expected {
        assert!(
            unwrapped(&log).contains(e),
            "serve: missing {e:?} for {name}:\n{log}"
        );
    }
    assert!(!log.contains(r#""msg":"listening""#), "{log}");

    let libdir = lib.parent().unwrap();
    let out = run_switchyard([
        "plugins".as_ref(),
        "--plugin-dir".as_ref(),
        libdir.as_os_str(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.contains(&lib.display().to_string()))
        .unwrap_or_else(|| panic!("`plugins` does not list {}:\n{stdout}", lib.display()));
    assert!(line.starts_with("- "), "{line}");
    for e in expected {
        assert!(line.contains(e), "plugins: missing {e:?}:\n{line}");
    }
}

/// `s` with miette's wrapping undone: the `│` gutter removed and white space collapsed,
/// so a message can be searched whole however the terminal width split it.
fn unwrapped(s: &str) -> String {
    s.replace('│', " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn c_lib(dir: &tempfile::TempDir, file: &str, source: &str) -> PathBuf {
    compile_c(dir.path(), file, source)
}

#[test]
fn abi_version_mismatch_is_refused_before_plugin_code_runs() {
    let dir = tempfile::tempdir().unwrap();
    let lib = c_lib(&dir, "libswitchyard_old.so", WRONG_ABI);
    assert_refused(
        "old",
        &lib,
        "topology::plugin_abi_mismatch",
        &["was built for Switchyard plugin ABI 99, this host speaks ABI 1"],
    );
}

/// A library declaring no unwind flag (what an SDK older than the build-time check
/// produced under `panic = "abort"`) is refused before any of its code is called.
#[test]
fn plugin_declared_without_unwinding_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let lib = c_lib(&dir, "libswitchyard_aborts.so", NO_UNWIND_FLAG);
    assert_refused(
        "aborts",
        &lib,
        "topology::plugin_panic_abort",
        &["was built with panic=abort"],
    );
}

/// The real thing: the external plugin crate built with `panic = "abort"` does not
/// compile, and cargo's error says why and what to change. (About 10 s of build in a
/// separate target dir.) The same crate built normally is accepted.
#[test]
fn rust_plugin_built_with_panic_abort_does_not_compile() {
    let out = try_build_external_plugin(
        "external-plugin-panic-abort",
        &["--config", r#"profile.dev.panic="abort""#],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the build must fail:\n{stderr}");
    assert!(
        stderr.contains("switchyard plugins must be built with panic = \"unwind\""),
        "{stderr}"
    );
    let ok = build_external_plugin("external-plugin", &[]);
    let out = run_switchyard([
        "plugins".as_ref(),
        "--plugin-dir".as_ref(),
        ok.parent().unwrap().as_os_str(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.lines().any(|l| l.starts_with("reverse ")),
        "{stdout}"
    );
}

#[test]
fn shared_library_without_symbols_is_not_a_plugin() {
    let dir = tempfile::tempdir().unwrap();
    let lib = c_lib(&dir, "libswitchyard_plain.so", NOT_A_PLUGIN);
    assert_refused(
        "plain",
        &lib,
        "topology::not_a_plugin",
        &["is not a Switchyard plugin: it exports no `switchyard_plugin_decl` symbol"],
    );
}

#[test]
fn entry_returning_null_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let lib = c_lib(&dir, "libswitchyard_picky.so", ENTRY_REFUSES);
    assert_refused(
        "picky",
        &lib,
        "topology::plugin_refused",
        &["refused to load: its entry function refused this host"],
    );
}

#[test]
fn file_that_is_not_a_library_cannot_be_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("libswitchyard_text.so");
    std::fs::write(&lib, "this is not an ELF file\n").unwrap();
    assert_refused(
        "text",
        &lib,
        "topology::plugin_open_failed",
        &["cannot load", "file too short"],
    );
}
