//! The system calls under a UDP socket of the handler: registered for readability
//! only, received in batches with `recvmmsg`, and sent with `sendto` (waiting for room
//! on a duplicate only when the send buffer is full).
//!
//! Why not `tokio::net::UdpSocket`: it registers every socket for readable *and*
//! writable readiness. On loopback a sent datagram's buffer is released while
//! `sendto` runs, so each send queued a writable edge, and the thread's next
//! `epoll_wait` returned at once for it: one extra wake of the event loop per sent
//! datagram, for a readiness nobody waits for (a lock-step TFTP transfer paid it on
//! every block). And a stream of `recvfrom` ends each burst with one that fails
//! `EAGAIN`; `recvmmsg` takes up to [`BATCH`] datagrams in one call, and one that
//! returns fewer has emptied the queue, so the readiness is cleared without that
//! extra call (a datagram arriving later raises a new edge).
//!
//! The receive buffers are the thread's, shared by its sockets: what arrives is copied
//! out before the next receive, and a socket keeps no 64 KiB buffer of its own.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io;
use std::mem::MaybeUninit;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::task::{Context, Poll};

use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

/// A handler's UDP socket, registered with the thread's event loop for reading.
pub type UdpFd = AsyncFd<UdpSocket>;

/// Largest UDP payload (IPv6 jumbograms aside).
const MAX_DATAGRAM: usize = 65_536;
/// Most datagrams one `recvmmsg` takes.
pub const BATCH: usize = 4;

/// Register a non-blocking socket with the current thread's event loop.
pub fn register(sock: UdpSocket) -> io::Result<UdpFd> {
    sock.set_nonblocking(true)?;
    // SAFETY: the `UdpSocket` is owned by the `AsyncFd`, so its fd stays open and the
    // same socket until the registration is dropped.
    Ok(unsafe { AsyncFd::register_with_interest(sock, Interest::READABLE) }?)
}

/// `sendto` now, without waiting (`WouldBlock` when the send buffer is full).
pub fn try_send_to(sock: &UdpFd, data: &[u8], to: SocketAddr) -> io::Result<usize> {
    sock.get_ref().send_to(data, to)
}

/// `header` and `payload` as one datagram (`sendmsg` gathers them), without waiting.
pub fn try_send_parts(
    sock: &UdpFd,
    header: &[u8],
    payload: &[u8],
    to: SocketAddr,
) -> io::Result<usize> {
    let parts = [io::IoSlice::new(header), io::IoSlice::new(payload)];
    socket2::SockRef::from(sock.get_ref()).send_to_vectored(&parts, &to.into())
}

/// Most datagrams one `sendmmsg` sends.
pub const SEND_BATCH: usize = 16;

/// One datagram of a batch: its destination, and the header and payload it gathers.
pub type Outgoing<'a> = (SocketAddr, &'a [u8], &'a [u8]);

/// Send `msgs` (at most [`SEND_BATCH`]) with one `sendmmsg`, without waiting: how many
/// went out, in order, and the error of the first that did not (its followers were
/// not tried).
pub fn try_send_batch(sock: &UdpFd, msgs: &[Outgoing<'_>]) -> (usize, Option<io::Error>) {
    let n = msgs.len().min(SEND_BATCH);
    // SAFETY: all-zero is a valid sockaddr_storage and mmsghdr (null pointers, zero
    // lengths); every pointer used is set below.
    let mut names: [libc::sockaddr_storage; SEND_BATCH] = unsafe { std::mem::zeroed() };
    let mut hdrs: [libc::mmsghdr; SEND_BATCH] = unsafe { std::mem::zeroed() };
    let mut iov = [[libc::iovec {
        iov_base: std::ptr::null_mut(),
        iov_len: 0,
    }; 2]; SEND_BATCH];
    for (k, (to, header, payload)) in msgs.iter().take(n).enumerate() {
        let name_len = write_sockaddr(*to, &mut names[k]);
        iov[k] = [
            libc::iovec {
                iov_base: header.as_ptr().cast_mut().cast(),
                iov_len: header.len(),
            },
            libc::iovec {
                iov_base: payload.as_ptr().cast_mut().cast(),
                iov_len: payload.len(),
            },
        ];
        let hdr = &mut hdrs[k].msg_hdr;
        hdr.msg_name = (&raw mut names[k]).cast();
        hdr.msg_namelen = name_len;
        hdr.msg_iov = iov[k].as_mut_ptr();
        hdr.msg_iovlen = 2;
    }
    let mut sent = 0;
    while sent < n {
        // SAFETY: headers sent..n point at their own names and iovecs, which point at
        // the caller's slices, all alive for the call; the kernel only reads them.
        let r = unsafe {
            libc::sendmmsg(
                sock.as_raw_fd(),
                hdrs[sent..n].as_mut_ptr(),
                (n - sent) as libc::c_uint,
                libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
            )
        };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return (sent, Some(e));
        }
        // (A short count without an error: the next call reports what stopped it.)
        sent += r as usize;
    }
    (sent, None)
}

