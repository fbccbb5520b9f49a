//! The aligned buffers of a receive and their pool: what bounds its memory, and what
//! wakes the reader when the workers give a buffer back.

use std::alloc::{self, Layout};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Waker;

use crate::limits::{ALIGN, BUF_SIZE, MAX_BUFS};

/// [`BUF_SIZE`] bytes aligned to [`ALIGN`], zeroed once when allocated.
pub(crate) struct AlignedBuf(NonNull<u8>);

// SAFETY: the buffer is plain memory owned by this value; it moves between threads
// whole, and shared (`&`) access only reads it.
unsafe impl Send for AlignedBuf {}
// SAFETY: as above: `&AlignedBuf` gives read-only access.
unsafe impl Sync for AlignedBuf {}

impl AlignedBuf {
    fn layout() -> Layout {
        Layout::from_size_align(BUF_SIZE, ALIGN).expect("constant layout")
    }

    fn new() -> AlignedBuf {
        // SAFETY: the layout has a non-zero size.
        let ptr = unsafe { alloc::alloc_zeroed(Self::layout()) };
        AlignedBuf(NonNull::new(ptr).unwrap_or_else(|| alloc::handle_alloc_error(Self::layout())))
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        // SAFETY: BUF_SIZE initialized (zeroed at allocation) bytes owned by self.
        unsafe { std::slice::from_raw_parts(self.0.as_ptr(), BUF_SIZE) }
    }

    pub(crate) fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `bytes`, and `&mut self` makes the access exclusive.
        unsafe { std::slice::from_raw_parts_mut(self.0.as_ptr(), BUF_SIZE) }
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with the same layout.
        unsafe { alloc::dealloc(self.0.as_ptr(), Self::layout()) }
    }
}

/// The buffers of one receive, shared with its worker threads.
pub(crate) struct Pool {
    free: Mutex<Vec<AlignedBuf>>,
    /// The read stream waiting for a free buffer.
    waiter: Mutex<Option<Waker>>,
    allocated: AtomicUsize,
}

impl Pool {
    /// An empty pool: buffers are allocated as they are first taken.
    pub(crate) fn new() -> Pool {
        Pool {
            free: Mutex::new(Vec::new()),
            waiter: Mutex::new(None),
            allocated: AtomicUsize::new(0),
        }
    }

    /// A free buffer, or a new one while fewer than [`MAX_BUFS`] exist (or `force`).
    /// `None`: all are in flight; `waiter` (if given) is woken when one comes back.
    pub(crate) fn take(&self, waiter: Option<&Waker>, force: bool) -> Option<AlignedBuf> {
        if let Some(b) = lock(&self.free).pop() {
            return Some(b);
        }
        if force || self.allocated.load(Ordering::Relaxed) < MAX_BUFS {
            self.allocated.fetch_add(1, Ordering::Relaxed);
            return Some(AlignedBuf::new());
        }
        if let Some(w) = waiter {
            *lock(&self.waiter) = Some(w.clone());
        }
        // A buffer may have come back between the first look and registering.
        lock(&self.free).pop()
    }

    fn give_back(&self, buf: AlignedBuf) {
        lock(&self.free).push(buf);
        if let Some(w) = lock(&self.waiter).take() {
            w.wake();
        }
    }
}

/// A lock whose holder cannot panic mid-update (pushes and pops only): poisoning
/// carries no meaning here.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A filled buffer on its way to the writer and the hasher; back to the pool when the
/// last of them drops it.
pub(crate) struct Filled {
    buf: Option<AlignedBuf>,
    pool: Arc<Pool>,
}

impl Drop for Filled {
    fn drop(&mut self) {
        if let Some(b) = self.buf.take() {
            self.pool.give_back(b);
        }
    }
}

impl Filled {
    /// `buf`, to go back to `pool` when the last holder drops it.
    pub(crate) fn new(buf: AlignedBuf, pool: Arc<Pool>) -> Filled {
        Filled {
            buf: Some(buf),
            pool,
        }
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        self.buf.as_ref().map_or(&[], AlignedBuf::bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::task::Wake;

    /// A waker that remembers it was woken.
    struct Flag(AtomicBool);

    impl Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    #[test]
    fn the_pool_bounds_buffers_in_flight_and_wakes_the_reader_when_one_returns() {
        let pool = Pool::new();
        let flag = Arc::new(Flag(AtomicBool::new(false)));
        let waker = Waker::from(Arc::clone(&flag));
        let taken: Vec<_> = (0..MAX_BUFS)
            .map(|_| pool.take(Some(&waker), false).unwrap())
            .collect();
        assert!(pool.take(Some(&waker), false).is_none());
        assert!(!flag.0.load(Ordering::SeqCst));
        let mut taken = taken.into_iter();
        pool.give_back(taken.next().unwrap());
        assert!(flag.0.load(Ordering::SeqCst), "the waiting reader is woken");
        assert!(pool.take(Some(&waker), false).is_some());
        assert!(
            pool.take(None, true).is_some(),
            "forced takes may exceed the bound"
        );
    }
}
