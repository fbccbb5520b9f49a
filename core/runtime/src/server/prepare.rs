//! Carrying out a reload plan, first half: everything that can fail, before anything
//! running changes. Plugins are loaded, sockets bound (or duplicated from the running
//! ones), storage roots opened and the admin endpoint bound; every failure is collected
//! so a refused reload names all of them at once. What this makes is only dropped on
//! failure: new sockets close, running ones are untouched.

use std::collections::HashMap;
use std::sync::Arc;

use super::admin::{BoundAdmin, bind_admin};
use super::errors::{StartError, StartErrors};
use super::plan::ReloadPlan;
use super::sockets::{self, ListenerSocket};
use crate::catalog::Catalog;
use crate::loader::{LibraryId, Plugin};
use crate::objects::ObjectBackend;
use crate::storage::{Root, StorageError};
use crate::topology::{HandlerSpec, Topology};

/// Each handler's plugin, loaded (from a fresh private copy when the library changed on
/// disk), or why it could not be: the plan compares libraries, so this comes first.
#[derive(Debug)]
pub(super) struct Plugins(HashMap<String, Result<Plugin, String>>);

impl Plugins {
    /// Load the plugin of every handler of `topology` through `catalog`.
    pub fn load(topology: &Topology, catalog: &Catalog) -> Plugins {
        Plugins(
            topology
                .handlers
                .iter()
                .map(|h| {
                    let loaded = catalog.load(&h.plugin.path).map_err(|p| p.reason);
                    (h.name.clone(), loaded)
                })
                .collect(),
        )
    }

    /// The library of each handler whose plugin loaded.
    pub fn libraries(&self) -> HashMap<String, LibraryId> {
        self.0
            .iter()
            .filter_map(|(name, p)| Some((name.clone(), p.as_ref().ok()?.library_id())))
            .collect()
    }
}

/// What the switch needs, all of it ready.
#[derive(Debug)]
pub(super) struct Prepared {
    /// Every handler's plugin.
    pub plugins: HashMap<String, Plugin>,
    /// Every listener's sockets, by listener name, in `binds` order.
    pub sockets: HashMap<String, Vec<ListenerSocket>>,
    /// The opened root of each handler in [`ReloadPlan::roots`].
    pub roots: HashMap<String, Root>,
    /// The connected `s3` storage of each starting handler bound to one.
    pub objects: HashMap<String, Arc<ObjectBackend>>,
    /// The new admin endpoint, when the plan binds one.
    pub admin: Option<BoundAdmin>,
}

