//! [`Cursor`]: where the transcript stands in the stream it is written from, so each
//! stream message becomes exactly one record across restarts.
//!
//! The transcript itself is the position: every record read from a stream carries its
//! `"seq"`, commits are atomic (a committed segment holds whole lines), and sequences
//! only grow in the transcript. So the last `"seq"` of the newest segment that has one
//! is the last message committed; a restarted instance reads the stream from the one
//! after. What was committed is never read again; what was accepted but lost
//! uncommitted (a kill) was not committed, so it is read again. Why not a durable
//! consumer with acknowledgements: `docs/decisions/cluster-transcript.md`.

/// What to do with a stream message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Take {
    /// At or below the last sequence taken: written already.
    Skip,
    /// Write it; `gap` messages before it are no longer in the stream (its bounds
    /// removed them before they were read).
    Record { gap: u64 },
}

/// The last stream sequence taken into the transcript.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Cursor {
    last: u64,
}

impl Cursor {
    /// A cursor after `last` (0: nothing taken yet).
    pub fn after(last: u64) -> Cursor {
        Cursor { last }
    }

    /// The sequence to read the stream from.
    pub fn start(&self) -> u64 {
        self.last + 1
    }

    /// The last sequence taken (0: none).
    pub fn last(&self) -> u64 {
        self.last
    }

    /// Take message `sequence`, or skip it.
    pub fn take(&mut self, sequence: u64) -> Take {
        if sequence <= self.last {
            return Take::Skip;
        }
        let gap = sequence - self.last - 1;
        self.last = sequence;
        Take::Record { gap }
    }
}

/// The `"seq"` of the last record in `segment` (whole JSON lines) that has one.
pub fn last_sequence(segment: &[u8]) -> Option<u64> {
    segment
        .split(|b| *b == b'\n')
        .rev()
        .filter(|line| !line.is_empty())
        .find_map(|line| {
            let value: serde_json::Value = serde_json::from_slice(line).ok()?;
            value.get("seq")?.as_u64()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_at_or_below_the_last_are_skipped_and_gaps_counted() {
        let mut c = Cursor::after(10);
        assert_eq!(c.start(), 11);
        assert_eq!(c.take(9), Take::Skip);
        assert_eq!(c.take(10), Take::Skip);
        assert_eq!(c.take(11), Take::Record { gap: 0 });
        assert_eq!(c.take(15), Take::Record { gap: 3 });
        assert_eq!(c.take(12), Take::Skip);
        assert_eq!((c.last(), c.start()), (15, 16));
        let mut fresh = Cursor::default();
        assert_eq!(fresh.start(), 1);
        assert_eq!(fresh.take(5), Take::Record { gap: 4 }, "1..4 removed");
    }

    #[test]
    fn the_last_sequence_is_the_last_line_that_has_one() {
        let segment =
            b"{\"seq\":3,\"data\":1}\n{\"seq\":4}\n{\"handler_port\":\"chat.messages\"}\n";
        assert_eq!(last_sequence(segment), Some(4));
        assert_eq!(last_sequence(b"{\"data\":1}\n"), None);
        assert_eq!(last_sequence(b""), None);
    }
}
