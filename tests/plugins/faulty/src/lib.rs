//! # faulty — a test-only plugin that panics and misbehaves on command
//!
//! The end-to-end tests (`tests/tests/supervision.rs`, `host_cli.rs`) need a plugin whose
//! failures they can trigger at will, to check that the host isolates them: a panic must
//! cost one instance (recreated under the restart policy), never the host or another
//! handler; host calls with bad arguments must come back as error statuses, never crash.
//!
//! Every UDP datagram (and every TCP read, trimmed of trailing whitespace) is a command:
//! - `panic`: panics inside `on_event` (the SDK catches it; the host restarts us);
//! - `malformed`: calls host functions with ids that do not exist (socket, connection,
//!   file) and a path that leaves the root, then replies with the statuses it got,
//!   e.g. `malformed socket=2 conn=2 file=2 close_file=2 commit=2`, where each number is
//!   the `SY_ERR_*` status (0 would mean the host accepted garbage);
//! - `ping`: replies `pong` (the tests' liveness probe after a restart);
//! - `emit`: emits a `ChatMessage` on output port `out` and replies `emitted <status>`;
//! - `count`: replies `count N`, the commands this instance handled before (it moves
//!   with the state across a reload, see below);
//! - `whoami`: replies `instance N`, a number given to each instance when it is
//!   created (distinct within the process), so a test can tell which instance (which
//!   worker) serves it;
//! - `bus-sub SUBJECT` / `bus-sub-own SUBJECT`: subscribes on the cluster bus (own
//!   messages too, for the second), replying `bus-sub TOKEN pending` or the status;
//!   `bus-unsub TOKEN`; `bus-pub SUBJECT TEXT`: publishes TEXT typed `ChatMessage/1`,
//!   replying `bus-pub <status>`. Confirmations and messages are logged at info
//!   (`faulty bus subscription`, `faulty bus message TOKEN on SUBJECT ...: TEXT`);
//!   `bus-claim KEY VALUE` / `bus-get KEY` / `bus-release KEY`: a create, get or
//!   delete in key-value bucket `claims` (60 s expiry), replying `VERB TOKEN pending`;
//!   the outcome is logged (`faulty bus kv TOKEN: Ok((revision, "value"))` or `Err(..)`);
//! - anything else is echoed back unchanged.
//!
//! Typed message ports exist so that `validate` tests can build a port type mismatch and
//! a cycle with two `faulty` handlers: output `out` (`switchyard.ChatMessage/1`), input
//! `in` (`switchyard.TransferCompleted/1`) and input `any` (`*`). Messages received on an
//! input are logged at info level (`faulty got message`, with the instance's number) so
//! a test can see them arrive, and where.
//!
//! `message_delay_ms: N` in its config blocks the handler N ms on each typed message
//! (a slow consumer, for the bus tests).
//!
//! Features (built as variants by the workers tests): `sharded` declares
//! `Sharding::Any` (the plugin may run on several workers); `every-worker` adds
//! `InputDelivery::EveryWorker`.
//!
//! Config: `(panic_in_new: bool, panic_always: bool)`, both default `false`:
//! `panic_in_new` panics while the instance is built, to test a plugin that fails in
//! `create` — only where it has I/O (a real start, not `validate`'s dry run, which
//! refuses every host call): a plugin whose `new` fails on what it finds at start, which
//! the dry run cannot judge; `panic_always` panics on every event (`Start` included), to test a plugin
//! that can never serve: the restart intensity must stop it.
//!
//! State across a reload (`tests/tests/state_handover.rs`): `handover: nothing` (the
//! default: `export_state` hands nothing over, so the host falls back to retiring
//! it), `state` (hands its counter over as state version 1) or `panic` (panics in
//! `export_state`); `panic_in_import: true` panics in `import_state`.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Deserialize;
use switchyard_sdk::prelude::*;
use switchyard_sdk::{InputDelivery, Sharding};
use switchyard_sdk::{KvKind, KvOp};

/// Instances created in this process so far: each takes the next number.
static INSTANCES: AtomicU64 = AtomicU64::new(0);

/// The handler's `config: (...)` section.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Panic in `Protocol::new`, i.e. inside the host's `create` call, when the host
    /// offers I/O (not in `validate`'s dry run).
    pub panic_in_new: bool,
    /// Panic in every `Protocol::on_event` call, whatever the event.
    pub panic_always: bool,
    /// What `export_state` does.
    pub handover: Handover,
    /// Panic in `Protocol::import_state`.
    pub panic_in_import: bool,
    /// Block the handler thread this long on each typed message (a slow consumer).
    pub message_delay_ms: u64,
}

