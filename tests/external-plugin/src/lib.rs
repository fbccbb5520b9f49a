//! # reverse — a plugin built outside the Switchyard workspace
//!
//! Replies to every UDP datagram with its bytes reversed (optionally after a prefix).
//! It exists to prove that a third party can write a plugin in a crate of their own,
//! depending only on `switchyard-sdk`, build a `.so`, and have the host load it. Its
//! version (0.3.1) differs from the workspace's on purpose, so a test can see that
//! `switchyard plugins` reports the plugin's own declaration.

use serde::Deserialize;
use switchyard_sdk::prelude::*;

/// The handler's `config: (...)` section; unknown fields are errors, not silently ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Bytes put before each reversed reply.
    pub prefix: String,
}

/// The longest prefix accepted: a reply must still fit a datagram.
const MAX_PREFIX: usize = 64;

/// Stateless apart from its prefix and a reusable reply buffer.
#[derive(Debug)]
pub struct Reverse {
    prefix: Vec<u8>,
    reply: Vec<u8>,
}

impl Protocol for Reverse {
    type Config = Config;
    const NAME: &'static str = "reverse";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "replies with the datagram's bytes reversed";
    const LISTENERS: Listeners = Listeners::UDP;

    fn new(config: Config, _ctx: &mut Ctx<'_>) -> Result<Self, String> {
        // A value check: `switchyard validate` runs `new` too, and places the caret on
        // the field this error names.
        if config.prefix.len() > MAX_PREFIX {
            let why = format!("at most {MAX_PREFIX} bytes, not {}", config.prefix.len());
            return Err(switchyard_sdk::ConfigError::field("prefix", why).into());
        }
        Ok(Reverse {
            prefix: config.prefix.into_bytes(),
            reply: Vec::new(),
        })
    }

    fn on_event(&mut self, ctx: &mut Ctx<'_>, event: Event<'_>) {
        if let Event::Datagram {
            socket, peer, data, ..
        } = event
        {
            self.reply.clear();
            self.reply.extend_from_slice(&self.prefix);
            self.reply.extend(data.iter().rev());
            let _ = ctx.send_datagram(socket, peer, &self.reply);
        }
    }
}

switchyard_sdk::declare_plugin!(Reverse);
