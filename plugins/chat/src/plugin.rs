//! The `Protocol` impl: a thin adapter between the host's events and [`Chat`].
//!
//! It feeds datagrams and timer ticks to the machine with its clock, then carries out
//! the machine's outputs: datagrams (a failed send is counted and logged, never
//! fatal: one dead member must not stop a fan-out), chat lines as `ChatMessage` on
//! the `messages` port, and the one timer at the machine's deadline.
//!
//! Across a reload it hands the whole chat over (`crate::handover`): the successor's
//! machine clock is `ctx.now_ms()` plus an offset as long as the oldest time the
//! state mentions, so every restored time stays after the clock's zero. When no
//! successor takes the state (`Event::Replaced`), every session is told to start over.

use std::time::Duration;

use switchyard_sdk::prelude::*;

use crate::bus_link::BusLink;
use crate::config::Config;
use crate::described::Described;
use crate::handover;
use crate::machine::{Chat, KvResult, Output};
use crate::wire::Subjects;

/// The only timer: the machine's sweep.
const SWEEP_TIMER: u64 = 1;
/// A failed bus subscription is tried again this long after.
const RETRY_MS: u64 = 1000;
/// The output port every chat line is published on.
pub const MESSAGES_PORT: &str = "messages";

/// The chat handler.
#[derive(Debug)]
pub struct ChatPlugin {
    chat: Chat,
    /// Deadline the host timer is armed for.
    armed: Option<u64>,
    /// Failed sends since the last log line about them.
    send_failures: u64,
    /// Added to `ctx.now_ms()` for the machine's clock: 0, or what an imported state
    /// needs (see the module docs).
    clock_offset: u64,
    /// The sessions as the host was told (the operator console shows them).
    described: Described,
    /// The cluster bus, with `config.cluster`.
    bus: BusLink,
    /// The cluster's subjects, with `config.cluster`.
    subjects: Option<Subjects>,
}

impl Protocol for ChatPlugin {
    type Config = Config;
    const NAME: &'static str = "chat";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "UDP support desk (visitors and agents) and rooms";
    const LISTENERS: Listeners = Listeners::UDP;
    const PORTS: &'static [Port] = &[Port::output(MESSAGES_PORT, ChatMessage::TYPE)];
    const HANDS_OVER_STATE: bool = true;

    fn new(config: Config, ctx: &mut Ctx<'_>) -> Result<Self, String> {
        let subjects = config.cluster.as_ref().map(|c| Subjects::new(&c.subject));
        let mut chat = Chat::new(config)?;
        if subjects.is_some() {
            // The host's bus name makes visitor ids unique across the cluster and
            // addresses answers; without a bus there is no cluster to join.
            let me = ctx
                .bus_identity()
                .map_err(|e| format!("cluster: this chat needs the topology's `bus` ({e})"))?;
            let host = me.split('/').next().unwrap_or(&me).to_owned();
            chat.join_cluster(ctx.now_ms(), &host);
            ctx.info(format_args!("chat joins the cluster as host {host}"));
        }
        let mut plugin = ChatPlugin {
            chat,
            armed: None,
            send_failures: 0,
            clock_offset: 0,
            described: Described::default(),
            bus: BusLink::default(),
            subjects,
        };
        let now = plugin.now(ctx);
        plugin.flush(ctx, now);
        Ok(plugin)
    }

    fn on_event(&mut self, ctx: &mut Ctx<'_>, event: Event<'_>) {
        let now = self.now(ctx);
        match event {
            Event::Datagram {
                socket, peer, data, ..
            } => self.chat.handle_datagram(now, socket, peer, data),
            Event::Timer { token: SWEEP_TIMER } => {
                self.armed = None;
                self.bus.retry(ctx);
                self.chat.handle_timeout(now);
            }
            Event::BusDone { token, result } => self.bus.subscribed(ctx, token, result),
            Event::BusMessage {
                token,
                type_name,
                from,
                data,
                ..
            } => {
                if let Some(subjects) = &self.subjects {
                    let key = (token, type_name, from);
                    self.bus
                        .deliver(ctx, &mut self.chat, now, key, data, subjects);
                }
            }
            Event::BusKvDone { token, result } => {
                let result = match result {
                    Ok((revision, _)) => KvResult::Done(revision),
                    Err(HostError::Exists | HostError::NotFound) => KvResult::Lost,
                    Err(_) => KvResult::Failed,
                };
                self.chat.kv_done(now, token, result);
            }
            Event::Drain => self.chat.drain(),
            Event::Replaced => self.chat.replaced(),
            Event::SessionCancel { session } if self.chat.operator_release(session) => {
                ctx.info(format_args!("session v{session} released by the operator"));
                self.described.cancelled(ctx, session);
            }
            Event::SocketError { socket, error } => {
                // An ICMP error from an earlier send: nothing to undo, keep serving.
                self.send_failures += 1;
                ctx.debug(format_args!("send on socket {} failed: {error}", socket.0));
            }
            _ => {}
        }
        self.flush(ctx, now);
    }

