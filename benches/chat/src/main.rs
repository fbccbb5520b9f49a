//! Room fan-out: 1 sender and N members on loopback, the `switchyard` host serving
//! the chat plugin side by side with a minimal tokio UDP broadcast loop, in the same
//! run with the same client. Prints delivered messages/s and p50/p99 latency.
//!
//! The sender keeps `--window` messages in flight (it is a room member too, and
//! joins last, so its own copy is the last one the server sends); each message
//! carries its send time, and every member records the latency of every copy.
//! Loss (copies never received, e.g. a full socket buffer) is reported, not hidden.
//! Loopback only; every process is killed when the bench ends.
//! `--rounds-tsv FILE` also appends every round's delivered messages/s of both servers
//! to FILE, for `benches/plot.py` (benches/README.md, "Plots").
//!
//! `--cluster NATS_URL` compares instead the room split over two hosts on that NATS
//! (members alternately on each host, the sender on the first; the second host gets
//! each line once over the bus and fans it out to its members) with the same members
//! on one host, in the same run, alternating order. The sender's window then also
//! waits for the copies of a member on the last host, so the rate is one every host
//! keeps up with (else the other host's backlog would be dropped, and counted as loss).

use std::cell::RefCell;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;

struct Args {
    secs: u64,
    members: Vec<usize>,
    window: usize,
    /// Measure the tokio baseline only (to check the bench itself).
    baseline_only: bool,
    rounds: usize,
    /// Where to append every round's rate (benches/plot.py's input), if anywhere.
    rounds_tsv: Option<PathBuf>,
    /// Compare two hosts on this NATS with one host (`--cluster`).
    cluster: Option<String>,
}

fn parse_args() -> Result<Option<Args>, String> {
    let mut args = Args {
        secs: 3,
        members: vec![10, 100, 1000],
        window: 8,
        baseline_only: false,
        rounds: 3,
        rounds_tsv: None,
        cluster: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--serve-tokio" => {
                serve_tokio();
                return Ok(None);
            }
            "--baseline-only" => args.baseline_only = true,
            "--rounds" => args.rounds = value()?.parse().map_err(|_| "--rounds: a number")?,
            "--secs" => args.secs = value()?.parse().map_err(|_| "--secs: a number")?,
            "--rounds-tsv" => args.rounds_tsv = Some(value()?.into()),
            "--cluster" => args.cluster = Some(value()?),
            "--window" => args.window = value()?.parse().map_err(|_| "--window: a number")?,
            "--members" => {
                args.members = value()?
                    .split(',')
                    .map(|n| {
                        n.parse()
                            .map_err(|_| "--members: numbers, comma-separated".to_string())
                    })
                    .collect::<Result<_, _>>()?
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(Some(args))
}

/// The baseline: the smallest reasonable tokio broadcast loop, current-thread like
/// the host's actix system. `/join ...` registers the sender; anything else goes to
/// every member.
fn serve_tokio() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let sock = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        println!("{}", sock.local_addr().expect("addr"));
        let mut members: Vec<SocketAddr> = Vec::new();
        let mut buf = vec![0u8; 65536];
        loop {
            let Ok((n, peer)) = sock.recv_from(&mut buf).await else {
                continue;
            };
            if buf[..n].starts_with(b"/join") {
                if !members.contains(&peer) {
                    members.push(peer);
                }
                let _ = sock.send_to(b"* joined", peer).await;
                continue;
            }
            for m in &members {
                let _ = sock.send_to(&buf[..n], m).await;
            }
        }
    });
}

/// A server process, killed on drop.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_tokio() -> (Server, SocketAddr) {
    let exe = std::env::current_exe().expect("exe");
    let mut child = Command::new(exe)
        .arg("--serve-tokio")
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("addr line");
    (Server(child), line.trim().parse().expect("address"))
}

/// The chat on one host, alone.
const ONE_HOST: &str = r#"(listeners: {"u": (kind: udp, bind: "127.0.0.1:0")},
    handlers: {"chat": (plugin: "chat", config: (rate_per_sec: 1000000, burst: 1000000))},
    routes: [(from: "u", to: "chat")])"#;

