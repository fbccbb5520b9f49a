//! What the operator console asks an actor: the sessions it holds ([`ListSessions`])
//! and to cancel one ([`CancelSession`]).
//!
//! Why ask instead of having actors publish: the session table lives on the actor's
//! thread and changes on every `session_update`; copying it out costs only when an
//! operator looks (the console asks at most twice a second), never on the hot path.
//! A handler actor answers for itself and its per-connection actors, which live on
//! its thread and are asked in turn.

use actix::{Context, Handler, Message, ResponseFuture};
use slog::info;

use super::InstanceActor;
use super::event::HostEvent;
use super::instance_actor::Role;
use super::resources::Out;
use super::sessions::SessionRecord;
use crate::console::model::SessionView;

/// Every session this actor (and, for a handler actor, its connection actors) holds.
#[derive(Debug, Clone, Copy)]
pub struct ListSessions;

impl Message for ListSessions {
    type Result = Vec<SessionView>;
}

/// Cancel session `key` of the actor named `actor` (0: the handler actor itself, else
/// a connection actor's id): the plugin gets `SY_EV_SESSION_CANCEL`. Answers whether
/// such a session was found.
#[derive(Debug, Clone, Copy)]
pub struct CancelSession {
    pub actor: u64,
    pub key: u64,
}

impl Message for CancelSession {
    type Result = bool;
}

impl InstanceActor {
    /// 0 for a handler actor, the connection id for a connection actor.
    fn console_id(&self) -> u64 {
        match self.role {
            Role::Handler => 0,
            Role::Connection { id } => id,
        }
    }

    fn session_views(&self) -> Vec<SessionView> {
        let actor = self.console_id();
        let worker = self.shared.worker;
        self.res
            .sessions
            .iter()
            .map(|(key, r)| view(&self.shared.name, format!("{worker}.{actor}.{key}"), r))
            .collect()
    }
}

fn view(handler: &str, id: String, r: &SessionRecord) -> SessionView {
    let elapsed = r.started.elapsed();
    let bytes_done = r.bytes_done();
    let ms = elapsed.as_millis().max(1) as u64;
    SessionView {
        id,
        handler: handler.to_owned(),
        peer: r.peer.map(|p| p.to_string()).unwrap_or_default(),
        resource: r.resource.clone(),
        state: r.state.clone(),
        direction: r.direction.as_str(),
        bytes_done,
        bytes_total: r.bytes_total,
        rate_bps: bytes_done.saturating_mul(1000) / ms,
        elapsed_ms: ms,
    }
}

impl Handler<ListSessions> for InstanceActor {
    type Result = ResponseFuture<Vec<SessionView>>;
    fn handle(&mut self, msg: ListSessions, _ctx: &mut Context<Self>) -> Self::Result {
        let mut own = self.session_views();
        let children: Vec<_> = match self.role {
            Role::Handler => self.children.borrow().values().cloned().collect(),
            Role::Connection { .. } => Vec::new(),
        };
        Box::pin(async move {
            for child in children {
                if let Ok(theirs) = child.send(msg).await {
                    own.extend(theirs);
                }
            }
            own
        })
    }
}

impl Handler<CancelSession> for InstanceActor {
    type Result = ResponseFuture<bool>;
    fn handle(&mut self, msg: CancelSession, ctx: &mut Context<Self>) -> Self::Result {
        if msg.actor == self.console_id() {
            let found = self.res.sessions.iter().find(|(k, _)| *k == msg.key);
            let conn = found.and_then(|(_, r)| r.conn());
            let found = found.is_some();
            if found {
                info!(self.shared.log, "session cancelled by the operator"; "session" => msg.key);
                // As at a drain deadline: a file send under way stops where it is, so
                // the plugin's error reply goes out next, not after the rest of a file.
                if let Some(c) = conn.and_then(|id| self.res.conns.get_mut(&id)) {
                    c.out.retain(|o| !matches!(o, Out::File { .. }));
                }
                self.deliver(HostEvent::SessionCancel { key: msg.key }, ctx);
                if let Some(id) = conn {
                    self.flush(id, ctx);
                }
            }
            return Box::pin(async move { found });
        }
        let child = match self.role {
            Role::Handler => self.children.borrow().get(&msg.actor).cloned(),
            Role::Connection { .. } => None,
        };
        Box::pin(async move {
            match child {
                Some(child) => child.send(msg).await.unwrap_or(false),
                None => false,
            }
        })
    }
}
