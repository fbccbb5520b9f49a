//! tftp-storm: a PXE boot storm — many lock-step TFTP downloads of one file at once.
//!
//! ```text
//! tftp-storm --server 127.0.0.1:PORT --file big.bin --expect ./big.bin \
//!            [--clients 50] [--blksize 1468] [--timeout-ms 1000] [--retries 5] [--threads 1]
//! ```
//! Binds one UDP socket per download, each on a loopback address of its own
//! (127.1.X.Y, as every booting machine has its own; `--one-source` sends them all
//! from 127.0.0.1), then starts every download at once: RRQ with `blksize` (RFC 2348,
//! no windowsize: lock-step, as PXE ROMs do), one ACK per DATA, the last packet sent
//! again after `--timeout-ms` of silence. Every file's sha256 and length must be the
//! `--expect` file's. Prints one line of `key=value` fields: the time for the first
//! and the last download to finish, the aggregate MiB/s (all bytes / the last one's
//! time), retransmissions and duplicate blocks. Any failed, refused or corrupt download
//! is an error: exit 1, the reasons on stderr, and no figure. Loopback only.

mod transfer;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Parser;
use sha2::{Digest, Sha256};
use tokio::net::UdpSocket;

use transfer::{Plan, download};

#[derive(Debug, Parser)]
#[command(about = "Concurrent lock-step TFTP downloads of one file, every copy verified")]
struct Args {
    /// The TFTP server, IP:PORT.
    #[arg(long)]
    server: SocketAddr,
    /// The file to ask for.
    #[arg(long)]
    file: String,
    /// A local copy of the file: every download must have its length and sha256.
    #[arg(long)]
    expect: PathBuf,
    /// Downloads at once.
    #[arg(long, default_value_t = 50)]
    clients: usize,
    /// The `blksize` option asked for (and required in the OACK).
    #[arg(long, default_value_t = 1468)]
    blksize: u16,
    /// Silence before the last packet is sent again, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    timeout_ms: u64,
    /// Retransmissions of one packet before a download fails.
    #[arg(long, default_value_t = 5)]
    retries: u32,
    /// Runtime threads of this client.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Send every download from 127.0.0.1 (one client machine) instead of one address each.
    #[arg(long)]
    one_source: bool,
}

fn main() {
    let args = Args::parse();
    if let Err(e) = run(&args) {
        eprintln!("tftp-storm: {e}");
        std::process::exit(1);
    }
}

/// Download `i`'s own loopback address: 127.1.X.Y, Y from 1 to 250.
fn source(i: usize, one_source: bool) -> IpAddr {
    if one_source {
        return IpAddr::V4(Ipv4Addr::LOCALHOST);
    }
    IpAddr::V4(Ipv4Addr::new(127, 1, (i / 250) as u8, (i % 250 + 1) as u8))
}

fn run(args: &Args) -> Result<(), String> {
    if !args.server.ip().is_loopback() {
        return Err(format!("{}: loopback only", args.server));
    }
    if args.clients == 0 || args.clients > 250 * 256 {
        return Err("--clients: 1 to 64000".into());
    }
    let source_bytes =
        std::fs::read(&args.expect).map_err(|e| format!("{}: {e}", args.expect.display()))?;
    let want: [u8; 32] = Sha256::digest(&source_bytes).into();
    let want_len = source_bytes.len() as u64;
    drop(source_bytes);
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
    let plan = Plan {
        server: args.server,
        file: args.file.clone(),
        blksize: args.blksize,
        timeout: Duration::from_millis(args.timeout_ms),
        retries: args.retries,
    };
    let done = rt.block_on(async {
        // Every socket first, so that the storm starts at once.
        let mut socks = Vec::with_capacity(args.clients);
        for i in 0..args.clients {
            let at = SocketAddr::new(source(i, args.one_source), 0);
            socks.push(
                UdpSocket::bind(at)
                    .await
                    .map_err(|e| format!("binding download {i} to {at}: {e}"))?,
            );
        }
        let start = Instant::now();
        let tasks: Vec<_> = socks
            .into_iter()
            .map(|s| {
                let plan = plan.clone();
                tokio::spawn(async move { download(s, &plan, start).await })
            })
            .collect();
        let mut done = Vec::with_capacity(tasks.len());
        for t in tasks {
            done.push(t.await.map_err(|e| e.to_string()).and_then(|r| r));
        }
        Ok::<_, String>(done)
    })?;

    let mut errors = Vec::new();
    let (mut first, mut last) = (Duration::MAX, Duration::ZERO);
    let (mut bytes, mut retransmits, mut duplicates) = (0u64, 0u64, 0u64);
    for (i, d) in done.into_iter().enumerate() {
        match d {
            Err(e) => errors.push(format!("download {i}: {e}")),
            Ok(d) if d.bytes != want_len || d.sha256 != want => errors.push(format!(
                "download {i}: CORRUPT: {} bytes with sha256 {}, the file has {want_len} with {}",
                d.bytes,
                hex(&d.sha256),
                hex(&want)
            )),
            Ok(d) => {
                first = first.min(d.finished);
                last = last.max(d.finished);
                bytes += d.bytes;
                retransmits += d.retransmits;
                duplicates += d.duplicates;
            }
        }
    }
    if !errors.is_empty() {
        let shown = errors.len().min(5);
        return Err(format!(
            "{} of {} downloads failed: {}",
            errors.len(),
            args.clients,
            errors[..shown].join("; ")
        ));
    }
    let secs = last.as_secs_f64();
    println!(
        "clients={} blksize={} file_bytes={want_len} bytes={bytes} first_secs={:.3} last_secs={secs:.3} \
         mib_per_s={:.1} retransmits={retransmits} duplicates={duplicates}",
        args.clients,
        args.blksize,
        first.as_secs_f64(),
        bytes as f64 / secs / 1048576.0,
    );
    Ok(())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