/// The chat of host `name` of a cluster on NATS `url`.
fn cluster_topology(url: &str, name: &str) -> String {
    format!(
        r#"(bus: Some((kind: nats, servers: ["{url}"], name: "{name}", subject_prefix: "bench", max_queued: 65536)),
    listeners: {{"u": (kind: udp, bind: "127.0.0.1:0")}},
    handlers: {{"chat": (plugin: "chat", config: (rate_per_sec: 1000000, burst: 1000000,
        max_room_members: 100000, cluster: Some((subject: "fanout", presence_secs: 3))))}},
    routes: [(from: "u", to: "chat")])"#
    )
}

fn start_switchyard(dir: &Path) -> (Server, SocketAddr) {
    start_host(dir, "chat-bench", ONE_HOST)
}

/// Host `name` serving `topology`, once it logged that it serves.
fn start_host(dir: &Path, name: &str, topology: &str) -> (Server, SocketAddr) {
    let exe_dir = std::env::current_exe()
        .expect("exe")
        .parent()
        .expect("dir")
        .to_path_buf();
    let bin = exe_dir.join("switchyard");
    assert!(
        bin.exists(),
        "{} missing: cargo build --release -p switchyard -p switchyard-chat",
        bin.display()
    );
    let topo = dir.join(format!("{name}.ron"));
    std::fs::write(&topo, topology).expect("topology");
    let mut child = Command::new(bin)
        .args(["serve", "--log-format", "json", "--config"])
        .arg(&topo)
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn switchyard");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let mut addr = None;
    for line in lines.by_ref() {
        let line = line.expect("log line");
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        match v["msg"].as_str() {
            Some("listening") => addr = v["addr"].as_str().and_then(|a| a.parse().ok()),
            Some("serving") => break,
            _ => {}
        }
    }
    std::thread::spawn(move || lines.for_each(drop));
    (
        Server(child),
        addr.expect("switchyard logged its UDP address"),
    )
}

/// One measurement.
struct Measured {
    delivered_per_sec: f64,
    p50_us: u64,
    p99_us: u64,
    loss: f64,
}

/// Join `n` members and the sender, then send for `secs`.
fn measure(server: SocketAddr, n: usize, args: &Args) -> Measured {
    measure_on(&[server], n, args)
}

