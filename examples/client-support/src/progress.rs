//! Progress bars (bytes, rate, ETA) on a terminal; nothing otherwise, so scripts,
//! pipes and logs get clean output.

use std::io::IsTerminal;

pub use indicatif::ProgressBar;
use indicatif::{ProgressDrawTarget, ProgressStyle};

/// A byte bar for `len` bytes (a spinner with a byte count when the size is unknown),
/// hidden when `quiet` or unless stderr is a terminal.
pub fn bar(len: Option<u64>, label: &str, quiet: bool) -> ProgressBar {
    let pb = match len {
        Some(n) => ProgressBar::new(n),
        None => ProgressBar::new_spinner(),
    };
    if quiet || !std::io::stderr().is_terminal() {
        pb.set_draw_target(ProgressDrawTarget::hidden());
        return pb;
    }
    let template = match len {
        Some(_) => "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        None => "{msg} {spinner} {bytes} {bytes_per_sec}",
    };
    let style = ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    pb.set_style(style);
    pb.set_message(label.to_owned());
    pb
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
        assert!(bar(None, "y", true).is_hidden());
    }
}
