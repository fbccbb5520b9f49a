//! One `write` per log record, whatever the format.
//!
//! slog's formatters write a record in pieces: the terminal format one per timestamp,
//! level, message, key, separator and value (16 `write`s for a files `GET` line), the
//! JSON format one per token. Unbuffered, each piece is a system call on the log
//! thread, and two processes (or a shell) writing to the same stderr can interleave
//! inside a line. So both formats write into a [`RecordWriter`], which keeps the
//! pieces and hands the finished record to the sink with one `write_all` when the
//! formatter flushes at the record's end; and the terminal format's decoration
//! (colours, for a terminal) is done here, into the same buffer ([`Decorated`]), since
//! `slog_term::TermDecorator` writes straight to the terminal.

use std::cell::RefCell;
use std::io::{self, Write};

use slog::{Level, OwnedKVList, Record};
use slog_term::{Decorator, RecordDecorator};

/// Collects one record's pieces; [`Write::flush`] writes them to `out` at once.
#[derive(Debug)]
pub struct RecordWriter<W: Write> {
    buf: Vec<u8>,
    out: W,
}

impl<W: Write> RecordWriter<W> {
    pub fn new(out: W) -> RecordWriter<W> {
        RecordWriter {
            buf: Vec::with_capacity(1024),
            out,
        }
    }
}

impl<W: Write> Write for RecordWriter<W> {
    fn write(&mut self, piece: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(piece);
        Ok(piece.len())
    }

    /// The record is complete: one `write_all` (one `write(2)` unless the kernel takes
    /// less, as a full pipe may), then the sink's own flush.
    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let written = self.out.write_all(&self.buf);
        // A failed record is not kept for the next one: it would be written twice.
        self.buf.clear();
        written?;
        self.out.flush()
    }
}

/// ANSI colour of a level's name, as `slog_term::TermDecorator` colours it.
fn level_color(level: Level) -> &'static [u8] {
    match level {
        Level::Critical => b"\x1b[35m",
        Level::Error => b"\x1b[31m",
        Level::Warning => b"\x1b[33m",
        Level::Info => b"\x1b[32m",
        Level::Debug => b"\x1b[36m",
        Level::Trace => b"\x1b[34m",
    }
}

const BOLD: &[u8] = b"\x1b[1m";
const RESET: &[u8] = b"\x1b[0m";

/// A `slog_term` decorator writing each record into a [`RecordWriter`], coloured
/// or plain.
#[derive(Debug)]
pub struct Decorated<W: Write> {
    out: RefCell<RecordWriter<W>>,
    color: bool,
}

impl<W: Write> Decorated<W> {
    /// `color`: ANSI colours (for a terminal that is not `NO_COLOR`).
    pub fn new(out: W, color: bool) -> Decorated<W> {
        Decorated {
            out: RefCell::new(RecordWriter::new(out)),
            color,
        }
    }
}

impl<W: Write> Decorator for Decorated<W> {
    fn with_record<F>(&self, record: &Record<'_>, _: &OwnedKVList, f: F) -> io::Result<()>
    where
        F: FnOnce(&mut dyn RecordDecorator) -> io::Result<()>,
    {
        let mut out = self.out.borrow_mut();
        let mut rd = Piece {
            out: &mut out,
            level: record.level(),
            color: self.color,
            styled: false,
        };
        let result = f(&mut rd);
        // The formatter flushes at the end; a record cut short by an error is still
        // written (or dropped) as one piece, never left to prefix the next.
        let flushed = rd.flush();
        result.and(flushed)
    }
}

/// One record being decorated.
struct Piece<'a, W: Write> {
    out: &'a mut RecordWriter<W>,
    level: Level,
    color: bool,
    /// A colour or bold is on (so a reset is due).
    styled: bool,
}

impl<W: Write> Write for Piece<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.out.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.reset()?;
        self.out.flush()
    }
}

