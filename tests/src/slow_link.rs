//! Slow links between a client and the host: a transfer that takes as long as a test
//! needs, whatever the machine's speed, without huge files.
//!
//! Why not a bigger file: a download's duration then depends on the machine (a debug
//! build on 2 busy cores, or a fast laptop), and a test that must see a transfer still
//! running at a given moment either flakes or needs gigabytes. A relay that passes
//! bytes on at a fixed rate makes the duration `size / rate` on any machine, and the
//! real clients (`curl`, `switchyard-tftp`, `switchyard-files`, `switchyard-bulk`)
//! still talk to the real host, only through it.
//!
//! - [`SlowUdp`]: one TFTP transfer, the server's packets paced (the client's ACKs
//!   then pace the server: TFTP is lock-step).
//! - [`SlowTcp`]: TCP connections, each direction paced or not; [`SlowTcp::full_speed`]
//!   lifts the pace (to collect at once what the host sent before it exited).

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often a relay thread looks at its stop flag while idle.
const POLL: Duration = Duration::from_millis(50);
/// Receive buffer of the relay's sockets: small, so that little hides in the kernel
/// between the host and the pace (what the host wrote is what went through).
const RELAY_BUFFER: usize = 64 * 1024;

/// Sleep until `sent` bytes are due at `rate` bytes per second since `start`.
fn pace(start: Instant, sent: u64, rate: u64) {
    let due = start + Duration::from_secs_f64(sent as f64 / rate as f64);
    if let Some(wait) = due.checked_duration_since(Instant::now()) {
        std::thread::sleep(wait);
    }
}

/// A UDP relay for one TFTP transfer: the client talks to [`SlowUdp::addr`], the relay
/// to the server from a port of its own; the server's datagrams reach the client at
/// `rate` bytes per second. Stops when dropped.
#[derive(Debug)]
pub struct SlowUdp {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl SlowUdp {
    /// Relay to `server` (the TFTP listener), pacing its answers at `rate` bytes/s.
    pub fn start(server: SocketAddr, rate: u64) -> SlowUdp {
        let front = UdpSocket::bind("127.0.0.1:0").expect("bind the relay's client side");
        let back = UdpSocket::bind("127.0.0.1:0").expect("bind the relay's server side");
        for s in [&front, &back] {
            s.set_read_timeout(Some(POLL)).unwrap();
        }
        let addr = front.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        // The client's address (learnt from its request) and the server's transfer
        // port (learnt from its first answer).
        let client: Arc<Mutex<Option<SocketAddr>>> = Arc::default();
        let tid: Arc<Mutex<Option<SocketAddr>>> = Arc::default();
        let up = {
            let (front, back) = (front.try_clone().unwrap(), back.try_clone().unwrap());
            let (stop, client, tid) = (Arc::clone(&stop), Arc::clone(&client), Arc::clone(&tid));
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 65_536];
                while !stop.load(Ordering::Relaxed) {
                    let Ok((n, from)) = front.recv_from(&mut buf) else {
                        continue;
                    };
                    *client.lock().unwrap() = Some(from);
                    let to = tid.lock().unwrap().unwrap_or(server);
                    let _ = back.send_to(&buf[..n], to);
                }
            })
        };
        let down = {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 65_536];
                let (mut start, mut sent) = (None, 0u64);
                while !stop.load(Ordering::Relaxed) {
                    let Ok((n, from)) = back.recv_from(&mut buf) else {
                        continue;
                    };
                    tid.lock().unwrap().get_or_insert(from);
                    sent += n as u64;
                    pace(*start.get_or_insert_with(Instant::now), sent, rate);
                    if let Some(to) = *client.lock().unwrap() {
                        let _ = front.send_to(&buf[..n], to);
                    }
                }
            })
        };
        SlowUdp {
            addr,
            stop,
            threads: vec![up, down],
        }
    }

    /// Where the client sends its request.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for SlowUdp {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// A TCP relay: each connection to [`SlowTcp::addr`] is relayed to the server, the
/// server's bytes (`down`) and the client's (`up`) each at their rate in bytes per
/// second, or unpaced (`None`). Stops when dropped.
#[derive(Debug)]
pub struct SlowTcp {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    fast: Arc<AtomicBool>,
    /// Every relayed socket, shut down at drop so that blocked threads end.
    sockets: Arc<Mutex<Vec<TcpStream>>>,
    accept: Option<JoinHandle<()>>,
}

impl SlowTcp {
    pub fn start(server: SocketAddr, down: Option<u64>, up: Option<u64>) -> SlowTcp {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the relay");
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let fast = Arc::new(AtomicBool::new(false));
        let sockets: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let accept = {
            let (stop, fast, sockets) =
                (Arc::clone(&stop), Arc::clone(&fast), Arc::clone(&sockets));
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let client = match listener.accept() {
                        Ok((c, _)) => c,
                        Err(e) if e.kind() == ErrorKind::WouldBlock => {
                            std::thread::sleep(Duration::from_millis(5));
                            continue;
                        }
                        Err(e) => panic!("relay accept: {e}"),
                    };
                    client.set_nonblocking(false).unwrap();
                    let upstream = connect_small(server);
                    let mut all = sockets.lock().unwrap();
                    all.push(client.try_clone().unwrap());
                    all.push(upstream.try_clone().unwrap());
                    drop(all);
                    let f = Arc::clone(&fast);
                    let (c, u) = (client.try_clone().unwrap(), upstream.try_clone().unwrap());
                    std::thread::spawn(move || copy(upstream, client, down, &f));
                    let f = Arc::clone(&fast);
                    std::thread::spawn(move || copy(c, u, up, &f));
                }
            })
        };
        SlowTcp {
            addr,
            stop,
            fast,
            sockets,
            accept: Some(accept),
        }
    }

    /// Where the client connects.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Relay everything unpaced from now on.
    pub fn full_speed(&self) {
        self.fast.store(true, Ordering::Relaxed);
    }
}

impl Drop for SlowTcp {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
        for s in self.sockets.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

/// Connect to `server` with a small receive buffer (set before the connection, so the
/// window the server sees is small from the start).
fn connect_small(server: SocketAddr) -> TcpStream {
    let s = socket2::Socket::new(
        socket2::Domain::for_address(server),
        socket2::Type::STREAM,
        None,
    )
    .unwrap();
    s.set_recv_buffer_size(RELAY_BUFFER).unwrap();
    s.connect(&server.into())
        .expect("the relay connects to the host");
    let s: TcpStream = s.into();
    let _ = s.set_nodelay(true);
    s
}

/// Copy `from` to `to` at `rate` bytes/s (unpaced once `fast`); pass the end of the
/// stream on as a half-close, and a failure as a shutdown of both.
fn copy(mut from: TcpStream, mut to: TcpStream, rate: Option<u64>, fast: &AtomicBool) {
    let chunk = rate.map_or(64 * 1024, |r| (r / 50).clamp(1024, 64 * 1024) as usize);
    let mut buf = vec![0u8; chunk];
    let (start, mut sent) = (Instant::now(), 0u64);
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => {
                let _ = to.shutdown(Shutdown::Write);
                return;
            }
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
        sent += n as u64;
        if let Some(rate) = rate.filter(|_| !fast.load(Ordering::Relaxed)) {
            pace(start, sent, rate);
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}
