//! What a handler thread holds of the bus: the outbox for publishing, and the bus
//! thread and current connection for the subscriptions its plugin makes at run time
//! (`actor::calls::bus`).

use switchyard_bus::{Bus, BusError, BusMessage, ConnectionState};
use tokio::runtime::Handle;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::outbox::Outbox;
use super::streams::StreamSpecs;

/// How long a plugin's subscription waits for a connection before it fails.
const CONNECT_WAIT: std::time::Duration = std::time::Duration::from_secs(5);
/// How often a waiting subscription looks at the connection again.
const WAIT_STEP: std::time::Duration = std::time::Duration::from_millis(50);

/// A handler's access to the bus. Cheap to clone; `Send`.
#[derive(Debug, Clone)]
pub struct BusAccess {
    pub outbox: Outbox,
    pub(super) handle: Handle,
    pub(super) current: watch::Receiver<Option<Bus>>,
    /// The topology's streams now (a reload may change them).
    pub(super) streams: watch::Receiver<StreamSpecs>,
}

/// What a plugin's subscription produces, in order: `Done` once, then messages.
#[derive(Debug)]
pub enum SubscriptionItem {
    /// Subscribed (`Ok`), or why not.
    Done(Result<(), BusError>),
    /// A message on the subject.
    Message(BusMessage),
}

impl BusAccess {
    /// The host's name on the bus now (a reload may rename it), `None` without a bus.
    pub fn host_name(&self) -> Option<String> {
        self.current
            .borrow()
            .as_ref()
            .map(|bus| bus.host_name().to_owned())
    }

    /// Subscribe to `subject` on the bus thread, sending what comes into `tx` (whose
    /// bound holds the subscription back when the handler is slow: messages then
    /// wait in the client's buffer and beyond it are dropped as a slow consumer).
    /// When a reload replaces the connection (another name, servers or credentials),
    /// the subscription moves to the new one by itself: the plugin is not told, and
    /// the old connection is not kept alive by it.
    pub fn subscribe(
        &self,
        subject: String,
        own: bool,
        tx: mpsc::Sender<SubscriptionItem>,
    ) -> JoinHandle<()> {
        let mut current = self.current.clone();
        self.handle.spawn(async move {
            let bus = current.borrow_and_update().clone();
            let subscribed = match bus {
                Some(bus) => subscribe_when_connected(&bus, &subject, own).await,
                None => Err(BusError::Connect {
                    servers: String::new(),
                    reason: "the topology has no bus any more".into(),
                }),
            };
            let mut sub = match subscribed {
                Ok(sub) => sub,
                Err(e) => {
                    let _ = tx.send(SubscriptionItem::Done(Err(e))).await;
                    return;
                }
            };
            if tx.send(SubscriptionItem::Done(Ok(()))).await.is_err() {
                return;
            }
            loop {
                tokio::select! {
                    msg = sub.next() => {
                        let Some(msg) = msg else { return };
                        if tx.send(SubscriptionItem::Message(msg)).await.is_err() {
                            return;
                        }
                    }
                    changed = current.changed() => {
                        // The sender (the bus link) is gone: the host is stopping.
                        if changed.is_err() {
                            return;
                        }
                        let bus = current.borrow_and_update().clone();
                        // No bus any more: nothing more comes.
                        let Some(bus) = bus else { return };
                        match subscribe_when_connected(&bus, &subject, own).await {
                            Ok(again) => sub = again,
                            Err(_) => return,
                        }
                    }
                }
            }
        })
    }
}

/// A plugin's key-value operation, owned to cross to the bus thread.
#[derive(Debug, Clone)]
pub struct KvRequest {
    pub kind: switchyard_sdk::KvKind,
    pub bucket: String,
    pub key: String,
    pub value: bytes::Bytes,
    pub revision: u64,
    pub max_age: std::time::Duration,
}

impl BusAccess {
    /// Run `req` on the bus thread: the key's revision and (for a get) its value, or
    /// the error. The bucket is opened (created when missing) for each operation: no
    /// handle outlives a reconnection.
    pub fn kv(&self, req: KvRequest) -> JoinHandle<Result<(u64, bytes::Bytes), KvFailure>> {
        let current = self.current.clone();
        self.handle.spawn(async move {
            let bus = current.borrow().clone().ok_or(KvFailure::NoBus)?;
            if bus.state() != ConnectionState::Connected {
                return Err(KvFailure::NoBus);
            }
            let bucket = switchyard_bus::KvBucket::open(&bus, &req.bucket, req.max_age).await?;
            let none = bytes::Bytes::new();
            use switchyard_sdk::KvKind;
            match req.kind {
                KvKind::Get => match bucket.get(&req.key).await? {
                    Some(entry) => Ok((entry.revision, entry.value)),
                    None => Err(KvFailure::NotFound),
                },
                KvKind::Put => Ok((bucket.put(&req.key, req.value).await?, none)),
                KvKind::Create => Ok((bucket.create(&req.key, req.value).await?, none)),
                KvKind::Update => Ok((
                    bucket
                        .compare_and_set(&req.key, req.value, req.revision)
                        .await?,
                    none,
                )),
                KvKind::Delete => bucket
                    .delete(&req.key)
                    .await
                    .map(|()| (0, none))
                    .map_err(Into::into),
            }
        })
    }
}

/// Why a key-value operation did not do what it asked.
#[derive(Debug)]
pub enum KvFailure {
    /// Not connected to the bus (or no bus any more).
    NoBus,
    /// A get of a key with no live value.
    NotFound,
    /// What the bus said.
    Bus(BusError),
}

impl From<BusError> for KvFailure {
    fn from(e: BusError) -> KvFailure {
        KvFailure::Bus(e)
    }
}

/// Wait until `bus` is connected, [`CONNECT_WAIT`] at most.
pub(super) async fn connected_within_wait(bus: &Bus) -> Result<(), BusError> {
    let deadline = tokio::time::Instant::now() + CONNECT_WAIT;
    while bus.state() != ConnectionState::Connected {
        if tokio::time::Instant::now() >= deadline {
            return Err(BusError::Connect {
                servers: String::new(),
                reason: format!("not connected within {CONNECT_WAIT:?}"),
            });
        }
        tokio::time::sleep(WAIT_STEP).await;
    }
    Ok(())
}

/// The subscription once the bus is connected ([`CONNECT_WAIT`] at most).
async fn subscribe_when_connected(
    bus: &Bus,
    subject: &str,
    own: bool,
) -> Result<switchyard_bus::Subscription, BusError> {
    connected_within_wait(bus).await?;
    bus.subscribe(subject, own).await
}
