//! [`FromStream`]: the audit's read of a stream of the bus, the host calls around the
//! [`Cursor`] (start and retry the read, take each message once, find the last
//! committed sequence in the newest segments at start).

use std::time::Duration;

use switchyard_sdk::prelude::*;

use crate::cursor::{self, Cursor, Take};
use crate::record;

/// The stream read's token.
pub(crate) const STREAM_TOKEN: u64 = 1;
/// The timer of the next attempt to start the stream read.
pub(crate) const READ_RETRY_TIMER: u64 = 2;
/// How long after a failed start the stream read is tried again.
const READ_RETRY: Duration = Duration::from_secs(1);

/// The stream the transcript is written from, and where it stands in it.
#[derive(Debug)]
pub struct FromStream {
    name: String,
    cursor: Cursor,
    /// The read ended for good (drain, or handed over to a successor).
    ended: bool,
}

impl FromStream {
    /// Stream `name`, after the last sequence committed in `segments` (newest first).
    pub fn new(ctx: &mut Ctx<'_>, name: String, segments: &[String]) -> Result<Self, String> {
        Ok(FromStream {
            name,
            cursor: Cursor::after(last_committed(ctx, segments)?),
            ended: false,
        })
    }

    /// The last sequence taken (0: none).
    pub fn last(&self) -> u64 {
        self.cursor.last()
    }

    /// Take over a predecessor's position when it is further on (it committed what
    /// it took before handing over).
    pub fn continue_after(&mut self, last: u64) {
        if last > self.cursor.last() {
            self.cursor = Cursor::after(last);
        }
    }

    /// Read the stream from after the last sequence taken (at start, and retried).
    pub fn start(&mut self, ctx: &mut Ctx<'_>) {
        if self.ended {
            return;
        }
        let name = &self.name;
        match ctx.bus_stream_read(name, self.cursor.start(), STREAM_TOKEN) {
            Ok(()) => {}
            Err(e @ (HostError::NotFound | HostError::Unsupported)) => ctx.error(format_args!(
                "cannot read stream {name:?} ({e}): the topology's bus has no such stream"
            )),
            Err(e) => retry(ctx, name, e),
        }
    }

    /// The host answered the start of the read.
    pub fn started(&mut self, ctx: &mut Ctx<'_>, result: Result<(), HostError>) {
        match result {
            Ok(()) => ctx.info(format_args!(
                "transcript reads stream {:?} from sequence {}",
                self.name,
                self.cursor.start()
            )),
            Err(e) => retry(ctx, &self.name, e),
        }
    }

    /// End the read: what is not read stays in the stream for whoever reads on.
    pub fn end(&mut self, ctx: &mut Ctx<'_>) {
        if !self.ended {
            self.ended = true;
            let _ = ctx.bus_unsubscribe(STREAM_TOKEN);
        }
    }

    /// The record line of stream message `sequence`, or `None` when the transcript
    /// has it already. A gap before it is said in a WARN line.
    pub fn take(
        &mut self,
        ctx: &mut Ctx<'_>,
        sequence: u64,
        from: &str,
        type_name: &str,
        data: &[u8],
    ) -> Option<Vec<u8>> {
        let last = self.cursor.last();
        match self.cursor.take(sequence) {
            Take::Skip => return None,
            Take::Record { gap: 0 } => {}
            Take::Record { gap } => ctx.warn(format_args!(
                "stream {:?} no longer held {gap} messages (sequences {} to {}): its size or age bound removed them before they were written",
                self.name,
                last + 1,
                sequence - 1
            )),
        }
        let stored = record::Stored {
            seq: sequence,
            from,
        };
        Some(record::encode_stored(
            ctx.now_unix_ms(),
            stored,
            type_name,
            data,
        ))
    }
}

fn retry(ctx: &mut Ctx<'_>, name: &str, e: HostError) {
    ctx.warn(format_args!(
        "reading stream {name:?} failed ({e}); retrying"
    ));
    let _ = ctx.set_timer(READ_RETRY_TIMER, READ_RETRY);
}

/// The last stream sequence committed: the last `"seq"` of the newest of `segments`
/// (newest first) that has one; 0 when none has.
fn last_committed(ctx: &mut Ctx<'_>, segments: &[String]) -> Result<u64, String> {
    for path in segments {
        let data = read_all(ctx, path).map_err(|e| format!("cannot read {path}: {e}"))?;
        if let Some(seq) = cursor::last_sequence(&data) {
            return Ok(seq);
        }
    }
    Ok(0)
}

/// The whole of file `path`.
fn read_all(ctx: &mut Ctx<'_>, path: &str) -> Result<Vec<u8>, HostError> {
    let (file, size) = ctx.open_read(path)?;
    let mut data = vec![0u8; usize::try_from(size).unwrap_or(usize::MAX)];
    let mut at = 0;
    let result = loop {
        if at == data.len() {
            break Ok(());
        }
        match ctx.read_file(file, at as u64, &mut data[at..]) {
            Ok(0) => break Ok(()),
            Ok(n) => at += n,
            Err(e) => break Err(e),
        }
    };
    let _ = ctx.close_file(file);
    data.truncate(at);
    result.map(|()| data)
}