/// Make everything `plan` needs, or say every reason it cannot be made. `running`
/// finds a running listener's socket by listener name and index.
pub(super) fn prepare<'r>(
    plan: &ReloadPlan,
    topology: &Topology,
    plugins: Plugins,
    running: impl Fn(&str, usize) -> Option<&'r ListenerSocket> + Copy,
    log: &slog::Logger,
) -> Result<Prepared, StartErrors> {
    let mut errors = Vec::new();
    let admin = plan
        .admin
        .to_bind()
        .and_then(|addr| bind_admin(addr).map_err(|e| errors.push(e)).ok());
    let mut sockets = HashMap::new();
    for (l, step) in topology.listeners.iter().zip(&plan.listeners) {
        match sockets::open(l, step, running) {
            Ok(socks) => {
                sockets.insert(l.name.clone(), socks);
            }
            Err((addr, source)) => errors.push(StartError::Bind {
                listener: l.name.clone(),
                addr,
                source,
            }),
        }
    }
    let mut loaded = HashMap::new();
    let mut roots = HashMap::new();
    let mut objects = HashMap::new();
    let mut plugins = plugins.0;
    for h in &topology.handlers {
        match plugins.remove(&h.name) {
            Some(Ok(plugin)) => {
                loaded.insert(h.name.clone(), plugin);
            }
            Some(Err(reason)) => errors.push(StartError::Plugin {
                handler: h.name.clone(),
                reason,
            }),
            None => unreachable!("a plugin is loaded for every handler"),
        }
        match open_root(h, plan.opens_root(&h.name)) {
            Ok(Some(root)) => {
                roots.insert(h.name.clone(), root);
            }
            Ok(None) => {}
            Err(e) => errors.push(e),
        }
        match connect_objects(h, plan.opens_root(&h.name), log) {
            Ok(Some(backend)) => {
                objects.insert(h.name.clone(), backend);
            }
            Ok(None) => {}
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(StartErrors(errors));
    }
    Ok(Prepared {
        plugins: loaded,
        sockets,
        roots,
        objects,
        admin,
    })
}

/// Connect handler `h`'s `s3` storage, when it starts and has one: a store that cannot
/// be used refuses the start (or reload), naming the storage.
fn connect_objects(
    h: &HandlerSpec,
    open: bool,
    log: &slog::Logger,
) -> Result<Option<Arc<ObjectBackend>>, StartError> {
    let (Some(binding), Some(spool), true) = (&h.object_storage, &h.root, open) else {
        return Ok(None);
    };
    ObjectBackend::connect(binding, spool, log)
        .map(Some)
        .map_err(|reason| StartError::Plugin {
            handler: h.name.clone(),
            reason,
        })
}

/// Open handler `h`'s root and make its `create_dirs`, when `open` (the handler starts).
/// `create_dirs` without a root is refused for every handler, kept ones too.
fn open_root(h: &HandlerSpec, open: bool) -> Result<Option<Root>, StartError> {
    let Some(path) = h.root.as_ref() else {
        if h.create_dirs.is_empty() {
            return Ok(None);
        }
        return Err(StartError::Root {
            handler: h.name.clone(),
            root: "(none)".into(),
            reason: "`create_dirs` needs a `root`".into(),
        });
    };
    if !open {
        return Ok(None);
    }
    let root_err = |e: StorageError| StartError::Root {
        handler: h.name.clone(),
        root: path.display().to_string(),
        reason: e.to_string(),
    };
    let root = Root::open(path)
        .map_err(root_err)?
        .with_symlinks(h.symlinks);
    for dir in &h.create_dirs {
        root.create_dir_all(dir).map_err(root_err)?;
    }
    Ok(Some(root))
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::time::Duration;

    use super::*;
    use crate::server::plan::Running;
    use crate::server::plan::tests::{handler, listener_spec};
    use crate::topology::{ListenerKind, ListenerSpec};

    fn listener(name: &str, kind: ListenerKind, addr: SocketAddr) -> ListenerSpec {
        listener_spec(name, kind, vec![addr], "h")
    }

    #[test]
    fn every_failure_is_reported_not_only_the_first() {
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let (udp_addr, tcp_addr) = (udp.local_addr().unwrap(), tcp.local_addr().unwrap());
        let topology = Topology {
            listeners: vec![
                listener("u", ListenerKind::Udp, udp_addr),
                listener("free", ListenerKind::Udp, "127.0.0.1:0".parse().unwrap()),
                listener("t", ListenerKind::Tcp, tcp_addr),
            ],
            handlers: vec![handler("h", &[]), handler("k", &[])],
            drain_timeout: Duration::from_secs(1),
            reload_drain_timeout: None,
            admin: Some(tcp_addr),
            admin_token: None,
            user: None,
            plugin_dirs: Vec::new(),
            access_log: None,
            storages: Vec::new(),
            bus: None,
            bus_inputs: Vec::new(),
        };
        // `h`: its plugin does not load and its root is a file; `k`: dirs without a root.
        let mut topology = topology;
        topology.handlers[0].root = Some(std::env::current_exe().unwrap());
        topology.handlers[1].create_dirs = vec!["incoming".into()];
        let plan = ReloadPlan::new(&Running::default(), &topology, &HashMap::new());
        let plugins = Plugins(HashMap::from([
            ("h".to_string(), Err("no library `echo`".to_string())),
            ("k".to_string(), Err("no library `echo`".to_string())),
        ]));
        let log = slog::Logger::root(slog::Discard, slog::o!());
        let errors = prepare(&plan, &topology, plugins, |_, _| None, &log).unwrap_err();
        let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(lines.len(), 7, "{lines:?}");
        assert!(lines[0].starts_with(&format!("listener `(admin)` cannot bind {tcp_addr}")));
        assert!(lines[1].starts_with(&format!("listener `u` cannot bind {udp_addr}")));
        assert!(lines[2].starts_with(&format!("listener `t` cannot bind {tcp_addr}")));
        assert_eq!(lines[3], "handler `h`: no library `echo`");
        assert!(
            lines[4].starts_with("handler `h`: storage root "),
            "{}",
            lines[4]
        );
        assert_eq!(lines[5], "handler `k`: no library `echo`");
        assert_eq!(
            lines[6],
            "handler `k`: storage root (none): `create_dirs` needs a `root`"
        );
        assert_eq!(errors.to_string(), lines.join("\n"), "one reason a line");
    }
}
