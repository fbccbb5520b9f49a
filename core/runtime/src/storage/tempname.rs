//! Temp file names: who made them, and whether their maker is gone.
//!
//! A name is `.sy-tmp.<pid>.<nonce>.<seq>`: `pid` and a per-process random `nonce`
//! identify the process incarnation, `seq` makes names unique within it (creation still
//! uses `O_EXCL`, so uniqueness is checked by the kernel, not assumed). The owner is in
//! the name so that [`Root::open`](super::Root::open) sweeps only temps whose writer is
//! dead: a second host process (hot reload, issue 8) opening the same root must not
//! delete uploads the first one is still receiving.
//!
//! # Layout
//! - [`next_temp_name`]: a fresh name for this process.
//! - [`is_stale`]: the sweep's decision for one name.

use std::hash::{BuildHasher, RandomState};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use rustix::io::Errno;
use rustix::process::Pid;

use super::path::TEMP_PREFIX;

/// This process incarnation's random nonce (std's `RandomState` is seeded from the OS).
fn nonce() -> u64 {
    static NONCE: OnceLock<u64> = OnceLock::new();
    *NONCE.get_or_init(|| RandomState::new().hash_one(std::time::SystemTime::now()))
}

fn pid() -> u32 {
    rustix::process::getpid().as_raw_nonzero().get() as u32
}

/// A temp file name not used before by this process.
pub fn next_temp_name() -> String {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    format!("{TEMP_PREFIX}{}.{:016x}.{seq}", pid(), nonce())
}

/// Whether a temp file called `name` was left by a process that no longer runs.
///
/// - Ours (same pid and nonce): live, it belongs to an open [`TempFile`](super::TempFile).
/// - Same pid, other nonce: an earlier incarnation whose pid was reused (common in
///   containers, where the host is often pid 1): stale.
/// - Another pid: stale only if no such process exists. A reused pid keeps a stale temp
///   until a later sweep; a root shared across pid namespaces is not supported.
/// - Not in our format: stale (only this module writes the prefix).
pub fn is_stale(name: &str) -> bool {
    let Some(rest) = name.strip_prefix(TEMP_PREFIX) else {
        return false;
    };
    let mut parts = rest.split('.');
    let (Some(p), Some(n), Some(_seq), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return true;
    };
    let (Ok(p), Ok(n)) = (p.parse::<u32>(), u64::from_str_radix(n, 16)) else {
        return true;
    };
    if p == pid() {
        return n != nonce();
    }
    let Some(other) = i32::try_from(p).ok().and_then(Pid::from_raw) else {
        return true;
    };
    matches!(rustix::process::test_kill_process(other), Err(Errno::SRCH))
}
