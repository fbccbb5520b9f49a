//! [`Catalog`]: finds plugin libraries, loads each once, and answers the topology
//! compiler's questions about them (declarations, config checks).
//!
//! Search order for a plugin named in a topology: the topology's explicit `plugins`
//! path; `--plugin-dir` directories; the topology's `plugin_dirs`;
//! `SWITCHYARD_PLUGIN_PATH` (colon-separated); the directory of the running
//! executable (so `cargo build` output works with no flags); for an installed
//! `<prefix>/bin/switchyard`, `<prefix>/lib/switchyard/plugins`; and
//! `/usr/lib/switchyard/plugins` (distribution packages).
//!
//! A library is loaded once per content, always from a private copy (in a 0700
//! directory, created exclusively, removed once mapped): `dlopen` of a path already
//! loaded would return the old library at reload, and mapping the operator's file
//! itself would let an in-place `cp` over it change code the host is running. The old
//! version stays loaded for as long as instances made from it live.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use switchyard_sdk::abi;

use crate::instance::check_config;
use crate::loader::{LoadError, Plugin, find_in_dirs};
use crate::topology::{
    ConfigDiagnostic, LoadFailure, PluginCatalog, PluginDescription, PluginProblem,
    PortDescription, PortDirection, StorageKind,
};

/// Loaded plugins by canonical path, and where to look for more.
#[derive(Debug, Default)]
pub struct Catalog {
    /// `--plugin-dir` directories, searched before the topology's own.
    cli_dirs: Vec<PathBuf>,
    /// `SWITCHYARD_PLUGIN_PATH` and the executable's directory, searched last.
    fallback_dirs: Vec<PathBuf>,
    loaded: RefCell<HashMap<PathBuf, Loaded>>,
    copies: std::cell::Cell<u64>,
    /// Private (0700) directory for the copies that are loaded.
    copy_dir: std::cell::OnceCell<tempfile::TempDir>,
}

#[derive(Debug)]
struct Loaded {
    plugin: Plugin,
    fingerprint: Fingerprint,
}

/// What identifies a library file's content without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fingerprint {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i128,
}

fn fingerprint(path: &Path) -> Result<Fingerprint, PluginProblem> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).map_err(|e| {
        let failure = if e.kind() == std::io::ErrorKind::NotFound {
            LoadFailure::NotFound
        } else {
            LoadFailure::OpenFailed
        };
        PluginProblem::new(failure, format!("cannot load {}: {e}", path.display()))
    })?;
    Ok(Fingerprint {
        dev: m.dev(),
        ino: m.ino(),
        size: m.size(),
        mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
    })
}

/// The system-wide plugin directory, searched last.
pub const SYSTEM_PLUGIN_DIR: &str = "/usr/lib/switchyard/plugins";

