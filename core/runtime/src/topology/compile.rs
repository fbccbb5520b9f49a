//! The compiler: read the file, describe its plugins, check configs, routes, cycles and
//! addresses, all in one pass; then either every problem or the checked [`Topology`].
//!
//! Relative paths (`plugin_dirs`, `plugins`, `root`) resolve against the working
//! directory, not the file's directory: `switchyard serve --config config/x.ron` run
//! from the repository root finds `target/debug/...` and `./data` where a user expects.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::addresses::{self, Claim};
use super::admin;
use super::bind::BindAddr;
use super::bus_routes::{self, BusWiring};
use super::catalog::{PluginCatalog, PluginDescription};
use super::collect::{Diag, Diags};
use super::cycles;
use super::diagnostic::{DiagnosticKind, TopologyErrors};
use super::document::{self, Document};
use super::model::{
    AccessLogSpec, AdminToken, HandlerSpec, ListenerSpec, StorageBackend, StorageSpec, Topology,
};
use super::object_storage;
use super::plugins::{check_configs, describe_plugins};
use super::reader::Reader;
use super::resolution::{self, Resolve, SystemResolver};
use super::roots;
use super::routes::{self, Wiring};
use super::source::SourceFile;
use super::workers;

/// Read the topology file at `path`. A read failure is returned as a diagnostic too, so
/// the CLI prints every kind of failure the same way.
pub fn load(path: &Path) -> Result<SourceFile, TopologyErrors> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(SourceFile::new(path, text)),
        Err(err) => {
            let mut diags = Diags::default();
            diags.push(Diag::new(
                DiagnosticKind::Io,
                None,
                format!("cannot read topology file `{}`: {err}", path.display()),
            ));
            Err(diags.finish(&SourceFile::new(path, "")))
        }
    }
}

/// Compile `src` into a checked topology, asking `catalog` about plugins. Relative paths
/// resolve against the current working directory.
pub fn compile(src: &SourceFile, catalog: &dyn PluginCatalog) -> Result<Topology, TopologyErrors> {
    match std::env::current_dir() {
        Ok(cwd) => compile_in(src, catalog, &cwd),
        Err(err) => {
            let mut diags = Diags::default();
            diags.push(Diag::new(
                DiagnosticKind::Io,
                None,
                format!("cannot resolve relative paths: no working directory ({err})"),
            ));
            Err(diags.finish(src))
        }
    }
}

/// [`compile`] with relative paths resolved against `cwd` (tests pin it).
pub(crate) fn compile_in(
    src: &SourceFile,
    catalog: &dyn PluginCatalog,
    cwd: &Path,
) -> Result<Topology, TopologyErrors> {
    compile_with(src, catalog, cwd, &SystemResolver)
}

/// [`compile_in`] with host names in `bind` resolved by `resolver` (tests give names
/// fixed answers).
pub(crate) fn compile_with(
    src: &SourceFile,
    catalog: &dyn PluginCatalog,
    cwd: &Path,
    resolver: &dyn Resolve,
) -> Result<Topology, TopologyErrors> {
    let mut r = Reader::new(&src.text);
    let topology = document::read(&mut r).map(|doc| check(&mut r, &doc, catalog, cwd, resolver));
    match topology {
        Some(t) if r.diags.is_empty() => Ok(t),
        _ => {
            if r.diags.is_empty() {
                // Cannot happen (a failed read always says why); never return "0 errors".
                r.push(Diag::new(
                    DiagnosticKind::Syntax,
                    None,
                    "the topology could not be read",
                ));
            }
            Err(r.diags.finish(src))
        }
    }
}

