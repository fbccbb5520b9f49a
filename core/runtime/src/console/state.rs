//! [`Console`]: everything the operator console reads, in one place the admin
//! listener's threads can share — the host's facts, the [`Journal`], the running
//! handlers as the last reload left them, the actors to ask for sessions, the bus's
//! board and the storages in use — and [`Console::snapshot`], which turns it into a
//! [`Status`].

use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use actix::Addr;
use tokio::sync::{mpsc, oneshot};

use super::access::AccessPolicy;
use super::cluster::{bus_status, storage_status};
use super::journal::{Journal, now_unix_ms};
use super::model::{
    HandlerState, HandlerStatus, HostStatus, LimitsView, ReloadRecord, SCHEMA, SessionView, Status,
};
use crate::actor::{CancelSession, InstanceActor, ListSessions, Registry};
use crate::bus::board::BusBoard;
use crate::metrics::Metrics;
use crate::objects::ObjectBackend;

/// How long a snapshot waits for one actor's sessions (a busy handler answers late;
/// the page must not stall on it).
const ASK_TIMEOUT: Duration = Duration::from_millis(400);

fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A handler as the last reload configured it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandlerInfo {
    pub name: String,
    pub plugin: String,
    pub plugin_version: String,
    pub workers: usize,
    pub limits: LimitsView,
    pub listeners: Vec<String>,
    /// Where its files are (see [`HandlerStatus::storage`]).
    pub storage: String,
}

/// Actors of a replaced or removed handler, finishing their sessions.
#[derive(Debug)]
struct Retiring {
    handler: String,
    /// Names this generation in session ids (live workers are generation 0).
    serial: u64,
    addrs: Vec<Addr<InstanceActor>>,
}

/// A reload asked for from the console, answered by whoever reloads (the host).
#[derive(Debug)]
pub struct ReloadRequest {
    pub reply: oneshot::Sender<ReloadRecord>,
}

/// The console's state, shared by `Arc`.
#[derive(Debug)]
pub struct Console {
    journal: Arc<Journal>,
    metrics: Arc<Metrics>,
    registry: Registry,
    started: Instant,
    started_unix_ms: u64,
    version: Mutex<String>,
    topology_file: Mutex<String>,
    handlers: Mutex<Vec<HandlerInfo>>,
    retiring: Mutex<Vec<Retiring>>,
    next_serial: Mutex<u64>,
    access: Mutex<AccessPolicy>,
    reloads: Mutex<Option<mpsc::UnboundedSender<ReloadRequest>>>,
    /// Written by the bus thread (connection, hosts of the cluster).
    bus_board: Arc<BusBoard>,
    /// Every `s3` storage a handler connected; gone ones are let go at each snapshot.
    storages: Mutex<Vec<Weak<ObjectBackend>>>,
    /// The last snapshot and when it was taken: event streams share it.
    last: Mutex<Option<(Instant, Status)>>,
}

impl Console {
    pub fn new(journal: Arc<Journal>, metrics: Arc<Metrics>, registry: Registry) -> Arc<Console> {
        let started_unix_ms = now_unix_ms();
        Arc::new(Console {
            journal,
            metrics,
            registry,
            started: Instant::now(),
            started_unix_ms,
            version: Mutex::new(env!("CARGO_PKG_VERSION").to_owned()),
            topology_file: Mutex::default(),
            handlers: Mutex::default(),
            retiring: Mutex::default(),
            next_serial: Mutex::new(1),
            access: Mutex::default(),
            reloads: Mutex::default(),
            bus_board: Arc::new(BusBoard::new(started_unix_ms)),
            storages: Mutex::default(),
            last: Mutex::default(),
        })
    }

    /// The board the bus writes its state on (given to the bus when it starts).
    pub fn bus_board(&self) -> &Arc<BusBoard> {
        &self.bus_board
    }

    /// The admin listener's address now (`None`: no admin listener), for this host's
    /// record in the cluster's hosts bucket.
    pub fn set_admin_addr(&self, addr: Option<String>) {
        self.bus_board.set_admin(addr);
    }

