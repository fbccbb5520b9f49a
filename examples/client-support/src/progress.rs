//! Progress like curl's and rsync's: the file's name, bytes, percent, rate and ETA on a
//! terminal (name, bytes and rate while the size is unknown); nothing otherwise, so
//! scripts, pipes and logs get clean output. `--json` gets one [`Summary`] line per
//! transfer instead.

use std::io::IsTerminal;
use std::time::Duration;

pub use indicatif::ProgressBar;
use indicatif::{ProgressDrawTarget, ProgressStyle};

const SIZED: &str =
    "{msg} {bytes}/{total_bytes} {percent:>3}% [{bar:24}] {bytes_per_sec} ETA {eta}";
const UNSIZED: &str = "{msg} {spinner} {bytes} {bytes_per_sec} {elapsed}";

/// A byte bar labelled `name` for `len` bytes (unknown: `None`, until
/// [`set_size`]), hidden when `quiet` or unless stderr, where it draws, is a terminal.
pub fn bar(len: Option<u64>, name: &str, quiet: bool) -> ProgressBar {
    let pb = match len {
        Some(n) => ProgressBar::new(n),
        None => ProgressBar::new_spinner(),
    };
    if quiet || !std::io::stderr().is_terminal() {
        pb.set_draw_target(ProgressDrawTarget::hidden());
        return pb;
    }
    pb.set_style(style(len.is_some()));
    pb.set_message(name.to_owned());
    // Redraw even while no byte moves, so a stalled transfer still shows its rate fall.
    pb.enable_steady_tick(Duration::from_millis(200));
    pb
}

/// The size became known (TFTP's `tsize`, a reply's length): show percent and ETA.
pub fn set_size(pb: &ProgressBar, len: u64) {
    pb.set_length(len);
    if !pb.is_hidden() {
        pb.set_style(style(true));
    }
}

fn style(sized: bool) -> ProgressStyle {
    ProgressStyle::with_template(if sized { SIZED } else { UNSIZED })
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

/// One transfer's `--json` line: what a script needs to check and log it.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// The remote name.
    pub name: String,
    /// Bytes moved (the whole file's size when skipped).
    pub bytes: u64,
    pub seconds: f64,
    /// `sha256` of the whole file, hex.
    pub sha256: String,
    /// Nothing was sent: the server already had these bytes (`--checksum`).
    pub skipped: bool,
}

impl Summary {
    /// `{"name":…,"bytes":…,"seconds":…,"rate":…,"sha256":…}` (bytes per second),
    /// with `"skipped":true` for an upload `--checksum` found unnecessary.
    pub fn to_json(&self) -> String {
        let rate = if self.seconds > 0.0 {
            self.bytes as f64 / self.seconds
        } else {
            0.0
        };
        let mut v = serde_json::json!({
            "name": self.name,
            "bytes": self.bytes,
            "seconds": (self.seconds * 1e6).round() / 1e6,
            "rate": rate.round(),
            "sha256": self.sha256,
        });
        if self.skipped {
            v["skipped"] = serde_json::Value::Bool(true);
        }
        v.to_string()
    }
}

/// How a transfer command ends: its `--json` line if asked and exit 0, or the
/// failure reported as `prog: message` with its status.
pub fn finish(
    prog: &str,
    result: Result<Summary, crate::Failure>,
    json: bool,
) -> std::process::ExitCode {
    match result {
        Ok(s) => {
            if json {
                println!("{}", s.to_json());
            }
            std::process::ExitCode::SUCCESS
        }
        Err(f) => f.report(prog),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_bars_are_hidden_and_still_count() {
        let pb = bar(Some(10), "x", true);
        assert!(pb.is_hidden());
        pb.inc(4);
        assert_eq!(pb.position(), 4);
        assert_eq!(pb.length(), Some(10));
        let spin = bar(None, "y", true);
        set_size(&spin, 7);
        assert_eq!(spin.length(), Some(7));
    }

    #[test]
    fn a_summary_is_one_json_object() {
        let s = Summary {
            name: "a b.bin".into(),
            bytes: 2000,
            seconds: 2.0,
            sha256: "ab".into(),
            skipped: false,
        };
        let v: serde_json::Value = serde_json::from_str(&s.to_json()).unwrap();
        assert_eq!(v["name"], "a b.bin");
        assert_eq!(v["rate"], 1000.0);
        assert!(v.get("skipped").is_none());
        assert!(!s.to_json().contains('\n'));
    }
}
