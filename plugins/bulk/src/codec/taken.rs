//! The texts of a `GET`'s `NOT_FOUND` reply, which tell a free name from a taken one.
//!
//! Why they are wire format: a client that must not upload over a taken name asks with
//! a `GET` at an offset past the end of any file (`u64::MAX`), which every v2 server
//! answers `NOT_FOUND` without sending a byte of body; only the text says whether a
//! file holds the name, and how long it is (`docs/bulk-protocol.md`, "Asking whether
//! a name is taken"). Server and client share these functions so they cannot drift.

/// The offset of a `GET` that only asks whether a name is taken: past the end of any
/// file, so no body can follow. A server answers it like any other `GET` past the end,
/// but as a question, not a transfer (no warning, no transfer record).
pub const PROBE_OFFSET: u64 = u64::MAX;

/// `NOT_FOUND` text when nothing is stored under the name.
pub const NO_SUCH_FILE: &str = "no such file";

/// `NOT_FOUND` text when the file is shorter than the offset asked for.
pub fn past_the_end(offset: u64, size: u64) -> String {
    format!("offset {offset} past the end ({size} bytes)")
}

/// The size in a [`past_the_end`] text: `Some` means a file holds the name.
pub fn taken_size(text: &str) -> Option<u64> {
    let rest = text.strip_prefix("offset ")?;
    let (_, tail) = rest.split_once(" past the end (")?;
    tail.strip_suffix(" bytes)")?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_size_reads_back() {
        assert_eq!(taken_size(&past_the_end(u64::MAX, 0)), Some(0));
        assert_eq!(taken_size(&past_the_end(9, 1 << 40)), Some(1 << 40));
        assert_eq!(taken_size(NO_SUCH_FILE), None);
        assert_eq!(taken_size("offset 9 past the end (x bytes)"), None);
    }
}
