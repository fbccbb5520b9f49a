//! A token bucket on the manual clock: the per-source rate limit.

/// Tokens are kept in thousandths so that refill needs no floating point:
/// `rate` tokens per second is exactly `rate` milli-tokens per millisecond.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenBucket {
    milli: u64,
    last_ms: u64,
}

impl TokenBucket {
    /// A bucket holding `burst` tokens at `now`.
    pub fn full(burst: u32, now: u64) -> TokenBucket {
        TokenBucket {
            milli: u64::from(burst) * 1000,
            last_ms: now,
        }
    }

    /// The bucket as (tokens in thousandths, ms since its last refill at `now`): how a
    /// state handover carries it, each instance having its own clock.
    pub fn parts(&self, now: u64) -> (u64, u64) {
        (self.milli, now.saturating_sub(self.last_ms))
    }

    /// A bucket from [`TokenBucket::parts`], on a clock now at `now`.
    pub fn from_parts(milli: u64, age_ms: u64, now: u64) -> TokenBucket {
        TokenBucket {
            milli,
            last_ms: now.saturating_sub(age_ms),
        }
    }

    /// Refill for the time since the last call, then take one token if there is one.
    pub fn take(&mut self, now: u64, rate_per_sec: u32, burst: u32) -> bool {
        let elapsed = now.saturating_sub(self.last_ms);
        self.last_ms = self.last_ms.max(now);
        let cap = u64::from(burst) * 1000;
        self.milli = self
            .milli
            .saturating_add(elapsed.saturating_mul(u64::from(rate_per_sec)))
            .min(cap);
        if self.milli >= 1000 {
            self.milli -= 1000;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_steady_rate() {
        let mut b = TokenBucket::full(3, 0);
        assert!((0..3).all(|_| b.take(0, 10, 3)));
        assert!(!b.take(0, 10, 3), "burst spent");
        assert!(!b.take(99, 10, 3), "0.99 token after 99 ms at 10/s");
        assert!(b.take(100, 10, 3));
        assert!(!b.take(100, 10, 3));
    }

    #[test]
    fn parts_carry_the_tokens_and_the_time_since_refill_to_another_clock() {
        let mut b = TokenBucket::full(3, 0);
        assert!(b.take(1000, 10, 3));
        let (milli, age) = b.parts(1400);
        assert_eq!((milli, age), (2000, 400));
        let mut moved = TokenBucket::from_parts(milli, age, 50_000);
        assert_eq!(moved.parts(50_000), (2000, 400));
        assert!(moved.take(50_000, 10, 3), "2 tokens + 400 ms at 10/s");
    }

    #[test]
    fn refill_is_capped_and_clock_never_goes_back() {
        let mut b = TokenBucket::full(2, 1000);
        assert!(b.take(1000, 1, 2) && b.take(1000, 1, 2));
        assert!(!b.take(500, 1, 2), "an earlier time refills nothing");
        assert!(b.take(u64::MAX, u32::MAX, 2), "no overflow");
        assert!(b.take(u64::MAX, u32::MAX, 2));
        assert!(!b.take(u64::MAX, u32::MAX, 2), "capped at burst");
    }
}
