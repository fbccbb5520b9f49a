//! The topology API as the host uses it, from outside the crate: a catalog implemented
//! by another crate, a file on disk, `load` + `compile`, and the rendered report.

use std::path::{Path, PathBuf};

use switchyard_runtime::topology::{
    self, ConfigDiagnostic, DiagnosticKind, ListenerKind, LoadFailure, PluginCatalog,
    PluginDescription, PluginProblem, PortDescription, PortDirection, StorageKind,
};
use switchyard_sdk::abi;

/// Knows one plugin, `echo`, which refuses a config containing `bad`.
#[derive(Debug)]
struct OneEcho;

impl PluginCatalog for OneEcho {
    fn describe(
        &self,
        name: &str,
        _: Option<&Path>,
        _: &[PathBuf],
    ) -> Result<PluginDescription, PluginProblem> {
        if name != "echo" {
            let reason = format!("plugin `{name}` not found");
            return Err(PluginProblem::new(LoadFailure::NotFound, reason));
        }
        Ok(PluginDescription {
            name: "echo".into(),
            path: "/plugins/libswitchyard_echo.so".into(),
            version: "0.1.0".into(),
            listener_kinds: abi::SY_LISTEN_UDP | abi::SY_LISTEN_TCP,
            instance_mode: abi::SY_INSTANCE_PER_HANDLER,
            ports: vec![PortDescription {
                name: "seen".into(),
                direction: PortDirection::Out,
                type_name: "Seen".into(),
            }],
            storage: StorageKind::Served,
            sharding: abi::SY_SHARD_ANY,
            storage_waits: false,
        })
    }

    fn check_config(&self, _: &PluginDescription, config_text: &str) -> Vec<ConfigDiagnostic> {
        // Positions inside the config text: line 2, at the word.
        config_text
            .lines()
            .enumerate()
            .filter_map(|(i, line)| {
                let col = line.find("bad")?;
                Some(ConfigDiagnostic {
                    message: "`bad` is refused".into(),
                    line: i as u32 + 1,
                    col: col as u32 + 1,
                })
            })
            .collect()
    }
}

fn write(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("topo.ron");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_file_on_disk_compiles_through_the_public_api() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        r#"(
    listeners: { "u": (kind: udp, bind: "[::1]:0") },
    handlers: { "echo": (plugin: "echo", root: Some("data")) },
    routes: [(from: "u", to: "echo")],
)"#,
    );
    let src = topology::load(&path).unwrap();
    let t = topology::compile(&src, &OneEcho)
        .unwrap_or_else(|e| panic!("{}", topology::render(&e, false)));
    assert_eq!(t.listeners.len(), 1);
    assert_eq!(t.listeners[0].kind, ListenerKind::Udp);
    assert_eq!(t.listeners[0].binds, vec!["[::1]:0".parse().unwrap()]);
    let cwd = std::env::current_dir().unwrap();
    assert_eq!(
        t.handlers[0].root,
        Some(cwd.join("data")),
        "relative to the working directory, not the file"
    );
}

#[test]
fn a_config_error_and_a_semantic_error_are_rendered_together() {
    let dir = tempfile::tempdir().unwrap();
    let text = r#"(
    listeners: { "u": (kind: udp, bind: "127.0.0.1:0") },
    handlers: {
        "echo": (plugin: "echo", config: (
            fine: 1,
            oops: bad,
        )),
    },
    routes: [(from: "u", to: "echo"), (from: "echo.seen", to: "nowhere.in")],
)"#;
    let path = write(dir.path(), text);
    let src = topology::load(&path).unwrap();
    let errors = topology::compile(&src, &OneEcho).unwrap_err();
    assert_eq!(errors.len(), 2, "{errors}");
    let kinds: Vec<DiagnosticKind> = errors.iter().map(|d| d.kind).collect();
    assert_eq!(
        kinds,
        [DiagnosticKind::Config, DiagnosticKind::DanglingRoute]
    );
    let out = topology::render(&errors, false);
    let file = path.display();
    assert!(
        out.contains(&format!("[{file}:6:19]")),
        "`bad` is on line 6, column 19:\n{out}"
    );
    let at = text.find("\"nowhere.in\"").unwrap();
    let col = at - text[..at].rfind('\n').unwrap();
    assert!(
        out.contains(&format!("[{file}:9:{col}]")),
        "the dangling route:\n{out}"
    );
    assert!(out.contains("`bad` is refused"), "{out}");
}
