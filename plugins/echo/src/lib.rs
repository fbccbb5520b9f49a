//! # echo — the reference Switchyard plugin
//!
//! Echoes every UDP datagram to its sender and every TCP byte back to its connection.
//! It is small on purpose: read it first when writing a plugin. It shows
//! - a `#[serde(deny_unknown_fields)]` config parsed from the topology,
//! - one instance serving UDP and TCP listeners at once (`InstanceMode::PerHandler`),
//! - half-close handling (the peer's EOF ends our write side after the echo),
//! - `active_sessions`, which lets the host drain gracefully.
//!
//! # Layout
//! Everything is in this file: `Config`, the `Echo` state and its `Protocol` impl.

use std::collections::HashSet;

use serde::Deserialize;
use switchyard_sdk::prelude::*;

/// The handler's `config: (...)` section.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Bytes put before every echoed datagram (not TCP: a stream has no message edges).
    pub prefix: String,
}

/// Echo state: just the open connections, for draining.
#[derive(Debug)]
pub struct Echo {
    prefix: Vec<u8>,
    conns: HashSet<ConnId>,
    /// Reused for prefixed datagrams, so the hot path does not allocate.
    scratch: Vec<u8>,
}

impl Protocol for Echo {
    type Config = Config;
    const NAME: &'static str = "echo";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "UDP and TCP echo (reference plugin)";
    const LISTENERS: Listeners = Listeners::UDP_AND_TCP;

    fn new(config: Config, _ctx: &mut Ctx<'_>) -> Result<Self, String> {
        if config.prefix.len() > 1024 {
            return Err("prefix: at most 1024 bytes".into());
        }
        Ok(Echo {
            prefix: config.prefix.into_bytes(),
            conns: HashSet::new(),
            scratch: Vec::new(),
        })
    }

    fn on_event(&mut self, ctx: &mut Ctx<'_>, event: Event<'_>) {
        match event {
            Event::Datagram {
                socket, peer, data, ..
            } => {
                let reply = if self.prefix.is_empty() {
                    data
                } else {
                    self.scratch.clear();
                    self.scratch.extend_from_slice(&self.prefix);
                    self.scratch.extend_from_slice(data);
                    &self.scratch
                };
                if let Err(e) = ctx.send_datagram(socket, peer, reply) {
                    ctx.debug(format_args!("echo to {peer} failed: {e}"));
                }
            }
            Event::ConnOpened { conn, .. } => {
                self.conns.insert(conn);
            }
            Event::Bytes { conn, data } => {
                // A peer that sends but never reads fills the host's write buffer: cut it off.
                let _ = ctx.write(conn, data).or_else(|_| ctx.close(conn));
            }
            Event::PeerEof { conn } => {
                let _ = ctx.shutdown_write(conn);
            }
            Event::ConnClosed { conn, .. } => {
                self.conns.remove(&conn);
            }
            _ => {}
        }
    }

    fn active_sessions(&self) -> u64 {
        self.conns.len() as u64
    }
}

switchyard_sdk::declare_plugin!(Echo);

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_sdk::testing::{Action, MockHost};

    fn addr() -> std::net::SocketAddr {
        "127.0.0.1:5000".parse().unwrap()
    }

    #[test]
    fn datagram_is_echoed_with_prefix() {
        let mut host = MockHost::new();
        let mut echo = host.create::<Echo>("(prefix: \"> \")").unwrap();
        let ev = Event::Datagram {
            socket: SocketId(7),
            peer: addr(),
            local: addr(),
            listener: "u",
            data: b"hi",
        };
        host.deliver(&mut echo, 0, ev);
        assert_eq!(
            host.take_io(),
            vec![Action::SendDatagram {
                socket: 7,
                to: addr(),
                data: b"> hi".to_vec()
            }]
        );
    }

    #[test]
    fn tcp_echo_and_half_close() {
        let mut host = MockHost::new();
        let mut echo = host.create::<Echo>("").unwrap();
        let conn = ConnId(3);
        host.deliver(
            &mut echo,
            0,
            Event::ConnOpened {
                conn,
                peer: addr(),
                local: addr(),
                listener: "t",
            },
        );
        assert_eq!(echo.active_sessions(), 1);
        host.deliver(&mut echo, 1, Event::Bytes { conn, data: b"abc" });
        host.deliver(&mut echo, 2, Event::PeerEof { conn });
        host.deliver(&mut echo, 3, Event::ConnClosed { conn, error: None });
        assert_eq!(
            host.take_io(),
            vec![
                Action::Write {
                    conn: 3,
                    data: b"abc".to_vec()
                },
                Action::ShutdownWrite { conn: 3 }
            ]
        );
        assert_eq!(echo.active_sessions(), 0);
    }

    #[test]
    fn unknown_config_field_is_refused() {
        let mut host = MockHost::new();
        let err = host.create::<Echo>("(prefx: \"x\")").unwrap_err();
        assert!(err.contains("prefx"), "{err}");
    }
}
