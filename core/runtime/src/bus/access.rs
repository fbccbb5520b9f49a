//! What a handler thread holds of the bus: the outbox for publishing, and the bus
//! thread and current connection for the subscriptions its plugin makes at run time
//! (`actor::calls::bus`).

use switchyard_bus::{Bus, BusError, BusMessage, ConnectionState};
use tokio::runtime::Handle;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::outbox::Outbox;

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
    /// Subscribe to `subject` on the bus thread, sending what comes into `tx` (whose
    /// bound holds the subscription back when the handler is slow: messages then
    /// wait in the client's buffer and beyond it are dropped as a slow consumer).
    pub fn subscribe(
        &self,
        subject: String,
        own: bool,
        tx: mpsc::Sender<SubscriptionItem>,
    ) -> JoinHandle<()> {
        let current = self.current.clone();
        self.handle.spawn(async move {
            let bus = current.borrow().clone();
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
            while let Some(msg) = sub.next().await {
                if tx.send(SubscriptionItem::Message(msg)).await.is_err() {
                    return;
                }
            }
        })
    }
}

/// The subscription once the bus is connected ([`CONNECT_WAIT`] at most).
async fn subscribe_when_connected(
    bus: &Bus,
    subject: &str,
    own: bool,
) -> Result<switchyard_bus::Subscription, BusError> {
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
    bus.subscribe(subject, own).await
}
