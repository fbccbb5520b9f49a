//! systemd's readiness protocol (`Type=notify`): a datagram to `$NOTIFY_SOCKET`.
//! Silent and free when not run by systemd.

use std::os::unix::net::UnixDatagram;

fn send(state: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let Ok(sock) = UnixDatagram::unbound() else {
        return;
    };
    let bytes = path.as_encoded_bytes();
    // A leading '@' names a socket in the abstract namespace.
    let _ = if let Some(name) = bytes.strip_prefix(b"@") {
        use std::os::linux::net::SocketAddrExt;
        std::os::unix::net::SocketAddr::from_abstract_name(name)
            .and_then(|a| sock.send_to_addr(state.as_bytes(), &a))
    } else {
        sock.send_to(state.as_bytes(), path)
    };
}

/// Everything is up (also after a reload).
pub fn ready() {
    send("READY=1");
}

/// A reload started.
pub fn reloading() {
    send("RELOADING=1");
}

/// Shutting down.
pub fn stopping() {
    send("STOPPING=1");
}