    fn export_state(&mut self, ctx: &mut Ctx<'_>) -> Option<(u32, Vec<u8>)> {
        let now = self.now(ctx);
        Some(handover::encode(self.chat.snapshot(now)))
    }

    fn import_state(
        &mut self,
        ctx: &mut Ctx<'_>,
        version: u32,
        state: &[u8],
    ) -> Result<(), String> {
        let snapshot = handover::decode(version, state)?;
        let offset = snapshot.oldest_ms();
        let sessions = snapshot.sessions.len();
        self.chat.restore(snapshot, ctx.now_ms() + offset)?;
        self.clock_offset = offset;
        ctx.info(format_args!(
            "took {sessions} sessions (state version {version})"
        ));
        Ok(())
    }
}

impl ChatPlugin {
    /// Other hosts' bus messages refused so far (unknown types or versions,
    /// undecodable, or not what a chat sends).
    pub fn refused_notes(&self) -> u64 {
        self.chat.refused_notes()
    }

    /// The machine's clock.
    fn now(&self, ctx: &Ctx<'_>) -> u64 {
        ctx.now_ms() + self.clock_offset
    }

    /// Carry out every pending output, then arm the timer for the next deadline.
    fn flush(&mut self, ctx: &mut Ctx<'_>, now: u64) {
        let failures = self.send_failures;
        while let Some(output) = self.chat.poll_output() {
            match output {
                Output::Send { to, payload } => {
                    if ctx
                        .send_datagram(to.socket, to.addr, payload.as_bytes())
                        .is_err()
                    {
                        self.send_failures += 1;
                    }
                }
                Output::Fanout { to, payload } => {
                    for dest in to.iter() {
                        if ctx
                            .send_datagram(dest.socket, dest.addr, payload.as_bytes())
                            .is_err()
                        {
                            self.send_failures += 1;
                        }
                    }
                }
                Output::Line {
                    from,
                    channel,
                    text,
                } => {
                    let msg = ChatMessage {
                        from,
                        channel,
                        text,
                        at_unix_ms: ctx.now_unix_ms(),
                    };
                    // No route on the port is a valid topology: nothing to do then.
                    let _ = ctx.emit(MESSAGES_PORT, &msg);
                }
                Output::Bus(out) => self.bus.carry_out(ctx, &mut self.chat, now, out),
            }
        }
        if self.send_failures > failures {
            ctx.debug(format_args!(
                "{} datagram sends failed so far",
                self.send_failures
            ));
        }
        self.described.update(ctx, &self.chat, now);
        let mut deadline = self.chat.poll_timeout();
        if self.bus.retrying() {
            deadline = Some(deadline.map_or(now + RETRY_MS, |d| d.min(now + RETRY_MS)));
        }
        if deadline != self.armed {
            let armed = match deadline {
                Some(at) => {
                    ctx.set_timer(SWEEP_TIMER, Duration::from_millis(at.saturating_sub(now)))
                }
                None => ctx.cancel_timer(SWEEP_TIMER),
            };
            self.armed = if armed.is_ok() { deadline } else { None };
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use switchyard_sdk::testing::{Action, MockHost};

    /// A client on loopback port `port`.
    pub(crate) fn peer(port: u16) -> std::net::SocketAddr {
        std::net::SocketAddr::from(([127, 0, 0, 1], port))
    }

    /// A datagram from [`peer`] `port` on the chat's listener socket (id 4).
    pub(crate) fn datagram(port: u16, data: &[u8]) -> Event<'_> {
        Event::Datagram {
            socket: SocketId(4),
            peer: peer(port),
            local: peer(6000),
            listener: "chat_udp",
            data,
        }
    }

    fn create(host: &mut MockHost) -> ChatPlugin {
        host.create::<ChatPlugin>("(auto_reply: \"nobody here\", idle_timeout_secs: 5)")
            .unwrap()
    }

    #[test]
    fn a_visitor_gets_the_auto_reply_the_line_is_emitted_and_the_sweep_armed() {
        let mut host = MockHost::new();
        let mut chat = create(&mut host);
        host.deliver(&mut chat, 100, datagram(5000, "你好".as_bytes()));
        let io = host.take_io();
        let reply = Action::SendDatagram {
            socket: 4,
            to: peer(5000),
            data: b"nobody here".to_vec(),
        };
        assert!(io.contains(&reply), "{io:?}");
        let emitted: Vec<ChatMessage> = io
            .iter()
            .filter_map(|a| match a {
                Action::Emit { port: 0, data } => Some(serde_json::from_slice(data).unwrap()),
                _ => None,
            })
            .collect();
        assert_eq!(emitted.len(), 2, "{io:?}");
        assert_eq!(
            (
                emitted[0].from.as_str(),
                emitted[0].channel.as_str(),
                emitted[0].text.as_str()
            ),
            ("v1", "v1", "你好")
        );
        assert_eq!(emitted[1].text, "nobody here");
        assert!(
            emitted[0].at_unix_ms > 1_600_000_000_000,
            "wall-clock time: {}",
            emitted[0].at_unix_ms
        );
        assert_eq!(
            io.last(),
            Some(&Action::SetTimer {
                token: SWEEP_TIMER,
                delay_ms: 500
            })
        );
    }

    #[test]
    fn the_timer_expires_sessions_and_stays_off_when_none_are_left() {
        let mut host = MockHost::new();
        let mut chat = create(&mut host);
        host.deliver(&mut chat, 0, datagram(5000, b"/join lobby"));
        host.take_io();
        for now in (500..5000).step_by(500) {
            host.deliver(&mut chat, now, Event::Timer { token: SWEEP_TIMER });
            assert_eq!(
                host.take_io(),
                vec![Action::SetTimer {
                    token: SWEEP_TIMER,
                    delay_ms: 500
                }]
            );
        }
        host.deliver(&mut chat, 5000, Event::Timer { token: SWEEP_TIMER });
        assert_eq!(
            host.take_io(),
            vec![],
            "the timer fired and no session is left: nothing to arm"
        );
        assert_eq!(chat.chat.session_count(), 0);
    }

    #[test]
    fn room_lines_fan_out_and_socket_errors_change_nothing() {
        let mut host = MockHost::new();
        let mut chat = create(&mut host);
        for port in [1, 2, 3] {
            host.deliver(&mut chat, 0, datagram(port, b"/join r"));
        }
        host.take_io();
        host.deliver(
            &mut chat,
            1,
            Event::SocketError {
                socket: SocketId(4),
                error: HostError::Closed,
            },
        );
        host.deliver(&mut chat, 2, datagram(2, b"hello room"));
        let sends: Vec<_> = host
            .take_io()
            .into_iter()
            .filter_map(|a| match a {
                Action::SendDatagram { to, data, .. } => {
                    Some((to.port(), String::from_utf8(data).unwrap()))
                }
                _ => None,
            })
            .collect();
        let line = "#r <v2> hello room".to_string();
        assert_eq!(sends, vec![(1, line.clone()), (2, line.clone()), (3, line)]);
    }

    #[test]
    fn bad_configs_are_refused() {
        let mut host = MockHost::new();
        let err = host.create::<ChatPlugin>("(max_sessions: 0)").unwrap_err();
        assert!(err.contains("max_sessions"), "{err}");
        let err = host
            .create::<ChatPlugin>("(agent_secret: Some(\"pw\"))")
            .unwrap_err();
        assert!(err.contains("agent_secret"), "{err}");
        let err = host.create::<ChatPlugin>("(secret: \"x\")").unwrap_err();
        assert!(err.contains("secret"), "{err}");
    }

    #[test]
    fn a_waiting_visitor_is_described_without_its_text_and_the_operator_releases_it() {
        let mut host = MockHost::new();
        let mut chat = create(&mut host);
        host.deliver(&mut chat, 100, datagram(5000, b"my password is hunter2"));
        let described = host.sessions.values().next().cloned().expect("described");
        assert_eq!(described.peer, Some(peer(5000)));
        assert_eq!(described.state, "visitor waiting");
        assert_eq!(described.resource, "v1");
        assert!(
            !format!("{described:?}").contains("hunter2"),
            "no chat text"
        );
        let key = *host.sessions.keys().next().unwrap();
        host.take_io();
        host.deliver(&mut chat, 200, Event::SessionCancel { session: key });
        let told = host.take_io().into_iter().any(|a| {
            matches!(a, Action::SendDatagram { to, ref data, .. }
                if to == peer(5000) && String::from_utf8_lossy(data).contains("operator closed"))
        });
        assert!(told, "the visitor is told in chat terms");
        assert!(host.sessions.is_empty());
        assert_eq!(host.ended, vec![(key, "aborted".to_owned())]);
        // An unknown key is ignored.
        host.deliver(&mut chat, 300, Event::SessionCancel { session: 99 });
        assert_eq!(host.ended.len(), 1);
    }
}
