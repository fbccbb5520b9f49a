//! What the compiler needs to know about plugins, and the trait through which it asks.
//!
//! The compiler never loads a library itself: the host implements [`PluginCatalog`]
//! (with `dlopen` and the handshake), and tests implement it with plain data. That keeps
//! `validate` and the unit tests free of shared objects.

use std::path::{Path, PathBuf};

pub use switchyard_sdk::StorageKind;

/// Resolves plugin names to libraries and checks handler configurations.
pub trait PluginCatalog {
    /// Resolve plugin `name` and describe it. `explicit` is the path given for it in the
    /// topology's `plugins` map, already resolved against the working directory;
    /// `plugin_dirs` is the topology's own search list (also resolved). The problem's
    /// reason is shown to the operator as is, so it should say what was tried.
    fn describe(
        &self,
        name: &str,
        explicit: Option<&Path>,
        plugin_dirs: &[PathBuf],
    ) -> Result<PluginDescription, PluginProblem>;

    /// Ask the plugin to check a handler's configuration: `config_text` is the exact RON
    /// text of the handler's `config:` value (empty when it has none). Positions in the
    /// answer are 1-based line/column *inside that text*; 0/0 means "no position".
    fn check_config(&self, plugin: &PluginDescription, config_text: &str) -> Vec<ConfigDiagnostic>;
}

/// Why a plugin cannot be used, by class. Each class has its own diagnostic code and
/// help, because the operator's next step differs: build it, fix a dependency, point
/// at the right file, rebuild against this SDK, or change the build profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadFailure {
    /// No file found under any name form in any directory searched, or the explicit
    /// path does not exist.
    NotFound,
    /// `dlopen` failed (the dynamic loader's reason is given): not a shared object,
    /// another architecture, a missing dependency, an undefined symbol.
    OpenFailed,
    /// A shared library, but no Switchyard declaration (or a wrong magic).
    NotAPlugin,
    /// Built for another major version of the plugin ABI.
    AbiMismatch,
    /// Built with `panic = "abort"`: a panic in it would abort the host.
    PanicAbort,
    /// Its entry function returned null, or its vtable is malformed.
    Refused,
    /// Found by name, but the library declares another plugin name.
    WrongName,
}

/// A plugin that cannot be used: the class, and the reason in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginProblem {
    pub failure: LoadFailure,
    pub reason: String,
}

impl PluginProblem {
    pub fn new(failure: LoadFailure, reason: impl Into<String>) -> PluginProblem {
        PluginProblem {
            failure,
            reason: reason.into(),
        }
    }
}

/// A plugin as declared by its library.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginDescription {
    /// The name the plugin declares.
    pub name: String,
    /// The library it was found in.
    pub path: PathBuf,
    /// The plugin's own version string.
    pub version: String,
    /// Accepted listener kinds: a mask of `switchyard_sdk::abi::SY_LISTEN_*`.
    pub listener_kinds: u32,
    /// `switchyard_sdk::abi::SY_INSTANCE_*`: one instance per handler or per connection.
    pub instance_mode: u32,
    /// Typed message ports; routes refer to them by name, the runtime by index.
    pub ports: Vec<PortDescription>,
    /// Whether peers are served files from a handler's root, or only the plugin reads
    /// it: the compiler keeps private roots out of served ones.
    pub storage: StorageKind,
    /// `switchyard_sdk::abi::SY_SHARD_*`: whether a handler may run on several workers.
    pub sharding: u32,
    /// Whether its storage calls may wait (`SY_STORAGE_CALLS_WAIT`): only such a
    /// plugin can serve an `s3` storage.
    pub storage_waits: bool,
}

/// One typed message port of a plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortDescription {
    /// The name routes use after the dot: `handler.port`.
    pub name: String,
    /// Whether messages leave (`Out`) or arrive (`In`) through it.
    pub direction: PortDirection,
    /// The message type; `"*"` on an input port accepts every type.
    pub type_name: String,
}

/// Which way messages flow through a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PortDirection {
    /// The plugin receives messages on it.
    In,
    /// The plugin emits messages on it.
    Out,
}

/// A problem a plugin found in its configuration, at a position inside the config text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigDiagnostic {
    /// What is wrong, in the plugin's words.
    pub message: String,
    /// 1-based line inside the config text, 0 when unknown.
    pub line: u32,
    /// 1-based column (characters) inside the config text, 0 when unknown.
    pub col: u32,
}
