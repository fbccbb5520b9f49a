//! A plugin crate that lives outside the workspace (`tests/external-plugin`, with its own
//! `Cargo.toml`, an empty `[workspace]` table, and `switchyard-sdk` by path) is built
//! with plain `cargo build`, as a third party would, and served by the host.
//!
//! The build goes to `<target>/external-plugin` so it never touches the source tree and
//! never waits on the workspace build's lock; it is incremental, so reruns are cheap.

use std::time::Duration;

use switchyard_e2e::{
    Host, build_external_plugin, run_switchyard, run_switchyard_with, udp_roundtrip,
};

const WAIT: Duration = Duration::from_secs(10);

#[test]
fn third_party_plugin_builds_and_serves() {
    let lib = build_external_plugin("external-plugin", &[]);
    let dir = lib.parent().expect("library directory");

    // Found by directory (`--plugin-dir`), under the name it declares.
    let out = run_switchyard(["plugins".as_ref(), "--plugin-dir".as_ref(), dir.as_os_str()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    let line = stdout
        .lines()
        .find(|l| l.starts_with("reverse "))
        .unwrap_or_else(|| panic!("reverse not listed:\n{stdout}"));
    // Its own crate version, not the workspace's.
    let cols: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(cols[1..3], ["0.3.1", "1"], "{line}");

    // Served by explicit path, with its own config.
    let host = Host::start(&format!(
        r#"(
    plugins: {{ "reverse": "{}" }},
    listeners: {{
        "rev4": (kind: udp, bind: "127.0.0.1:0"),
        "rev6": (kind: udp, bind: "[::1]:0"),
    }},
    handlers: {{ "rev": (plugin: "reverse", config: (prefix: "<")) }},
    routes: [ (from: "rev4", to: "rev"), (from: "rev6", to: "rev") ],
)"#,
        lib.display()
    ));
    assert_eq!(
        udp_roundtrip(host.addr("rev4"), b"switchyard", WAIT),
        b"<drayhctiws"
    );
    assert_eq!(udp_roundtrip(host.addr("rev6"), b"abc", WAIT), b"<cba");
}

/// The third party's `#[serde(deny_unknown_fields)]` config is enforced by `validate`
/// with a position in the topology, exactly as for bundled plugins.
#[test]
fn third_party_config_is_checked_by_validate() {
    let (_dir, file, err) = validate_reverse_with("(prefx: \"<\")");
    assert!(err.contains("prefx"), "{err}");
    assert!(err.contains(&format!("{}:4:53", file.display())), "{err}");
}

/// `validate` a topology serving the external plugin with `config`: it must refuse
/// (78); the directory holding the file written, the file, and what `validate` printed.
fn validate_reverse_with(config: &str) -> (tempfile::TempDir, std::path::PathBuf, String) {
    let lib = build_external_plugin("external-plugin", &[]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rev.ron");
    std::fs::write(
        &file,
        format!(
            r#"(
    plugins: {{ "reverse": "{}" }},
    listeners: {{ "u": (kind: udp, bind: "127.0.0.1:0") }},
    handlers: {{ "rev": (plugin: "reverse", config: {config}) }},
    routes: [ (from: "u", to: "rev") ],
)"#,
            lib.display()
        ),
    )
    .unwrap();
    let out = run_switchyard(["validate".as_ref(), file.as_os_str()]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(78), "{err}");
    (dir, file, err)
}

/// A value check in the plugin's own `new` (`ConfigError::field`) is caught by
/// `validate`, which runs `new` with no I/O, with the caret on the value it names.
#[test]
fn third_party_value_check_is_caught_by_validate_at_the_field() {
    let long = "x".repeat(65);
    let (_dir, file, err) = validate_reverse_with(&format!("(prefix: \"{long}\")"));
    assert!(err.contains("`prefix`: at most 64 bytes, not 65"), "{err}");
    // Line 4, at the string after `prefix: `.
    assert!(err.contains(&format!("{}:4:61", file.display())), "{err}");
}

/// `serve` refuses to start (78) with a config the plugin's `new` refuses, and binds
/// nothing: the handler is not left stopped behind a bound port.
#[test]
fn third_party_uncreatable_handler_stops_serve_with_78() {
    let lib = build_external_plugin("external-plugin", &[]);
    let long = "x".repeat(65);
    let topology = format!(
        r#"(
    plugins: {{ "reverse": "{}" }},
    listeners: {{ "u": (kind: udp, bind: "127.0.0.1:0") }},
    handlers: {{ "rev": (plugin: "reverse", config: (prefix: "{long}")) }},
    routes: [ (from: "u", to: "rev") ],
)"#,
        lib.display()
    );
    let Err(failure) = Host::builder(&topology).try_start() else {
        panic!("serve must refuse");
    };
    assert_eq!(failure.code(), Some(78), "{}", failure.text());
    assert!(
        failure.text().contains("`prefix`: at most 64 bytes"),
        "{}",
        failure.text()
    );
    assert!(
        !failure.text().contains(r#""msg":"listening""#),
        "{}",
        failure.text()
    );
}

/// Found by name alone, through the topology's `plugin_dirs` (serve) and through
/// `SWITCHYARD_PLUGIN_PATH` (validate): no explicit path needed.
#[test]
fn third_party_plugin_is_found_by_name() {
    let lib = build_external_plugin("external-plugin", &[]);
    let dir = lib.parent().expect("library directory");
    let host = Host::start(&format!(
        r#"(
    plugin_dirs: [ "{}" ],
    listeners: {{ "u": (kind: udp, bind: "127.0.0.1:0") }},
    handlers: {{ "rev": (plugin: "reverse") }},
    routes: [ (from: "u", to: "rev") ],
)"#,
        dir.display()
    ));
    assert_eq!(udp_roundtrip(host.addr("u"), b"123", WAIT), b"321");

    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("by-env.ron");
    std::fs::write(
        &file,
        r#"(
    listeners: { "u": (kind: udp, bind: "127.0.0.1:0") },
    handlers: { "rev": (plugin: "reverse") },
    routes: [ (from: "u", to: "rev") ],
)"#,
    )
    .unwrap();
    let without = run_switchyard(["validate".as_ref(), file.as_os_str()]);
    assert_eq!(without.status.code(), Some(78), "{without:?}");
    let with = run_switchyard_with(
        |cmd| {
            cmd.arg("validate").arg(&file).env(
                "SWITCHYARD_PLUGIN_PATH",
                format!("/nonexistent:{}", dir.display()),
            );
        },
        Duration::from_secs(60),
    );
    assert!(
        with.status.success(),
        "{}",
        String::from_utf8_lossy(&with.stderr)
    );
}
