//! The client's UDP socket: errors from the network reported at once, and a receive
//! buffer that holds a whole window.
//!
//! Why not `connect` before the request: the server answers from a new port (its
//! transfer TID, RFC 1350), and a socket connected to port 69 would have that answer
//! dropped by the kernel. So the request goes out unconnected with `IP_RECVERR` on,
//! which makes Linux report an ICMP "port unreachable" to `recv` as for a connected
//! socket (a closed port fails in milliseconds, not after every retry); the first
//! answer's source is the TID, and [`crate::drive`] then connects to it, so strangers'
//! datagrams never reach the transfer.

use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;

use switchyard_client_support::{Exit, Failure};

/// Per-datagram bookkeeping the kernel charges to the receive buffer besides the
/// payload (an skb and its headers), measured generously.
const PER_DATAGRAM: usize = 1024;
/// Slack on top of one window: a retransmitted window arriving behind the last one.
const MARGIN: usize = 256 * 1024;

/// Bytes of receive buffer that hold `window` data packets of `blksize` bytes.
pub fn recv_buffer_wanted(blksize: u16, window: u16) -> usize {
    usize::from(window.max(1)) * (usize::from(blksize) + 4 + PER_DATAGRAM) + MARGIN
}

/// A UDP socket of `server`'s family on an ephemeral port, with ICMP errors reported
/// and a receive buffer of at least `rcvbuf` bytes (as far as the system allows).
pub fn open(server: SocketAddr, rcvbuf: usize) -> Result<UdpSocket, Failure> {
    let any: SocketAddr = if server.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let sock =
        UdpSocket::bind(any).map_err(|e| Failure::new(Exit::Failure, format!("bind: {e}")))?;
    let (level, opt) = if server.is_ipv4() {
        (libc::IPPROTO_IP, libc::IP_RECVERR)
    } else {
        (libc::IPPROTO_IPV6, libc::IPV6_RECVERR)
    };
    // Best effort: without it a closed port costs the retries, as before.
    let _ = set_int(&sock, level, opt, 1);
    size_recv_buffer(&sock, rcvbuf);
    Ok(sock)
}

/// Ask for `want` bytes of receive buffer: `SO_RCVBUF` (capped by `rmem_max`), then
/// `SO_RCVBUFFORCE` past the cap where we may (root). Returns what the kernel granted
/// (Linux reports twice the payload it promises, its own bookkeeping included).
pub fn size_recv_buffer(sock: &UdpSocket, want: usize) -> usize {
    let want_c = want.min(i32::MAX as usize) as libc::c_int;
    let _ = set_int(sock, libc::SOL_SOCKET, libc::SO_RCVBUF, want_c);
    if granted(sock) < want {
        let _ = set_int(sock, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, want_c);
    }
    granted(sock)
}

/// The receive buffer the kernel gives the socket now.
pub fn granted(sock: &UdpSocket) -> usize {
    let mut v: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `v` and `len` are valid for getsockopt to write an int into.
    let rc = unsafe {
        libc::getsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&mut v as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if rc == 0 { v.max(0) as usize } else { 0 }
}

fn set_int(
    sock: &UdpSocket,
    level: libc::c_int,
    opt: libc::c_int,
    v: libc::c_int,
) -> std::io::Result<()> {
    // SAFETY: passes a pointer to a live int and its size.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            level,
            opt,
            (&v as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rmem_max() -> usize {
        std::fs::read_to_string("/proc/sys/net/core/rmem_max")
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }

    #[test]
    fn a_window_fits_in_what_is_asked() {
        assert!(recv_buffer_wanted(65464, 64) > 64 * 65468);
        assert!(recv_buffer_wanted(512, 1) > 512);
        assert!(recv_buffer_wanted(1468, 16) > recv_buffer_wanted(1468, 8));
    }

    #[test]
    fn the_socket_asks_for_the_window() {
        let server: SocketAddr = "127.0.0.1:69".parse().unwrap();
        let want = recv_buffer_wanted(8192, 32);
        let sock = open(server, want).unwrap();
        let got = granted(&sock);
        // Root may go past rmem_max (SO_RCVBUFFORCE); anyone gets up to it.
        let floor = if unsafe { libc::geteuid() } == 0 {
            want
        } else {
            want.min(rmem_max())
        };
        assert!(got >= floor, "asked {want}, granted {got}, floor {floor}");
        let default = UdpSocket::bind("127.0.0.1:0").unwrap();
        assert!(got > granted(&default), "larger than a default socket's");
    }
}
