//! The admin endpoint (`/metrics`, `/health`): bound while a reload is prepared, so a
//! taken address refuses the reload, and served only at the switch.

use std::net::SocketAddr;
use std::sync::Arc;

use slog::{Logger, info};

use super::errors::StartError;
use super::sockets::{BoundSocket, bind};
use crate::metrics::{Metrics, serve_admin};
use crate::topology::ListenerKind;

/// The admin endpoint's socket, bound but not yet served.
#[derive(Debug)]
pub(super) struct BoundAdmin {
    local: SocketAddr,
    listener: tokio::net::TcpListener,
}

/// The running admin endpoint.
#[derive(Debug)]
pub(super) struct AdminEndpoint {
    /// As configured (port 0 stays 0: the same topology keeps the same endpoint).
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
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
    let listener = tokio::net::TcpListener::from_std(std_listener).map_err(bind_err)?;
    Ok(BoundAdmin { local, listener })
}

impl BoundAdmin {
    /// Serve it on the running system; `addr` is the address as configured.
    pub fn serve(self, addr: SocketAddr, metrics: &Arc<Metrics>, log: &Logger) -> AdminEndpoint {
        let task = actix_rt::spawn(serve_admin(self.listener, Arc::clone(metrics)));
        info!(log, "listening"; "listener" => "(admin)", "kind" => "tcp", "addr" => %self.local);
        AdminEndpoint { addr, task }
    }
}

impl AdminEndpoint {
    /// Stop serving; the socket closes.
    pub fn close(self, log: &Logger) {
        self.task.abort();
        info!(log, "admin endpoint closed"; "addr" => %self.addr);
    }
}