/// [`measure`] with the members spread over `servers` in turn, the sender on the first.
fn measure_on(servers: &[SocketAddr], n: usize, args: &Args) -> Measured {
    let servers = servers.to_vec();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async move {
        let start = Instant::now();
        let mut members = Vec::with_capacity(n);
        for i in 0..n {
            members.push(join(servers[i % servers.len()]).await);
        }
        let sender = join(servers[0]).await;
        // With several hosts, the last member joined on the last host paces the sender
        // too: a window that only waited for the sender's own host would measure how
        // fast the other hosts drop what they cannot keep up with, not a rate they hold.
        let pacer = match servers.len() {
            1 => None,
            _ => Some(join(servers[servers.len() - 1]).await),
        };
        let paced = Rc::new(std::cell::Cell::new(0u64));
        let pace = Rc::new(tokio::sync::Notify::new());
        if let Some(p) = pacer {
            let (paced, pace) = (paced.clone(), pace.clone());
            tokio::task::spawn_local(async move {
                let mut buf = vec![0u8; 2048];
                while let Ok(len) = p.recv(&mut buf).await {
                    if stamp(&buf[..len]).is_some() {
                        paced.set(paced.get() + 1);
                        pace.notify_one();
                    }
                }
            });
            // Every host's presence (a third of presence_secs) brings the others' room
            // members; the subscriptions are made at the joins.
            tokio::time::sleep(Duration::from_millis(1500)).await;
        }
        let remote = servers.len() > 1;
        let lat: Rc<RefCell<Vec<u32>>> = Rc::new(RefCell::new(Vec::new()));
        let measuring = Rc::new(std::cell::Cell::new(false));
        for m in members {
            let (lat, measuring) = (lat.clone(), measuring.clone());
            tokio::task::spawn_local(async move {
                let mut buf = vec![0u8; 2048];
                while let Ok(len) = m.recv(&mut buf).await {
                    if let (true, Some(sent)) = (measuring.get(), stamp(&buf[..len])) {
                        let now = start.elapsed().as_micros() as u64;
                        lat.borrow_mut().push(now.saturating_sub(sent) as u32);
                    }
                }
            });
        }
        tokio::time::sleep(Duration::from_millis(200)).await; // let join notices drain
        measuring.set(true);
        let t0 = Instant::now();
        // Copies back at the sender (and at the pacer): what is in flight is what one
        // of them has not had yet.
        let (mut sent, mut acked) = (0u64, 0u64);
        paced.set(0);
        let mut buf = vec![0u8; 2048];
        while t0.elapsed() < Duration::from_secs(args.secs) {
            let done = if remote { acked.min(paced.get()) } else { acked };
            if sent - done < args.window as u64 {
                let text = format!("m {sent} {}", start.elapsed().as_micros());
                let _ = sender.send(text.as_bytes()).await;
                sent += 1;
                continue;
            }
            // Our own copy comes last in each fan-out; a lost one must not stall us.
            tokio::select! {
                got = sender.recv(&mut buf) => {
                    if got.is_ok_and(|len| stamp(&buf[..len]).is_some()) {
                        acked += 1;
                    }
                }
                () = pace.notified() => {}
                () = tokio::time::sleep(Duration::from_millis(200)) => {
                    acked = sent;
                    paced.set(sent);
                }
            }
        }
        let elapsed = t0.elapsed().as_secs_f64();
        tokio::time::sleep(Duration::from_millis(300)).await; // stragglers
        measuring.set(false);
        let mut lat = lat.borrow().clone();
        lat.sort_unstable();
        let pct = |p: f64| {
            lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
                .copied()
                .unwrap_or(0)
        };
        let expected = sent as f64 * n as f64;
        Measured {
            delivered_per_sec: lat.len() as f64 / elapsed,
            p50_us: u64::from(pct(0.50)),
            p99_us: u64::from(pct(0.99)),
            loss: if expected > 0.0 {
                1.0 - lat.len() as f64 / expected
            } else {
                0.0
            },
        }
    })
}

/// A member socket that has joined room `bench` (retried: a join can be lost too).
async fn join(server: SocketAddr) -> UdpSocket {
    let sock = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    sock.connect(server).await.expect("connect");
    let mut buf = vec![0u8; 2048];
    for _ in 0..10 {
        sock.send(b"/join bench").await.expect("send");
        if let Ok(Ok(_)) =
            tokio::time::timeout(Duration::from_millis(500), sock.recv(&mut buf)).await
        {
            return sock;
        }
    }
    panic!("server does not answer joins");
}

/// The send time (µs since start) at the end of a bench line, if it is one.
fn stamp(line: &[u8]) -> Option<u64> {
    let line = std::str::from_utf8(line).ok()?;
    let mut words = line.rsplit(' ');
    let t = words.next()?.parse().ok()?;
    let _seq: u64 = words.next()?.parse().ok()?;
    (words.next()?.ends_with('m')).then_some(t)
}

fn main() {
    let args = match parse_args() {
        Ok(Some(a)) => a,
        Ok(None) => return,
        Err(e) => {
            eprintln!("chat-bench: {e}");
            std::process::exit(2);
        }
    };
    let dir = tempfile::tempdir().expect("tempdir");
    if let Some(url) = args.cluster.clone() {
        return compare_cluster(dir.path(), &url, &args);
    }
    table_head("server", "tokio", args.rounds);
    for &n in &args.members {
        let (base, host) = alternate(
            args.rounds,
            || {
                let (_server, addr) = start_tokio();
                Some(measure(addr, n, &args))
            },
            || {
                (!args.baseline_only).then(|| {
                    let (_server, addr) = start_switchyard(dir.path());
                    measure(addr, n, &args)
                })
            },
        );
        if let Some(path) = &args.rounds_tsv {
            let series = [("switchyard + chat", &host[..]), ("tokio broadcast loop", &base[..])];
            write_rounds(path, n, series);
        }
        let base = median(base);
        let mut rows = vec![("tokio broadcast loop", &base)];
        let host = (!host.is_empty()).then(|| median(host));
        rows.extend(host.as_ref().map(|h| ("switchyard + chat", h)));
        for (name, r) in rows {
            table_row(n, name, r, &base);
        }
    }
}

