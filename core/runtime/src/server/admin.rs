//! The admin endpoint (`/metrics`, `/health`, the operator console): bound while a
//! reload is prepared, so a taken address refuses the reload, and served only at the
//! switch (by `crate::console::http`).

use std::net::SocketAddr;
use std::sync::Arc;

use slog::{Logger, error, info};

use super::errors::StartError;
use super::sockets::{BoundSocket, bind};
use crate::console::model::LimitsView;
use crate::console::{AccessPolicy, Console, HandlerInfo};
use crate::loader::Plugin;
use crate::topology::{HandlerSpec, ListenerKind, Topology};

/// The admin endpoint's socket, bound but not yet served.
#[derive(Debug)]
pub(super) struct BoundAdmin {
    local: SocketAddr,
    listener: std::net::TcpListener,
}

/// The running admin endpoint.
#[derive(Debug)]
pub(super) struct AdminEndpoint {
    /// As configured (port 0 stays 0: the same topology keeps the same endpoint).
    pub addr: SocketAddr,
    /// `None` when serving failed at the switch (logged there).
    server: Option<actix_web::dev::ServerHandle>,
}

/// Bind the admin endpoint's socket at `addr`, not serving yet.
pub(super) fn bind_admin(addr: SocketAddr) -> Result<BoundAdmin, StartError> {
    let bind_err = |source| StartError::Bind {
        listener: "(admin)".into(),
        addr,
        source,
    };
    let BoundSocket::Tcp(std_listener) = bind(ListenerKind::Tcp, addr).map_err(bind_err)? else {
        unreachable!("a TCP bind gives a TCP socket")
    };
    std_listener.set_nonblocking(true).map_err(bind_err)?;
    let local = std_listener.local_addr().unwrap_or(addr);
    Ok(BoundAdmin {
        local,
        listener: std_listener,
    })
}

impl BoundAdmin {
    /// Serve it on the running system; `addr` is the address as configured.
    pub fn serve(self, addr: SocketAddr, console: &Arc<Console>, log: &Logger) -> AdminEndpoint {
        let server = match crate::console::http::serve(
            self.listener,
            Arc::clone(console),
            log.clone(),
        ) {
            Ok(server) => {
                let handle = server.handle();
                actix_rt::spawn(server);
                info!(log, "listening"; "listener" => "(admin)", "kind" => "tcp", "addr" => %self.local);
                console.set_admin_addr(Some(self.local.to_string()));
                Some(handle)
            }
            Err(e) => {
                error!(log, "cannot serve the admin endpoint"; "addr" => %self.local, "error" => %e);
                None
            }
        };
        AdminEndpoint { addr, server }
    }
}

impl AdminEndpoint {
    /// Stop serving; the socket closes.
    pub fn close(self, log: &Logger) {
        if let Some(server) = self.server {
            // Stop accepting now; the stop itself completes on the server's task.
            actix_rt::spawn(server.stop(false));
        }
        info!(log, "admin endpoint closed"; "addr" => %self.addr);
    }
}

/// Tell the console what now runs: the handlers in topology order, and who may read
/// and act (the token, whether the admin address is loopback).
pub(super) fn describe<'a>(
    console: &Console,
    topology: &Topology,
    plugin_of: impl Fn(&str) -> Option<&'a Plugin>,
) {
    let infos = topology
        .handlers
        .iter()
        .filter_map(|spec| {
            let info = plugin_of(&spec.name)?.info();
            Some(HandlerInfo {
                name: spec.name.clone(),
                plugin: info.name.clone(),
                plugin_version: info.version.clone(),
                workers: spec.workers.max(1),
                limits: LimitsView {
                    max_connections: spec.limits.max_connections,
                    max_connections_per_ip: spec.limits.max_connections_per_ip,
                    max_write_buffer: spec.limits.max_write_buffer,
                },
                listeners: spec.listeners.clone(),
                storage: storage_of(spec),
            })
        })
        .collect();
    console.set_handlers(infos);
    if topology.admin.is_none() {
        console.set_admin_addr(None);
    }
    console.set_access(AccessPolicy {
        token: topology.admin_token.as_ref().map(|t| t.0.clone()),
        loopback: topology.admin.is_none_or(|a| a.ip().is_loopback()),
    });
}

/// Where a handler's files are, for the console: a path, or an object store's
/// endpoint, bucket and prefix (never its credentials).
fn storage_of(spec: &HandlerSpec) -> String {
    match (&spec.object_storage, &spec.root) {
        (Some(s3), _) => {
            let s = &s3.spec;
            format!(
                "s3 {}/{}/{} (storage {})",
                s.endpoint, s.bucket, s.prefix, s3.name
            )
        }
        (None, Some(root)) => format!("dir {}", root.display()),
        (None, None) => String::new(),
    }
}