/// What `export_state` does, to test each way a handover can go.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Handover {
    /// Hand nothing over.
    #[default]
    Nothing,
    /// Hand the counter over (state version 1: a little-endian `u64`).
    State,
    /// Panic.
    Panic,
}

/// Stateless apart from a counter of handled commands, which makes a restart visible in
/// logs (a fresh instance starts again at zero).
#[derive(Debug, Default)]
pub struct Faulty {
    /// This instance's number (`whoami`).
    number: u64,
    handled: u64,
    panic_always: bool,
    handover: Handover,
    panic_in_import: bool,
    message_delay_ms: u64,
}

/// An id no host hands out: ids count up from small numbers.
const BOGUS: u64 = u64::MAX - 7;

/// The status number of a host call's result (0 for success), for replies.
fn status(r: Result<(), HostError>) -> u32 {
    match r {
        Ok(()) => 0,
        Err(e) => e.status(),
    }
}

impl Faulty {
    /// Run one command; `Some(reply)` to send back, `None` to echo the input.
    fn command(&mut self, ctx: &mut Ctx<'_>, input: &[u8]) -> Option<Vec<u8>> {
        self.handled += 1;
        match input.trim_ascii_end() {
            b"panic" => panic!(
                "faulty: panic on command (#{} of this instance)",
                self.handled
            ),
            b"ping" => Some(b"pong".to_vec()),
            b"whoami" => Some(format!("instance {}", self.number).into_bytes()),
            b"count" => Some(format!("count {}", self.handled - 1).into_bytes()),
            b"malformed" => Some(self.malformed(ctx).into_bytes()),
            cmd if cmd.starts_with(b"bus-") => Some(self.bus_command(ctx, cmd).into_bytes()),
            b"emit" => {
                let msg = ChatMessage {
                    from: "faulty".into(),
                    channel: "test".into(),
                    text: "hello".into(),
                    at_unix_ms: 0,
                };
                Some(format!("emitted {}", status(ctx.emit("out", &msg))).into_bytes())
            }
            _ => None,
        }
    }

    /// `bus-sub SUBJECT` (token: this command's number), `bus-sub-own SUBJECT`,
    /// `bus-unsub TOKEN`, `bus-pub SUBJECT TEXT` (typed `ChatMessage/1`, TEXT as is):
    /// the bus calls, replying with their status.
    fn bus_command(&mut self, ctx: &mut Ctx<'_>, cmd: &[u8]) -> String {
        let text = String::from_utf8_lossy(cmd).into_owned();
        let mut words = text.splitn(3, ' ');
        let (verb, arg, rest) = (
            words.next().unwrap_or(""),
            words.next().unwrap_or(""),
            words.next().unwrap_or(""),
        );
        let outcome = match verb {
            "bus-sub" | "bus-sub-own" => {
                // This command's number: unique in the instance.
                let token = self.handled;
                match ctx.bus_subscribe(arg, verb == "bus-sub-own", token) {
                    Ok(()) => return format!("bus-sub {token} pending"),
                    Err(e) => Err(e),
                }
            }
            "bus-unsub" => ctx.bus_unsubscribe(arg.parse().unwrap_or(0)),
            "bus-claim" | "bus-get" | "bus-release" => {
                let kind = match verb {
                    "bus-claim" => KvKind::Create,
                    "bus-get" => KvKind::Get,
                    _ => KvKind::Delete,
                };
                let op = KvOp::new(kind, "claims", arg, 60).with_value(rest.as_bytes());
                let token = self.handled;
                match ctx.bus_kv(op, token) {
                    Ok(()) => return format!("{verb} {token} pending"),
                    Err(e) => Err(e),
                }
            }
            "bus-pub" => ctx.bus_publish(arg, ChatMessage::TYPE, rest.as_bytes()),
            _ => return format!("unknown {verb}"),
        };
        format!("{verb} {}", status(outcome))
    }

