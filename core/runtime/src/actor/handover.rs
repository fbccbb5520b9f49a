//! State handover across a reload: what moves from a replaced instance to its
//! successor, the channel it moves through, and the checks that need no socket.
//!
//! The two sides are `hand_over` (the replaced actor: quiesce, export, detach) and
//! `take_over` (the successor: create, import, adopt); `conn_move` moves one
//! connection. Why quiesce-then-move and not sharing: `docs/decisions/state-handover.md`.
//!
//! The successor is started *holding back*: it waits (in `ctx.wait`, so it handles no
//! message meanwhile) on a oneshot channel for a [`TakeOver`], attaching no listener.
//! What arrives for it waits in the kernel's queues and its own mailbox, in order. The
//! replaced actor holds the sending end ([`Successor`]): whatever happens to it
//! (handover, fallback, panic, abort), the successor hears once, or sees the sender
//! dropped and starts fresh.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use switchyard_sdk::abi;
use tokio::sync::oneshot;

use crate::loader::Plugin;

/// How long the replaced instance may take to quiesce (write out what is queued, finish
/// file operations) before the host gives up on the handover: it then keeps its
/// sessions and drains as without the hook, and the successor starts fresh.
pub const QUIESCE_LIMIT: Duration = Duration::from_secs(5);
/// How often a quiescing actor looks again.
pub const QUIESCE_POLL: Duration = Duration::from_millis(10);
/// How long a successor waits for its predecessor's word before starting fresh on its
/// own: past the quiesce limit, so it only fires when the predecessor is stuck.
pub const AWAIT_LIMIT: Duration = Duration::from_secs(8);
/// Largest state a plugin may hand over: it is copied, and held twice for a moment.
pub const MAX_STATE_BYTES: usize = 64 << 20;

/// The state an instance handed out with `hand_over_state`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandedState {
    pub version: u32,
    pub data: Vec<u8>,
}

/// One TCP connection on its way to the successor: the socket (a plain std stream, so
/// it can cross to the successor's thread) and everything the host knew of it.
#[derive(Debug)]
pub struct MovedConn {
    /// Kept: the handed-over state names the connection by it.
    pub id: u64,
    pub peer: SocketAddr,
    pub local: SocketAddr,
    pub listener: String,
    pub stream: std::net::TcpStream,
    /// Bytes read but not delivered yet (the plugin paused reading mid-chunk).
    pub held: Vec<u8>,
    /// What the plugin asked with `set_reading`.
    pub want_read: bool,
    /// The peer's EOF was read (and told to the instance).
    pub eof: bool,
    /// The write side was shut down (`shutdown_write`): further writes are refused.
    pub write_closed: bool,
}

/// What a replaced actor sends its successor: the state (`None`: start fresh), the
/// connections, and where to say whether the state was taken.
#[derive(Debug)]
pub struct TakeOver {
    pub state: Option<HandedState>,
    pub conns: Vec<MovedConn>,
    pub answer: Option<oneshot::Sender<bool>>,
    /// When the replaced actor stopped listening: the successor logs how long the
    /// listeners were paused.
    pub since: Instant,
}

impl TakeOver {
    /// Nothing to hand over: the successor starts fresh at once.
    pub fn fresh() -> TakeOver {
        TakeOver {
            state: None,
            conns: Vec::new(),
            answer: None,
            since: Instant::now(),
        }
    }
}

/// The replaced actor's end of the channel.
pub type Successor = oneshot::Sender<TakeOver>;
/// The successor's end.
pub type Predecessor = oneshot::Receiver<TakeOver>;

/// A channel for one handover.
pub fn channel() -> (Successor, Predecessor) {
    oneshot::channel()
}

/// The channel for replacing handler `handler`'s instance of `old` with one of `new`,
/// when both can hand state over; when only one can, the operator is told why not.
pub fn channel_for(
    old: &Plugin,
    new: &Plugin,
    handler: &str,
    log: &slog::Logger,
) -> Option<(Successor, Predecessor)> {
    match eligibility(old, new) {
        Eligibility::HandOver => Some(channel()),
        Eligibility::Neither => None,
        Eligibility::Not(why) => {
            slog::info!(log, "state not handed over"; "handler" => handler, "reason" => why);
            None
        }
    }
}

