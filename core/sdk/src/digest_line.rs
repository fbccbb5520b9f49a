//! The digest side file's name and line (`crate::sums`): pure text, below both the
//! [`Storage`](crate::Storage) trait (whose default reads a side file) and `sums`
//! (which writes them).

use crate::Stat;

/// A side file bigger than this is not ours (a valid line is under 110 bytes).
pub const MAX_SIDE_FILE: usize = 128;

/// Longest path component the host accepts; a side file longer than this is not kept.
pub const MAX_COMPONENT: usize = 255;

/// The side file holding the digest of `path`, if its name fits in one component.
pub fn side_path(path: &str) -> Option<String> {
    let (dir, base) = match path.rsplit_once('/') {
        Some((d, b)) => (Some(d), b),
        None => (None, path),
    };
    let side = format!(".{base}.sha256");
    if side.len() > MAX_COMPONENT {
        return None;
    }
    Some(match dir {
        Some(d) => format!("{d}/{side}"),
        None => side,
    })
}

/// Lowercase hex of `bytes`, as digests are written.
pub fn to_hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Exactly 64 hex digits (either case) as a digest.
pub fn parse_hex(text: &str) -> Option<[u8; 32]> {
    let text = text.as_bytes();
    if text.len() != 64 || !text.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    let mut out = [0u8; 32];
    for (o, pair) in out.iter_mut().zip(text.chunks(2)) {
        // Checked above: two ASCII hex digits.
        *o = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some(out)
}

/// The side file's line for `digest` of a file as `stat` describes it.
pub fn encode(digest: &[u8; 32], stat: &Stat) -> String {
    format!("{} {} {}\n", to_hex(digest), stat.size, stat.modified_unix)
}

/// The digest in side-file `text`, if it is still valid for a file as `stat` describes.
pub fn parse(text: &str, stat: &Stat) -> Option<[u8; 32]> {
    let mut parts = text.split_ascii_whitespace();
    let (hex, len, mtime) = (parts.next()?, parts.next()?, parts.next()?);
    let valid =
        len.parse::<u64>().ok()? == stat.size && mtime.parse::<i64>().ok()? == stat.modified_unix;
    valid.then(|| parse_hex(hex)).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat(size: u64, modified_unix: i64) -> Stat {
        Stat {
            is_dir: false,
            is_file: true,
            size,
            modified_unix,
        }
    }

    #[test]
    fn side_file_sits_beside_the_file() {
        assert_eq!(side_path("a.txt").as_deref(), Some(".a.txt.sha256"));
        assert_eq!(side_path("d/e/f").as_deref(), Some("d/e/.f.sha256"));
        assert_eq!(side_path(&"x".repeat(247)).map(|s| s.len()), Some(255));
        assert_eq!(side_path(&"x".repeat(248)), None);
        assert!(crate::is_hidden_path(&side_path("d/f").unwrap()));
    }

    #[test]
    fn line_round_trips_while_size_and_mtime_match() {
        let d = [0xab; 32];
        let line = encode(&d, &stat(7, 1_700_000_000));
        assert_eq!(line, format!("{} 7 1700000000\n", "ab".repeat(32)));
        assert_eq!(parse(&line, &stat(7, 1_700_000_000)), Some(d));
        assert_eq!(parse(&line, &stat(8, 1_700_000_000)), None);
        assert_eq!(parse(&line, &stat(7, 1_700_000_001)), None);
    }

    #[test]
    fn lines_written_before_accept_either_case_and_negative_mtimes() {
        let upper = format!("{} 0 -5", "AB".repeat(32));
        assert_eq!(parse(&upper, &stat(0, -5)), Some([0xab; 32]));
    }

    #[test]
    fn malformed_lines_are_ignored() {
        let s = stat(1, 2);
        for bad in [
            "",
            "ab 1 2",
            &format!("{} 1", "0".repeat(64)),
            &format!("{} x 2", "0".repeat(64)),
            &format!("+{} 1 2", "0".repeat(63)),
            &format!("{} 1 2", "g".repeat(64)),
        ] {
            assert_eq!(parse(bad, &s), None, "{bad:?}");
        }
    }
}
