//! The workspace's real plugins described to the topology compiler without loading a
//! library: name, listener kinds, instance mode and ports from their `Protocol`
//! impls, and configurations checked by parsing them as each plugin's `Config`.

use std::path::{Path, PathBuf};

use switchyard_runtime::topology::{
    ConfigDiagnostic, LoadFailure, PluginCatalog, PluginDescription, PluginProblem,
    PortDescription, PortDirection,
};
use switchyard_sdk::{Protocol, abi, parse_config};

/// The plugins of this workspace.
#[derive(Debug, Default)]
pub(crate) struct Plugins;

/// `P` as the host would describe it after loading it.
fn describe<P: Protocol>() -> PluginDescription {
    PluginDescription {
        name: P::NAME.into(),
        path: PathBuf::from(format!("/plugins/libswitchyard_{}.so", P::NAME)),
        version: P::VERSION.into(),
        listener_kinds: P::LISTENERS.0,
        instance_mode: P::MODE.raw(),
        sharding: P::SHARDING.raw(),
        storage_waits: P::STORAGE_WAITS,
        ports: P::PORTS
            .iter()
            .map(|p| PortDescription {
                // SAFETY: the SDK's ports are built from `&'static str`s.
                name: unsafe { p.name.to_string_lossy() }.into_owned(),
                direction: if p.direction == abi::SY_PORT_IN {
                    PortDirection::In
                } else {
                    PortDirection::Out
                },
                // SAFETY: as above.
                type_name: unsafe { p.type_name.to_string_lossy() }.into_owned(),
            })
            .collect(),
        storage: P::STORAGE,
    }
}

/// Parse `text` as `P`'s configuration, as the plugin's `check_config` does.
fn check<P: Protocol>(text: &str) -> Vec<ConfigDiagnostic> {
    match parse_config::<P::Config>(text) {
        Ok(_) => Vec::new(),
        Err(e) => vec![ConfigDiagnostic {
            message: e.message,
            line: e.line,
            col: e.col,
        }],
    }
}

macro_rules! by_name {
    ($name:expr, $f:ident, $($arg:expr),*) => {
        match $name {
            "echo" => Some($f::<switchyard_echo::Echo>($($arg),*)),
            "tftp" => Some($f::<switchyard_tftp::Tftp>($($arg),*)),
            "chat" => Some($f::<switchyard_chat::ChatPlugin>($($arg),*)),
            "files" => Some($f::<switchyard_files::FilesPlugin>($($arg),*)),
            "bulk" => Some($f::<switchyard_bulk::BulkPlugin>($($arg),*)),
            "audit" => Some($f::<switchyard_audit::Audit>($($arg),*)),
            _ => None,
        }
    };
}

impl PluginCatalog for Plugins {
    fn describe(
        &self,
        name: &str,
        _explicit: Option<&Path>,
        _plugin_dirs: &[PathBuf],
    ) -> Result<PluginDescription, PluginProblem> {
        by_name!(name, describe,).ok_or_else(|| {
            PluginProblem::new(LoadFailure::NotFound, format!("plugin `{name}` not found"))
        })
    }

    fn check_config(&self, plugin: &PluginDescription, config_text: &str) -> Vec<ConfigDiagnostic> {
        by_name!(plugin.name.as_str(), check, config_text).unwrap_or_default()
    }
}