/// Whether a reload replacing an instance of `old` with one of `new` hands state over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Eligibility {
    /// Both sides have the hook, both per-handler.
    HandOver,
    /// Neither side has the hook: the usual retire, nothing worth a log line.
    Neither,
    /// One side has it but the handover cannot happen: why (logged for the operator).
    Not(&'static str),
}

/// See [`Eligibility`].
pub fn eligibility(old: &Plugin, new: &Plugin) -> Eligibility {
    decide(Hooks::of(old), Hooks::of(new))
}

/// What a plugin offers a handover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Hooks {
    exports: bool,
    imports: bool,
    per_handler: bool,
}

impl Hooks {
    fn of(p: &Plugin) -> Hooks {
        Hooks {
            exports: p.vtable().export_state.is_some(),
            imports: p.vtable().import_state.is_some(),
            per_handler: p.info().instance_mode == abi::SY_INSTANCE_PER_HANDLER,
        }
    }
}

fn decide(old: Hooks, new: Hooks) -> Eligibility {
    match (old.exports, new.imports) {
        (false, false) => Eligibility::Neither,
        (true, false) => Eligibility::Not("the new plugin does not take state (no import_state)"),
        (false, true) => {
            Eligibility::Not("the old plugin does not hand state over (no export_state)")
        }
        (true, true) if !(old.per_handler && new.per_handler) => {
            Eligibility::Not("state moves between per-handler instances only")
        }
        (true, true) => Eligibility::HandOver,
    }
}

/// Where an instance stands in a handover, as its host calls see it.
#[derive(Debug, Default)]
pub enum Phase {
    #[default]
    Serving,
    /// In `export_state`: `hand_over_state` is valid, once.
    Exporting { state: Option<HandedState> },
    /// In `import_state`: the last warning the plugin logged is its reason to refuse.
    Importing { refusal: Option<String> },
}

impl Phase {
    /// `hand_over_state(version, data)`: only during export, at most once, bounded.
    pub fn offer(&mut self, version: u32, data: &[u8]) -> u32 {
        match self {
            Phase::Exporting { state: Some(_) } => abi::SY_ERR_INVALID,
            Phase::Exporting { .. } if data.len() > MAX_STATE_BYTES => abi::SY_ERR_LIMIT,
            Phase::Exporting { state } => {
                *state = Some(HandedState {
                    version,
                    data: data.to_vec(),
                });
                abi::SY_OK
            }
            _ => abi::SY_ERR_INVALID,
        }
    }

    /// A plugin log line: during import, a warning or error is kept as the reason.
    pub fn note_log(&mut self, level: u32, msg: &str) {
        if let Phase::Importing { refusal } = self
            && level <= abi::SY_LOG_WARN
        {
            *refusal = Some(msg.to_owned());
        }
    }
}

/// What a connection still does, for the quiesce check.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConnActivity {
    pub id: u64,
    /// Items in its output queue (bytes, file ranges, notices, shutdown, close).
    pub queued: usize,
    /// A `recv_to_file` is running or finishing.
    pub receiving: bool,
    /// `close` was asked and is not done.
    pub closing: bool,
}

