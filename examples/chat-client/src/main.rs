//! # switchyard-chat — line-based client for the Switchyard chat plugin
//!
//! `switchyard-chat HOST[:PORT]` talks as a visitor; `--agent` (with the secret in
//! `--secret` or `SWITCHYARD_CHAT_SECRET`) as a support agent. Each line typed is
//! one datagram; lines from the server are printed as they arrive, while you type
//! (a reader thread), not only after you send as the seed client did. Ctrl-D or
//! `bye` ends the session cleanly (the server is told). The greeting is retried;
//! afterwards a silent server is probed with `/ping`, and the client gives up with
//! exit status 28 after `--retries` unanswered probes. Each line shows who speaks:
//! `[you]`, `[agent]` (a visitor is not told the agent's name), `[v3]` (a visitor),
//! `[agent alice -> 3]`; server notices keep their `*` and `!`. Exit statuses: the
//! clients' shared table (`switchyard_client_support::exit`), shown by `--help`.
//!
//! # Layout
//! - `args`: command line and `HOST[:PORT]` resolution.
//! - `liveness`: when to probe and when to give up, on a manual clock.
//! - `speaker`: who said a line, as shown.
//! - this file: the socket, the greeting, and the three loops (stdin, reader, keeper).

mod args;
mod liveness;
mod speaker;

use std::io::{self, BufRead, Write};
use std::net::{SocketAddr, UdpSocket};
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use clap::CommandFactory;
use switchyard_chat::codec::reply::{self, ServerLine};
use switchyard_client_support::cli_docs;
use switchyard_client_support::{Exit, Failure};

use args::{Args, Extra, resolve};
use liveness::{Liveness, Step};

/// An idle client pings this often, well within the server's default idle timeout.
const KEEPALIVE: Duration = Duration::from_secs(60);

fn main() -> ExitCode {
    let args: Args = cli_docs::parse();
    match args.extra {
        Some(Extra::Completions { shell }) => {
            cli_docs::completions(Args::command(), shell);
            return ExitCode::SUCCESS;
        }
        Some(Extra::Man) => {
            return match cli_docs::man(Args::command(), &cli_docs::client_exits()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    Failure::new(Exit::LocalWrite, format!("stdout: {e}")).report("switchyard-chat")
                }
            };
        }
        None => {}
    }
    match run(args) {
        Ok(code) => code,
        Err(f) => f.report("switchyard-chat"),
    }
}

fn run(args: Args) -> Result<ExitCode, Failure> {
    let server_text = args.server.clone().unwrap_or_default();
    let server = resolve(&server_text)?;
    let agent = args.agent;
    let fail = |m: String| Failure::new(Exit::Failure, m);
    let timeout = Duration::from_secs_f64(args.timeout.clamp(0.05, 3600.0));
    let bind: SocketAddr = if server.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let sock = UdpSocket::bind(bind).map_err(|e| fail(format!("bind: {e}")))?;
    // Connected: datagrams from anyone else are dropped by the kernel, and an ICMP
    // "port unreachable" surfaces as an error on recv instead of silence.
    sock.connect(server)
        .map_err(|e| Failure::network(server, &e))?;

    let hello = match (args.agent, &args.secret) {
        (true, None) => {
            return Err(Failure::new(
                Exit::Usage,
                "--agent needs --secret or SWITCHYARD_CHAT_SECRET",
            ));
        }
        (true, Some(secret)) => format!("/agent {secret} {}", args.name.as_deref().unwrap_or(""))
            .trim_end()
            .to_string(),
        (false, _) => "/ping".to_string(),
    };
    greet(&sock, &hello, timeout, args.retries, server, agent)?;
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
    let reader = sock.try_clone().map_err(|e| fail(e.to_string()))?;
    let reader_live = live.clone();
    std::thread::spawn(move || read_loop(&reader, &reader_live, agent));
    let keeper = sock.try_clone().map_err(|e| fail(e.to_string()))?;
    let keeper_live = live.clone();
    std::thread::spawn(move || keep_loop(&keeper, &keeper_live, clock, server));

    for line in io::stdin().lock().lines() {
        let line = line.map_err(|e| Failure::new(Exit::LocalRead, format!("stdin: {e}")))?;
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        // Shown before it is sent: the reply (printed by the reader thread) can come
        // back before this thread would get to print it.
        speaker::show_own(line);
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
    agent: bool,
) -> Result<(), Failure> {
    sock.set_read_timeout(Some(timeout))
        .map_err(|e| Failure::new(Exit::Failure, e.to_string()))?;
    let mut buf = vec![0u8; 65_536];
    for _ in 0..=retries {
        send(sock, hello);
        // One wait of `timeout` per try (the socket's read timeout).
        let got = loop {
            match sock.recv(&mut buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other,
            }
        };
        match got {
            Ok(n) => {
                let text = String::from_utf8_lossy(&buf[..n]);
                match reply::classify(&text) {
                    ServerLine::Error(why) => {
                        return Err(Failure::new(
                            Exit::Denied,
                            format!("{server} refused: {why}"),
                        ));
                    }
                    ServerLine::Pong => {}
                    _ => print_line(&speaker::shown(&text, agent)),
                }
                let _ = sock.set_read_timeout(None);
                return Ok(());
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            // ICMP "port unreachable": nobody listens there, retrying will not help.
            Err(e) => return Err(Failure::network(server, &e)),
        }
    }
    Err(Failure::new(
        Exit::Timeout,
        format!("no answer from {server} after {} tries", retries + 1),
    ))
}

/// Print every line from the server as it arrives; `* pong` only feeds liveness.
fn read_loop(sock: &UdpSocket, live: &Mutex<Liveness>, agent: bool) {
    let mut buf = vec![0u8; 65_536];
    loop {
        match sock.recv(&mut buf) {
            Ok(n) => {
                lock(live).heard();
                let text = String::from_utf8_lossy(&buf[..n]);
                if reply::classify(&text) != ServerLine::Pong {
                    print_line(&speaker::shown(&text, agent));
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
                std::process::exit(Exit::Timeout.code().into());
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
