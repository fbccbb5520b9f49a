//! The topology format: reading a file into definitions that still know where each of
//! their parts is written, so later checks can point at them.
//!
//! A definition with a bad part is kept with that part missing (`None`): its name still
//! exists for the routes that mention it, so one typo gives one diagnostic, not a
//! cascade of "dangling route" errors.

use std::collections::HashMap;
use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;

use super::admin::AdminDef;
use super::bind::{self as bind_field, BindAddr};
use super::bus;
use super::collect::Diag;
use super::diagnostic::DiagnosticKind;
use super::handler_limits;
use super::handler_storage::{StorageRef, read_root, read_storage_ref, read_symlinks};
use super::model::{AccessLogSpec, BusSpec, Limits, ListenerKind, RestartPolicy};
pub(crate) use super::named::At;
use super::named::named_entries;
use super::raw::{self, RawStruct};
use super::reader::Reader;
use super::storages::{self, StorageDef};
use crate::storage::Symlinks;

/// Default for `drain_timeout_secs`.
const DEFAULT_DRAIN_SECS: u64 = 10;

/// The whole file, read.
#[derive(Debug, Default)]
pub(crate) struct Document<'a> {
    pub plugin_dirs: Vec<PathBuf>,
    /// Explicit plugin paths by plugin name, as written (not yet resolved).
    /// Plugin name -> library path, with the path's place in the file (errors about
    /// the library point there).
    pub plugins: HashMap<String, At<PathBuf>>,
    pub drain_timeout: Duration,
    /// `reload_drain_timeout_secs: 60`: how long a retired instance may keep its
    /// sessions; absent, it keeps them until they end.
    pub reload_drain_timeout: Option<Duration>,
    /// `admin: Some("127.0.0.1:9100")` (the metrics/health/console endpoint, off when
    /// absent) and `admin_token_env`.
    pub admin: AdminDef,
    /// `access_log: Some((path: ...))`, as written (the path not yet resolved).
    pub access_log: Option<AccessLogSpec>,
    /// `user: Some("switchyard")`: drop to this user after binding.
    pub user: Option<String>,
    /// `allow_nested_roots: true`: accept a private root inside a served one (or the
    /// reverse); off by default, see `roots.rs`.
    pub allow_nested_roots: bool,
    /// `storages: { "name": (kind: dir | s3, ...) }`, in file order.
    pub storages: Vec<StorageDef>,
    /// `bus: Some((kind: nats, ...))`, read and checked (see `bus.rs`).
    pub bus: Option<BusSpec>,
    /// Whether the file gives a `bus` (even one with errors): routes to subjects then
    /// wait for it to be fixed rather than report that there is none.
    pub bus_written: bool,
    pub listeners: Vec<ListenerDef>,
    pub handlers: Vec<HandlerDef<'a>>,
    pub routes: Vec<RouteDef>,
}

#[derive(Debug)]
pub(crate) struct ListenerDef {
    pub name: At<String>,
    pub kind: Option<At<ListenerKind>>,
    /// As written; host names are resolved by the compiler (`bind.rs`).
    pub bind: Option<At<BindAddr>>,
    /// `dual_stack: true`, already checked against `bind` (an IPv6 literal).
    pub dual_stack: bool,
}

#[derive(Debug)]
pub(crate) struct HandlerDef<'a> {
    pub name: At<String>,
    pub plugin: Option<At<String>>,
    /// The storage root as written (not yet resolved), with its place for diagnostics.
    pub root: Option<At<PathBuf>>,
    /// `storage: "name"` of an `s3` storage, with its place (the plugin is checked
    /// against it once loaded).
    pub object_storage: Option<At<String>>,
    /// `symlinks:` as written (only with a `root`; the default when absent).
    pub symlinks: Option<Symlinks>,
    /// The `config:` value text (a slice of the file), `None` when absent.
    pub config: Option<&'a str>,
    /// Directories created under `root` at start (plugins cannot create directories).
    pub create_dirs: Vec<String>,
    /// Microseconds of busy-polling before the handler thread sleeps (0 = off).
    pub busy_poll_us: u32,
    /// `workers:` as written (checked against the plugin by `workers.rs`).
    pub workers: Option<At<u32>>,
    pub restart: RestartPolicy,
    pub limits: Limits,
}

#[derive(Debug)]
pub(crate) struct RouteDef {
    pub from: Option<At<String>>,
    pub to: Option<At<String>>,
    /// `own: true` (routes from a bus subject only): this host's messages too.
    pub own: Option<At<bool>>,
    pub span: Option<Range<usize>>,
}

