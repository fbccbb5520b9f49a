//! Busy-polling before a handler thread sleeps, for request/response traffic.
//!
//! Why: a lock-step protocol (TFTP without a window) sends one datagram and waits for
//! the peer's answer, tens of microseconds later. If the handler thread goes to sleep
//! in `epoll_wait` meanwhile, waking it costs a reschedule — on a VM, a halted vCPU and
//! an inter-processor interrupt — and that wake-up is most of the round trip. tftpd-hpa
//! pays it too. Spinning briefly on the sockets that just sent keeps the thread (and
//! its vCPU) awake for the answer, the way `SO_BUSY_POLL` does for NIC queues (which
//! loopback does not have).
//!
//! The price is CPU: a thread spins up to `budget` each time it would sleep within a
//! short while after a send. So it is per handler and off unless configured
//! (`busy_poll_us`).
//!
//! Only the sockets that sent within the last [`HOT_FOR`] are watched, at most
//! [`MAX_WATCHED`] of them (the most recent): with many concurrent transfers the
//! thread rarely sleeps anyway.
//!
//! A spin only pays while the peer answers within the budget (lock-step over
//! loopback or a fast LAN); a peer farther away (a 200 us round trip) would cost the
//! whole budget on every datagram for nothing. So a socket whose answer did not come
//! within the budget [`MISSES_TO_REST`] times in a row rests: it is not spun on for
//! [`FIRST_REST`], doubled each time a rest ends in misses again (up to [`LONGEST_REST`]),
//! and an answer within the budget ends it.

use std::cell::RefCell;
use std::os::fd::{BorrowedFd, RawFd};
use std::time::{Duration, Instant};

/// How long after a send a socket counts as waiting for an answer.
const HOT_FOR: Duration = Duration::from_millis(2);
/// Most sockets polled while spinning.
const MAX_WATCHED: usize = 16;
/// Spins in a row that end without an answer before a socket rests.
const MISSES_TO_REST: u8 = 3;
/// How long a socket rests the first time.
const FIRST_REST: Duration = Duration::from_millis(20);
/// The longest rest.
const LONGEST_REST: Duration = Duration::from_secs(1);
/// How long a socket's misses are remembered after its last send.
const FORGET_AFTER: Duration = Duration::from_secs(2);

/// A socket of this thread that sent recently.
#[derive(Debug, Clone, Copy)]
struct Hot {
    fd: RawFd,
    sent: Instant,
    /// Spins in a row that ended without its answer.
    misses: u8,
    /// Not spun on before this (after misses).
    rest_until: Option<Instant>,
    /// The next rest's length.
    rest: Duration,
}

impl Hot {
    fn new(fd: RawFd, now: Instant) -> Hot {
        Hot {
            fd,
            sent: now,
            misses: 0,
            rest_until: None,
            rest: FIRST_REST,
        }
    }

    fn watched(&self, now: Instant) -> bool {
        now.duration_since(self.sent) < HOT_FOR && self.rest_until.is_none_or(|t| now >= t)
    }

    fn answered(&mut self) {
        self.misses = 0;
        self.rest_until = None;
        self.rest = FIRST_REST;
    }

    fn missed(&mut self, now: Instant) {
        let resting_before = self.rest_until.is_some();
        self.misses += 1;
        if self.misses >= MISSES_TO_REST || resting_before {
            // (A rest that ended in a miss rests again at once, twice as long.)
            if resting_before {
                self.rest = (self.rest * 2).min(LONGEST_REST);
            }
            self.rest_until = Some(now + self.rest);
            self.misses = 0;
        }
    }
}

thread_local! {
    /// Sockets of this thread that sent recently.
    static HOT: RefCell<Vec<Hot>> = const { RefCell::new(Vec::new()) };
    /// This thread's spin budget (zero: off).
    static BUDGET: std::cell::Cell<Duration> = const { std::cell::Cell::new(Duration::ZERO) };
}

/// Turn busy-polling on for the current thread with `budget` per sleep.
pub fn enable(budget: Duration) {
    BUDGET.with(|b| b.set(budget));
}

/// A datagram was just sent on `fd`: an answer may follow soon.
pub fn sent_on(fd: RawFd) {
    if BUDGET.with(|b| b.get()).is_zero() {
        return;
    }
    let now = Instant::now();
    HOT.with(|hot| {
        let mut hot = hot.borrow_mut();
        if let Some(entry) = hot.iter_mut().find(|h| h.fd == fd) {
            if now.duration_since(entry.sent) >= FORGET_AFTER {
                // Quiet for long (perhaps a new socket on a reused fd): start afresh.
                *entry = Hot::new(fd, now);
            }
            entry.sent = now;
            return;
        }
        if hot.len() >= MAX_WATCHED {
            // Replace the stalest.
            if let Some(oldest) = hot.iter_mut().min_by_key(|h| h.sent) {
                *oldest = Hot::new(fd, now);
            }
            return;
        }
        hot.push(Hot::new(fd, now));
    });
}