    /// `s3` storages handlers were just given; shown while a handler holds them.
    pub fn add_storages<'a>(&self, backends: impl Iterator<Item = &'a Arc<ObjectBackend>>) {
        let mut storages = locked(&self.storages);
        storages.retain(|s| s.strong_count() > 0);
        storages.extend(backends.map(Arc::downgrade));
    }

    pub fn journal(&self) -> &Arc<Journal> {
        &self.journal
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The host's version and topology file, for the page's header.
    pub fn set_host(&self, version: &str, topology_file: &str) {
        version.clone_into(&mut locked(&self.version));
        topology_file.clone_into(&mut locked(&self.topology_file));
    }

    /// The handlers as a start or reload left them, in topology order.
    pub fn set_handlers(&self, handlers: Vec<HandlerInfo>) {
        *locked(&self.handlers) = handlers;
    }

    /// A replaced or removed handler's actors, draining.
    pub fn add_retiring(&self, handler: &str, addrs: Vec<Addr<InstanceActor>>) {
        let serial = {
            let mut next = locked(&self.next_serial);
            *next += 1;
            *next - 1
        };
        let mut retiring = locked(&self.retiring);
        retiring.retain(|r| r.addrs.iter().any(Addr::connected));
        retiring.push(Retiring {
            handler: handler.to_owned(),
            serial,
            addrs,
        });
    }

    pub fn set_access(&self, policy: AccessPolicy) {
        *locked(&self.access) = policy;
    }

    pub fn access(&self) -> AccessPolicy {
        locked(&self.access).clone()
    }

    /// Reloads asked for from the console arrive here; without a receiver (a runtime
    /// embedded without a host loop), the console answers that it cannot reload.
    pub fn reload_requests(&self) -> mpsc::UnboundedReceiver<ReloadRequest> {
        let (tx, rx) = mpsc::unbounded_channel();
        *locked(&self.reloads) = Some(tx);
        rx
    }

    /// Ask for a reload; `None` when nobody reloads (or the host is stopping).
    pub async fn request_reload(&self) -> Option<ReloadRecord> {
        let (reply, answer) = oneshot::channel();
        let sender = locked(&self.reloads).clone()?;
        sender.send(ReloadRequest { reply }).ok()?;
        answer.await.ok()
    }

    /// Cancel session `id` (as [`SessionView::id`] gives it) of `handler`; whether it
    /// was found.
    pub async fn cancel(&self, handler: &str, id: &str) -> bool {
        let Some((serial, worker, actor, key)) = parse_id(id) else {
            return false;
        };
        let addr = if serial == 0 {
            let registry = self.registry.read().unwrap_or_else(|e| e.into_inner());
            registry
                .get(handler)
                .and_then(|w| w.addrs.get(worker).cloned())
        } else {
            locked(&self.retiring)
                .iter()
                .find(|r| r.serial == serial && r.handler == handler)
                .and_then(|r| r.addrs.get(worker).cloned())
        };
        match addr {
            Some(addr) => addr
                .send(CancelSession { actor, key })
                .await
                .unwrap_or(false),
            None => false,
        }
    }

    /// A snapshot at most `max_age` old: several open pages ask the actors once per
    /// period between them, not once each.
    pub async fn recent_snapshot(&self, max_age: Duration) -> Status {
        if let Some((at, status)) = locked(&self.last).as_ref()
            && at.elapsed() < max_age
        {
            return status.clone();
        }
        let status = self.snapshot().await;
        *locked(&self.last) = Some((Instant::now(), status.clone()));
        status
    }

    /// The whole state now.
    pub async fn snapshot(&self) -> Status {
        let handlers = locked(&self.handlers).clone();
        let down = self.metrics.down_handlers();
        let mut asks: Vec<(u64, Addr<InstanceActor>)> = Vec::new();
        let mut statuses = Vec::with_capacity(handlers.len());
        let retiring: Vec<(String, u64, Vec<Addr<InstanceActor>>)> = {
            let mut r = locked(&self.retiring);
            r.retain(|r| r.addrs.iter().any(Addr::connected));
            r.iter()
                .map(|r| (r.handler.clone(), r.serial, r.addrs.clone()))
                .collect()
        };
        {
            let registry = self.registry.read().unwrap_or_else(|e| e.into_inner());
            for h in &handlers {
                let workers = registry.get(&h.name);
                let metrics = workers.map(|w| w.wide.metrics());
                let draining_old = retiring.iter().filter(|r| r.0 == h.name).count();
                let state = match down.iter().find(|(name, _)| name == &h.name) {
                    Some((_, why)) => HandlerState::Stopped {
                        reason: why.clone(),
                    },
                    None => HandlerState::Running { draining_old },
                };
                if let Some(w) = workers {
                    asks.extend(w.addrs.iter().map(|a| (0, a.clone())));
                }
                statuses.push(HandlerStatus {
                    name: h.name.clone(),
                    plugin: h.plugin.clone(),
                    plugin_version: h.plugin_version.clone(),
                    state,
                    workers: h.workers,
                    restarts: metrics.map_or(0, |m| m.restarts.get()),
                    connections_open: metrics.map_or(0, |m| m.conns_open.get().max(0) as u64),
                    sessions: metrics.map_or(0, |m| m.sessions.get().max(0) as u64),
                    limits: h.limits.clone(),
                    listeners: h.listeners.clone(),
                    storage: h.storage.clone(),
                });
            }
        }
        for (name, serial, addrs) in &retiring {
            asks.extend(addrs.iter().map(|a| (*serial, a.clone())));
            if !handlers.iter().any(|h| &h.name == name) {
                statuses.push(HandlerStatus {
                    name: name.clone(),
                    plugin: String::new(),
                    plugin_version: String::new(),
                    state: HandlerState::Draining,
                    workers: addrs.len(),
                    restarts: 0,
                    connections_open: 0,
                    sessions: 0,
                    limits: LimitsView {
                        max_connections: 0,
                        max_connections_per_ip: 0,
                        max_write_buffer: 0,
                    },
                    listeners: Vec::new(),
                    storage: String::new(),
                });
            }
        }
        let mut sessions = Vec::new();
        for (serial, addr) in asks {
            if let Ok(Ok(views)) = tokio::time::timeout(ASK_TIMEOUT, addr.send(ListSessions)).await
            {
                sessions.extend(views.into_iter().map(|mut v: SessionView| {
                    v.id = format!("{serial}.{}", v.id);
                    v
                }));
            }
        }
        sessions.sort_by(|a, b| b.elapsed_ms.cmp(&a.elapsed_ms).then(a.id.cmp(&b.id)));
        let access = self.access();
        let storages = {
            let mut kept = locked(&self.storages);
            kept.retain(|s| s.strong_count() > 0);
            kept.clone()
        };
        Status {
            schema: SCHEMA,
            host: HostStatus {
                version: locked(&self.version).clone(),
                pid: std::process::id(),
                started_unix_ms: self.started_unix_ms,
                uptime_secs: self.started.elapsed().as_secs(),
                topology_file: locked(&self.topology_file).clone(),
                token_required_to_read: access.read_needs_token(),
                actions_enabled: access.token.is_some(),
            },
            reloads: self.journal.reloads(),
            handlers: statuses,
            sessions,
            finished: self.journal.finished_sessions(),
            log: self.journal.log_records(),
            bus: bus_status(&self.bus_board, &self.metrics.bus, now_unix_ms()),
            storages: storage_status(&storages),
        }
    }
}

/// `serial.worker.actor.key` -> its parts.
fn parse_id(id: &str) -> Option<(u64, usize, u64, u64)> {
    let mut parts = id.split('.');
    let serial = parts.next()?.parse().ok()?;
    let worker = parts.next()?.parse().ok()?;
    let actor = parts.next()?.parse().ok()?;
    let key = parts.next()?.parse().ok()?;
    parts
        .next()
        .is_none()
        .then_some((serial, worker, actor, key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_parse_back_and_junk_does_not() {
        assert_eq!(parse_id("0.1.42.7"), Some((0, 1, 42, 7)));
        assert_eq!(parse_id("0.1.42"), None);
        assert_eq!(parse_id("0.1.42.7.9"), None);
        assert_eq!(parse_id("a.1.42.7"), None);
    }
}