/// Why the instance is not quiet yet, or `None` when it is: every connection's output
/// written, no receive into a file, no prefetch and no deferred datagram in flight.
pub fn still_busy(
    conns: impl IntoIterator<Item = ConnActivity>,
    prefetches: usize,
    deferred_datagrams: usize,
) -> Option<String> {
    for c in conns {
        if c.queued > 0 {
            return Some(format!(
                "connection {} has {} writes queued",
                c.id, c.queued
            ));
        }
        if c.receiving {
            return Some(format!("connection {} is receiving into a file", c.id));
        }
        if c.closing {
            return Some(format!("connection {} is closing", c.id));
        }
    }
    if prefetches > 0 {
        return Some(format!("{prefetches} file prefetches in flight"));
    }
    if deferred_datagrams > 0 {
        return Some(format!(
            "{deferred_datagrams} datagrams wait for file reads"
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_sides_need_the_hook_and_per_handler_instances() {
        let hooked = Hooks {
            exports: true,
            imports: true,
            per_handler: true,
        };
        let plain = Hooks {
            exports: false,
            imports: false,
            per_handler: true,
        };
        assert_eq!(decide(hooked, hooked), Eligibility::HandOver);
        assert_eq!(decide(plain, plain), Eligibility::Neither);
        assert!(
            matches!(decide(hooked, plain), Eligibility::Not(why) if why.contains("new plugin"))
        );
        assert!(
            matches!(decide(plain, hooked), Eligibility::Not(why) if why.contains("old plugin"))
        );
        let per_conn = Hooks {
            per_handler: false,
            ..hooked
        };
        assert!(
            matches!(decide(hooked, per_conn), Eligibility::Not(why) if why.contains("per-handler"))
        );
    }

    #[test]
    fn hand_over_state_is_taken_once_and_only_during_export() {
        let mut phase = Phase::Serving;
        assert_eq!(phase.offer(1, b"x"), abi::SY_ERR_INVALID, "not exporting");
        let mut phase_importing = Phase::Importing { refusal: None };
        assert_eq!(phase_importing.offer(1, b"x"), abi::SY_ERR_INVALID);
        phase = Phase::Exporting { state: None };
        assert_eq!(phase.offer(3, b"state"), abi::SY_OK);
        assert_eq!(
            phase.offer(4, b"again"),
            abi::SY_ERR_INVALID,
            "at most once"
        );
        let Phase::Exporting { state: Some(s) } = phase else {
            panic!("kept: {phase:?}");
        };
        assert_eq!(
            s,
            HandedState {
                version: 3,
                data: b"state".to_vec()
            }
        );
        let mut big = Phase::Exporting { state: None };
        assert_eq!(
            big.offer(1, &vec![0; MAX_STATE_BYTES + 1]),
            abi::SY_ERR_LIMIT
        );
        assert!(matches!(big, Phase::Exporting { state: None }));
    }

    #[test]
    fn during_import_the_last_warning_is_the_reason() {
        let mut phase = Phase::Importing { refusal: None };
        phase.note_log(abi::SY_LOG_INFO, "migrating");
        phase.note_log(abi::SY_LOG_WARN, "state version 9 refused: unknown");
        phase.note_log(abi::SY_LOG_DEBUG, "after");
        let Phase::Importing { refusal } = &phase else {
            unreachable!()
        };
        assert_eq!(refusal.as_deref(), Some("state version 9 refused: unknown"));
        let mut serving = Phase::Serving;
        serving.note_log(abi::SY_LOG_ERROR, "ignored");
        assert!(matches!(serving, Phase::Serving));
    }

    #[test]
    fn quiet_means_nothing_queued_received_closed_prefetched_or_deferred() {
        let idle = ConnActivity {
            id: 7,
            ..ConnActivity::default()
        };
        assert_eq!(still_busy([idle, idle], 0, 0), None);
        let writing = ConnActivity { queued: 2, ..idle };
        assert_eq!(
            still_busy([idle, writing], 0, 0).as_deref(),
            Some("connection 7 has 2 writes queued")
        );
        let receiving = ConnActivity {
            receiving: true,
            ..idle
        };
        assert!(still_busy([receiving], 0, 0).unwrap().contains("receiving"));
        let closing = ConnActivity {
            closing: true,
            ..idle
        };
        assert!(still_busy([closing], 0, 0).unwrap().contains("closing"));
        assert!(still_busy([], 1, 0).unwrap().contains("prefetch"));
        assert!(still_busy([], 0, 3).unwrap().contains("datagrams"));
    }

    #[test]
    fn a_dropped_successor_reads_as_closed_and_a_fresh_takeover_carries_nothing() {
        let (tx, mut rx) = channel();
        drop(tx);
        assert!(rx.try_recv().is_err(), "the successor then starts fresh");
        let (tx, mut rx) = channel();
        tx.send(TakeOver::fresh()).unwrap();
        let t = rx.try_recv().unwrap();
        assert!(t.state.is_none() && t.conns.is_empty() && t.answer.is_none());
    }
}
