//! The [`Ctx`] calls of the cluster bus: publish on a subject, subscribe and
//! unsubscribe at run time. Plugins stay sans-I/O: the host owns the NATS connection,
//! and a subscription answers by events ([`crate::Event::BusDone`], then
//! [`crate::Event::BusMessage`]s).

use crate::abi::{self, SyBytes, SyStr};
use crate::ctx::Ctx;
use crate::error::HostError;
use crate::messages::Message;

impl Ctx<'_> {
    /// Publish `data` on bus `subject`, typed `type_name` (with its schema version,
    /// e.g. `switchyard.ChatMessage/1`; empty for untyped bytes). At most once, no
    /// answer; [`HostError::Busy`] when the host's queue towards NATS is full (the
    /// message is dropped), [`HostError::Unsupported`] without a bus.
    pub fn bus_publish(
        &mut self,
        subject: &str,
        type_name: &str,
        data: &[u8],
    ) -> Result<(), HostError> {
        // SAFETY: the strings and bytes are valid for the call.
        HostError::check(unsafe {
            (self.api.bus_publish)(
                self.raw,
                SyStr::from_str(subject),
                SyStr::from_str(type_name),
                SyBytes::from_slice(data),
            )
        })
    }

    /// [`Ctx::bus_publish`] of a typed message, as JSON under its type name.
    pub fn bus_publish_message<M: Message>(
        &mut self,
        subject: &str,
        msg: &M,
    ) -> Result<(), HostError> {
        let data = serde_json::to_vec(msg).map_err(|_| HostError::Invalid)?;
        self.bus_publish(subject, M::TYPE, &data)
    }

    /// Subscribe to bus `subject` as `token` (unique among this instance's
    /// subscriptions); `own`: this host's messages too. `Ok`: [`crate::Event::BusDone`]
    /// with `token` says when the server has it.
    pub fn bus_subscribe(&mut self, subject: &str, own: bool, token: u64) -> Result<(), HostError> {
        let flags = if own { abi::SY_BUS_OWN } else { 0 };
        // SAFETY: the subject is valid for the call.
        let status =
            unsafe { (self.api.bus_subscribe)(self.raw, SyStr::from_str(subject), flags, token) };
        match status {
            abi::SY_PENDING | abi::SY_OK => Ok(()),
            other => Err(HostError::from_status(other)),
        }
    }

    /// Start key-value operation `op` as `token` (unique among this instance's
    /// operations in flight): `Ok`, then [`crate::Event::BusKvDone`] with `token`.
    pub fn bus_kv(&mut self, op: crate::KvOp<'_>, token: u64) -> Result<(), HostError> {
        let raw = op.to_raw();
        // SAFETY: `raw` and what it borrows are valid for the call.
        match unsafe { (self.api.bus_kv_begin)(self.raw, &raw, token) } {
            abi::SY_PENDING | abi::SY_OK => Ok(()),
            other => Err(HostError::from_status(other)),
        }
    }

    /// This handler's name on the bus, `host/handler`: what other hosts see as the
    /// `from` of its messages, so an answer can be addressed to it (a subject with
    /// this name in it). [`HostError::Unsupported`] without a bus.
    pub fn bus_identity(&mut self) -> Result<String, HostError> {
        let mut buf = vec![0u8; 256];
        loop {
            let mut len = 0usize;
            // SAFETY: `buf` is writable for its length during the call.
            let status =
                unsafe { (self.api.bus_identity)(self.raw, buf.as_mut_ptr(), buf.len(), &mut len) };
            match status {
                abi::SY_OK => {
                    buf.truncate(len.min(buf.len()));
                    return String::from_utf8(buf).map_err(|_| HostError::Invalid);
                }
                abi::SY_ERR_LIMIT if len > buf.len() && len <= 64 * 1024 => {
                    buf.resize(len, 0);
                }
                other => return Err(HostError::from_status(other)),
            }
        }
    }

    /// Read stream `stream` (a name of the topology's `bus.streams`) from stream
    /// sequence `start` (1: the oldest kept) as `token`, which shares the subscription
    /// tokens ([`Ctx::bus_unsubscribe`] ends it): `Ok`, then [`crate::Event::BusDone`],
    /// then an [`crate::Event::StreamMessage`] per message in stream order, later ones
    /// included. A reader that keeps the last sequence with what it wrote reads each
    /// message exactly once across its restarts: it starts again after that sequence.
    pub fn bus_stream_read(
        &mut self,
        stream: &str,
        start: u64,
        token: u64,
    ) -> Result<(), HostError> {
        // SAFETY: the name is valid for the call.
        let status =
            unsafe { (self.api.bus_stream_read)(self.raw, SyStr::from_str(stream), start, token) };
        match status {
            abi::SY_PENDING | abi::SY_OK => Ok(()),
            other => Err(HostError::from_status(other)),
        }
    }

    /// End subscription `token`: none of its messages is delivered after this call.
    pub fn bus_unsubscribe(&mut self, token: u64) -> Result<(), HostError> {
        // SAFETY: plain values.
        HostError::check(unsafe { (self.api.bus_unsubscribe)(self.raw, token) })
    }
}