/// The results table's head: one row per setup, its ratio against `baseline`.
fn table_head(setup: &str, baseline: &str, rounds: usize) {
    println!(
        "| members | {setup} | delivered msg/s (median of {rounds}) | p50 µs | p99 µs | loss | ratio vs {baseline} |"
    );
    println!("|---|---|---|---|---|---|---|");
}

/// One row of the results table: `r` of `name`, its rate as a ratio of `base`'s.
fn table_row(n: usize, name: &str, r: &Measured, base: &Measured) {
    println!(
        "| {n} | {name} | {:.0} | {} | {} | {:.2}% | {:.2} |",
        r.delivered_per_sec,
        r.p50_us,
        r.p99_us,
        r.loss * 100.0,
        r.delivered_per_sec / base.delivered_per_sec
    );
}

/// Append every round's delivered messages/s of ours and the baseline (named) to
/// `path`, one tab-separated line each: case, series, role, round, value, unit
/// (benches/plot.py).
fn write_rounds(path: &Path, members: usize, [ours, base]: [(&str, &[Measured]); 2]) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap_or_else(|e| panic!("--rounds-tsv {}: {e}", path.display()));
    for ((series, runs), role) in [(ours, "ours"), (base, "baseline")] {
        for (round, m) in runs.iter().enumerate() {
            writeln!(
                f,
                "{members} members\t{series}\t{role}\t{}\t{:.0}\tdelivered msg/s",
                round + 1,
                m.delivered_per_sec
            )
            .unwrap_or_else(|e| panic!("--rounds-tsv {}: {e}", path.display()));
        }
    }
}

/// The run with the median delivery rate (its latencies come with it).
fn median(mut runs: Vec<Measured>) -> Measured {
    runs.sort_by(|a, b| a.delivered_per_sec.total_cmp(&b.delivered_per_sec));
    runs.swap_remove(runs.len() / 2)
}

/// `--cluster`: the room on two hosts on NATS `url` vs the same members on one host.
fn compare_cluster(dir: &Path, url: &str, args: &Args) {
    table_head("setup", "one host", args.rounds);
    for &n in &args.members {
        let (one, two) = alternate(
            args.rounds,
            || {
                let (_server, addr) = start_switchyard(dir);
                Some(measure(addr, n, args))
            },
            || {
                let (_a, a) = start_host(dir, "host-a", &cluster_topology(url, "host-a"));
                let (_b, b) = start_host(dir, "host-b", &cluster_topology(url, "host-b"));
                Some(measure_on(&[a, b], n, args))
            },
        );
        if let Some(path) = &args.rounds_tsv {
            write_rounds(path, n, [("two hosts on NATS", &two[..]), ("one host", &one[..])]);
        }
        let (one, two) = (median(one), median(two));
        for (name, r) in [("one host", &one), ("two hosts on NATS", &two)] {
            table_row(n, name, r, &one);
        }
    }
}

/// `rounds` measurements of the baseline and of ours, alternating which goes first so
/// that neither always runs on a warmer machine; `None`: that side is not measured.
fn alternate(
    rounds: usize,
    mut baseline: impl FnMut() -> Option<Measured>,
    mut ours: impl FnMut() -> Option<Measured>,
) -> (Vec<Measured>, Vec<Measured>) {
    let (mut base, mut host) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        if round % 2 == 0 {
            base.extend(baseline());
            host.extend(ours());
        } else {
            host.extend(ours());
            base.extend(baseline());
        }
    }
    (base, host)
}
