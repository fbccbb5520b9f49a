//! Where log records go: stderr, or a file that SIGUSR1 reopens.
//!
//! logrotate (and every tool copied from nginx's setup) moves the log file away and
//! then sends `SIGUSR1`; the process must start a new file at the old path, or it
//! keeps writing into the moved one. The signal only raises a flag ([`Reopen`]); the
//! drain's thread reopens the file before the next record, so no record is split
//! between two files and the signal path does no I/O.
//!
//! A record reaches the sink whole, as one `write_all` (`super::record`): the check
//! for a reopen runs once per record, and the sink keeps no buffer of its own, so
//! nothing waits in memory once a record is logged.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// A request to reopen the log file, shared between the signal handler and the sink.
#[derive(Debug, Clone, Default)]
pub struct Reopen(Arc<AtomicBool>);

impl Reopen {
    /// Ask for the file to be reopened before the next record.
    pub fn request(&self) {
        self.0.store(true, Ordering::Release);
    }

    fn take(&self) -> bool {
        self.0.swap(false, Ordering::AcqRel)
    }
}

/// Open `path` for appending, creating it (mode 0640) if it does not exist.
pub fn open_log_file(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o640)
        .open(path)
}

/// The writer behind the drain.
#[derive(Debug)]
pub enum Sink {
    Stderr(io::Stderr),
    File {
        path: PathBuf,
        out: File,
        reopen: Reopen,
    },
}

impl Sink {
    pub fn stderr() -> Sink {
        Sink::Stderr(io::stderr())
    }

    /// A sink appending to `file` (already opened at `path`, so that a bad path
    /// fails at start, not at the first record).
    pub fn file(path: PathBuf, file: File, reopen: Reopen) -> Sink {
        Sink::File {
            path,
            out: file,
            reopen,
        }
    }

    /// Switch to a fresh file at the same path if a reopen was asked for. A failed
    /// reopen keeps the old file (losing records is worse than writing them to the
    /// moved file) and says so on stderr, the only place left to say it.
    fn reopen_if_asked(&mut self) {
        let Sink::File { path, out, reopen } = self else {
            return;
        };
        if !reopen.take() {
            return;
        }
        match open_log_file(path) {
            Ok(file) => *out = file,
            Err(e) => eprintln!(
                "switchyard: cannot reopen log file {}: {e}; still writing to the old one",
                path.display()
            ),
        }
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.reopen_if_asked();
        match self {
            Sink::Stderr(w) => w.write(buf),
            Sink::File { out, .. } => out.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::Stderr(w) => w.flush(),
            Sink::File { out, .. } => out.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reopen_starts_a_new_file_at_the_old_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("host.log");
        let reopen = Reopen::default();
        let mut sink = Sink::file(path.clone(), open_log_file(&path).unwrap(), reopen.clone());
        sink.write_all(b"one\n").unwrap();
        sink.flush().unwrap();
        let moved = dir.path().join("host.log.1");
        std::fs::rename(&path, &moved).unwrap();
        sink.write_all(b"two\n").unwrap();
        sink.flush().unwrap();
        reopen.request();
        sink.write_all(b"three\n").unwrap();
        sink.flush().unwrap();
        assert_eq!(std::fs::read_to_string(&moved).unwrap(), "one\ntwo\n");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "three\n");
    }

    #[test]
    fn a_failed_reopen_keeps_writing_to_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("logs");
        std::fs::create_dir(&sub).unwrap();
        let path = sub.join("host.log");
        let reopen = Reopen::default();
        let mut sink = Sink::file(path.clone(), open_log_file(&path).unwrap(), reopen.clone());
        let kept = dir.path().join("kept.log");
        std::fs::rename(&path, &kept).unwrap();
        std::fs::remove_dir(&sub).unwrap();
        reopen.request();
        sink.write_all(b"still here\n").unwrap();
        sink.flush().unwrap();
        assert_eq!(std::fs::read_to_string(&kept).unwrap(), "still here\n");
    }
}
