//! A catalog whose plugins are plain data, and helpers to compile text and find errors.

use std::cell::RefCell;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use switchyard_sdk::abi;

use crate::topology::compile::compile_in;
use crate::topology::{
    ConfigDiagnostic, Diagnostic, DiagnosticKind, LoadFailure, PluginCatalog, PluginDescription,
    PluginProblem, PortDescription, PortDirection, SourceFile, StorageKind, Topology,
    TopologyErrors,
};

/// The working directory the tests resolve relative paths against.
pub const CWD: &str = "/srv/switchyard";

/// One `describe` call: (name, explicit path, plugin_dirs).
pub type DescribeCall = (String, Option<PathBuf>, Vec<PathBuf>);

/// Plugins: `echo` (udp+tcp, no ports, any config), `files` (tcp only, per connection),
/// `perconn` (udp+tcp but per connection), `chat` (udp; out `messages: ChatMessage`,
/// in `inbox: ChatMessage`), `audit` (in `events: *`, out `alerts: Alert`; its storage
/// private, every other plugin's served), `strict`
/// (config checked as `(size: u32, name: String)` with unknown fields denied).
#[derive(Debug, Default)]
pub struct FakeCatalog {
    /// Every `describe` call, in order.
    pub described: RefCell<Vec<DescribeCall>>,
}

fn port(name: &str, direction: PortDirection, type_name: &str) -> PortDescription {
    PortDescription {
        name: name.into(),
        direction,
        type_name: type_name.into(),
    }
}

/// The description the fake gives for `name`, if it knows it.
pub fn plugin(name: &str) -> Option<PluginDescription> {
    let both = abi::SY_LISTEN_UDP | abi::SY_LISTEN_TCP;
    let (kinds, mode, ports) = match name {
        "echo" | "strict" => (both, abi::SY_INSTANCE_PER_HANDLER, vec![]),
        "files" => (abi::SY_LISTEN_TCP, abi::SY_INSTANCE_PER_CONNECTION, vec![]),
        "perconn" => (both, abi::SY_INSTANCE_PER_CONNECTION, vec![]),
        "chat" => (
            abi::SY_LISTEN_UDP,
            abi::SY_INSTANCE_PER_HANDLER,
            vec![
                port("messages", PortDirection::Out, "ChatMessage"),
                port("inbox", PortDirection::In, "ChatMessage"),
            ],
        ),
        "audit" => (
            0,
            abi::SY_INSTANCE_PER_HANDLER,
            vec![
                port("events", PortDirection::In, "*"),
                port("alerts", PortDirection::Out, "Alert"),
            ],
        ),
        _ => return None,
    };
    Some(PluginDescription {
        name: name.into(),
        path: PathBuf::from(format!("/plugins/libswitchyard_{name}.so")),
        version: "1.0.0".into(),
        listener_kinds: kinds,
        instance_mode: mode,
        ports,
        // The serving plugins can wait on storage (an s3 storage); the others cannot.
        storage_waits: matches!(name, "tftp" | "files" | "bulk"),
        sharding: match name {
            "tftp" => abi::SY_SHARD_PEER_IP,
            "files" | "bulk" => abi::SY_SHARD_ANY,
            _ => abi::SY_SHARD_NONE,
        },
        // Audit keeps private transcripts; the others serve their roots.
        storage: if name == "audit" {
            StorageKind::Private
        } else {
            StorageKind::Served
        },
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // `name` is read only to be checked
struct StrictConfig {
    size: u32,
    #[serde(default)]
    name: String,
}

fn missing(name: &str) -> PluginProblem {
    PluginProblem::new(
        LoadFailure::NotFound,
        format!("plugin `{name}` not found: looked for libswitchyard_{name}.so"),
    )
}

impl PluginCatalog for FakeCatalog {
    fn describe(
        &self,
        name: &str,
        explicit: Option<&Path>,
        plugin_dirs: &[PathBuf],
    ) -> Result<PluginDescription, PluginProblem> {
        self.described.borrow_mut().push((
            name.into(),
            explicit.map(Path::to_path_buf),
            plugin_dirs.to_vec(),
        ));
        if let Some(path) = explicit {
            // Named after their class: `abi.so`, `abort.so`, `notplugin.so`, `open.so`.
            let class = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
            let failure = match class {
                "abi" => LoadFailure::AbiMismatch,
                "abort" => LoadFailure::PanicAbort,
                "notplugin" => LoadFailure::NotAPlugin,
                "open" => LoadFailure::OpenFailed,
                "refused" => LoadFailure::Refused,
                _ => return plugin(name).ok_or_else(|| missing(name)),
            };
            return Err(PluginProblem::new(
                failure,
                format!("{} refused ({class})", path.display()),
            ));
        }
        plugin(name).ok_or_else(|| missing(name))
    }

    fn check_config(&self, plugin: &PluginDescription, config_text: &str) -> Vec<ConfigDiagnostic> {
        if plugin.name != "strict" {
            return Vec::new();
        }
        match switchyard_sdk::parse_config::<StrictConfig>(config_text) {
            // A value check as a plugin's `new` makes it, naming its field.
            Ok(c) if c.size > 100 => {
                let e = switchyard_sdk::ConfigError::field("size", "at most 100");
                vec![ConfigDiagnostic {
                    message: e.into(),
                    line: 0,
                    col: 0,
                }]
            }
            Ok(_) => Vec::new(),
            Err(e) => vec![ConfigDiagnostic {
                message: e.message,
                line: e.line,
                col: e.col,
            }],
        }
    }
}

/// Compile `text` as `file.ron` with the fake catalog.
pub fn compile_text(text: &str) -> Result<Topology, TopologyErrors> {
    compile_in(
        &SourceFile::new("file.ron", text),
        &FakeCatalog::default(),
        Path::new(CWD),
    )
}

/// The errors of a text that must not compile.
pub fn errors(text: &str) -> TopologyErrors {
    match compile_text(text) {
        Ok(t) => panic!("expected errors, compiled to {t:#?}"),
        Err(e) => e,
    }
}

/// The only diagnostic of `kind`, asserting there is exactly one.
pub fn only(errors: &TopologyErrors, kind: DiagnosticKind) -> Diagnostic {
    let found: Vec<&Diagnostic> = errors.iter().filter(|d| d.kind == kind).collect();
    assert_eq!(found.len(), 1, "expected one {kind:?} in:\n{errors}");
    found[0].clone()
}

/// 1-based line and column of the first occurrence of `needle` in `text`.
pub fn pos(text: &str, needle: &str) -> (u32, u32) {
    pos_nth(text, needle, 0)
}

/// 1-based line and column of the `n`th (0-based) occurrence of `needle` in `text`.
pub fn pos_nth(text: &str, needle: &str, n: usize) -> (u32, u32) {
    let (offset, _) = text
        .match_indices(needle)
        .nth(n)
        .unwrap_or_else(|| panic!("`{needle}` #{n} not in text"));
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before[before.rfind('\n').map_or(0, |i| i + 1)..]
        .chars()
        .count()
        + 1;
    (line as u32, col as u32)
}

/// Assert that `d` is at `at` (line, col).
pub fn assert_at(d: &Diagnostic, at: (u32, u32)) {
    assert_eq!((d.line, d.col), at, "wrong place for: {} ", d.message);
}
