//! [`BusLink`]: the adapter's side of the cluster bus. It carries out the machine's
//! [`BusOut`]s through the host's bus calls (subscription tokens, key-value writes),
//! and turns the host's bus events back into machine inputs, refusing a message whose
//! type or version this chat does not know (logged, counted) instead of misreading it.

use std::collections::BTreeMap;

use switchyard_sdk::prelude::*;
use switchyard_sdk::{KvKind, KvOp};

use crate::machine::{BusOut, Chat, KvResult, KvWrite};
use crate::wire::{DeskNote, Presence, RoomNote, Subjects};

/// Subscription tokens start here (timers use small numbers; the spaces are apart).
const FIRST_TOKEN: u64 = 1 << 32;

/// Subscriptions and the counters of what went wrong on the bus.
#[derive(Debug, Default)]
pub struct BusLink {
    by_subject: BTreeMap<String, u64>,
    by_token: BTreeMap<u64, String>,
    next_token: u64,
    /// Subjects whose subscription failed: tried again at the next sweep.
    retry: Vec<String>,
    /// Publishes the host refused (its queue towards NATS full).
    pub dropped: u64,
}

impl BusLink {
    /// Carry out `out`; a key-value write the host refused at once is answered to
    /// `chat` as failed.
    pub fn carry_out(&mut self, ctx: &mut Ctx<'_>, chat: &mut Chat, now: u64, out: BusOut) {
        match out {
            BusOut::Publish {
                subject,
                type_name,
                data,
            } => {
                if ctx.bus_publish(&subject, type_name, &data).is_err() {
                    self.dropped += 1;
                    if self.dropped.is_power_of_two() {
                        ctx.warn(format_args!(
                            "{} chat messages for the bus dropped so far (its queue is full)",
                            self.dropped
                        ));
                    }
                }
            }
            BusOut::Subscribe { subject } => self.subscribe(ctx, subject),
            BusOut::Unsubscribe { subject } => {
                self.retry.retain(|s| *s != subject);
                if let Some(token) = self.by_subject.remove(&subject) {
                    self.by_token.remove(&token);
                    let _ = ctx.bus_unsubscribe(token);
                }
            }
            BusOut::Kv {
                token,
                bucket,
                max_age_secs,
                write,
            } => {
                let (kind, key, value, revision) = match &write {
                    KvWrite::Create { key, value } => (KvKind::Create, key, value.as_str(), 0),
                    KvWrite::Update {
                        key,
                        value,
                        revision,
                    } => (KvKind::Update, key, value.as_str(), *revision),
                    KvWrite::Delete { key } => (KvKind::Delete, key, "", 0),
                };
                let op = KvOp::new(kind, &bucket, key, max_age_secs)
                    .with_value(value.as_bytes())
                    .at_revision(revision);
                if let Err(e) = ctx.bus_kv(op, token) {
                    ctx.debug(format_args!("claim write refused by the host: {e}"));
                    chat.kv_done(now, token, KvResult::Failed);
                }
            }
        }
    }

    fn subscribe(&mut self, ctx: &mut Ctx<'_>, subject: String) {
        if self.by_subject.contains_key(&subject) {
            return;
        }
        self.next_token += 1;
        let token = FIRST_TOKEN + self.next_token;
        match ctx.bus_subscribe(&subject, false, token) {
            Ok(()) => {
                self.by_subject.insert(subject.clone(), token);
                self.by_token.insert(token, subject);
            }
            Err(e) => {
                ctx.warn(format_args!("bus subscription to {subject} failed: {e}"));
                self.retry.push(subject);
            }
        }
    }

    /// A subscription's answer: a failed one is tried again at the next sweep.
    pub fn subscribed(&mut self, ctx: &mut Ctx<'_>, token: u64, result: Result<(), HostError>) {
        if let Err(e) = result {
            if let Some(subject) = self.by_token.remove(&token) {
                ctx.warn(format_args!(
                    "bus subscription to {subject} failed ({e}); trying again"
                ));
                self.by_subject.remove(&subject);
                self.retry.push(subject);
            }
        }
    }

    /// Subscribe again to what failed.
    pub fn retry(&mut self, ctx: &mut Ctx<'_>) {
        for subject in std::mem::take(&mut self.retry) {
            self.subscribe(ctx, subject);
        }
    }

    /// Whether some subscription waits to be tried again.
    pub fn retrying(&self) -> bool {
        !self.retry.is_empty()
    }

    /// A message on subscription `token` from `from` (`host/handler`).
    pub fn deliver(
        &self,
        ctx: &mut Ctx<'_>,
        chat: &mut Chat,
        now: u64,
        (token, type_name, from): (u64, &str, &str),
        data: &[u8],
        subjects: &Subjects,
    ) {
        let Some(subject) = self.by_token.get(&token) else {
            return;
        };
        let host = from.split('/').next().unwrap_or(from);
        let (max_text, limits) = chat.note_limits();
        let taken = match type_name {
            DeskNote::TYPE => {
                decode(data, |n: &DeskNote| n.problem(max_text)).map(|n| chat.handle_desk(now, n))
            }
            RoomNote::TYPE => match subjects.room_of(subject) {
                Some(room) => decode(data, |n: &RoomNote| n.problem(max_text))
                    .map(|n| chat.handle_room(now, host, &room, n)),
                None => Ok(()),
            },
            Presence::TYPE => decode(data, |p: &Presence| p.problem(limits))
                .map(|p| chat.handle_presence(now, host, p)),
            _ => {
                let n = chat.refuse_note();
                if n.is_power_of_two() {
                    ctx.warn(format_args!(
                        "refused a bus message of type {type_name:?} from {from} on {subject}: \
                         this chat takes {}, {} and {} ({n} refused so far)",
                        DeskNote::TYPE,
                        RoomNote::TYPE,
                        Presence::TYPE
                    ));
                }
                return;
            }
        };
        if let Err(e) = taken {
            let n = chat.refuse_note();
            if n.is_power_of_two() {
                ctx.warn(format_args!(
                    "refused a {type_name} from {from}: {e} ({n} refused so far)"
                ));
            }
        }
    }
}

/// A note as JSON, then checked (`problem`): the note, or why it is refused.
fn decode<T: serde::de::DeserializeOwned>(
    data: &[u8],
    problem: impl FnOnce(&T) -> Option<String>,
) -> Result<T, String> {
    let note: T = serde_json::from_slice(data).map_err(|e| format!("undecodable: {e}"))?;
    match problem(&note) {
        Some(why) => Err(format!("not what a chat sends: {why}")),
        None => Ok(note),
    }
}
