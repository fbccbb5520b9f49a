//! The access log on real files: batches by size and by time, nothing lost at close,
//! a reopen after the file was moved.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use switchyard_sdk::Direction;

use super::{AccessLog, Entry};
use crate::topology::{AccessLogFormat, AccessLogSpec};

fn spec(path: &Path, buffer_bytes: usize, flush: Duration) -> AccessLogSpec {
    AccessLogSpec {
        path: path.to_path_buf(),
        buffer_bytes,
        flush,
        format: AccessLogFormat::Text,
    }
}

fn logger() -> slog::Logger {
    slog::Logger::root(slog::Discard, slog::o!())
}

fn entry(resource: &str) -> Entry<'_> {
    Entry {
        at: SystemTime::now(),
        handler: "files",
        peer: Some(SocketAddr::from(([127, 0, 0, 1], 5000))),
        resource,
        direction: Direction::Send,
        bytes: 1024,
        outcome: "ok",
        duration: Duration::from_micros(300),
    }
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Wait up to 5 s for `path` to hold `n` lines.
fn wait_for_lines(path: &Path, n: usize) -> Vec<String> {
    let end = Instant::now() + Duration::from_secs(5);
    loop {
        let got = lines(path);
        if got.len() >= n || Instant::now() > end {
            return got;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn lines_wait_in_the_buffer_and_close_writes_them_all() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    let log = AccessLog::open(&spec(&path, 64 * 1024, Duration::from_secs(60)), &logger()).unwrap();
    for i in 0..100 {
        log.write(&entry(&format!("f{i}")));
    }
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(
        lines(&path),
        Vec::<String>::new(),
        "buffered, not written yet"
    );
    log.close();
    let got = lines(&path);
    assert_eq!(got.len(), 100);
    assert!(got[0].contains(" resource=f0 ") && got[99].contains(" resource=f99 "));
    // After the close a line is written by its logger, at once.
    log.write(&entry("late"));
    assert!(lines(&path)[100].contains("resource=late"));
}

#[test]
fn a_full_buffer_is_written_without_waiting_for_the_flush_time() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    let log = AccessLog::open(&spec(&path, 1024, Duration::from_secs(60)), &logger()).unwrap();
    // Past 1 KiB (each line is over 100 bytes): the writer takes what is there then.
    for _ in 0..20 {
        log.write(&entry("a-name-to-fill-the-buffer"));
    }
    let end = Instant::now() + Duration::from_secs(5);
    let size = || std::fs::metadata(&path).map_or(0, |m| m.len());
    while size() < 1024 && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        size() >= 1024,
        "written once the buffer filled: {} bytes",
        size()
    );
    assert!(
        std::fs::read(&path).unwrap().ends_with(b"\n"),
        "whole lines only"
    );
}

#[test]
fn a_lone_line_is_written_after_the_flush_time() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    let log = AccessLog::open(
        &spec(&path, 64 * 1024, Duration::from_millis(50)),
        &logger(),
    )
    .unwrap();
    log.write(&entry("one"));
    let got = wait_for_lines(&path, 1);
    assert_eq!(got.len(), 1);
    assert!(got[0].contains("resource=one"), "{got:?}");
}

#[test]
fn a_reopen_writes_what_waits_to_the_moved_file_and_starts_a_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    let moved = dir.path().join("access.log.1");
    let log = AccessLog::open(&spec(&path, 64 * 1024, Duration::from_secs(60)), &logger()).unwrap();
    log.write(&entry("before"));
    std::fs::rename(&path, &moved).unwrap();
    log.reopen();
    let end = Instant::now() + Duration::from_secs(5);
    while !path.exists() && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(10));
    }
    log.write(&entry("after"));
    log.close();
    let (old, new) = (lines(&moved), lines(&path));
    assert_eq!(old.len(), 1, "{old:?}");
    assert!(old[0].contains("resource=before"));
    assert_eq!(new.len(), 1, "{new:?}");
    assert!(new[0].contains("resource=after"));
}

#[test]
fn a_file_that_cannot_be_opened_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no/such/dir/access.log");
    let err = AccessLog::open(&spec(&path, 1024, Duration::from_secs(1)), &logger())
        .expect_err("no directory");
    assert!(err.to_string().contains("no/such/dir/access.log"), "{err}");
}

/// The main log, kept as `msg key=value ...` lines.
#[derive(Clone, Default)]
struct Capture(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

impl slog::Drain for Capture {
    type Ok = ();
    type Err = slog::Never;
    fn log(&self, r: &slog::Record<'_>, _: &slog::OwnedKVList) -> Result<(), slog::Never> {
        struct Line<'a>(&'a mut String);
        impl slog::Serializer for Line<'_> {
            fn emit_arguments(
                &mut self,
                key: slog::Key,
                v: &std::fmt::Arguments<'_>,
            ) -> slog::Result {
                self.0.push_str(&format!(" {key}={v}"));
                Ok(())
            }
        }
        let mut line = r.msg().to_string();
        let _ = slog::KV::serialize(&r.kv(), r, &mut Line(&mut line));
        self.0.lock().unwrap().push(line);
        Ok(())
    }
}

#[test]
fn a_failed_write_is_reported_on_the_main_log_with_what_it_lost() {
    let main = Capture::default();
    let logger = slog::Logger::root(main.clone(), slog::o!());
    // Every write to /dev/full fails with ENOSPC.
    let log = AccessLog::open(
        &spec(Path::new("/dev/full"), 64 * 1024, Duration::from_secs(60)),
        &logger,
    )
    .unwrap();
    for name in ["a", "b", "c"] {
        log.write(&entry(name));
    }
    log.close();
    let lines = main.0.lock().unwrap().clone();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with("access log: write failed, lines lost")
            && lines[0].contains(" lines=3")
            && lines[0].contains("/dev/full"),
        "{lines:?}"
    );
}
