//! What the example clients (`switchyard-tftp`, `-chat`, `-files`, `-bulk`) share, so
//! that a user types a server the same way to each, sees the same progress, and a
//! script reads the same exit statuses from each.
//!
//! It depends on no part of Switchyard: clients never link the runtime, and a client
//! needs nothing here that a server has.
//!
//! # Layout
//! - `addr`: `HOST[:PORT]` parsing and resolution.
//! - `exit`: the exit-status table and the [`exit::Failure`] that carries a status.
//! - `partial`: `.NAME.part` temp files, removed on failure and on SIGINT/SIGTERM.
//! - `progress`: terminal-only progress bars and `--json` summaries.
//! - `locale`: the menu language from the locale, `ls -l` times.
//! - `cli_docs`: `completions` and `man`, from the clap definitions.

pub mod addr;
pub mod cli_docs;
pub mod exit;
pub mod locale;
pub mod partial;
pub mod progress;

pub use exit::{Exit, Failure};