/// Write `addr` into `out` as the kernel expects it; returns its length.
fn write_sockaddr(addr: SocketAddr, out: &mut libc::sockaddr_storage) -> libc::socklen_t {
    match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from(*a.ip()).to_be(),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
            unsafe { std::ptr::write((out as *mut libc::sockaddr_storage).cast(), sin) };
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in6.
            unsafe { std::ptr::write((out as *mut libc::sockaddr_storage).cast(), sin6) };
            std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t
        }
    }
}

/// Send once the socket has room: a duplicate of it is registered for writability for
/// as long as this waits (rare: a full send buffer), so the socket itself never is.
pub async fn send_when_writable(sock: &UdpFd, data: &[u8], to: SocketAddr) -> io::Result<usize> {
    let dup = sock.get_ref().try_clone()?;
    // SAFETY: as in `register`: the duplicate is owned by its `AsyncFd`.
    let dup = unsafe { AsyncFd::register_with_interest(dup, Interest::WRITABLE) }?;
    loop {
        let mut ready = dup.writable().await?;
        match ready.try_io(|s| s.get_ref().send_to(data, to)) {
            Ok(sent) => return sent,
            Err(_would_block) => continue,
        }
    }
}

thread_local! {
    /// The thread's receive buffers, `BATCH` x `MAX_DATAGRAM`.
    static BUFFERS: RefCell<Vec<u8>> = RefCell::new(vec![0u8; BATCH * MAX_DATAGRAM]);
}

/// Receive what is queued on `sock` (up to [`BATCH`] datagrams) into `out`; `Pending`
/// once nothing is. Datagrams already in `out` are not read again.
pub fn poll_recv_batch(
    sock: &UdpFd,
    cx: &mut Context<'_>,
    out: &mut VecDeque<io::Result<(SocketAddr, Vec<u8>)>>,
) -> Poll<()> {
    loop {
        let mut ready = match sock.poll_read_ready(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Ok(ready)) => ready,
            Poll::Ready(Err(e)) => {
                out.push_back(Err(e));
                return Poll::Ready(());
            }
        };
        match recv_batch(sock.get_ref(), out) {
            Ok(n) => {
                if n < BATCH {
                    // The queue was emptied: wait for the next edge.
                    ready.clear_ready();
                }
                return Poll::Ready(());
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => ready.clear_ready(),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // An ICMP error from an earlier send (the socket stays usable), or worse.
            Err(e) => {
                out.push_back(Err(e));
                return Poll::Ready(());
            }
        }
    }
}