    /// Call host functions with arguments that cannot be valid, and say what came back.
    fn malformed(&mut self, ctx: &mut Ctx<'_>) -> String {
        let peer = std::net::SocketAddr::from(([127, 0, 0, 1], 9));
        let socket = status(ctx.send_datagram(SocketId(BOGUS), peer, b"x"));
        let conn = status(ctx.write(ConnId(BOGUS), b"x"));
        let mut buf = [0u8; 16];
        let file = status(ctx.read_file(FileId(BOGUS), 0, &mut buf).map(|_| ()));
        let close_file = status(ctx.close_file(FileId(BOGUS)));
        let commit = status(ctx.commit_file(FileId(BOGUS), "../escape", false));
        format!(
            "malformed socket={socket} conn={conn} file={file} close_file={close_file} commit={commit}"
        )
    }
}

impl Protocol for Faulty {
    type Config = Config;
    const NAME: &'static str = "faulty";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "test-only: panics and misbehaves on command";
    const LISTENERS: Listeners = Listeners::UDP_AND_TCP;
    const HANDS_OVER_STATE: bool = true;
    const SHARDING: Sharding = if cfg!(feature = "sharded") {
        Sharding::Any
    } else {
        Sharding::None
    };
    const INPUT_DELIVERY: InputDelivery = if cfg!(feature = "every-worker") {
        InputDelivery::EveryWorker
    } else {
        InputDelivery::OneWorker
    };
    const PORTS: &'static [Port] = &[
        Port::output("out", ChatMessage::TYPE),
        Port::input("in", TransferCompleted::TYPE),
        Port::input("any", "*"),
    ];

    fn new(config: Config, ctx: &mut Ctx<'_>) -> Result<Self, String> {
        // The dry run at `validate` refuses every host call; a real start answers this
        // one (a timer that was never set: nothing to cancel).
        let has_io = !matches!(ctx.cancel_timer(u64::MAX), Err(HostError::Unsupported));
        if config.panic_in_new && has_io {
            panic!("faulty: panic_in_new is set");
        }
        Ok(Faulty {
            number: INSTANCES.fetch_add(1, Ordering::Relaxed) + 1,
            handled: 0,
            panic_always: config.panic_always,
            handover: config.handover,
            panic_in_import: config.panic_in_import,
            message_delay_ms: config.message_delay_ms,
        })
    }

    fn export_state(&mut self, _ctx: &mut Ctx<'_>) -> Option<(u32, Vec<u8>)> {
        match self.handover {
            Handover::Nothing => None,
            Handover::State => Some((1, self.handled.to_le_bytes().to_vec())),
            Handover::Panic => panic!("faulty: panic in export_state on command"),
        }
    }

    fn import_state(
        &mut self,
        _ctx: &mut Ctx<'_>,
        version: u32,
        state: &[u8],
    ) -> Result<(), String> {
        if self.panic_in_import {
            panic!("faulty: panic_in_import is set");
        }
        match (version, <[u8; 8]>::try_from(state)) {
            (1, Ok(count)) => {
                self.handled = u64::from_le_bytes(count);
                Ok(())
            }
            _ => Err(format!("not a faulty state (version {version})")),
        }
    }

    fn on_event(&mut self, ctx: &mut Ctx<'_>, event: Event<'_>) {
        if self.panic_always {
            panic!("faulty: panic_always is set ({event:?})");
        }
        match event {
            Event::Datagram {
                socket, peer, data, ..
            } => {
                let reply = self.command(ctx, data);
                let _ = ctx.send_datagram(socket, peer, reply.as_deref().unwrap_or(data));
            }
            Event::Bytes { conn, data } => {
                let reply = self.command(ctx, data);
                let _ = ctx.write(conn, reply.as_deref().unwrap_or(data));
            }
            Event::PeerEof { conn } => {
                let _ = ctx.shutdown_write(conn);
            }
            Event::BusDone { token, result } => {
                ctx.info(format_args!("faulty bus subscription {token}: {result:?}"));
            }
            Event::BusKvDone { token, result } => {
                let result = result.map(|(revision, value)| {
                    (revision, String::from_utf8_lossy(value).into_owned())
                });
                ctx.info(format_args!("faulty bus kv {token}: {result:?}"));
            }
            Event::BusMessage {
                token,
                subject,
                type_name,
                from,
                data,
            } => {
                ctx.info(format_args!(
                    "faulty bus message {token} on {subject} of type {type_name} from {from}: {}",
                    String::from_utf8_lossy(data)
                ));
            }
            Event::Message {
                port, type_name, ..
            } => {
                // A slow consumer on purpose: the thread is the handler's.
                std::thread::sleep(std::time::Duration::from_millis(self.message_delay_ms));
                ctx.info(format_args!(
                    "faulty got message on port {port} of type {type_name} in instance {}",
                    self.number
                ));
            }
            _ => {}
        }
    }
}