const TOP_FIELDS: &[&str] = &[
    "plugin_dirs",
    "plugins",
    "drain_timeout_secs",
    "reload_drain_timeout_secs",
    "admin",
    "admin_token_env",
    "access_log",
    "user",
    "allow_nested_roots",
    "storages",
    "bus",
    "listeners",
    "handlers",
    "routes",
];
const LISTENER_FIELDS: &[&str] = &["kind", "bind", "dual_stack"];
const HANDLER_FIELDS: &[&str] = &[
    "plugin",
    "root",
    "storage",
    "create_dirs",
    "config",
    "restart",
    "limits",
    "busy_poll_us",
    "workers",
    "symlinks",
];
/// Longest busy-poll before a handler thread sleeps, in microseconds.
const MAX_BUSY_POLL_US: u32 = 1_000;
const ROUTE_FIELDS: &[&str] = &["from", "to", "own"];

/// Read the file. `None` when it is not even a RON struct (a syntax error); otherwise
/// every definition that could be read, with problems left in `r.diags`.
pub(crate) fn read<'a>(r: &mut Reader<'a>) -> Option<Document<'a>> {
    let text = r.text;
    // A syntax error anywhere in the file surfaces here, at its own position.
    if let Err(err) = raw::parse::<RawStruct<'a>>(text) {
        r.ron_error(DiagnosticKind::Syntax, text, &err);
        if let Some(d) = r.diags.0.last_mut() {
            d.message = format!("syntax error: {}", d.message);
            if matches!(
                err.code,
                ron::Error::ExpectedStructLike | ron::Error::ExpectedNamedStructLike(_)
            ) {
                d.help = Some("a topology is a struct: `( listeners: {...}, handlers: {...}, routes: [...] )`".into());
            }
        }
        return None;
    }
    // The top-level struct without leading comments, so "missing field" points at `(`.
    let body = raw::parse::<&'a ron::value::RawValue>(text).map_or(text, |v| v.trim().get_ron());
    let top = r.open(body, "the topology".into(), TOP_FIELDS)?;
    let mut doc = Document {
        plugin_dirs: r
            .optional(&top, "plugin_dirs", Vec::new())
            .unwrap_or_default(),
        drain_timeout: Duration::from_secs(
            r.optional(&top, "drain_timeout_secs", DEFAULT_DRAIN_SECS)
                .unwrap_or(DEFAULT_DRAIN_SECS),
        ),
        // Checked like `drain_timeout_secs` (whole seconds); absent means no bound.
        reload_drain_timeout: top
            .get("reload_drain_timeout_secs")
            .and_then(|_| r.optional(&top, "reload_drain_timeout_secs", 0u64))
            .map(Duration::from_secs),
        user: r.optional(&top, "user", None).unwrap_or_default(),
        allow_nested_roots: r
            .optional(&top, "allow_nested_roots", false)
            .unwrap_or_default(),
        ..Document::default()
    };
    doc.admin = super::admin::read(r, top.get("admin"), top.get("admin_token_env"));
    if let Some(raw) = top.get("access_log") {
        doc.access_log = super::access_log::read(r, raw);
    }
    if let Some(raw) = top.get("plugins") {
        read_plugins(r, raw, &mut doc);
    }
    // Before the handlers, which refer to them by name.
    if let Some(raw) = top.get("storages") {
        for (key, value) in named_entries(r, raw, "storage", false) {
            doc.storages.push(storages::read(r, key.value, value));
        }
    }
    if let Some(raw) = top.get("bus") {
        doc.bus = bus::read(r, raw);
        doc.bus_written = doc.bus.is_some() || raw.trim() != "None";
    }
    if let Some(raw) = r.required(&top, "listeners") {
        for (key, value) in named_entries(r, raw, "listener", true) {
            doc.listeners.push(read_listener(r, key, value));
        }
    }
    if let Some(raw) = r.required(&top, "handlers") {
        for (key, value) in named_entries(r, raw, "handler", true) {
            let handler = read_handler(r, key, value, &doc.storages);
            doc.handlers.push(handler);
        }
    }
    if let Some(raw) = top.get("routes")
        && let Some(seq) = r.seq(raw, "`routes`")
    {
        doc.routes = seq
            .items
            .into_iter()
            .filter_map(|item| read_route(r, item))
            .collect();
    }
    Some(doc)
}

/// The `plugins` map: plugin name -> library path.
fn read_plugins<'a>(r: &mut Reader<'a>, raw: &'a str, doc: &mut Document<'a>) {
    for (name, value) in named_entries(r, raw, "plugin", false) {
        if let Some(path) = r.value::<PathBuf>(value, &format!("path of plugin `{}`", name.value)) {
            let span = r.span(value);
            doc.plugins.insert(name.value, At { value: path, span });
        }
    }
}