/// The semantic checks over a read document. Returns the topology built from what is
/// valid; it is only used when no diagnostic was pushed.
fn check(
    r: &mut Reader<'_>,
    doc: &Document<'_>,
    catalog: &dyn PluginCatalog,
    cwd: &Path,
    resolver: &dyn Resolve,
) -> Topology {
    shared_names(r, doc);
    let plugin_dirs: Vec<PathBuf> = doc.plugin_dirs.iter().map(|d| cwd.join(d)).collect();
    let plugins = describe_plugins(r, doc, catalog, cwd, &plugin_dirs);
    check_configs(r, doc, catalog, &plugins);
    let mut wiring = routes::wire(r, doc, &plugins);
    let bus_wiring = bus_routes::wire(r, doc, &plugins);
    wiring.edges.extend(bus_wiring.edges.iter().cloned());
    report_cycles(r, doc, &wiring);
    let binds = resolution::resolve_all(r, doc, resolver);
    report_address_conflicts(r, doc, &binds);
    if !doc.allow_nested_roots {
        report_nested_roots(r, doc, &plugins, cwd);
    }
    object_storage::check(r, doc, &plugins);
    let workers = workers::check(r, doc, &plugins);
    let admin_token = admin::token(r, &doc.admin, &|name| std::env::var(name).ok());
    let mut topology = assemble(
        doc,
        plugins,
        (wiring, bus_wiring),
        &binds,
        &workers,
        plugin_dirs,
        cwd,
    );
    topology.admin_token = admin_token.map(AdminToken);
    topology
}

/// Listeners and handlers share one namespace (routes name either).
fn shared_names(r: &mut Reader<'_>, doc: &Document<'_>) {
    for h in &doc.handlers {
        if doc.listeners.iter().any(|l| l.name.value == h.name.value) {
            r.push(
                Diag::new(
                    DiagnosticKind::BadName,
                    h.name.span.clone(),
                    format!("`{}` names both a listener and a handler", h.name.value),
                )
                .label("also a listener")
                .help(Some(
                    "listeners and handlers share one namespace; rename one".into(),
                )),
            );
        }
    }
}

fn report_cycles(r: &mut Reader<'_>, doc: &Document<'_>, wiring: &Wiring) {
    for cycle in cycles::find(doc.handlers.len(), &wiring.edges) {
        let path: Vec<&str> = cycle
            .path
            .iter()
            .map(|&i| doc.handlers[i].name.value.as_str())
            .collect();
        r.push(
            Diag::new(
                DiagnosticKind::Cycle,
                cycle.closing,
                format!("cycle in message routes: {}", path.join(" -> ")),
            )
            .label("this route closes the cycle")
            .help(Some(
                "messages routed in a loop can circulate forever; remove one route of the loop"
                    .into(),
            )),
        );
    }
}

/// Every resolved address of every listener is checked against those before it.
fn report_address_conflicts(
    r: &mut Reader<'_>,
    doc: &Document<'_>,
    binds: &[Option<Vec<SocketAddr>>],
) {
    let claims: Vec<Vec<Claim>> = doc
        .listeners
        .iter()
        .zip(binds)
        .map(|(l, addrs)| match (&l.kind, addrs) {
            (Some(kind), Some(addrs)) => addrs
                .iter()
                .map(|&addr| Claim {
                    kind: kind.value,
                    addr,
                    dual_stack: l.dual_stack,
                })
                .collect(),
            _ => Vec::new(),
        })
        .collect();
    for c in addresses::collisions(&claims) {
        let (me, first) = (&doc.listeners[c.listener], &doc.listeners[c.first]);
        let (addr, first_addr) = (c.claim.addr, c.first_claim.addr);
        let mut help = Vec::new();
        if let Some(BindAddr::Host { name, .. }) = me.bind.as_ref().map(|b| &b.value) {
            help.push(format!("`{name}` resolves to `{addr}`"));
        }
        if first_addr != addr {
            help.push(if c.claim.dual_stack || c.first_claim.dual_stack {
                format!("`{first_addr}` and `{addr}` overlap: an unspecified IP covers every IP of its family, and a dual-stack `[::]` every IPv4 address too")
            } else {
                format!("`{first_addr}` and `{addr}` overlap: an unspecified IP covers every IP of its family")
            });
        }
        r.push(
            Diag::new(
                DiagnosticKind::AddressConflict,
                me.bind.as_ref().and_then(|b| b.span.clone()),
                format!(
                    "listener `{}` claims {} address `{addr}`, already claimed by listener `{}`",
                    me.name.value, c.claim.kind, first.name.value
                ),
            )
            .label("address in use")
            .help((!help.is_empty()).then(|| help.join("; "))),
        );
    }
}