switchyard_sdk::declare_plugin!(Faulty);

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_sdk::testing::{Action, MockHost};

    fn addr() -> std::net::SocketAddr {
        "127.0.0.1:5000".parse().unwrap()
    }

    fn datagram(data: &[u8]) -> Event<'_> {
        Event::Datagram {
            socket: SocketId(1),
            peer: addr(),
            local: addr(),
            listener: "u",
            data,
        }
    }

    fn replies(actions: Vec<Action>) -> Vec<Vec<u8>> {
        actions
            .into_iter()
            .filter_map(|a| match a {
                Action::SendDatagram {
                    socket: 1, data, ..
                } => Some(data),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn ping_pongs_and_other_bytes_echo() {
        let mut host = MockHost::new();
        let mut f = host.create::<Faulty>("").unwrap();
        host.deliver(&mut f, 0, datagram(b"ping"));
        host.deliver(&mut f, 1, datagram(b"hello"));
        assert_eq!(
            replies(host.take_io()),
            vec![b"pong".to_vec(), b"hello".to_vec()]
        );
    }

    #[test]
    fn panic_command_panics() {
        let mut host = MockHost::new();
        let mut f = host.create::<Faulty>("()").unwrap();
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            host.deliver(&mut f, 0, datagram(b"panic"))
        }));
        assert!(caught.is_err(), "`panic` must panic");
    }

    #[test]
    fn panic_always_panics_on_any_event() {
        // The first event is `Start`, which the host (and the mock) sends after `new`.
        let caught = std::panic::catch_unwind(|| {
            MockHost::new()
                .create::<Faulty>("(panic_always: true)")
                .map(drop)
        });
        assert!(caught.is_err(), "`panic_always` must panic at Start");
        let mut host = MockHost::new();
        let mut f = host.create::<Faulty>("(panic_always: false)").unwrap();
        f.panic_always = true;
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            host.deliver(&mut f, 0, datagram(b"ping"))
        }));
        assert!(caught.is_err(), "`panic_always` must panic on a datagram");
    }

    #[test]
    fn malformed_reports_every_status() {
        let mut host = MockHost::new();
        let mut f = host.create::<Faulty>("").unwrap();
        host.deliver(&mut f, 0, datagram(b"malformed\n"));
        let r = replies(host.take_io());
        assert_eq!(r.len(), 1, "{r:?}");
        let text = String::from_utf8(r[0].clone()).unwrap();
        for key in ["socket=", "conn=", "file=", "close_file=", "commit="] {
            assert!(text.contains(key), "{text}");
        }
    }

    #[test]
    fn the_counter_moves_as_state_version_1_and_each_handover_mode_does_what_it_says() {
        let mut host = MockHost::new();
        let mut old = host.create::<Faulty>("(handover: state)").unwrap();
        host.deliver(&mut old, 0, datagram(b"ping"));
        let (version, state) = host.export_state(&mut old, 1).expect("a state");
        let mut new = host.create::<Faulty>("").unwrap();
        host.import_state(&mut new, 0, version, &state).unwrap();
        host.take_io();
        host.deliver(&mut new, 0, datagram(b"count"));
        assert_eq!(replies(host.take_io()), vec![b"count 1".to_vec()]);
        assert!(host.import_state(&mut new, 0, 2, &state).is_err());
        let mut nothing = host.create::<Faulty>("").unwrap();
        assert_eq!(host.export_state(&mut nothing, 0), None);
        let mut panics = host.create::<Faulty>("(handover: panic)").unwrap();
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            host.export_state(&mut panics, 0)
        }));
        assert!(caught.is_err());
    }

    #[test]
    fn config_is_checked() {
        let mut host = MockHost::new();
        let err = host.create::<Faulty>("(panic_in_neww: true)").unwrap_err();
        assert!(err.contains("panic_in_neww"), "{err}");
        assert!(host.create::<Faulty>("(panic_in_new: false)").is_ok());
    }

    #[test]
    fn ports_are_declared() {
        let names: Vec<_> = Faulty::PORTS.iter().map(|p| p.name_str()).collect();
        assert_eq!(names, ["out", "in", "any"]);
    }
}