impl Catalog {
    /// A catalog searching `cli_dirs`, then (per topology) its `plugin_dirs`, then the
    /// environment's `SWITCHYARD_PLUGIN_PATH`, then the executable's directory, then
    /// `<prefix>/lib/switchyard/plugins` for an executable in `<prefix>/bin`, then
    /// [`SYSTEM_PLUGIN_DIR`].
    pub fn new(cli_dirs: Vec<PathBuf>) -> Catalog {
        let mut fallback_dirs: Vec<PathBuf> = std::env::var_os("SWITCHYARD_PLUGIN_PATH")
            .map(|v| {
                std::env::split_paths(&v)
                    .filter(|p| !p.as_os_str().is_empty())
                    .collect()
            })
            .unwrap_or_default();
        if let Some(dir) = std::env::current_exe()
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf))
        {
            // An installed host: `/usr/local/bin/switchyard` finds its plugins in
            // `/usr/local/lib/switchyard/plugins`, as well as next to itself.
            let installed = dir.parent().map(|p| p.join("lib/switchyard/plugins"));
            fallback_dirs.push(dir);
            fallback_dirs.extend(installed);
        }
        // Where distribution packages put them.
        fallback_dirs.push(PathBuf::from(SYSTEM_PLUGIN_DIR));
        Catalog {
            cli_dirs,
            fallback_dirs,
            loaded: RefCell::default(),
            copies: std::cell::Cell::new(0),
            copy_dir: std::cell::OnceCell::new(),
        }
    }

    /// Every directory searched for a topology with `plugin_dirs`, in order.
    pub fn search_dirs(&self, plugin_dirs: &[PathBuf]) -> Vec<PathBuf> {
        self.cli_dirs
            .iter()
            .chain(plugin_dirs)
            .chain(&self.fallback_dirs)
            .cloned()
            .collect()
    }

    /// Load the library at `path`, once per content of the file.
    pub fn load(&self, path: &Path) -> Result<Plugin, PluginProblem> {
        let key = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        let print = fingerprint(&key)?;
        if let Some(l) = self.loaded.borrow().get(&key)
            && l.fingerprint == print
        {
            return Ok(l.plugin.clone());
        }
        let plugin = self.load_copy(&key)?;
        self.loaded.borrow_mut().insert(
            key,
            Loaded {
                plugin: plugin.clone(),
                fingerprint: print,
            },
        );
        Ok(plugin)
    }

    /// Load a changed library from a private copy (removed again once mapped).
    fn load_copy(&self, path: &Path) -> Result<Plugin, PluginProblem> {
        let n = self.copies.get() + 1;
        self.copies.set(n);
        let fail = |what: &str, e: std::io::Error| {
            PluginProblem::new(
                LoadFailure::OpenFailed,
                format!("cannot {what} {} to load it: {e}", path.display()),
            )
        };
        let dir = match self.copy_dir.get() {
            Some(d) => d,
            None => {
                let d = tempfile::Builder::new()
                    .prefix("switchyard-plugins-")
                    .tempdir()
                    .map_err(|e| fail("stage", e))?;
                self.copy_dir.get_or_init(|| d)
            }
        };
        let name = path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        let copy = dir.path().join(format!("{n}-{name}"));
        let mut src = std::fs::File::open(path).map_err(|e| fail("open", e))?;
        let mut dst = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&copy)
            .map_err(|e| fail("copy", e))?;
        std::io::copy(&mut src, &mut dst).map_err(|e| fail("copy", e))?;
        drop(dst);
        let result = Plugin::load_at(&copy, path).map_err(|e| problem(&e));
        // The mapping outlives the name: nothing is left behind.
        let _ = std::fs::remove_file(&copy);
        result
    }

    /// Whether `plugin` is the current version of its library file.
    pub fn is_current(&self, plugin: &Plugin) -> bool {
        let path = &plugin.info().path;
        let key = path.canonicalize().unwrap_or_else(|_| path.clone());
        self.loaded
            .borrow()
            .get(&key)
            .is_some_and(|l| l.plugin.same_library(plugin))
    }

    /// Every file plugin lookup could load from the search directories (for
    /// `switchyard plugins`): each shared library under any of the name forms lookup
    /// tries (`libswitchyard_NAME.so`, `libNAME.so`, `NAME.so`), with the name a
    /// topology would find it by, loaded or with the reason it is refused.
    pub fn discover(&self, plugin_dirs: &[PathBuf]) -> Vec<Discovered> {
        let mut seen = std::collections::BTreeMap::new();
        for dir in self.search_dirs(plugin_dirs) {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in entries.flatten() {
                let path = e.path();
                let Some(name) = lookup_name(&path) else {
                    continue;
                };
                if path.is_file() {
                    seen.entry(path.canonicalize().unwrap_or(path))
                        .or_insert(name);
                }
            }
        }
        seen.into_iter()
            .map(|(path, name)| {
                let result = self.load(&path);
                Discovered { path, name, result }
            })
            .collect()
    }
}

/// One library [`Catalog::discover`] found.
#[derive(Debug)]
pub struct Discovered {
    pub path: PathBuf,
    /// The plugin name under which lookup finds this file.
    pub name: String,
    pub result: Result<Plugin, PluginProblem>,
}