/// One `recvmmsg`: the datagrams it took, copied into `out`, and how many.
fn recv_batch(
    sock: &UdpSocket,
    out: &mut VecDeque<io::Result<(SocketAddr, Vec<u8>)>>,
) -> io::Result<usize> {
    BUFFERS.with(|bufs| {
        let mut bufs = bufs.borrow_mut();
        let mut iov: [MaybeUninit<libc::iovec>; BATCH] = [MaybeUninit::uninit(); BATCH];
        // SAFETY: all-zero is a valid sockaddr_storage and mmsghdr (null pointers,
        // zero lengths); the pointers are set below before the call.
        let mut names: [libc::sockaddr_storage; BATCH] = unsafe { std::mem::zeroed() };
        let mut msgs: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
        for (k, chunk) in bufs.chunks_exact_mut(MAX_DATAGRAM).enumerate() {
            iov[k].write(libc::iovec {
                iov_base: chunk.as_mut_ptr().cast(),
                iov_len: MAX_DATAGRAM,
            });
            let hdr = &mut msgs[k].msg_hdr;
            hdr.msg_name = (&raw mut names[k]).cast();
            hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            hdr.msg_iov = iov[k].as_mut_ptr();
            hdr.msg_iovlen = 1;
        }
        // SAFETY: `msgs` holds BATCH headers, each pointing at its own name and one
        // iovec over a distinct MAX_DATAGRAM slice of `bufs`, all alive for the call.
        let n = unsafe {
            libc::recvmmsg(
                sock.as_raw_fd(),
                msgs.as_mut_ptr(),
                BATCH as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = n as usize;
        for (k, msg) in msgs.iter().take(n).enumerate() {
            let len = (msg.msg_len as usize).min(MAX_DATAGRAM);
            let data = bufs[k * MAX_DATAGRAM..k * MAX_DATAGRAM + len].to_vec();
            out.push_back(match peer_of(&names[k], msg.msg_hdr.msg_namelen) {
                Some(peer) => Ok((peer, data)),
                None => Err(io::Error::other("datagram from an address of no IP family")),
            });
        }
        Ok(n)
    })
}

/// The IPv4 or IPv6 address the kernel wrote into `name` (`len` bytes of it).
fn peer_of(name: &libc::sockaddr_storage, len: libc::socklen_t) -> Option<SocketAddr> {
    use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};
    let len = len as usize;
    match libc::c_int::from(name.ss_family) {
        libc::AF_INET if len >= std::mem::size_of::<libc::sockaddr_in>() => {
            // SAFETY: the family says the storage holds a sockaddr_in, and it is long
            // enough; sockaddr_storage is aligned for every sockaddr type.
            let a =
                unsafe { &*(name as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            let ip = Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
            Some(SocketAddrV4::new(ip, u16::from_be(a.sin_port)).into())
        }
        libc::AF_INET6 if len >= std::mem::size_of::<libc::sockaddr_in6>() => {
            // SAFETY: as above, for sockaddr_in6.
            let a =
                unsafe { &*(name as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            let ip = Ipv6Addr::from(a.sin6_addr.s6_addr);
            let port = u16::from_be(a.sin6_port);
            Some(SocketAddrV6::new(ip, port, a.sin6_flowinfo, a.sin6_scope_id).into())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::poll_fn;

    fn pair() -> (UdpSocket, UdpSocket) {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        (a, b)
    }

    async fn next_batch(fd: &UdpFd) -> VecDeque<io::Result<(SocketAddr, Vec<u8>)>> {
        let mut out = VecDeque::new();
        poll_fn(|cx| poll_recv_batch(fd, cx, &mut out)).await;
        out
    }

    #[tokio::test]
    async fn a_batch_takes_what_is_queued_with_each_sender_and_length() {
        let (a, b) = pair();
        let fd = register(a).unwrap();
        let to = fd.get_ref().local_addr().unwrap();
        let big = vec![9u8; 65_000];
        b.send_to(b"one", to).unwrap();
        b.send_to(&big, to).unwrap();
        let got = next_batch(&fd).await;
        assert_eq!(got.len(), 2);
        let from = b.local_addr().unwrap();
        let got: Vec<_> = got.into_iter().map(Result::unwrap).collect();
        assert_eq!(got[0], (from, b"one".to_vec()));
        assert_eq!(got[1], (from, big));
    }

    #[tokio::test]
    async fn more_than_a_batch_arrives_over_several_and_then_it_waits() {
        let (a, b) = pair();
        let fd = register(a).unwrap();
        let to = fd.get_ref().local_addr().unwrap();
        for k in 0..(BATCH + 2) as u8 {
            b.send_to(&[k], to).unwrap();
        }
        let first = next_batch(&fd).await;
        assert_eq!(first.len(), BATCH);
        let second = next_batch(&fd).await;
        assert_eq!(second.len(), 2);
        assert_eq!(second[1].as_ref().unwrap().1, vec![(BATCH + 1) as u8]);
        // Nothing queued: the next receive waits, and takes the next datagram.
        let waiting = tokio::time::timeout(std::time::Duration::from_millis(50), next_batch(&fd));
        assert!(waiting.await.is_err(), "nothing was queued");
        b.send_to(b"late", to).unwrap();
        let late = next_batch(&fd).await;
        assert_eq!(late[0].as_ref().unwrap().1, b"late".to_vec());
    }

    #[tokio::test]
    async fn a_batch_goes_out_in_one_call_in_order_to_each_destination() {
        let (a, b) = pair();
        let c = UdpSocket::bind("[::1]:0");
        let fd = register(a).unwrap();
        let to_b = b.local_addr().unwrap();
        let msgs: Vec<Outgoing<'_>> = vec![
            (to_b, b"h1", b"first"),
            (to_b, b"", b"second"),
            (to_b, b"h3", b""),
        ];
        let (sent, err) = try_send_batch(&fd, &msgs);
        assert_eq!((sent, err.map(|e| e.kind())), (3, None));
        let mut buf = [0u8; 32];
        for want in [&b"h1first"[..], b"second", b"h3"] {
            let n = b.recv(&mut buf).unwrap();
            assert_eq!(&buf[..n], want);
        }
        // An IPv6 destination from an IPv4 socket fails at once, and nothing after it
        // is tried.
        if let Ok(c) = c {
            let v6 = c.local_addr().unwrap();
            let msgs: Vec<Outgoing<'_>> = vec![(v6, b"x", b"y"), (to_b, b"", b"never")];
            let (sent, err) = try_send_batch(&fd, &msgs);
            assert_eq!(sent, 0);
            assert!(err.is_some());
            b.set_nonblocking(true).unwrap();
            let nothing = b.recv(&mut buf).unwrap_err();
            assert_eq!(nothing.kind(), io::ErrorKind::WouldBlock);
        }
    }

    #[tokio::test]
    async fn sends_plain_gathered_and_waiting_for_room_all_arrive_whole() {
        let (a, b) = pair();
        let fd = register(a).unwrap();
        let to = b.local_addr().unwrap();
        assert_eq!(send_when_writable(&fd, b"hello", to).await.unwrap(), 5);
        assert_eq!(try_send_to(&fd, b"again", to).unwrap(), 5);
        assert_eq!(try_send_parts(&fd, b"head", b"tail", to).unwrap(), 8);
        let mut buf = [0u8; 16];
        assert_eq!(b.recv(&mut buf).unwrap(), 5);
        assert_eq!(&buf[..5], b"hello");
        assert_eq!(b.recv(&mut buf).unwrap(), 5);
        assert_eq!(&buf[..5], b"again");
        assert_eq!(b.recv(&mut buf).unwrap(), 8);
        assert_eq!(&buf[..8], b"headtail");
    }
}
