//! What the load did: operations and bytes by kind, failures by kind (with a few
//! examples each, so a report says what went wrong, not only how often).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Mutex;

/// Examples kept per failure kind.
const EXAMPLES: usize = 3;

/// A failed operation: a short kind for counting (`tftp_timeout`, `digest_mismatch`)
/// and the detail for the report.
#[derive(Debug)]
pub struct Fail {
    pub kind: &'static str,
    pub detail: String,
}

impl Fail {
    pub fn new(kind: &'static str, detail: impl fmt::Display) -> Fail {
        Fail {
            kind,
            detail: detail.to_string(),
        }
    }
}

/// I/O errors classified by what they usually mean under load.
impl From<std::io::Error> for Fail {
    fn from(e: std::io::Error) -> Fail {
        use std::io::ErrorKind::*;
        let kind = match e.kind() {
            WouldBlock | TimedOut => "io_timeout",
            ConnectionRefused => "io_refused",
            ConnectionReset | ConnectionAborted | BrokenPipe => "io_reset",
            UnexpectedEof => "io_eof",
            _ => "io_other",
        };
        Fail::new(kind, e)
    }
}

#[derive(Debug, Default, Clone, Copy)]
pub struct OpCount {
    pub count: u64,
    pub bytes: u64,
}

#[derive(Debug, Default)]
pub struct FailCount {
    pub count: u64,
    pub examples: Vec<String>,
}

/// Shared by every worker; one lock, taken once per finished operation.
#[derive(Debug, Default)]
pub struct Stats {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    ops: BTreeMap<&'static str, OpCount>,
    fails: BTreeMap<&'static str, FailCount>,
}

impl Stats {
    /// One operation `op` (e.g. `files.put`) succeeded and moved `bytes` payload bytes.
    pub fn ok(&self, op: &'static str, bytes: u64) {
        self.add(op, 1, bytes);
    }

    /// `count` operations `op` that moved `bytes` in all.
    pub fn add(&self, op: &'static str, count: u64, bytes: u64) {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let c = g.ops.entry(op).or_default();
        c.count += count;
        c.bytes += bytes;
    }

    /// One operation `op` failed.
    pub fn fail(&self, op: &'static str, f: Fail) {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let c = g.fails.entry(f.kind).or_default();
        c.count += 1;
        if c.examples.len() < EXAMPLES {
            c.examples.push(format!("{op}: {}", f.detail));
        }
    }

    /// Record `r` under `op`: `Ok(bytes)` or the failure.
    pub fn record(&self, op: &'static str, r: Result<u64, Fail>) {
        match r {
            Ok(bytes) => self.ok(op, bytes),
            Err(f) => self.fail(op, f),
        }
    }

    pub fn ops(&self) -> BTreeMap<&'static str, OpCount> {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .ops
            .clone()
    }

    /// Failures by kind: (count, examples).
    pub fn fails(&self) -> Vec<(&'static str, u64, Vec<String>)> {
        let g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        g.fails
            .iter()
            .map(|(k, c)| (*k, c.count, c.examples.clone()))
            .collect()
    }

    pub fn total_fails(&self) -> u64 {
        let g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        g.fails.values().map(|c| c.count).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_ops_and_failures_with_examples() {
        let s = Stats::default();
        s.record("a", Ok(10));
        s.record("a", Ok(5));
        for i in 0..5 {
            s.record("b", Err(Fail::new("boom", i)));
        }
        assert_eq!(s.ops()["a"].count, 2);
        assert_eq!(s.ops()["a"].bytes, 15);
        let fails = s.fails();
        assert_eq!(fails.len(), 1);
        assert_eq!(fails[0].1, 5);
        assert_eq!(fails[0].2, vec!["b: 0", "b: 1", "b: 2"]);
        assert_eq!(s.total_fails(), 5);
    }
}