/// The plugin name lookup would find `path` under, if it is a shared library: the file
/// stem without `libswitchyard_` or `lib` (`libswitchyard_tftp.so`, `libtftp.so` and
/// `tftp.so` are all `tftp`).
pub fn lookup_name(path: &Path) -> Option<String> {
    if path.extension()? != std::env::consts::DLL_EXTENSION {
        return None;
    }
    let stem = path.file_stem()?.to_str()?;
    let name = stem
        .strip_prefix("libswitchyard_")
        .or_else(|| stem.strip_prefix("lib"))
        .unwrap_or(stem);
    (!name.is_empty()).then(|| name.to_owned())
}

/// A loader error as the topology reports it: its class and its words.
fn problem(e: &LoadError) -> PluginProblem {
    let failure = match e {
        LoadError::Open { .. } => LoadFailure::OpenFailed,
        LoadError::NotAPlugin { .. } => LoadFailure::NotAPlugin,
        LoadError::AbiMismatch { .. } => LoadFailure::AbiMismatch,
        LoadError::PanicAbort { .. } => LoadFailure::PanicAbort,
        LoadError::Refused { .. } => LoadFailure::Refused,
    };
    PluginProblem::new(failure, e.to_string())
}

fn describe(plugin: &Plugin) -> PluginDescription {
    let info = plugin.info();
    PluginDescription {
        name: info.name.clone(),
        path: info.path.clone(),
        version: info.version.clone(),
        listener_kinds: info.listener_kinds,
        instance_mode: info.instance_mode,
        sharding: info.sharding,
        storage_waits: info.storage_calls == abi::SY_STORAGE_CALLS_WAIT,
        storage: if info.storage == abi::SY_STORAGE_PRIVATE {
            StorageKind::Private
        } else {
            StorageKind::Served
        },
        ports: info
            .ports
            .iter()
            .map(|p| PortDescription {
                name: p.name.clone(),
                direction: if p.input {
                    PortDirection::In
                } else {
                    PortDirection::Out
                },
                type_name: p.type_name.clone(),
            })
            .collect(),
    }
}

impl PluginCatalog for Catalog {
    fn describe(
        &self,
        name: &str,
        explicit: Option<&Path>,
        plugin_dirs: &[PathBuf],
    ) -> Result<PluginDescription, PluginProblem> {
        if let Some(path) = explicit {
            // An explicit path may alias a plugin under another name.
            return self.load(path).map(|p| describe(&p));
        }
        let dirs = self.search_dirs(plugin_dirs);
        let Some(path) = find_in_dirs(name, &dirs) else {
            let tried: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
            let reason = format!(
                "plugin `{name}` not found: looked for {} in {}",
                crate::loader::candidate_file_names(name).join(", "),
                if tried.is_empty() {
                    "no directory".to_string()
                } else {
                    tried.join(", ")
                }
            );
            return Err(PluginProblem::new(LoadFailure::NotFound, reason));
        };
        let plugin = self.load(&path)?;
        if plugin.info().name != name {
            let reason = format!(
                "{} declares plugin `{}`, not `{name}`",
                path.display(),
                plugin.info().name
            );
            return Err(PluginProblem::new(LoadFailure::WrongName, reason));
        }
        Ok(describe(&plugin))
    }

    fn check_config(&self, plugin: &PluginDescription, config_text: &str) -> Vec<ConfigDiagnostic> {
        match self.load(&plugin.path) {
            Ok(p) => check_config(&p, config_text)
                .into_iter()
                .map(|c| ConfigDiagnostic {
                    message: c.message,
                    line: c.line,
                    col: c.col,
                })
                .collect(),
            Err(e) => vec![ConfigDiagnostic {
                message: e.reason,
                line: 0,
                col: 0,
            }],
        }
    }
}

/// The ABI version this host speaks, for `switchyard plugins` and `--version`.
pub const HOST_ABI_VERSION: u32 = abi::SY_ABI_VERSION;
