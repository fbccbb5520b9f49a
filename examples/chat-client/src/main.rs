//! # switchyard-chat — line-based client for the Switchyard chat plugin
//!
//! `switchyard-chat HOST[:PORT]` talks as a visitor; `--agent` (with the secret in
//! `--secret` or `SWITCHYARD_CHAT_SECRET`) as a support agent. Each line typed is
//! one datagram; lines from the server are printed as they arrive, while you type
//! (a reader thread), not only after you send as the seed client did. Ctrl-D or
//! `bye` ends the session cleanly (the server is told). The greeting is retried;
//! afterwards a silent server is probed with `/ping`, and the client gives up with
//! exit status 1 after `--retries` unanswered probes.
//!
//! # Layout
//! - `args`: command line and `HOST[:PORT]` resolution.
//! - `liveness`: when to probe and when to give up, on a manual clock.
//! - this file: the socket, the greeting, and the three loops (stdin, reader, keeper).

mod args;
mod liveness;

use std::io::{self, BufRead, Write};
use std::net::{SocketAddr, UdpSocket};
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use clap::Parser;
use switchyard_chat::codec::reply::{self, ServerLine};

use args::{Args, resolve};
use liveness::{Liveness, Step};

/// An idle client pings this often, well within the server's default idle timeout.
const KEEPALIVE: Duration = Duration::from_secs(60);

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("switchyard-chat: {e}");
            ExitCode::from(1)
        }
    }
}

fn run(args: Args) -> Result<ExitCode, String> {
    let server = resolve(&args.server)?;
    let timeout = Duration::from_secs_f64(args.timeout.clamp(0.05, 3600.0));
    let bind: SocketAddr = if server.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let sock = UdpSocket::bind(bind).map_err(|e| format!("bind: {e}"))?;
    // Connected: datagrams from anyone else are dropped by the kernel, and an ICMP
    // "port unreachable" surfaces as an error on recv instead of silence.
    sock.connect(server).map_err(|e| format!("{server}: {e}"))?;

    let hello = match (args.agent, &args.secret) {
        (true, None) => return Err("--agent needs --secret or SWITCHYARD_CHAT_SECRET".into()),
        (true, Some(secret)) => format!("/agent {secret} {}", args.name.as_deref().unwrap_or(""))
            .trim_end()
            .to_string(),
        (false, _) => "/ping".to_string(),
    };
    greet(&sock, &hello, timeout, args.retries, server)?;
    if let (false, Some(name)) = (args.agent, &args.name) {
        send(&sock, &format!("/nick {name}"));
    }

    let start = Instant::now();
    let clock = move || start.elapsed().as_millis() as u64;
    let live = Arc::new(Mutex::new(Liveness::new(
        timeout.as_millis() as u64,
        args.retries,
        KEEPALIVE.as_millis() as u64,
        clock(),
    )));
    let reader = sock.try_clone().map_err(|e| e.to_string())?;
    let reader_live = live.clone();
    std::thread::spawn(move || read_loop(&reader, &reader_live));
    let keeper = sock.try_clone().map_err(|e| e.to_string())?;
    let keeper_live = live.clone();
    std::thread::spawn(move || keep_loop(&keeper, &keeper_live, clock, server));

    for line in io::stdin().lock().lines() {
        let line = line.map_err(|e| format!("stdin: {e}"))?;
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        send(&sock, line);
        lock(&live).sent(clock());
        if matches!(line.trim(), "bye" | "/quit") {
            return Ok(ExitCode::SUCCESS);
        }
    }
    // Ctrl-D: leave properly so the server (and the agents) know at once.
    send(&sock, "bye");
    Ok(ExitCode::SUCCESS)
}

/// Send the greeting until the server answers; an error answer (a wrong secret) ends
/// the client.
fn greet(
    sock: &UdpSocket,
    hello: &str,
    timeout: Duration,
    retries: u32,
    server: SocketAddr,
) -> Result<(), String> {
    sock.set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 65_536];
    for _ in 0..=retries {
        send(sock, hello);
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            match sock.recv(&mut buf) {
                Ok(n) => {
                    let text = String::from_utf8_lossy(&buf[..n]);
                    match reply::classify(&text) {
                        ServerLine::Error(why) => return Err(format!("{server} refused: {why}")),
                        ServerLine::Pong => {}
                        _ => print_line(&text),
                    }
                    sock.set_read_timeout(None).map_err(|e| e.to_string())?;
                    return Ok(());
                }
                // Refused (nobody listening yet): wait out the attempt, then retry.
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                    std::thread::sleep(deadline.saturating_duration_since(Instant::now()));
                }
                Err(_) => break,
            }
        }
    }
    Err(format!(
        "no answer from {server} after {} tries",
        retries + 1
    ))
}

/// Print every line from the server as it arrives; `* pong` only feeds liveness.
fn read_loop(sock: &UdpSocket, live: &Mutex<Liveness>) {
    let mut buf = vec![0u8; 65_536];
    loop {
        match sock.recv(&mut buf) {
            Ok(n) => {
                lock(live).heard();
                let text = String::from_utf8_lossy(&buf[..n]);
                if reply::classify(&text) != ServerLine::Pong {
                    print_line(&text);
                }
            }
            // An ICMP error for an earlier send: the keeper decides when to give up.
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// Probe a silent server; exit when it stays silent.
fn keep_loop(
    sock: &UdpSocket,
    live: &Mutex<Liveness>,
    clock: impl Fn() -> u64,
    server: SocketAddr,
) {
    loop {
        std::thread::sleep(Duration::from_millis(50));
        let mut live = lock(live);
        match live.tick(clock()) {
            Step::Wait => {}
            Step::Probe => send(sock, "/ping"),
            Step::GiveUp => {
                eprintln!(
                    "switchyard-chat: {server} stopped answering ({} probes); giving up",
                    live.probes()
                );
                std::process::exit(1);
            }
        }
    }
}

fn send(sock: &UdpSocket, line: &str) {
    // A failed send shows up as silence, which the keeper handles.
    let _ = sock.send(line.as_bytes());
}

fn print_line(text: &str) {
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "{text}");
    let _ = out.flush();
}

fn lock(live: &Mutex<Liveness>) -> std::sync::MutexGuard<'_, Liveness> {
    live.lock().unwrap_or_else(PoisonError::into_inner)
}
