//! UDP echo round trips: the `switchyard` host serving the echo plugin, side by side
//! with a minimal tokio UDP echo server, in the same run, same client, alternating.
//!
//! ```text
//! cargo build --release --workspace
//! ./target/release/echo-bench [--secs 3] [--rounds 3] [--clients 4] [--payload 64]
//! ```
//! Each round runs both servers (order alternating) as separate processes; the client
//! threads do stop-and-wait round trips on loopback for `--secs`. Prints a Markdown
//! table of medians and the ratio host / tokio. Loopback only; stops by itself.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

struct Args {
    secs: u64,
    rounds: usize,
    clients: usize,
    payload: usize,
}

fn parse_args() -> Result<Option<Args>, String> {
    let mut args = Args {
        secs: 3,
        rounds: 3,
        clients: 4,
        payload: 64,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        if a == "--serve-tokio" {
            serve_tokio();
            return Ok(None);
        }
        let mut num = |name: &str| -> Result<u64, String> {
            it.next()
                .and_then(|v| v.parse().ok())
                .ok_or(format!("{name} needs a number"))
        };
        match a.as_str() {
            "--secs" => args.secs = num("--secs")?,
            "--rounds" => args.rounds = num("--rounds")? as usize,
            "--clients" => args.clients = num("--clients")? as usize,
            "--payload" => args.payload = num("--payload")? as usize,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(Some(args))
}

/// The baseline: the smallest reasonable tokio UDP echo server, current-thread like
/// the host's actix system.
fn serve_tokio() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let sock = tokio::net::UdpSocket::bind("127.0.0.1:0")
            .await
            .expect("bind");
        println!("{}", sock.local_addr().expect("addr"));
        let mut buf = vec![0u8; 65536];
        loop {
            let Ok((n, peer)) = sock.recv_from(&mut buf).await else {
                continue;
            };
            let _ = sock.send_to(&buf[..n], peer).await;
        }
    });
}

/// A server process that is killed on drop.
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

fn start_switchyard(dir: &std::path::Path) -> (Server, SocketAddr) {
    let exe_dir = std::env::current_exe()
        .expect("exe")
        .parent()
        .expect("dir")
        .to_path_buf();
    let bin: PathBuf = exe_dir.join("switchyard");
    assert!(
        bin.exists(),
        "{} missing: cargo build --release --workspace",
        bin.display()
    );
    let topo = dir.join("echo-bench.ron");
    std::fs::write(
        &topo,
        r#"(listeners: {"u": (kind: udp, bind: "127.0.0.1:0")},
            handlers: {"echo": (plugin: "echo")},
            routes: [(from: "u", to: "echo")])"#,
    )
    .expect("topology");
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
            Some("listening") if v["kind"] == "udp" => {
                addr = v["addr"].as_str().and_then(|a| a.parse().ok())
            }
            Some("serving") => break,
            _ => {}
        }
    }
    // Keep draining stderr so the host never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (
        Server(child),
        addr.expect("switchyard logged its UDP address"),
    )
}

/// Stop-and-wait round trips from `clients` threads for `secs`; returns round trips/s.
fn measure(addr: SocketAddr, args: &Args) -> f64 {
    // Warm up (and check the server answers).
    let probe = UdpSocket::bind("127.0.0.1:0").expect("bind");
    probe
        .set_read_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    probe.send_to(b"warmup", addr).expect("send");
    let mut b = [0u8; 16];
    probe.recv_from(&mut b).expect("server answers");

    let stop = Arc::new(AtomicBool::new(false));
    let payload = vec![0x5au8; args.payload];
    let threads: Vec<_> = (0..args.clients)
        .map(|_| {
            let stop = Arc::clone(&stop);
            let payload = payload.clone();
            std::thread::spawn(move || {
                let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
                s.connect(addr).expect("connect");
                s.set_read_timeout(Some(Duration::from_millis(500)))
                    .expect("timeout");
                let mut buf = vec![0u8; 65536];
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    s.send(&payload).expect("send");
                    if s.recv(&mut buf).is_ok() {
                        n += 1;
                    }
                }
                n
            })
        })
        .collect();
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs(args.secs));
    stop.store(true, Ordering::Relaxed);
    let total: u64 = threads.into_iter().map(|t| t.join().expect("client")).sum();
    total as f64 / start.elapsed().as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let args = match parse_args() {
        Ok(Some(a)) => a,
        Ok(None) => return,
        Err(e) => {
            eprintln!("echo-bench: {e}");
            std::process::exit(2);
        }
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut tokio_rates, mut host_rates) = (Vec::new(), Vec::new());
    for round in 0..args.rounds {
        let mut run_tokio = || {
            let (_s, addr) = start_tokio();
            tokio_rates.push(measure(addr, &args));
        };
        let mut run_host = || {
            let (_s, addr) = start_switchyard(dir.path());
            host_rates.push(measure(addr, &args));
        };
        if round % 2 == 0 {
            run_tokio();
            run_host();
        } else {
            run_host();
            run_tokio();
        }
    }
    let (t, h) = (median(tokio_rates.clone()), median(host_rates.clone()));
    println!(
        "| server | round trips/s (median of {}) | runs |",
        args.rounds
    );
    println!("|---|---|---|");
    println!(
        "| tokio UDP echo (baseline) | {t:.0} | {:?} |",
        tokio_rates.iter().map(|r| *r as u64).collect::<Vec<_>>()
    );
    println!(
        "| switchyard + echo plugin | {h:.0} | {:?} |",
        host_rates.iter().map(|r| *r as u64).collect::<Vec<_>>()
    );
    println!();
    println!(
        "ratio switchyard / tokio: {:.3}  ({} clients, {} B payload, {} s per run)",
        h / t,
        args.clients,
        args.payload,
        args.secs
    );
}
