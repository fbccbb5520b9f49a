//! [`Burst`]: how many blocks of a window leave at once, learned from windows that
//! lost their tail.
//!
//! Why: a window is sent back to back, and a receiver whose socket buffer holds fewer
//! datagrams than the window (atftp's default 208 KiB against 16 x 8 KiB blocks, or
//! 4 x 64 KiB) loses the window's tail every time. Sending the window again makes it
//! worse: the blocks the receiver already holds fill its buffer a second time. An
//! RFC 7440 receiver only acknowledges a whole window (or after its own timeout), so
//! the sender cannot simply send fewer blocks: it sends the window in bursts of
//! `limit` blocks, one burst per [`PACE_MS`], which a receiver that reads at all
//! drains between bursts, and the window still completes.
//!
//! The limit shrinks to what got through when a window loses its tail (halves on a
//! timeout with no answer), and grows back one block per clean window up to one below
//! the smallest size that lost. That size is tried again only after a quiet spell of
//! [`QUIET_TIMEOUTS`] retransmission timeouts, doubled after each failed try: each
//! loss costs the sender a timeout, so tries stay a small share of the time, and a
//! short transfer never tries again at all.

/// The gap between two bursts of one window: the host's timer resolution.
pub const PACE_MS: u64 = 1;

/// Timeouts' worth of clean windows before the size that lost is tried again, at first.
const QUIET_TIMEOUTS: u64 = 16;

#[derive(Debug, Clone)]
pub struct Burst {
    window: u64,
    limit: u64,
    /// Smallest burst that lost a tail: the limit grows back to one below it.
    bad: Option<u64>,
    /// When `bad` may be tried again.
    try_at: u64,
    /// Quiet time before the next try (doubles per failed try).
    quiet_ms: u64,
    /// The limit is `bad`, tried again.
    trying: bool,
    /// When the window's next burst is due.
    next_at: Option<u64>,
    /// (millisecond, blocks sent in it): a window that starts in the millisecond the
    /// last one ended shares its burst.
    sent_in: (u64, u64),
}

impl Burst {
    pub fn new(windowsize: u16, timeout_ms: u64) -> Burst {
        let window = u64::from(windowsize.max(1));
        Burst {
            window,
            limit: window,
            bad: None,
            try_at: 0,
            quiet_ms: timeout_ms.max(1).saturating_mul(QUIET_TIMEOUTS),
            trying: false,
            next_at: None,
            sent_in: (u64::MAX, 0),
        }
    }

    /// Blocks to send at once.
    #[cfg(test)]
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Blocks that may go out at `now`: the whole window until a loss, then the
    /// limit less what this millisecond sent (a lock-step or clean windowed transfer
    /// never waits for the clock).
    pub fn allowance(&self, now: u64) -> u64 {
        if self.limit == self.window && self.bad.is_none() {
            return self.window;
        }
        match self.sent_in {
            (ms, n) if ms == now => self.limit.saturating_sub(n),
            _ => self.limit,
        }
    }

    /// When the rest of the window is due, if it waits.
    pub fn next_at(&self) -> Option<u64> {
        self.next_at
    }

    /// `blocks` went out at `now`; `more` when the window has blocks left.
    pub fn sent(&mut self, now: u64, blocks: u64, more: bool) {
        self.sent_in = match self.sent_in {
            (ms, n) if ms == now => (ms, n + blocks),
            _ => (now, blocks),
        };
        self.next_at = more.then_some(now + PACE_MS);
    }

    /// The peer acknowledged a window whole.
    pub fn clean_window(&mut self, now: u64) {
        if self.trying {
            // The size that lost went through: it is not too big after all.
            self.trying = false;
            self.bad = None;
        }
        let ceiling = self.bad.map_or(self.window, |b| b - 1).max(1);
        if self.limit < ceiling {
            self.limit += 1;
        } else if let Some(bad) = self.bad
            && now >= self.try_at
        {
            self.limit = bad;
            self.trying = true;
        }
    }

    /// The peer acknowledged only `delivered` blocks of a window: the rest were lost.
    /// `resent`: the window was sent again after a timeout, which already counted the
    /// loss; the ACK still tells how much the first sending delivered.
    pub fn lost_tail(&mut self, now: u64, delivered: u64, resent: bool) {
        if self.limit <= 1 {
            return; // lock-step: nothing to learn
        }
        if resent {
            self.limit = self.limit.min(delivered.max(1));
        } else {
            self.lose(now, delivered.clamp(1, self.limit - 1));
        }
    }

