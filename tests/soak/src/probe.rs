//! What the host holds right now: open fds and RSS from `/proc/PID`, sessions and
//! open connections from its Prometheus endpoint.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// One look at the host.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub fds: usize,
    pub rss_kib: u64,
    pub threads: u64,
    /// `switchyard_sessions_active` by handler.
    pub sessions: BTreeMap<String, i64>,
    /// `switchyard_connections_open` by handler.
    pub conns: BTreeMap<String, i64>,
}

impl Snapshot {
    pub fn sessions_total(&self) -> i64 {
        self.sessions.values().sum()
    }

    pub fn conns_total(&self) -> i64 {
        self.conns.values().sum()
    }
}

/// Read everything; an `Err` means the host is gone or its admin endpoint is not
/// answering, which the soak treats as a failure.
pub fn snapshot(pid: u32, admin: SocketAddr) -> Result<Snapshot, String> {
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map_err(|e| format!("/proc/{pid}/fd: {e}"))?
        .count();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("/proc/{pid}/status: {e}"))?;
    let metrics = fetch_metrics(admin)?;
    Ok(Snapshot {
        fds,
        rss_kib: status_field(&status, "VmRSS:").unwrap_or(0),
        threads: status_field(&status, "Threads:").unwrap_or(0),
        sessions: gauge_by_handler(&metrics, "switchyard_sessions_active"),
        conns: gauge_by_handler(&metrics, "switchyard_connections_open"),
    })
}

/// `GET /metrics` over HTTP/1.0 (the admin endpoint closes after the reply).
fn fetch_metrics(admin: SocketAddr) -> Result<String, String> {
    let run = || -> std::io::Result<String> {
        let mut s = TcpStream::connect_timeout(&admin, Duration::from_secs(5))?;
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        s.write_all(b"GET /metrics HTTP/1.0\r\n\r\n")?;
        let mut out = String::new();
        s.read_to_string(&mut out)?;
        Ok(out)
    };
    let reply = run().map_err(|e| format!("GET http://{admin}/metrics: {e}"))?;
    if !reply.starts_with("HTTP/1.0 200") && !reply.starts_with("HTTP/1.1 200") {
        let head = reply.lines().next().unwrap_or_default();
        return Err(format!("GET http://{admin}/metrics: {head}"));
    }
    Ok(reply)
}

/// The number after `key` in `/proc/PID/status` (`VmRSS:   1234 kB`).
fn status_field(status: &str, key: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(key))?;
    line[key.len()..].split_whitespace().next()?.parse().ok()
}

/// Samples `NAME{handler="h"} VALUE` of one gauge.
fn gauge_by_handler(text: &str, name: &str) -> BTreeMap<String, i64> {
    let prefix = format!("{name}{{");
    text.lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .filter_map(|rest| {
            let (labels, value) = rest.split_once("} ")?;
            let handler = labels
                .split(',')
                .find_map(|kv| kv.strip_prefix("handler=\""))?
                .trim_end_matches('"');
            Some((handler.to_owned(), value.trim().parse().ok()?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_status_and_prometheus_gauges() {
        let status = "Name:\tswitchyard\nVmRSS:\t   12345 kB\nThreads:\t7\n";
        assert_eq!(status_field(status, "VmRSS:"), Some(12345));
        assert_eq!(status_field(status, "Threads:"), Some(7));
        let text = "# HELP x\nswitchyard_sessions_active{handler=\"tftp\"} 3\n\
                    switchyard_sessions_active{handler=\"files\"} 0\n\
                    switchyard_sessions_active_other{handler=\"x\"} 9\n";
        let g = gauge_by_handler(text, "switchyard_sessions_active");
        assert_eq!(g.len(), 2);
        assert_eq!(g["tftp"], 3);
    }

    #[test]
    fn the_own_process_can_be_read() {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        assert!(status_field(&status, "VmRSS:").unwrap() > 0);
    }
}
