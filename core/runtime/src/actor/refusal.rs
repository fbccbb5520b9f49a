//! A connection refused for a limit (`max_connections`, `max_connections_per_ip`): the
//! peer is told why in one line before the close, and the log says so once per address
//! per [`LOG_EVERY`], not once per connection.
//!
//! Why a line: the limits are the host's, checked before any plugin sees the
//! connection, so no protocol reply can come; a bare close reads as "Broken pipe" to a
//! user. The handler's `limits: (refusal: "...")` names the line (a protocol whose
//! clients read something else can give that); the default is plain text, which the
//! example clients print (exit 75). Why rate-limited: a client retrying in a loop made
//! one warning per attempt (228 lines in one test).
//!
//! The line is written by a task of its own, bounded in time and in number, so a
//! flood of refused connections neither blocks the actor nor holds sockets for long:
//! write, half-close, then read and discard what the peer had already sent (closing
//! with unread bytes would reset the connection and could destroy the line before
//! the peer reads it).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::topology::Limits;

/// The line for `max_connections_per_ip` unless the handler names one.
pub const PER_ADDRESS_LINE: &str = "too many connections from your address, try later";
/// The line for `max_connections` unless the handler names one.
pub const TOTAL_LINE: &str = "server busy: too many connections, try later";
/// One log line per address this often at most.
pub const LOG_EVERY: Duration = Duration::from_secs(10);
/// Refusals being written at once, per process; beyond it a refused connection is
/// just closed.
const MAX_IN_FLIGHT: usize = 256;
/// How long one refusal may take, writing and then draining.
const STEP_TIMEOUT: Duration = Duration::from_millis(500);
/// Bytes of the peer's read and dropped, at most, before the close.
const DRAIN_BYTES: usize = 256 * 1024;
/// Addresses remembered for the rate limit before old ones are forgotten.
const MAX_REMEMBERED: usize = 4096;

static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

/// The line (with its LF) for a refusal by `limit`.
pub fn line(limits: &Limits, limit: &str) -> Vec<u8> {
    let text = match (&limits.refusal, limit) {
        (Some(own), _) => own.as_str(),
        (None, "max_connections") => TOTAL_LINE,
        (None, _) => PER_ADDRESS_LINE,
    };
    let mut line = text.as_bytes().to_vec();
    line.push(b'\n');
    line
}

/// Refusals per address, to log one line per [`LOG_EVERY`].
#[derive(Debug, Default)]
pub struct RefusalLog {
    seen: HashMap<IpAddr, Seen>,
}

#[derive(Debug)]
struct Seen {
    logged: Instant,
    /// Refusals since that line.
    since: u64,
}

impl RefusalLog {
    /// Count a refusal of `ip` at `now`: `Some(n)` when a line is due, `n` being the
    /// refusals of `ip` not logged since the last one.
    pub fn note(&mut self, ip: IpAddr, now: Instant) -> Option<u64> {
        if self.seen.len() >= MAX_REMEMBERED && !self.seen.contains_key(&ip) {
            self.seen
                .retain(|_, s| now.duration_since(s.logged) < LOG_EVERY);
            if self.seen.len() >= MAX_REMEMBERED {
                self.seen.clear();
            }
        }
        match self.seen.get_mut(&ip) {
            Some(s) if now.duration_since(s.logged) < LOG_EVERY => {
                s.since += 1;
                None
            }
            Some(s) => {
                let skipped = s.since;
                (s.logged, s.since) = (now, 0);
                Some(skipped)
            }
            None => {
                self.seen.insert(
                    ip.to_canonical(),
                    Seen {
                        logged: now,
                        since: 0,
                    },
                );
                Some(0)
            }
        }
    }
}

/// Write `line` to `stream` and close it, on a task of its own (on this thread's
/// runtime); just close it when too many refusals are under way.
pub fn send_and_close(stream: TcpStream, line: Vec<u8>) {
    if IN_FLIGHT.fetch_add(1, Ordering::Relaxed) >= MAX_IN_FLIGHT {
        IN_FLIGHT.fetch_sub(1, Ordering::Relaxed);
        return; // dropping the stream closes it
    }
    actix::spawn(async move {
        let mut stream = stream;
        let wrote = tokio::time::timeout(STEP_TIMEOUT, stream.write_all(&line)).await;
        if matches!(wrote, Ok(Ok(()))) {
            let _ = stream.shutdown().await;
            let mut sink = [0u8; 16 * 1024];
            let mut left = DRAIN_BYTES;
            let drain = async {
                while left > 0 {
                    match stream.read(&mut sink).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => left = left.saturating_sub(n),
                    }
                }
            };
            let _ = tokio::time::timeout(STEP_TIMEOUT, drain).await;
        }
        IN_FLIGHT.fetch_sub(1, Ordering::Relaxed);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_address_per_period_with_the_count_skipped() {
        let mut log = RefusalLog::default();
        let t0 = Instant::now();
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        assert_eq!(log.note(a, t0), Some(0));
        for i in 0..5 {
            assert_eq!(log.note(a, t0 + Duration::from_millis(i)), None);
        }
        assert_eq!(log.note(b, t0), Some(0), "another address logs on its own");
        assert_eq!(log.note(a, t0 + LOG_EVERY), Some(5));
        assert_eq!(log.note(a, t0 + LOG_EVERY), None);
    }

    #[test]
    fn the_line_is_the_handlers_or_the_default_for_the_limit() {
        let mut limits = Limits::default();
        assert_eq!(
            line(&limits, "max_connections_per_ip"),
            format!("{PER_ADDRESS_LINE}\n").into_bytes()
        );
        assert_eq!(
            line(&limits, "max_connections"),
            format!("{TOTAL_LINE}\n").into_bytes()
        );
        limits.refusal = Some("ERR 503 busy".into());
        assert_eq!(line(&limits, "max_connections"), b"ERR 503 busy\n");
    }
}
