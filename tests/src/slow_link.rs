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
/// second, or unpaced (`None`). When the server ends a connection, the relay passes
/// on what it sent, then closes the client's side too (a client still sending then
/// gets a reset, as from the server itself). Stops when dropped.
#[derive(Debug)]
pub struct SlowTcp {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    fast: Arc<AtomicBool>,
    threads: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl SlowTcp {
    pub fn start(server: SocketAddr, down: Option<u64>, up: Option<u64>) -> SlowTcp {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the relay");
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let fast = Arc::new(AtomicBool::new(false));
        let threads: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let accept = {
            let (stop, fast, threads) =
                (Arc::clone(&stop), Arc::clone(&fast), Arc::clone(&threads));
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
                    for s in [&client, &upstream] {
                        s.set_read_timeout(Some(POLL)).unwrap();
                        s.set_write_timeout(Some(POLL)).unwrap();
                    }
                    // Set when either direction ends: the other one stops too.
                    let ended = Arc::new(AtomicBool::new(false));
                    let pump = |from: &TcpStream, to: &TcpStream, rate| Pump {
                        from: from.try_clone().unwrap(),
                        to: to.try_clone().unwrap(),
                        rate,
                        fast: Arc::clone(&fast),
                        stop: Arc::clone(&stop),
                        ended: Arc::clone(&ended),
                    };
                    let (d, u) = (pump(&upstream, &client, down), pump(&client, &upstream, up));
                    let mut all = threads.lock().unwrap();
                    all.push(std::thread::spawn(move || d.run(true)));
                    all.push(std::thread::spawn(move || u.run(false)));
                }
            })
        };
        threads.lock().unwrap().push(accept);
        SlowTcp {
            addr,
            stop,
            fast,
            threads,
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
        // The accept thread is first; later ones were pushed while it ran.
        loop {
            let next = self.threads.lock().unwrap().pop();
            match next {
                Some(t) => {
                    let _ = t.join();
                }
                None => break,
            }
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

/// One direction of a relayed connection. Its sockets (clones) close when both
/// directions are done: a side that is still sending then sees a reset.
struct Pump {
    from: TcpStream,
    to: TcpStream,
    rate: Option<u64>,
    fast: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    ended: Arc<AtomicBool>,
}

impl Pump {
    fn over(&self) -> bool {
        self.stop.load(Ordering::Relaxed) || self.ended.load(Ordering::Relaxed)
    }

    /// Copy until the end of `from` (passed on as a half-close) or a failure. `down`:
    /// this is the server's direction, whose end ends the connection.
    fn run(mut self, down: bool) {
        let chunk = self
            .rate
            .map_or(64 * 1024, |r| (r / 50).clamp(1024, 64 * 1024) as usize);
        let mut buf = vec![0u8; chunk];
        let (start, mut sent) = (Instant::now(), 0u64);
        loop {
            let n = match self.from.read(&mut buf) {
                Ok(0) => {
                    let _ = self.to.shutdown(Shutdown::Write);
                    break;
                }
                Ok(n) => n,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    // The server's side still drains what it sent after the other ended.
                    if self.stop.load(Ordering::Relaxed) || (!down && self.over()) {
                        return;
                    }
                    continue;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => break,
            };
            if !self.write_all(&buf[..n]) {
                break;
            }
            sent += n as u64;
            if let Some(rate) = self.rate.filter(|_| !self.fast.load(Ordering::Relaxed)) {
                pace(start, sent, rate);
            }
        }
        if down {
            let _ = self.to.shutdown(Shutdown::Write);
        }
        self.ended.store(true, Ordering::Relaxed);
    }

    /// Write all of `data`, waiting out timeouts while the connection lasts.
    fn write_all(&mut self, mut data: &[u8]) -> bool {
        while !data.is_empty() {
            match self.to.write(data) {
                Ok(0) => return false,
                Ok(n) => data = &data[n..],
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    if self.over() {
                        return false;
                    }
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return false,
            }
        }
        true
    }
}
