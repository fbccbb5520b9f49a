//! # switchyard-chat — UDP support desk and room chat
//!
//! The seed's visitor/operator chat, rebuilt as a plugin: visitors send plain UTF-8
//! datagrams (the seed client works unchanged) and always get a reply, from an agent or
//! an automatic one; any number of authenticated agents see every visitor's messages
//! tagged with a short id, answer, take over and list who is waiting; anyone can
//! talk in rooms. Every chat line is also published as a typed `ChatMessage` on the
//! `messages` port (route it to the `audit` plugin for a transcript). The wire
//! commands are documented in this crate's README.
//!
//! Bad input (too long, not UTF-8, unknown command, flood) gets an error reply and
//! never stops the server; a failed send never stops a fan-out.
//!
//! # Layout
//! - [`codec`]: datagram -> [`codec::Request`] with a [`codec::CodecError`] for every
//!   malformed form, and the server's reply lines (shared with the client through
//!   the rlib).
//! - [`config`]: the handler's config, with safe defaults and validation.
//! - [`machine`]: the chat as a deterministic state machine on a manual clock
//!   (inputs + now in, outputs + next deadline out).
//! - [`handover`]: the state handed over across a reload, as bytes, per version.
//! - `plugin`: the `Protocol` impl, a thin adapter from host events to the machine.
//! - `described`: the sessions described to the host for its operator console.
//! - `bus_link`: the adapter's side of the cluster bus (subscriptions, claims, types
//!   refused).
//! - [`wire`]: what clustered chats tell each other over the bus (typed, versioned).

mod bus_link;
pub mod codec;
pub mod config;
mod described;
pub mod handover;
pub mod machine;
mod plugin;
pub mod wire;

pub use plugin::{ChatPlugin, MESSAGES_PORT};

switchyard_sdk::declare_plugin!(ChatPlugin);

#[cfg(test)]
mod plugin_cluster_tests;
