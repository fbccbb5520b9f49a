//! [`StoreHealth`]: how an `s3` storage has been answering, for the operator console —
//! operations in flight, the last that worked, and whether it is failing (since when,
//! with the last error, never with credentials).
//!
//! What counts: every operation a handler asks of the store runs through
//! [`StoreHealth::track`]; an answer of any kind from the store (an object, "not
//! found", "already exists", "locked") is the store working, a network or server
//! failure is it failing, and a local spool error is neither. An idle storage is
//! probed ([`probe`]) so the console tells a store gone away before a transfer finds
//! out.

use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use switchyard_object_storage::{ObjectStorage, ObjectStorageError};

use crate::console::journal::now_unix_ms;

/// How long a storage may go without any operation before it is probed.
pub const PROBE_EVERY: Duration = Duration::from_secs(5);
/// A probe the store does not answer within this counts as a failure (the client
/// itself retries a refused connection for up to minutes).
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
/// What a probe asks about: a `HEAD` of a name nobody needs to have ("not found" is an
/// answer), so it writes nothing.
const PROBE_NAME: &str = "switchyard-health-probe";
/// Longest error text kept (a server's answer can be a whole page).
const ERROR_CHARS: usize = 300;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Outcomes {
    last_ok_unix_ms: Option<u64>,
    failing_since_unix_ms: Option<u64>,
    last_error: Option<(u64, String)>,
    last_any_unix_ms: u64,
}

/// What [`StoreHealth::view`] gives: plain data for the console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthView {
    pub in_flight: u64,
    pub last_ok_unix_ms: Option<u64>,
    /// `Some` while the last outcome was a failure.
    pub failing_since_unix_ms: Option<u64>,
    /// The last failure (kept after the store is back), scrubbed of credentials.
    pub last_error: Option<(u64, String)>,
}

/// Secrets never to show (the storage's credentials); `Debug` does not print them.
struct Secrets(Vec<String>);

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secrets({} redacted)", self.0.len())
    }
}

/// One storage's health, shared by its operations and the console.
#[derive(Debug)]
pub struct StoreHealth {
    in_flight: AtomicU64,
    outcomes: Mutex<Outcomes>,
    secrets: Secrets,
}

impl StoreHealth {
    /// Health of a storage whose credentials (access key, secret) are `secrets`: they
    /// are cut out of every error text kept.
    pub fn new(secrets: Vec<String>) -> StoreHealth {
        StoreHealth {
            in_flight: AtomicU64::new(0),
            outcomes: Mutex::default(),
            secrets: Secrets(secrets.into_iter().filter(|s| !s.is_empty()).collect()),
        }
    }

    fn locked(&self) -> std::sync::MutexGuard<'_, Outcomes> {
        self.outcomes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Run `op`, counted in flight meanwhile, its outcome recorded.
    pub async fn track<T>(
        &self,
        op: impl Future<Output = Result<T, ObjectStorageError>>,
    ) -> Result<T, ObjectStorageError> {
        let _in_flight = InFlight::new(&self.in_flight);
        let result = op.await;
        match &result {
            Ok(_) => self.answered(),
            Err(e) => self.failed_with(e),
        }
        result
    }

    /// The store answered.
    pub fn answered(&self) {
        let now = now_unix_ms();
        let mut o = self.locked();
        o.last_ok_unix_ms = Some(now);
        o.failing_since_unix_ms = None;
        o.last_any_unix_ms = now;
    }

    /// Record `e`: a failure of the store, an answer, or neither (a local error).
    pub fn failed_with(&self, e: &ObjectStorageError) {
        match e {
            ObjectStorageError::Store { .. } | ObjectStorageError::CorruptRecord { .. } => {
                self.failed(&e.to_string());
            }
            ObjectStorageError::Config(_) | ObjectStorageError::InvalidName(_) => {}
            _ => self.answered(),
        }
    }

    /// The store failed, `why`.
    pub fn failed(&self, why: &str) {
        let now = now_unix_ms();
        let text = self.scrub(why);
        let mut o = self.locked();
        o.failing_since_unix_ms.get_or_insert(now);
        o.last_error = Some((now, text));
        o.last_any_unix_ms = now;
    }

    /// How long since any operation ended, in milliseconds. Operations still in
    /// flight do not count: one waiting on a store gone away says nothing yet.
    fn idle_ms(&self) -> u64 {
        now_unix_ms().saturating_sub(self.locked().last_any_unix_ms)
    }

    /// The health now.
    pub fn view(&self) -> HealthView {
        let o = self.locked().clone();
        HealthView {
            in_flight: self.in_flight.load(Ordering::Relaxed),
            last_ok_unix_ms: o.last_ok_unix_ms,
            failing_since_unix_ms: o.failing_since_unix_ms,
            last_error: o.last_error,
        }
    }

    /// `text` without the credentials and signed-URL parameters, and not too long.
    fn scrub(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for secret in &self.secrets.0 {
            out = out.replace(secret.as_str(), "[redacted]");
        }
        for param in [
            "X-Amz-Credential=",
            "X-Amz-Signature=",
            "X-Amz-Security-Token=",
        ] {
            let mut from = 0;
            while let Some(at) = out[from..].find(param).map(|i| i + from + param.len()) {
                let end = out[at..]
                    .find(|c: char| c == '&' || c.is_whitespace())
                    .map_or(out.len(), |i| at + i);
                out.replace_range(at..end, "[redacted]");
                from = at;
            }
        }
        match out.char_indices().nth(ERROR_CHARS) {
            Some((cut, _)) => format!("{}…", &out[..cut]),
            None => out,
        }
    }
}

/// One operation counted in flight until dropped (also when its task is cancelled).
struct InFlight<'a>(&'a AtomicU64);

impl<'a> InFlight<'a> {
    fn new(count: &'a AtomicU64) -> InFlight<'a> {
        count.fetch_add(1, Ordering::Relaxed);
        InFlight(count)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Probe `storage` whenever it has been idle for [`PROBE_EVERY`], forever (the task
/// goes with the storage's runtime).
pub async fn probe(storage: ObjectStorage, health: std::sync::Arc<StoreHealth>) {
    let every_ms = PROBE_EVERY.as_millis() as u64;
    loop {
        let idle = health.idle_ms();
        if idle < every_ms {
            tokio::time::sleep(Duration::from_millis(every_ms - idle)).await;
            continue;
        }
        let asked = health.track(storage.stat(PROBE_NAME));
        if tokio::time::timeout(PROBE_TIMEOUT, asked).await.is_err() {
            health.failed(&format!("no answer within {} s", PROBE_TIMEOUT.as_secs()));
        }
    }
}

#[cfg(test)]
mod tests;