/// Called by the runtime just before the thread sleeps: spin until a recently used
/// socket is readable or the budget is spent (then the sleep that follows returns at
/// once if something arrived). Sockets resting after misses are left out.
pub fn before_park() {
    let budget = BUDGET.with(|b| b.get());
    if budget.is_zero() {
        return;
    }
    let start = Instant::now();
    let (fds, mut polls): (Vec<RawFd>, Vec<rustix::event::PollFd<'_>>) = HOT.with(|hot| {
        let mut hot = hot.borrow_mut();
        hot.retain(|h| start.duration_since(h.sent) < FORGET_AFTER);
        hot.iter()
            .filter(|h| h.watched(start))
            .map(|h| {
                // SAFETY: the fds are sockets of this thread's actors, alive while they
                // are hot; a socket closed meanwhile makes `poll` report POLLNVAL or a
                // reused fd's readiness, both harmless (the spin just ends early).
                let fd = unsafe { BorrowedFd::borrow_raw(h.fd) };
                (
                    h.fd,
                    rustix::event::PollFd::from_borrowed_fd(fd, rustix::event::PollFlags::IN),
                )
            })
            .unzip()
    });
    if polls.is_empty() {
        return;
    }
    let zero = rustix::event::Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    while start.elapsed() < budget {
        match rustix::event::poll(&mut polls, Some(&zero)) {
            Ok(n) if n > 0 => {
                let ready: Vec<RawFd> = fds
                    .iter()
                    .zip(&polls)
                    .filter(|(_, p)| !p.revents().is_empty())
                    .map(|(fd, _)| *fd)
                    .collect();
                update(&ready, |h| h.answered());
                return;
            }
            // Yield rather than burn: on a busy machine the CPU goes to whoever is
            // runnable (perhaps the very peer we wait for); on an idle one this
            // returns at once and the thread stays awake.
            _ => std::thread::yield_now(),
        }
    }
    let now = Instant::now();
    update(&fds, |h| h.missed(now));
}

/// Apply `f` to the hot entries of `fds`.
fn update(fds: &[RawFd], f: impl Fn(&mut Hot)) {
    HOT.with(|hot| {
        for h in hot.borrow_mut().iter_mut().filter(|h| fds.contains(&h.fd)) {
            f(h);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;
    use std::os::fd::AsRawFd;

    fn pair() -> (UdpSocket, UdpSocket) {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        (a, b)
    }

    #[test]
    fn off_by_default_never_spins() {
        let (a, _b) = pair();
        sent_on(a.as_raw_fd());
        let t = Instant::now();
        before_park();
        assert!(t.elapsed() < Duration::from_millis(5));
        HOT.with(|h| assert!(h.borrow().is_empty(), "nothing is tracked while off"));
    }

    #[test]
    fn spins_for_the_budget_when_no_answer_comes() {
        enable(Duration::from_millis(20));
        let (a, _b) = pair();
        sent_on(a.as_raw_fd());
        let t = Instant::now();
        before_park();
        assert!(
            t.elapsed() >= Duration::from_millis(20),
            "{:?}",
            t.elapsed()
        );
    }

    #[test]
    fn stops_as_soon_as_a_hot_socket_is_readable() {
        enable(Duration::from_secs(5));
        let (a, b) = pair();
        sent_on(a.as_raw_fd());
        b.send_to(b"ack", a.local_addr().unwrap()).unwrap();
        let t = Instant::now();
        before_park();
        assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    }

    /// How long one `before_park` takes.
    fn timed_park() -> Duration {
        let t = Instant::now();
        before_park();
        t.elapsed()
    }

    #[test]
    fn a_peer_that_never_answers_within_the_budget_is_rested_after_a_few_spins() {
        let budget = Duration::from_millis(10);
        enable(budget);
        let (a, _b) = pair();
        for k in 0..MISSES_TO_REST {
            sent_on(a.as_raw_fd());
            assert!(timed_park() >= budget, "spin {k} of {MISSES_TO_REST}");
        }
        // Resting: sends go on, the thread no longer spins for this socket.
        for _ in 0..5 {
            sent_on(a.as_raw_fd());
            assert!(timed_park() < budget, "a resting socket is not spun on");
        }
        // After the rest, one spin tries again; missing again rests twice as long.
        std::thread::sleep(FIRST_REST);
        sent_on(a.as_raw_fd());
        assert!(timed_park() >= budget);
        sent_on(a.as_raw_fd());
        assert!(timed_park() < budget);
        std::thread::sleep(FIRST_REST);
        sent_on(a.as_raw_fd());
        assert!(
            timed_park() < budget,
            "the second rest is longer than the first"
        );
    }

    #[test]
    fn an_answer_within_the_budget_keeps_the_spin() {
        let budget = Duration::from_millis(10);
        enable(budget);
        let (a, b) = pair();
        let to = a.local_addr().unwrap();
        let mut buf = [0u8; 8];
        for _ in 0..2 * MISSES_TO_REST {
            // One miss, then an answer: never MISSES_TO_REST misses in a row.
            sent_on(a.as_raw_fd());
            assert!(timed_park() >= budget);
            sent_on(a.as_raw_fd());
            b.send_to(b"ack", to).unwrap();
            assert!(timed_park() < budget);
            a.recv(&mut buf).unwrap();
        }
        // Still spun on.
        sent_on(a.as_raw_fd());
        assert!(timed_park() >= budget);
    }

    #[test]
    fn sockets_idle_for_a_while_are_not_watched() {
        enable(Duration::from_secs(5));
        let (a, _b) = pair();
        sent_on(a.as_raw_fd());
        std::thread::sleep(HOT_FOR + Duration::from_millis(1));
        let t = Instant::now();
        before_park();
        assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    }
}
