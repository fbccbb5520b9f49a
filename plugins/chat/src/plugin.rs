//! The `Protocol` impl: a thin adapter between the host's events and [`Chat`].
//!
//! It feeds datagrams and timer ticks to the machine with `ctx.now_ms()`, then
//! carries out the machine's outputs: datagrams (a failed send is counted and
//! logged, never fatal: one dead member must not stop a fan-out), chat lines as
//! `ChatMessage` on the `messages` port, and the one timer at the machine's deadline.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use switchyard_sdk::prelude::*;

use crate::config::Config;
use crate::machine::{Chat, Output};

/// The only timer: the machine's sweep.
const SWEEP_TIMER: u64 = 1;
/// The output port every chat line is published on.
pub const MESSAGES_PORT: &str = "messages";

/// The chat handler.
#[derive(Debug)]
pub struct ChatPlugin {
    chat: Chat,
    /// Deadline the host timer is armed for.
    armed: Option<u64>,
    /// Unix time minus host time, taken once: the SDK offers only a monotonic
    /// clock, and `ChatMessage` carries wall-clock time.
    unix_offset_ms: u64,
    /// Failed sends since the last log line about them.
    send_failures: u64,
}

impl Protocol for ChatPlugin {
    type Config = Config;
    const NAME: &'static str = "chat";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "UDP support desk (visitors and agents) and rooms";
    const LISTENERS: Listeners = Listeners::UDP;
    const PORTS: &'static [Port] = &[Port::output(MESSAGES_PORT, ChatMessage::TYPE)];

    fn new(config: Config, ctx: &mut Ctx<'_>) -> Result<Self, String> {
        let chat = Chat::new(config)?;
        let unix_now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        Ok(ChatPlugin {
            chat,
            armed: None,
            unix_offset_ms: unix_now.saturating_sub(ctx.now_ms()),
            send_failures: 0,
        })
    }

    fn on_event(&mut self, ctx: &mut Ctx<'_>, event: Event<'_>) {
        let now = ctx.now_ms();
        match event {
            Event::Datagram {
                socket, peer, data, ..
            } => self.chat.handle_datagram(now, socket, peer, data),
            Event::Timer { token: SWEEP_TIMER } => {
                self.armed = None;
                self.chat.handle_timeout(now);
            }
            Event::Drain => self.chat.drain(),
            Event::SocketError { socket, error } => {
                // An ICMP error from an earlier send: nothing to undo, keep serving.
                self.send_failures += 1;
                ctx.debug(format_args!("send on socket {} failed: {error}", socket.0));
            }
            _ => {}
        }
        self.flush(ctx, now);
    }
}

impl ChatPlugin {
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
                        at_unix_ms: self.unix_offset_ms + now,
                    };
                    // No route on the port is a valid topology: nothing to do then.
                    let _ = ctx.emit(MESSAGES_PORT, &msg);
                }
            }
        }
        if self.send_failures > failures {
            ctx.debug(format_args!(
                "{} datagram sends failed so far",
                self.send_failures
            ));
        }
        let deadline = self.chat.poll_timeout();
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