/// A private root that equals, lies inside or contains a served root: one diagnostic
/// per private root, at its `root` value, naming every served handler it overlaps.
fn report_nested_roots(
    r: &mut Reader<'_>,
    doc: &Document<'_>,
    plugins: &[Option<PluginDescription>],
    cwd: &Path,
) {
    let declared: Vec<_> = doc
        .handlers
        .iter()
        .zip(plugins)
        .map(|(h, p)| {
            Some((
                p.as_ref()?.storage,
                roots::normalize(&h.root.as_ref()?.value, cwd),
            ))
        })
        .collect();
    for (i, overlaps) in roots::overlaps(&declared).into_iter().enumerate() {
        if overlaps.is_empty() {
            continue;
        }
        let h = &doc.handlers[i];
        let Some(root) = &h.root else { continue };
        let served: Vec<String> = overlaps
            .iter()
            .map(|&j| {
                let other = &doc.handlers[j];
                let at = other
                    .root
                    .as_ref()
                    .map_or(String::new(), |p| p.value.display().to_string());
                format!("`{}` (root `{at}`)", other.name.value)
            })
            .collect();
        r.push(
            Diag::new(
                DiagnosticKind::NestedRoots,
                root.span.clone(),
                format!(
                    "private root `{}` of handler `{}` overlaps the served root of {}: peers could read its files",
                    root.value.display(),
                    h.name.value,
                    served.join(", ")
                ),
            )
            .label("private storage inside (or around) a served root")
            .help(Some(
                "move it out of every served root, e.g. `root: Some(\"./state/audit\")`, or set `allow_nested_roots: true` at the top level if this is intended".into(),
            )),
        );
    }
}

/// The topology built from the document; meaningful only when nothing was reported.
fn assemble(
    doc: &Document<'_>,
    plugins: Vec<Option<PluginDescription>>,
    (wiring, bus_wiring): (Wiring, BusWiring),
    binds: &[Option<Vec<SocketAddr>>],
    workers: &[usize],
    plugin_dirs: Vec<PathBuf>,
    cwd: &Path,
) -> Topology {
    let listeners: Vec<ListenerSpec> = doc
        .listeners
        .iter()
        .zip(&wiring.listener_handler)
        .zip(binds)
        .filter_map(|((l, hi), binds)| {
            Some(ListenerSpec {
                name: l.name.value.clone(),
                kind: l.kind.as_ref()?.value,
                binds: binds.clone()?,
                dual_stack: l.dual_stack,
                handler: doc.handlers[(*hi)?].name.value.clone(),
            })
        })
        .collect();
    let handlers = doc
        .handlers
        .iter()
        .zip(plugins)
        .zip(wiring.outputs.into_iter().zip(bus_wiring.outputs))
        .zip(workers)
        .filter_map(|(((h, plugin), (outputs, bus_outputs)), &workers)| {
            Some(HandlerSpec {
                name: h.name.value.clone(),
                plugin: plugin?,
                root: match &h.object_storage {
                    Some(name) => Some(object_storage::spool_dir(&name.value)),
                    None => h.root.as_ref().map(|p| cwd.join(&p.value)),
                },
                object_storage: h
                    .object_storage
                    .as_ref()
                    .and_then(|name| object_storage::binding(&doc.storages, &name.value)),
                symlinks: h.symlinks.unwrap_or_default(),
                config_text: h.config.unwrap_or("").to_string(),
                create_dirs: h.create_dirs.clone(),
                busy_poll: Duration::from_micros(h.busy_poll_us.into()),
                workers,
                restart: h.restart,
                limits: h.limits.clone(),
                listeners: listeners
                    .iter()
                    .filter(|l| l.handler == h.name.value)
                    .map(|l| l.name.clone())
                    .collect(),
                outputs,
                bus_outputs,
            })
        })
        .collect();
    Topology {
        listeners,
        handlers,
        drain_timeout: doc.drain_timeout,
        reload_drain_timeout: doc.reload_drain_timeout,
        admin: doc.admin.addr.as_ref().map(|a| a.value),
        admin_token: None,
        user: doc.user.clone(),
        plugin_dirs,
        access_log: doc.access_log.clone().map(|a| AccessLogSpec {
            path: cwd.join(&a.path),
            ..a
        }),
        storages: doc
            .storages
            .iter()
            .filter_map(|s| {
                let backend = match s.backend.clone()? {
                    StorageBackend::Dir(path) => StorageBackend::Dir(cwd.join(path)),
                    s3 => s3,
                };
                Some(StorageSpec {
                    name: s.name.clone(),
                    backend,
                })
            })
            .collect(),
        bus: doc.bus.clone(),
        bus_inputs: bus_wiring.inputs,
    }
}
