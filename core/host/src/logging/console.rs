//! [`ConsoleDrain`]: WARN and ERROR records kept for the operator console, in the
//! journal's bounded ring (`switchyard_runtime::console::Journal`), whatever
//! `--log-level` says and wherever the log goes.
//!
//! Why a drain of its own rather than reading the log back: the log may be a file, a
//! pipe or a terminal, and the console must show the last records in any case. A
//! record costs one lock and a bounded push, and only at WARN and above.

use std::sync::Arc;

use slog::{Drain, KV, Level, OwnedKVList, Record};
use switchyard_runtime::console::Journal;
use switchyard_runtime::console::journal::now_unix_ms;
use switchyard_runtime::console::model::LogRecord;

/// Longest field value kept.
const MAX_VALUE: usize = 400;
/// Fields left out: a refused topology's `report` repeats, with carets drawn over
/// several lines, the errors the reload history lists already.
const LEFT_OUT: &[&str] = &["report"];

/// Pushes WARN+ records into the journal.
#[derive(Debug)]
pub struct ConsoleDrain {
    pub journal: Arc<Journal>,
}

/// Collects a record's key-value pairs as text.
struct Fields(Vec<(String, String)>);

impl slog::Serializer for Fields {
    fn emit_arguments(&mut self, key: slog::Key, val: &std::fmt::Arguments<'_>) -> slog::Result {
        if LEFT_OUT.contains(&key) {
            return Ok(());
        }
        let mut value = val.to_string();
        if value.len() > MAX_VALUE {
            let mut cut = MAX_VALUE;
            while !value.is_char_boundary(cut) {
                cut -= 1;
            }
            value.truncate(cut);
            value.push('…');
        }
        self.0.push((key.to_string(), value));
        Ok(())
    }
}

impl Drain for ConsoleDrain {
    type Ok = ();
    type Err = slog::Never;

    fn log(&self, record: &Record<'_>, values: &OwnedKVList) -> Result<(), slog::Never> {
        let level = match record.level() {
            Level::Critical => "critical",
            Level::Error => "error",
            Level::Warning => "warn",
            _ => return Ok(()),
        };
        let mut fields = Fields(Vec::new());
        let _ = record.kv().serialize(record, &mut fields);
        let _ = values.serialize(record, &mut fields);
        self.journal.log(LogRecord {
            at_unix_ms: now_unix_ms(),
            level,
            msg: record.msg().to_string(),
            fields: fields.0,
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_and_errors_are_kept_with_their_fields_and_the_rest_is_not() {
        let journal = Arc::new(Journal::default());
        let log = slog::Logger::root(
            ConsoleDrain {
                journal: Arc::clone(&journal),
            }
            .fuse(),
            slog::o!("handler" => "tftp"),
        );
        slog::info!(log, "fine");
        slog::warn!(log, "careful"; "peer" => "127.0.0.1:9");
        slog::error!(log, "bad"; "long" => "x".repeat(1000), "report" => "a\nb");
        let records = journal.log_records();
        assert_eq!(records.len(), 2);
        assert_eq!(
            (records[0].level, records[0].msg.as_str()),
            ("error", "bad")
        );
        assert!(records[0].fields[0].1.chars().count() <= MAX_VALUE + 1);
        assert!(records[0].fields.iter().all(|(k, _)| k != "report"));
        assert_eq!(records[1].level, "warn");
        assert_eq!(
            records[1].fields,
            vec![
                ("peer".to_owned(), "127.0.0.1:9".to_owned()),
                ("handler".to_owned(), "tftp".to_owned())
            ]
        );
    }
}
