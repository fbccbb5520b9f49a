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

use std::cell::RefCell;
use std::os::fd::{BorrowedFd, RawFd};
use std::time::{Duration, Instant};

/// How long after a send a socket counts as waiting for an answer.
const HOT_FOR: Duration = Duration::from_millis(2);
/// Most sockets polled while spinning.
const MAX_WATCHED: usize = 16;

thread_local! {
    /// Sockets of this thread that sent recently, with when.
    static HOT: RefCell<Vec<(RawFd, Instant)>> = const { RefCell::new(Vec::new()) };
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
        if let Some(entry) = hot.iter_mut().find(|(f, _)| *f == fd) {
            entry.1 = now;
            return;
        }
        if hot.len() >= MAX_WATCHED {
            // Replace the stalest.
            if let Some(oldest) = hot.iter_mut().min_by_key(|(_, t)| *t) {
                *oldest = (fd, now);
            }
            return;
        }
        hot.push((fd, now));
    });
}

/// Called by the runtime just before the thread sleeps: spin until a recently used
/// socket is readable or the budget is spent (then the sleep that follows returns at
/// once if something arrived).
pub fn before_park() {
    let budget = BUDGET.with(|b| b.get());
    if budget.is_zero() {
        return;
    }
    let start = Instant::now();
    let mut polls: Vec<rustix::event::PollFd<'_>> = HOT.with(|hot| {
        let mut hot = hot.borrow_mut();
        hot.retain(|(_, t)| start.duration_since(*t) < HOT_FOR);
        hot.iter()
            .map(|(fd, _)| {
                // SAFETY: the fds are sockets of this thread's actors, alive while they
                // are hot; a socket closed meanwhile makes `poll` report POLLNVAL or a
                // reused fd's readiness, both harmless (the spin just ends early).
                let fd = unsafe { BorrowedFd::borrow_raw(*fd) };
                rustix::event::PollFd::from_borrowed_fd(fd, rustix::event::PollFlags::IN)
            })
            .collect()
    });
    if polls.is_empty() {
        return;
    }
    while start.elapsed() < budget {
        match rustix::event::poll(
            &mut polls,
            Some(&rustix::event::Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            }),
        ) {
            Ok(n) if n > 0 => return,
            // Yield rather than burn: on a busy machine the CPU goes to whoever is
            // runnable (perhaps the very peer we wait for); on an idle one this
            // returns at once and the thread stays awake.
            _ => std::thread::yield_now(),
        }
    }
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
