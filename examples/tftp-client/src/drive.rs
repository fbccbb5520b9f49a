//! The socket loop around one transfer machine: wait for a datagram or the machine's
//! deadline, feed it, run its actions. The protocol itself is the server's own
//! `switchyard_tftp::transfer` code.

use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use switchyard_client_support::{Exit, Failure};
use switchyard_tftp::packet::ErrorCode;
use switchyard_tftp::transfer::{Action, Outcome, Receiver, Sender};

/// What the loop needs of a machine.
pub trait Machine {
    fn on_packet<'a>(
        &mut self,
        now: u64,
        from: SocketAddr,
        data: &'a [u8],
        out: &mut Vec<Action<'a>>,
    );
    fn on_timeout(&mut self, now: u64, out: &mut Vec<Action<'_>>);
    fn deadline(&self) -> Option<u64>;
    fn fail(&mut self, code: ErrorCode, why: &str, out: &mut Vec<Action<'_>>);
}

impl Machine for Sender {
    fn on_packet<'a>(
        &mut self,
        now: u64,
        from: SocketAddr,
        data: &'a [u8],
        out: &mut Vec<Action<'a>>,
    ) {
        Sender::on_packet(self, now, from, data, out)
    }
    fn on_timeout(&mut self, now: u64, out: &mut Vec<Action<'_>>) {
        Sender::on_timeout(self, now, out)
    }
    fn deadline(&self) -> Option<u64> {
        Sender::deadline(self)
    }
    fn fail(&mut self, code: ErrorCode, why: &str, out: &mut Vec<Action<'_>>) {
        Sender::fail(self, code, why, out)
    }
}

impl Machine for Receiver {
    fn on_packet<'a>(
        &mut self,
        now: u64,
        from: SocketAddr,
        data: &'a [u8],
        out: &mut Vec<Action<'a>>,
    ) {
        Receiver::on_packet(self, now, from, data, out)
    }
    fn on_timeout(&mut self, now: u64, out: &mut Vec<Action<'_>>) {
        Receiver::on_timeout(self, now, out)
    }
    fn deadline(&self) -> Option<u64> {
        Receiver::deadline(self)
    }
    fn fail(&mut self, code: ErrorCode, why: &str, out: &mut Vec<Action<'_>>) {
        Receiver::fail(self, code, why, out)
    }
}

/// Runs the file side of the actions: `SendBlock`, `Write` and `Commit`.
pub type Exec<'e, M> =
    dyn FnMut(&UdpSocket, &M, Action<'_>) -> Result<(), (ErrorCode, String)> + 'e;

/// Milliseconds since `start`: the machine's clock.
fn ms(start: Instant) -> u64 {
    start.elapsed().as_millis() as u64
}

/// Run actions in order; on the first failure let the machine end the transfer.
fn process<M: Machine>(
    sock: &UdpSocket,
    m: &mut M,
    actions: Vec<Action<'_>>,
    exec: &mut Exec<'_, M>,
    outcome: &mut Option<Outcome>,
    closed: &mut bool,
) {
    let mut failure = None;
    for action in actions {
        match action {
            Action::Send { to, packet } => {
                // UDP: a lost send is a lost packet; the retransmission clock copes.
                let _ = sock.send_to(&packet, to);
            }
            Action::Finished(o) => *outcome = Some(o),
            Action::Close => *closed = true,
            other => {
                if let Err(f) = exec(sock, m, other) {
                    failure = Some(f);
                    break;
                }
            }
        }
    }
    if let Some((code, why)) = failure {
        let mut more = Vec::new();
        m.fail(code, &why, &mut more);
        for action in more {
            match action {
                Action::Send { to, packet } => {
                    let _ = sock.send_to(&packet, to);
                }
                Action::Finished(o) => *outcome = Some(o),
                Action::Close => *closed = true,
                _ => {}
            }
        }
    }
}

/// Drive `m` until it closes; `first` are the actions its constructor returned.
/// `start` is the clock origin the machine was created with. The first answer from
/// `server`'s host fixes the transfer's peer (its TID): the socket is connected to it
/// (`sock`'s docs say why not earlier). A refused or unreachable peer ends the transfer
/// at once with the error, instead of waiting out the retries.
pub fn run<M: Machine>(
    sock: &UdpSocket,
    server: SocketAddr,
    m: &mut M,
    start: Instant,
    first: Vec<Action<'_>>,
    exec: &mut Exec<'_, M>,
) -> std::io::Result<Outcome> {
    let mut outcome = None;
    let mut closed = false;
    let mut connected = false;
    process(sock, m, first, exec, &mut outcome, &mut closed);
    let mut buf = vec![0u8; 65_536 + 4];
    while !closed {
        let Some(deadline) = m.deadline() else { break };
        let now = ms(start);
        let wait = deadline.saturating_sub(now).max(1);
        let _ = sock.set_read_timeout(Some(Duration::from_millis(wait)));
        let mut out = Vec::new();
        match sock.recv_from(&mut buf) {
            Ok((n, from)) => {
                if !connected && from.ip() == server.ip() {
                    // Best effort: unconnected, the machine still checks the TID.
                    connected = sock.connect(from).is_ok();
                }
                m.on_packet(ms(start), from, &buf[..n], &mut out)
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                m.on_timeout(ms(start), &mut out)
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            // ICMP "port unreachable" (or host/net): nobody will answer.
            Err(e) => return Err(e),
        }
        process(sock, m, out, exec, &mut outcome, &mut closed);
    }
    Ok(outcome.unwrap_or(Outcome {
        kind: switchyard_tftp::transfer::Ending::Error,
        reason: "ended without a result".into(),
        bytes: 0,
        retransmits: 0,
    }))
}

/// The exit status and message for a transfer of `remote` that did not end well.
pub fn failure(remote: &str, outcome: &Outcome) -> Failure {
    use switchyard_tftp::transfer::Ending;
    let code = outcome
        .reason
        .strip_prefix("peer error ")
        .and_then(|r| r.split(':').next())
        .and_then(|c| c.parse::<u16>().ok());
    let exit = match (outcome.kind, code) {
        (Ending::Timeout, _) => Exit::Timeout,
        (_, Some(1)) => Exit::NotFound,
        (_, Some(2)) => Exit::Denied,
        (_, Some(6)) => Exit::Exists,
        (_, Some(0))
            if outcome.reason.contains("busy") || outcome.reason.contains("shutting down") =>
        {
            Exit::Busy
        }
        _ => Exit::Failure,
    };
    Failure::new(exit, format!("{remote}: {}", outcome.reason))
}

/// A network error that ended the transfer with `server`.
pub fn network_failure(server: SocketAddr, e: &std::io::Error) -> Failure {
    Failure::network(server, e)
}