fn read_listener<'a>(r: &mut Reader<'a>, name: At<String>, raw: &'a str) -> ListenerDef {
    let mut def = ListenerDef {
        name,
        kind: None,
        bind: None,
        dual_stack: false,
    };
    let Some(f) = r.open(
        raw,
        format!("listener `{}`", def.name.value),
        LISTENER_FIELDS,
    ) else {
        return def;
    };
    if let Some(raw) = r.required(&f, "kind") {
        def.kind = r
            .value::<ListenerKind>(raw, &format!("`kind` of listener `{}`", def.name.value))
            .map(|value| At {
                value,
                span: r.span(raw),
            });
    }
    if let Some(raw) = r.required(&f, "bind") {
        def.bind = bind_field::read_bind(r, &f, raw).map(|value| At {
            value,
            span: r.span(raw),
        });
    }
    def.dual_stack = bind_field::read_dual_stack(r, &f, def.bind.as_ref().map(|b| &b.value));
    def
}

fn read_handler<'a>(
    r: &mut Reader<'a>,
    name: At<String>,
    raw: &'a str,
    storages: &[StorageDef],
) -> HandlerDef<'a> {
    let mut def = HandlerDef {
        name,
        plugin: None,
        root: None,
        object_storage: None,
        symlinks: None,
        config: None,
        create_dirs: Vec::new(),
        busy_poll_us: 0,
        workers: None,
        restart: RestartPolicy::default(),
        limits: Limits::default(),
    };
    let what = format!("handler `{}`", def.name.value);
    let Some(f) = r.open(raw, what.clone(), HANDLER_FIELDS) else {
        return def;
    };
    if let Some(raw) = r.required(&f, "plugin") {
        def.plugin = r
            .value::<String>(raw, &format!("`plugin` of {what}"))
            .map(|value| At {
                value,
                span: r.span(raw),
            });
    }
    if let Some(raw) = f.get("root") {
        def.root = read_root(r, raw, &what).map(|value| At {
            value,
            span: r.span(raw),
        });
    }
    if let Some(raw) = f.get("storage") {
        let span = r.span(raw);
        match read_storage_ref(r, raw, &what, def.root.is_some(), storages) {
            Some(StorageRef::Dir(value)) => def.root = Some(At { value, span }),
            Some(StorageRef::S3(value)) => def.object_storage = Some(At { value, span }),
            None => {}
        }
    }
    def.symlinks = read_symlinks(r, &f, def.root.is_some(), &what);
    def.create_dirs = r
        .optional(&f, "create_dirs", Vec::new())
        .unwrap_or_default();
    def.busy_poll_us = r.optional(&f, "busy_poll_us", 0).unwrap_or_default();
    if def.busy_poll_us > MAX_BUSY_POLL_US {
        let span = f.get("busy_poll_us").and_then(|raw| r.span(raw));
        r.push(
            Diag::new(
                DiagnosticKind::BadValue,
                span,
                format!("`busy_poll_us` of {what} is at most {MAX_BUSY_POLL_US}"),
            )
            .label("a thread spinning this long per sleep only burns CPU")
            .help(Some(
                "a round trip on loopback takes 20-100 us: 50 is plenty".into(),
            )),
        );
        def.busy_poll_us = 0;
    }
    if let Some(raw) = f.get("workers") {
        def.workers = r
            .value::<u32>(raw, &format!("`workers` of {what}"))
            .map(|value| At {
                value,
                span: r.span(raw),
            });
    }
    def.config = f.get("config");
    if let Some(raw) = f.get("restart") {
        def.restart = handler_limits::read_restart(r, raw, &what);
    }
    if let Some(raw) = f.get("limits") {
        def.limits = handler_limits::read_limits(r, raw, &what);
    }
    def
}

fn read_route<'a>(r: &mut Reader<'a>, raw: &'a str) -> Option<RouteDef> {
    let f = r.open(raw, "a route".into(), ROUTE_FIELDS)?;
    let end = |r: &mut Reader<'a>, name: &str| -> Option<At<String>> {
        let raw = r.required(&f, name)?;
        let value = r.value::<String>(raw, &format!("`{name}` of a route"))?;
        Some(At {
            value,
            span: r.span(raw),
        })
    };
    let from = end(r, "from");
    let to = end(r, "to");
    let own = f.get("own").and_then(|raw| {
        let value = r.value::<bool>(raw, "`own` of a route")?;
        Some(At {
            value,
            span: r.span(raw),
        })
    });
    Some(RouteDef {
        from,
        to,
        own,
        span: r.span(raw),
    })
}
