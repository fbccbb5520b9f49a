//! getload: requests/s of 1 KiB-class GETs on kept-alive connections, against a
//! Switchyard files v2 server or an HTTP/1.1 server (nginx), with the same client.
//!
//! ```text
//! getload --proto files|http --addr 127.0.0.1:PORT --name k1 --expect ./k1 \
//!         [--conns 50] [--secs 5] [--warmup-secs 1] [--threads 1] [--server-pid PID]...
//! ```
//! Opens `--conns` connections, then each loops: send one GET, read the whole
//! response, check it against `--expect` byte for byte (and, for files v2, the sha256
//! the server announces), send the next one. After `--warmup-secs`, it counts the
//! requests completed during `--secs` and the CPU seconds of `--server-pid`s (with
//! their descendants: nginx's workers) and of itself over that window, from
//! `/proc/PID/stat`. Prints one line of `key=value` fields (benches/files-http.sh reads
//! them). Any wrong, short or refused response, a closed connection, or a connection
//! still busy 10 s after the window ends is an error: exit 1, the reasons on stderr,
//! and no figure. One thread by default (pin it with `taskset`); loopback only.

mod check;
mod cpu;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use check::{Check, Proto};

/// How long connections may take to finish their last request once the window ends.
const FINISH: Duration = Duration::from_secs(10);

#[derive(Debug, Parser)]
#[command(about = "Keep-alive GET load against files v2 or HTTP/1.1, every response verified")]
struct Args {
    /// The protocol spoken.
    #[arg(long, value_enum)]
    proto: Proto,
    /// The server, IP:PORT.
    #[arg(long)]
    addr: SocketAddr,
    /// The file's name (files v2) or path without its leading `/` (HTTP).
    #[arg(long)]
    name: String,
    /// A local copy of the file: every body must be exactly these bytes.
    #[arg(long)]
    expect: PathBuf,
    /// Connections, each with one request in flight.
    #[arg(long, default_value_t = 50)]
    conns: usize,
    /// Length of the measured window, in seconds.
    #[arg(long, default_value_t = 5.0)]
    secs: f64,
    /// Load before the window (not counted), in seconds.
    #[arg(long, default_value_t = 1.0)]
    warmup_secs: f64,
    /// Runtime threads of this load generator.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Server processes whose CPU is measured over the window (with descendants).
    #[arg(long = "server-pid")]
    server_pids: Vec<u32>,
}

/// Counters shared by the connections.
#[derive(Debug, Default)]
struct Shared {
    done: AtomicU64,
    stop: AtomicBool,
}

fn main() {
    let args = Args::parse();
    if let Err(e) = run(&args) {
        eprintln!("getload: {e}");
        std::process::exit(1);
    }
}

fn run(args: &Args) -> Result<(), String> {
    let expected =
        std::fs::read(&args.expect).map_err(|e| format!("{}: {e}", args.expect.display()))?;
    let check = Arc::new(Check::new(args.proto, &args.name, expected));
    let rt = if args.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads)
            .enable_all()
            .build()
    }
    .map_err(|e| format!("runtime: {e}"))?;
    rt.block_on(load(args, check))
}

async fn load(args: &Args, check: Arc<Check>) -> Result<(), String> {
    let shared = Arc::new(Shared::default());
    let mut streams = Vec::with_capacity(args.conns);
    for i in 0..args.conns.max(1) {
        let s = TcpStream::connect(args.addr)
            .await
            .map_err(|e| format!("connection {i} to {}: {e}", args.addr))?;
        s.set_nodelay(true).map_err(|e| e.to_string())?;
        streams.push(s);
    }
    let tasks: Vec<_> = streams
        .into_iter()
        .map(|s| tokio::spawn(connection(s, Arc::clone(&check), Arc::clone(&shared))))
        .collect();

    tokio::time::sleep(Duration::from_secs_f64(args.warmup_secs)).await;
    let (n0, s0, c0, t0) = (
        shared.done.load(Ordering::Relaxed),
        cpu::tree_secs(&args.server_pids)?,
        cpu::own_secs()?,
        Instant::now(),
    );
    tokio::time::sleep(Duration::from_secs_f64(args.secs)).await;
    let (n1, s1, c1, secs) = (
        shared.done.load(Ordering::Relaxed),
        cpu::tree_secs(&args.server_pids)?,
        cpu::own_secs()?,
        t0.elapsed().as_secs_f64(),
    );
    shared.stop.store(true, Ordering::Relaxed);

    let mut errors = Vec::new();
    for (i, task) in tasks.into_iter().enumerate() {
        match tokio::time::timeout(FINISH, task).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => errors.push(format!("connection {i}: {e}")),
            Ok(Err(e)) => errors.push(format!("connection {i}: {e}")),
            Err(_) => errors.push(format!(
                "connection {i}: no response {FINISH:?} after the window"
            )),
        }
    }
    if !errors.is_empty() {
        let shown = errors.len().min(5);
        return Err(format!(
            "{} of {} connections failed: {}",
            errors.len(),
            args.conns,
            errors[..shown].join("; ")
        ));
    }
    let requests = n1 - n0;
    if requests == 0 {
        return Err(format!("no request completed in {secs:.3} s"));
    }
    let per_req_us = |cpu: f64| cpu / requests as f64 * 1e6;
    let proto = match args.proto {
        Proto::Files => "files",
        Proto::Http => "http",
    };
    println!(
        "proto={proto} conns={} secs={secs:.3} requests={requests} per_sec={:.0} total={} \
         server_cpu_s={:.3} server_us_per_req={:.2} client_cpu_s={:.3} client_us_per_req={:.2} \
         client_busy_pct={:.0}",
        args.conns,
        requests as f64 / secs,
        shared.done.load(Ordering::Relaxed),
        s1 - s0,
        per_req_us(s1 - s0),
        c1 - c0,
        per_req_us(c1 - c0),
        (c1 - c0) / secs * 100.0,
    );
    Ok(())
}

/// One kept-alive connection: GET, read and verify the whole response, repeat, until
/// told to stop. Responses must come one per request and nothing else.
async fn connection(
    mut s: TcpStream,
    check: Arc<Check>,
    shared: Arc<Shared>,
) -> Result<(), String> {
    if check.proto == Proto::Files {
        s.write_all(switchyard_files::codec::MAGIC)
            .await
            .map_err(|e| format!("sending the magic line: {e}"))?;
    }
    let mut buf = vec![0u8; check.max_response()];
    let mut filled = 0;
    while !shared.stop.load(Ordering::Relaxed) {
        s.write_all(&check.request)
            .await
            .map_err(|e| format!("sending: {e}"))?;
        loop {
            if let Some(used) = check.response_len(&buf[..filled])? {
                if used != filled {
                    return Err(format!(
                        "{} bytes nobody asked for after a response",
                        filled - used
                    ));
                }
                filled = 0;
                break;
            }
            if filled == buf.len() {
                return Err(format!("a response longer than {filled} bytes"));
            }
            let n = s
                .read(&mut buf[filled..])
                .await
                .map_err(|e| format!("receiving: {e}"))?;
            if n == 0 {
                return Err(format!(
                    "server closed the connection ({filled} bytes of a response in)"
                ));
            }
            filled += n;
        }
        shared.done.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}
