//! A plugin's read of one of the topology's streams (`bus_stream_read`): a task on the
//! bus thread that pulls the stream in order from a sequence and hands each message
//! to the handler through a bounded channel.
//!
//! Why it holds up: the position is the task's own (the sequence after the last
//! message handed over), so a NATS restart, a lost connection or a reload that
//! replaces the connection only makes it pull again from there ([`StreamCursor`]);
//! nothing is handed over twice and nothing is skipped but what the stream itself no
//! longer holds. A slow handler holds the read back: the task waits on the full
//! channel and pulls no further, so the messages wait in NATS, never in the host's
//! memory (at most one batch and the channel's bound per read).

use std::time::Duration;

use switchyard_bus::{BusError, StoredMessage, StreamCursor};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::access::{BusAccess, connected_within_wait};

/// First pause after a failed pull; it doubles up to [`RETRY_MAX`].
const RETRY_FIRST: Duration = Duration::from_millis(50);
const RETRY_MAX: Duration = Duration::from_secs(1);
/// How long a new read waits for its stream to be made (the host makes it at each
/// connection, possibly just now).
const STREAM_WAIT: Duration = Duration::from_secs(5);

/// What a stream read produces, in order: `Done` once, then messages.
#[derive(Debug)]
pub enum StreamItem {
    /// The read started (`Ok`), or why not.
    Done(Result<(), BusError>),
    /// The next message of the stream.
    Message(StoredMessage),
}

impl BusAccess {
    /// Whether the topology has stream `name`.
    pub fn has_stream(&self, name: &str) -> bool {
        self.streams.borrow().iter().any(|s| s.name == name)
    }

    /// Read stream `stream` from sequence `start` on the bus thread into `tx`, until
    /// `tx` is closed or the task aborted; across reconnections and a reload that
    /// replaces the connection, from the message after the last one sent.
    pub fn stream_read(
        &self,
        stream: String,
        start: u64,
        tx: mpsc::Sender<StreamItem>,
    ) -> JoinHandle<()> {
        let mut current = self.current.clone();
        self.handle.spawn(async move {
            let bus = current.borrow_and_update().clone();
            let Some(bus) = bus else {
                let gone = BusError::Connect {
                    servers: String::new(),
                    reason: "the topology has no bus any more".into(),
                };
                let _ = tx.send(StreamItem::Done(Err(gone))).await;
                return;
            };
            let mut cursor = StreamCursor::new(&bus, &stream, start);
            let opened = match connected_within_wait(&bus).await {
                Ok(()) => open_within_wait(&mut cursor).await,
                Err(e) => Err(e),
            };
            let failed = opened.is_err();
            if tx.send(StreamItem::Done(opened)).await.is_err() || failed {
                return;
            }
            let mut pause = RETRY_FIRST;
            loop {
                match current.has_changed() {
                    // The sender (the bus link) is gone: the host is stopping.
                    Err(_) => return,
                    Ok(true) => {
                        let bus = current.borrow_and_update().clone();
                        // No bus any more: nothing more comes.
                        let Some(bus) = bus else { return };
                        cursor.rebind(&bus);
                    }
                    Ok(false) => {}
                }
                match cursor.next().await {
                    Ok(Some(msg)) => {
                        pause = RETRY_FIRST;
                        if tx.send(StreamItem::Message(msg)).await.is_err() {
                            return;
                        }
                    }
                    Ok(None) => pause = RETRY_FIRST,
                    Err(_) => {
                        tokio::time::sleep(pause).await;
                        pause = (pause * 2).min(RETRY_MAX);
                    }
                }
            }
        })
    }
}

/// Open `cursor`, waiting up to [`STREAM_WAIT`] for its stream to be made.
async fn open_within_wait(cursor: &mut StreamCursor) -> Result<(), BusError> {
    let deadline = tokio::time::Instant::now() + STREAM_WAIT;
    loop {
        match cursor.open().await {
            Ok(()) => return Ok(()),
            Err(e) if tokio::time::Instant::now() >= deadline => return Err(e),
            Err(_) => tokio::time::sleep(RETRY_FIRST * 4).await,
        }
    }
}
