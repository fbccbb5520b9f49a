//! Running on several workers: what a plugin declares ([`Sharding`],
//! [`InputDelivery`]) and the counters its instances share ([`Ctx::take_count`]).
//!
//! A handler's `workers: N` runs N threads, each with its own instances, so one
//! protocol can use every core. Why a declaration: the host cannot know whether a
//! plugin's instance holds state that every peer must see (chat rooms) or state that
//! splits cleanly by peer (TFTP transfers). A plugin that says nothing runs on one
//! worker, as before. What a sharded plugin may assume is said on each variant and in
//! the header (`SY_SHARD_*`).

use crate::abi::{self, SyStr};
use crate::ctx::Ctx;
use crate::error::HostError;

/// Whether a handler of this plugin may run on several workers, and which worker gets
/// what. Every variant keeps these promises: calls into one instance are never
/// concurrent; a connection stays with the instance it was given to; the host's
/// per-handler limits (`max_connections`, `max_connections_per_ip`) are counted across
/// the workers. A sharded instance must not assume it sees every peer, nor that another
/// instance's state is visible to it: a limit of its own that must hold across workers
/// is kept with [`Ctx::take_count`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sharding {
    /// One worker: the instance's state is global (chat rooms, a key/value store).
    /// The default, and what a plugin built before sharding existed gets.
    None,
    /// Any worker: connections go to the least loaded one; all the datagrams of one
    /// peer address (IP and port) reach the same instance, in order. For per-connection
    /// plugins (files, bulk), and per-handler ones whose state splits by peer. A
    /// datagram on a listener then costs a hop between threads for all but one worker's
    /// share (worker 0 reads the listeners): worth it for work per request, not for a
    /// plugin that answers each datagram at once (echo stays on one worker).
    Any,
    /// Everything from one client IP, datagrams and connections, reaches one worker's
    /// instance, so per-client limits kept in the instance stay exact (TFTP).
    PeerIp,
}

impl Sharding {
    pub const fn raw(self) -> u32 {
        match self {
            Sharding::None => abi::SY_SHARD_NONE,
            Sharding::Any => abi::SY_SHARD_ANY,
            Sharding::PeerIp => abi::SY_SHARD_PEER_IP,
        }
    }
}

/// Where a typed message sent to a sharded handler goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputDelivery {
    /// To one worker, each message to the next in turn (work to share out).
    OneWorker,
    /// A copy to every worker (news every instance must know, e.g. a file changed).
    EveryWorker,
}

impl InputDelivery {
    pub const fn raw(self) -> u32 {
        match self {
            InputDelivery::OneWorker => abi::SY_INPUT_ONE_WORKER,
            InputDelivery::EveryWorker => abi::SY_INPUT_EVERY_WORKER,
        }
    }
}

impl Ctx<'_> {
    /// Take one unit of the handler-wide counter `name` if fewer than `limit` are
    /// taken; the count after taking it, or [`HostError::Limit`] (nothing taken).
    /// Shared by every worker of the handler and across reloads (a retiring instance's
    /// units still count), so a limit such as "transfers in flight, all clients
    /// together" holds exactly however the peers are sharded. What an instance still
    /// holds when it is destroyed (a panic included) is given back by the host. An
    /// older host without counters answers [`HostError::Unsupported`]: the SDK refuses
    /// such hosts at `create`, so a plugin only meets it from a test host.
    pub fn take_count(&mut self, name: &str, limit: u64) -> Result<u64, HostError> {
        let mut value = 0u64;
        // SAFETY: `name` and `value` outlive the call.
        let status =
            unsafe { (self.api.counter_take)(self.raw, SyStr::from_str(name), limit, &mut value) };
        HostError::check(status).map(|()| value)
    }

    /// Give back one unit of `name` taken with [`Ctx::take_count`].
    pub fn give_count(&mut self, name: &str) -> Result<(), HostError> {
        // SAFETY: `name` outlives the call.
        HostError::check(unsafe { (self.api.counter_give)(self.raw, SyStr::from_str(name)) })
    }
}