impl<W: Write> Piece<'_, W> {
    fn set(&mut self, code: &[u8]) -> io::Result<()> {
        if self.color {
            self.reset()?;
            self.out.write_all(code)?;
            self.styled = true;
        }
        Ok(())
    }
}

impl<W: Write> RecordDecorator for Piece<'_, W> {
    fn reset(&mut self) -> io::Result<()> {
        if std::mem::replace(&mut self.styled, false) {
            self.out.write_all(RESET)?;
        }
        Ok(())
    }

    fn start_level(&mut self) -> io::Result<()> {
        let color = level_color(self.level);
        self.set(color)
    }

    fn start_key(&mut self) -> io::Result<()> {
        self.set(BOLD)
    }

    fn start_msg(&mut self) -> io::Result<()> {
        self.set(BOLD)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use slog::Drain;
    use std::sync::{Arc, Mutex};

    /// A sink that keeps every `write` call apart.
    #[derive(Debug, Clone, Default)]
    struct Counting(Arc<Mutex<Vec<Vec<u8>>>>);

    impl Write for Counting {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().push(buf.to_vec());
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn log_three(drain: impl slog::Drain<Ok = (), Err = slog::Never> + Send + 'static) {
        // A logger's drain must be `Sync`; the async drain gives that in the host.
        let log = slog::Logger::root(Mutex::new(drain).fuse(), slog::o!("handler" => "files"));
        slog::info!(log, "transfer"; "peer" => "127.0.0.1:5000", "file" => "a b.txt", "bytes" => 1024, "result" => "ok");
        slog::warn!(log, "careful"; "n" => 3);
        slog::error!(log, "bad"; "report" => "line one\nline two");
    }

    #[test]
    fn a_term_record_is_one_write_plain_or_coloured() {
        for color in [false, true] {
            let out = Counting::default();
            log_three(
                slog_term::FullFormat::new(Decorated::new(out.clone(), color))
                    .build()
                    .fuse(),
            );
            let writes = out.0.lock().unwrap().clone();
            assert_eq!(writes.len(), 3, "one write per record: {writes:?}");
            for w in &writes {
                let text = String::from_utf8_lossy(w);
                assert_eq!(
                    text.matches('\n').count(),
                    1 + text.contains("line one") as usize
                );
                assert!(text.ends_with('\n'), "{text:?}");
                assert_eq!(text.contains("\x1b["), color, "{text:?}");
            }
            let first = String::from_utf8_lossy(&writes[0]).into_owned();
            for part in [
                "INFO",
                "transfer",
                "peer",
                "127.0.0.1:5000",
                "bytes",
                "1024",
            ] {
                assert!(first.contains(part), "{part} in {first:?}");
            }
        }
    }

    #[test]
    fn a_json_record_is_one_write() {
        let out = Counting::default();
        log_three(
            slog_json::Json::new(RecordWriter::new(out.clone()))
                .set_flush(true)
                .add_default_keys()
                .build()
                .fuse(),
        );
        let writes = out.0.lock().unwrap().clone();
        assert_eq!(writes.len(), 3, "one write per record");
        for w in &writes {
            let line = std::str::from_utf8(w).unwrap();
            assert!(
                line.ends_with('\n') && line.matches('\n').count() == 1,
                "{line:?}"
            );
            let j: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(j["handler"], "files");
        }
    }

    #[test]
    fn a_failed_write_is_not_repeated_with_the_next_record() {
        /// Fails its first write, then records the rest.
        struct FailOnce(bool, Vec<u8>);
        impl Write for FailOnce {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                if std::mem::replace(&mut self.0, false) {
                    return Err(io::Error::other("disk full"));
                }
                self.1.extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut w = RecordWriter::new(FailOnce(true, Vec::new()));
        w.write_all(b"one\n").unwrap();
        assert!(w.flush().is_err());
        w.write_all(b"two\n").unwrap();
        w.flush().unwrap();
        assert_eq!(w.out.1, b"two\n");
    }
}
