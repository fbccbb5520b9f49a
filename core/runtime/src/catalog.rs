//! [`Catalog`]: finds plugin libraries, loads each once, and answers the topology
//! compiler's questions about them (declarations, config checks).
//!
//! Search order for a plugin named in a topology: the topology's explicit `plugins`
//! path; `--plugin-dir` directories; the topology's `plugin_dirs`;
//! `SWITCHYARD_PLUGIN_PATH` (colon-separated); the directory of the running
//! executable (so `cargo build` output works with no flags).

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use switchyard_sdk::abi;

use crate::instance::check_config;
use crate::loader::{Plugin, find_in_dirs};
use crate::topology::{ConfigDiagnostic, PluginCatalog, PluginDescription, PortDescription, PortDirection};

/// Loaded plugins by canonical path, and where to look for more.
#[derive(Debug, Default)]
pub struct Catalog {
    /// `--plugin-dir` directories, searched before the topology's own.
    cli_dirs: Vec<PathBuf>,
    /// `SWITCHYARD_PLUGIN_PATH` and the executable's directory, searched last.
    fallback_dirs: Vec<PathBuf>,
    loaded: RefCell<HashMap<PathBuf, Plugin>>,
}

impl Catalog {
    /// A catalog searching `cli_dirs`, then (per topology) its `plugin_dirs`, then the
    /// environment's `SWITCHYARD_PLUGIN_PATH`, then the executable's directory.
    pub fn new(cli_dirs: Vec<PathBuf>) -> Catalog {
        let mut fallback_dirs: Vec<PathBuf> = std::env::var_os("SWITCHYARD_PLUGIN_PATH")
            .map(|v| std::env::split_paths(&v).filter(|p| !p.as_os_str().is_empty()).collect())
            .unwrap_or_default();
        if let Some(dir) = std::env::current_exe().ok().and_then(|p| p.parent().map(Path::to_path_buf)) {
            fallback_dirs.push(dir);
        }
        Catalog { cli_dirs, fallback_dirs, loaded: RefCell::default() }
    }

    /// Every directory searched for a topology with `plugin_dirs`, in order.
    pub fn search_dirs(&self, plugin_dirs: &[PathBuf]) -> Vec<PathBuf> {
        self.cli_dirs.iter().chain(plugin_dirs).chain(&self.fallback_dirs).cloned().collect()
    }

    /// Load (once) the library at `path`.
    pub fn load(&self, path: &Path) -> Result<Plugin, String> {
        let key = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        if let Some(p) = self.loaded.borrow().get(&key) {
            return Ok(p.clone());
        }
        let plugin = Plugin::load(&key).map_err(|e| e.to_string())?;
        self.loaded.borrow_mut().insert(key, plugin.clone());
        Ok(plugin)
    }

    /// Every plugin library found in the search directories (for `switchyard plugins`):
    /// each candidate `.so`, loaded or with the reason it was refused.
    pub fn discover(&self, plugin_dirs: &[PathBuf]) -> Vec<(PathBuf, Result<Plugin, String>)> {
        let mut seen = std::collections::BTreeSet::new();
        for dir in self.search_dirs(plugin_dirs) {
            let Ok(entries) = std::fs::read_dir(&dir) else { continue };
            for e in entries.flatten() {
                let path = e.path();
                let is_lib = path.extension().is_some_and(|x| x == std::env::consts::DLL_EXTENSION);
                let named = path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("libswitchyard_"));
                if is_lib && named {
                    seen.insert(path.canonicalize().unwrap_or(path));
                }
            }
        }
        seen.into_iter().map(|p| (p.clone(), self.load(&p))).collect()
    }
}

fn describe(plugin: &Plugin) -> PluginDescription {
    let info = plugin.info();
    PluginDescription {
        name: info.name.clone(),
        path: info.path.clone(),
        version: info.version.clone(),
        listener_kinds: info.listener_kinds,
        instance_mode: info.instance_mode,
        ports: info
            .ports
            .iter()
            .map(|p| PortDescription {
                name: p.name.clone(),
                direction: if p.input { PortDirection::In } else { PortDirection::Out },
                type_name: p.type_name.clone(),
            })
            .collect(),
    }
}

impl PluginCatalog for Catalog {
    fn describe(&self, name: &str, explicit: Option<&Path>, plugin_dirs: &[PathBuf]) -> Result<PluginDescription, String> {
        if let Some(path) = explicit {
            // An explicit path may alias a plugin under another name.
            return self.load(path).map(|p| describe(&p));
        }
        let dirs = self.search_dirs(plugin_dirs);
        let Some(path) = find_in_dirs(name, &dirs) else {
            let tried: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
            return Err(format!(
                "plugin `{name}` not found: looked for {} in {}",
                crate::loader::candidate_file_names(name).join(", "),
                if tried.is_empty() { "no directory".to_string() } else { tried.join(", ") }
            ));
        };
        let plugin = self.load(&path)?;
        if plugin.info().name != name {
            return Err(format!(
                "{} declares plugin `{}`, not `{name}`",
                path.display(),
                plugin.info().name
            ));
        }
        Ok(describe(&plugin))
    }

    fn check_config(&self, plugin: &PluginDescription, config_text: &str) -> Vec<ConfigDiagnostic> {
        match self.load(&plugin.path) {
            Ok(p) => check_config(&p, config_text)
                .into_iter()
                .map(|c| ConfigDiagnostic { message: c.message, line: c.line, col: c.col })
                .collect(),
            Err(e) => vec![ConfigDiagnostic { message: e, line: 0, col: 0 }],
        }
    }
}

/// The ABI version this host speaks, for `switchyard plugins` and `--version`.
pub const HOST_ABI_VERSION: u32 = abi::SY_ABI_VERSION;
