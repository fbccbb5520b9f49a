//! The plugins of a topology: each one described through the catalog (every load
//! failure reported with its class, at the place to fix), and each handler's config
//! checked by its plugin, positions mapped onto the file.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::catalog::{LoadFailure, PluginCatalog, PluginDescription, PluginProblem};
use super::collect::Diag;
use super::diagnostic::DiagnosticKind;
use super::document::Document;
use super::raw::{self, RawStruct};
use super::reader::Reader;
use super::source::{offset_at, token_at};

/// Describe each plugin once; report a failure at every handler that names it, or once
/// at the library's path when the `plugins` map gives it (that is what to fix).
pub(crate) fn describe_plugins(
    r: &mut Reader<'_>,
    doc: &Document<'_>,
    catalog: &dyn PluginCatalog,
    cwd: &Path,
    plugin_dirs: &[PathBuf],
) -> Vec<Option<PluginDescription>> {
    let mut cache: HashMap<&str, Result<PluginDescription, PluginProblem>> = HashMap::new();
    let mut reported_at_path: HashSet<&str> = HashSet::new();
    let mut out = Vec::with_capacity(doc.handlers.len());
    for h in &doc.handlers {
        let Some(plugin) = &h.plugin else {
            out.push(None);
            continue;
        };
        let name = plugin.value.as_str();
        let explicit = doc.plugins.get(name);
        let described = cache.entry(name).or_insert_with(|| {
            let path = explicit.map(|p| cwd.join(&p.value));
            catalog.describe(name, path.as_deref(), plugin_dirs)
        });
        match described {
            Ok(desc) => out.push(Some(desc.clone())),
            Err(problem) => {
                out.push(None);
                let span = match explicit {
                    Some(path) if path.span.is_some() => {
                        if !reported_at_path.insert(name) {
                            continue;
                        }
                        path.span.clone()
                    }
                    _ => plugin.span.clone(),
                };
                let (kind, label, help) = load_failure_text(problem.failure);
                r.push(
                    Diag::new(
                        kind,
                        span,
                        format!(
                            "cannot load plugin `{name}` for handler `{}`: {}",
                            h.name.value, problem.reason
                        ),
                    )
                    .label(label)
                    .help(Some(help.into())),
                );
            }
        }
    }
    out
}

/// The diagnostic kind, caret label and help for each class of load failure: the
/// operator's next step differs for each.
fn load_failure_text(failure: LoadFailure) -> (DiagnosticKind, &'static str, &'static str) {
    match failure {
        LoadFailure::NotFound => (
            DiagnosticKind::UnknownPlugin,
            "unknown plugin",
            "build it, or give its path in `plugins: { \"name\": \"path/to/lib.so\" }`, or add its directory to `plugin_dirs`",
        ),
        LoadFailure::OpenFailed => (
            DiagnosticKind::PluginOpen,
            "the dynamic loader refused this library",
            "the loader's reason is above: a file that is not a shared library, one built for another architecture, or a missing dependency (`ldd` lists them)",
        ),
        LoadFailure::NotAPlugin => (
            DiagnosticKind::NotAPlugin,
            "not a Switchyard plugin",
            "point at the plugin's own library: one built with `switchyard_sdk::declare_plugin!` or `SWITCHYARD_DECLARE_C_PLUGIN()`",
        ),
        LoadFailure::AbiMismatch => (
            DiagnosticKind::PluginAbi,
            "built for another plugin ABI",
            "rebuild the plugin against this host's switchyard-sdk (`switchyard plugins` shows the host's ABI)",
        ),
        LoadFailure::PanicAbort => (
            DiagnosticKind::PluginPanicAbort,
            "built with panic = \"abort\"",
            "remove `panic = \"abort\"` from the plugin's Cargo profile (unwind is the default), so that a panic costs one instance, not the host",
        ),
        LoadFailure::Refused => (
            DiagnosticKind::PluginRefused,
            "plugin refused",
            "its entry function or vtable refused this host, as the reason says: rebuild it against this host's switchyard-sdk",
        ),
        LoadFailure::WrongName => (
            DiagnosticKind::PluginName,
            "the library declares another name",
            "name the plugin as its library declares itself, or map this name to the library in `plugins`",
        ),
    }
}

/// Let each plugin check its handler's config; map its positions onto the file.
pub(crate) fn check_configs(
    r: &mut Reader<'_>,
    doc: &Document<'_>,
    catalog: &dyn PluginCatalog,
    plugins: &[Option<PluginDescription>],
) {
    for (h, plugin) in doc.handlers.iter().zip(plugins) {
        let Some(plugin) = plugin else { continue };
        let text = h.config.unwrap_or("");
        for problem in catalog.check_config(plugin, text) {
            let span = match (h.config.and_then(|c| r.span(c)), problem.line) {
                (Some(config), line) if line > 0 => {
                    let offset =
                        config.start + offset_at(text, line as usize, problem.col as usize);
                    Some(token_at(r.text, offset))
                }
                // A value check naming its field (`ConfigError::field`): at that value.
                (Some(config), _) => named_field(&problem.message)
                    .and_then(|name| field_value(h.config?, name))
                    .and_then(|value| r.span(value))
                    .or(Some(config)),
                // No `config:` at all: point at the handler.
                (None, _) => h.name.span.clone(),
            };
            r.push(
                Diag::new(
                    DiagnosticKind::Config,
                    span,
                    format!(
                        "invalid config for handler `{}`: {}",
                        h.name.value, problem.message
                    ),
                )
                .label(format!("refused by plugin `{}`", plugin.name)),
            );
        }
    }
}

/// The field a plugin's message names in `ConfigError::field`'s form: "`name`: ...".
fn named_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix('`')?;
    let (name, after) = rest.split_once('`')?;
    (after.starts_with(':') && !name.is_empty()).then_some(name)
}

/// The value of top-level field `name` in a handler's config text, as a slice of it.
fn field_value<'a>(config: &'a str, name: &str) -> Option<&'a str> {
    let st = raw::parse::<RawStruct<'a>>(config).ok()?;
    st.fields
        .into_iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

/// Where a topology looks for its plugins, read leniently (problems elsewhere in the
/// file are ignored): for `switchyard plugins --config`, which must list what it can
/// even when the topology does not compile (a refused plugin is often why).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PluginLookup {
    /// The topology's `plugin_dirs`, resolved against the working directory.
    pub dirs: Vec<PathBuf>,
    /// Every plugin name its handlers use, with the explicit path `plugins` gives it.
    pub named: Vec<(String, Option<PathBuf>)>,
}

/// Read `src`'s plugin search list and the plugins its handlers name, relative paths
/// resolved against `cwd`. Nothing is loaded.
pub fn plugin_lookup(src: &super::SourceFile, cwd: &Path) -> PluginLookup {
    let mut r = Reader::new(&src.text);
    let Some(doc) = super::document::read(&mut r) else {
        return PluginLookup::default();
    };
    let mut named: Vec<(String, Option<PathBuf>)> = Vec::new();
    for h in &doc.handlers {
        let Some(plugin) = &h.plugin else { continue };
        if named.iter().any(|(n, _)| *n == plugin.value) {
            continue;
        }
        let explicit = doc.plugins.get(&plugin.value).map(|p| cwd.join(&p.value));
        named.push((plugin.value.clone(), explicit));
    }
    PluginLookup {
        dirs: doc.plugin_dirs.iter().map(|d| cwd.join(d)).collect(),
        named,
    }
}
