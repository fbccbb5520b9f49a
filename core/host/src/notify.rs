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

/// Everything is up (also after a reload), with a one-line status for
/// `systemctl status` (say whether the last reload was applied or refused).
pub fn ready(status: &str) {
    let status: String = status.chars().filter(|c| *c != '\n').collect();
    send(&format!("READY=1\nSTATUS={status}"));
}

/// A reload started. `MONOTONIC_USEC` lets a `Type=notify-reload` unit match the
/// reload to this message; `Type=notify` ignores it.
pub fn reloading() {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid out pointer for the call.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &raw mut now) };
    let usec = u64::try_from(now.tv_sec).unwrap_or(0) * 1_000_000
        + u64::try_from(now.tv_nsec).unwrap_or(0) / 1000;
    send(&format!("RELOADING=1\nMONOTONIC_USEC={usec}"));
}

/// Shutting down.
pub fn stopping() {
    send("STOPPING=1");
}
