//! Typed port handles: a port's name and message type bound once, in a `const`, so that
//! a wrong port name or a wrong message type does not compile.
//!
//! ```ignore
//! const CHANGES: Output<Changed> = Output::new("changes");
//! const COMMANDS: Input<Command> = Input::new("commands");
//! impl Protocol for Kv {
//!     const PORTS: &'static [Port] = &[CHANGES.port(), COMMANDS.port()];
//!     fn on_event(&mut self, ctx: &mut Ctx<'_>, event: Event<'_>) {
//!         if let Some(cmd) = COMMANDS.accept(&event) { /* cmd: Result<Command, _> */ }
//!         let _ = ctx.send(CHANGES, &Changed { key: "k".into() });
//!     }
//! }
//! ```
//!
//! Why: with names as strings, `ctx.emit("chnages", &msg)` compiles and fails at run
//! time, and nothing ties the declared type name to the type actually sent.

use std::marker::PhantomData;

use crate::ctx::Ctx;
use crate::error::HostError;
use crate::event::Event;
use crate::messages::Message;
use crate::port::Port;

/// An output port carrying messages of type `M`.
#[derive(Debug)]
pub struct Output<M> {
    name: &'static str,
    _type: PhantomData<fn(M)>,
}

/// An input port accepting messages of type `M`.
#[derive(Debug)]
pub struct Input<M> {
    name: &'static str,
    _type: PhantomData<fn() -> M>,
}

// Handles are plain names: copyable whatever `M` is.
impl<M> Clone for Output<M> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<M> Copy for Output<M> {}
impl<M> Clone for Input<M> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<M> Copy for Input<M> {}

impl<M: Message> Output<M> {
    pub const fn new(name: &'static str) -> Output<M> {
        Output {
            name,
            _type: PhantomData,
        }
    }

    /// The declaration for [`crate::Protocol::PORTS`], with `M`'s type name.
    pub const fn port(&self) -> Port {
        Port::output(self.name, M::TYPE)
    }

    pub const fn name(&self) -> &'static str {
        self.name
    }
}

impl<M: Message> Input<M> {
    pub const fn new(name: &'static str) -> Input<M> {
        Input {
            name,
            _type: PhantomData,
        }
    }

    /// The declaration for [`crate::Protocol::PORTS`], with `M`'s type name.
    pub const fn port(&self) -> Port {
        Port::input(self.name, M::TYPE)
    }

    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// The message, if `event` is one arriving on this port: decoded, or why not (the
    /// sender's type name, or bytes that are not an `M`).
    pub fn accept(&self, event: &Event<'_>) -> Option<Result<M, String>> {
        let Event::Message {
            port,
            type_name,
            data,
            ..
        } = event
        else {
            return None;
        };
        if *port != self.name {
            return None;
        }
        if *type_name != M::TYPE {
            return Some(Err(format!(
                "port `{}` expects `{}`, got `{type_name}`",
                self.name,
                M::TYPE
            )));
        }
        Some(serde_json::from_slice(data).map_err(|e| format!("undecodable `{}`: {e}", M::TYPE)))
    }
}

impl Ctx<'_> {
    /// Send `msg` on the typed output port `port`: the name and the type are checked by
    /// the compiler, through the handle.
    pub fn send<M: Message>(&mut self, port: Output<M>, msg: &M) -> Result<(), HostError> {
        self.emit(port.name, msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi;
    use crate::messages::ChatMessage;

    const OUT: Output<ChatMessage> = Output::new("lines");
    const IN: Input<ChatMessage> = Input::new("inbox");
    const PORTS: &[Port] = &[OUT.port(), IN.port()];

    #[test]
    fn handles_declare_their_type_and_accept_only_theirs() {
        assert_eq!(PORTS[0].direction, abi::SY_PORT_OUT);
        assert_eq!(PORTS[0].name_str(), "lines");
        assert_eq!(PORTS[1].direction, abi::SY_PORT_IN);
        let line = ChatMessage {
            from: "a".into(),
            channel: "#r".into(),
            text: "hi".into(),
            at_unix_ms: 1,
        };
        let data = serde_json::to_vec(&line).unwrap();
        let event = |port, type_name| Event::Message {
            port,
            from: "chat.messages",
            type_name,
            data: &data,
        };
        assert_eq!(
            IN.accept(&event("inbox", ChatMessage::TYPE)),
            Some(Ok(line))
        );
        assert_eq!(IN.accept(&event("other", ChatMessage::TYPE)), None);
        let wrong = IN
            .accept(&event("inbox", "x.Other/1"))
            .unwrap()
            .unwrap_err();
        assert!(
            wrong.contains("expects `switchyard.ChatMessage/1`"),
            "{wrong}"
        );
        assert_eq!(IN.accept(&Event::Start), None);
    }
}
