//! When to probe the server and when to give up, on a manual clock.
//!
//! Chat text is never retransmitted (a retry could post a line twice). Instead,
//! whenever the server has been silent for `timeout` since we last sent, the client
//! sends `/ping`; after `retries` unanswered probes it gives up. An idle client also
//! pings every `keepalive` so that the server does not expire its session.

/// What the client should do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Wait,
    Probe,
    GiveUp,
}

/// Liveness of the server, as seen by one client.
#[derive(Debug)]
pub struct Liveness {
    timeout_ms: u64,
    retries: u32,
    keepalive_ms: u64,
    /// When we sent something the server has not acknowledged with any datagram.
    unanswered_since: Option<u64>,
    probes: u32,
    last_sent: u64,
}

impl Liveness {
    pub fn new(timeout_ms: u64, retries: u32, keepalive_ms: u64, now: u64) -> Liveness {
        Liveness {
            timeout_ms,
            retries,
            keepalive_ms,
            unanswered_since: None,
            probes: 0,
            last_sent: now,
        }
    }

    /// We sent a datagram.
    pub fn sent(&mut self, now: u64) {
        self.last_sent = now;
        self.unanswered_since.get_or_insert(now);
    }

    /// The server sent us something: it is alive.
    pub fn heard(&mut self) {
        self.unanswered_since = None;
        self.probes = 0;
    }

    /// Probes sent without an answer so far.
    pub fn probes(&self) -> u32 {
        self.probes
    }

    /// Decide; on [`Step::Probe`] the caller sends `/ping` (and calls [`Liveness::sent`]).
    pub fn tick(&mut self, now: u64) -> Step {
        match self.unanswered_since {
            Some(since) if now.saturating_sub(since) >= self.timeout_ms => {
                if self.probes >= self.retries {
                    return Step::GiveUp;
                }
                self.probes += 1;
                self.unanswered_since = Some(now);
                self.last_sent = now;
                Step::Probe
            }
            Some(_) => Step::Wait,
            None if now.saturating_sub(self.last_sent) >= self.keepalive_ms => {
                self.unanswered_since = Some(now);
                self.last_sent = now;
                Step::Probe
            }
            None => Step::Wait,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_after_a_send_is_probed_then_given_up() {
        let mut l = Liveness::new(1000, 2, 60_000, 0);
        l.sent(0);
        assert_eq!(l.tick(999), Step::Wait);
        assert_eq!(l.tick(1000), Step::Probe);
        assert_eq!(l.tick(1999), Step::Wait);
        assert_eq!(l.tick(2000), Step::Probe);
        assert_eq!(l.probes(), 2);
        assert_eq!(l.tick(3000), Step::GiveUp);
    }

    #[test]
    fn any_answer_resets_and_idle_clients_keep_alive() {
        let mut l = Liveness::new(1000, 1, 30_000, 0);
        l.sent(0);
        assert_eq!(l.tick(1000), Step::Probe);
        l.heard();
        assert_eq!(l.probes(), 0);
        assert_eq!(l.tick(29_999), Step::Wait);
        assert_eq!(
            l.tick(31_000),
            Step::Probe,
            "keepalive after 30 s of silence from us"
        );
        l.heard();
        l.sent(40_000);
        l.heard();
        assert_eq!(l.tick(69_999), Step::Wait);
    }
}
