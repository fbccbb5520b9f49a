//! Load failures by class: each with its own code and help, placed where the fix goes.

use super::fake::{assert_at, errors, only, pos};
use crate::topology::DiagnosticKind;

/// A topology whose handler `h` uses plugin `p`, found at `path` through `plugins`.
fn explicit(path: &str) -> String {
    format!(
        "(\n    plugins: {{ \"p\": \"{path}\" }},\n    listeners: {{}},\n    handlers: {{ \"h\": (plugin: \"p\"), \"h2\": (plugin: \"p\") }},\n)\n"
    )
}

#[test]
fn each_load_failure_class_has_its_own_code_and_help_at_the_explicit_path() {
    let cases = [
        (
            "abi.so",
            DiagnosticKind::PluginAbi,
            "topology::plugin_abi_mismatch",
            "rebuild the plugin against this host's switchyard-sdk",
        ),
        (
            "abort.so",
            DiagnosticKind::PluginPanicAbort,
            "topology::plugin_panic_abort",
            "remove `panic = \"abort\"`",
        ),
        (
            "notplugin.so",
            DiagnosticKind::NotAPlugin,
            "topology::not_a_plugin",
            "declare_plugin!",
        ),
        (
            "open.so",
            DiagnosticKind::PluginOpen,
            "topology::plugin_open_failed",
            "`ldd` lists them",
        ),
        (
            "refused.so",
            DiagnosticKind::PluginRefused,
            "topology::plugin_refused",
            "entry function or vtable refused",
        ),
    ];
    for (file, kind, code, help) in cases {
        let text = explicit(file);
        let e = errors(&text);
        // Two handlers use the plugin; the library is one thing to fix: one error, at it.
        let d = only(&e, kind);
        assert_eq!(kind.code(), code);
        assert!(
            d.help.as_deref().is_some_and(|h| h.contains(help)),
            "{file}: {:?}",
            d.help
        );
        assert!(
            d.message
                .contains(&format!("({})", &file[..file.len() - 3])),
            "{}",
            d.message
        );
        assert_at(&d, pos(&text, &format!("\"{file}\"")));
        assert_eq!(e.len(), 1, "{e}");
    }
}

#[test]
fn a_plugin_not_found_by_name_is_reported_at_each_handler_with_the_build_help() {
    let text = "(\n    listeners: {},\n    handlers: { \"h\": (plugin: \"nosuch\") },\n)\n";
    let e = errors(text);
    let d = only(&e, DiagnosticKind::UnknownPlugin);
    assert_eq!(d.kind.code(), "topology::unknown_plugin");
    assert!(
        d.help.as_deref().is_some_and(|h| h.starts_with("build it")),
        "{:?}",
        d.help
    );
    assert!(
        !d.help.as_deref().unwrap_or("").contains("rebuild"),
        "{:?}",
        d.help
    );
    assert_at(&d, pos(text, "\"nosuch\""));
}