    /// A window got no answer at all.
    pub fn timed_out(&mut self, now: u64) {
        if self.limit > 1 {
            self.lose(now, (self.limit / 2).max(1));
        }
    }

    fn lose(&mut self, now: u64, new_limit: u64) {
        if self.trying {
            self.trying = false;
            self.quiet_ms = self.quiet_ms.saturating_mul(2);
        }
        self.bad = Some(self.bad.map_or(self.limit, |b| b.min(self.limit)));
        self.try_at = now.saturating_add(self.quiet_ms);
        self.limit = new_limit;
        self.next_at = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUT: u64 = 100;

    #[test]
    fn a_lost_tail_shrinks_the_burst_to_what_got_through() {
        let mut b = Burst::new(16, TIMEOUT);
        assert_eq!(b.limit(), 16);
        b.lost_tail(0, 12, false);
        assert_eq!(b.limit(), 12);
        b.lost_tail(1, 0, false);
        assert_eq!(b.limit(), 1, "never below one block");
    }

    #[test]
    fn the_burst_grows_back_below_the_size_that_lost_then_tries_it_after_a_quiet_spell() {
        let mut b = Burst::new(16, TIMEOUT);
        b.lost_tail(0, 10, false);
        for now in 1..=5 {
            b.clean_window(now);
        }
        assert_eq!(b.limit(), 15, "one below the size that lost");
        b.clean_window(QUIET_TIMEOUTS * TIMEOUT - 1);
        assert_eq!(b.limit(), 15, "not before the quiet spell");
        b.clean_window(QUIET_TIMEOUTS * TIMEOUT);
        assert_eq!(b.limit(), 16, "tried again");
        b.clean_window(QUIET_TIMEOUTS * TIMEOUT + 1);
        assert_eq!(b.limit(), 16, "it went through: no longer capped");
    }

    #[test]
    fn a_failed_try_doubles_the_quiet_spell() {
        let mut b = Burst::new(8, TIMEOUT);
        b.lost_tail(0, 4, false);
        let mut now = 0;
        let mut spells = Vec::new();
        for _ in 0..3 {
            let lost = now;
            while b.limit() < 8 {
                now += 1;
                b.clean_window(now);
            }
            spells.push(now - lost);
            b.lost_tail(now, 4, false); // the try loses again
        }
        assert_eq!(
            spells,
            vec![16 * TIMEOUT, 32 * TIMEOUT, 64 * TIMEOUT],
            "quiet spells"
        );
    }

    #[test]
    fn a_silent_window_halves_the_burst_and_the_resent_answer_only_narrows_it() {
        let mut b = Burst::new(16, TIMEOUT);
        b.timed_out(0);
        assert_eq!(b.limit(), 8);
        b.lost_tail(1, 12, true);
        assert_eq!(b.limit(), 8, "12 got through the first time: 8 stays");
        b.lost_tail(2, 5, true);
        assert_eq!(b.limit(), 5);
        for now in 3..20 {
            b.clean_window(now);
        }
        assert_eq!(b.limit(), 15, "the bound is the size that lost, 16");
        let mut one = Burst::new(1, TIMEOUT);
        one.timed_out(0);
        one.lost_tail(0, 0, false);
        assert_eq!(one.limit(), 1);
    }

    #[test]
    fn at_most_the_limit_leaves_in_one_millisecond() {
        let mut b = Burst::new(8, TIMEOUT);
        b.lost_tail(99, 3, false);
        assert_eq!(b.allowance(100), 3);
        b.sent(100, 2, true);
        assert_eq!(b.next_at(), Some(100 + PACE_MS));
        assert_eq!(b.allowance(100), 1, "the millisecond's burst is shared");
        b.sent(100, 1, true);
        assert_eq!(b.allowance(100), 0);
        assert_eq!(b.allowance(101), 3);
        b.sent(101, 3, false);
        assert_eq!(b.next_at(), None);
        let mut clean = Burst::new(8, TIMEOUT);
        clean.sent(100, 8, false);
        assert_eq!(clean.allowance(100), 8, "no loss yet: no clock");
    }
}
