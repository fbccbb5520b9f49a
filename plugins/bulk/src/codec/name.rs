//! The file name policy: one plain path component.
//!
//! Uploads and downloads live in one directory (the configured `incoming/`), so a
//! name is never a path: no `/`, no `\`, not `.`/`..`, no leading `.` (hidden names
//! are the server's own: partial uploads, digest side files, the host's temps), no
//! control characters, at most 255 bytes. Checked before any storage call so the
//! client gets a precise reason; the host checks again beneath the root.

use super::{CodecError, MAX_NAME};

/// Accept or refuse a client-supplied file name.
pub fn check_name(name: &str) -> Result<(), CodecError> {
    if name.is_empty() {
        return Err(CodecError::Invalid("empty name"));
    }
    if name.len() > MAX_NAME {
        return Err(CodecError::Invalid("name too long"));
    }
    if name.contains('/') || name.contains('\\') {
        return Err(CodecError::Invalid(
            "name must not contain a path separator",
        ));
    }
    if name.starts_with('.') {
        return Err(CodecError::Invalid("name must not start with a dot"));
    }
    if name.chars().any(char::is_control) {
        return Err(CodecError::Invalid("control character in name"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_pass() {
        for ok in [
            "a.pptx",
            "report 2024.pdf",
            "日本.txt",
            "x",
            &"y".repeat(255),
        ] {
            assert_eq!(check_name(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn paths_hidden_and_control_names_fail() {
        for bad in [
            "",
            ".",
            "..",
            "../etc/passwd",
            "/etc/passwd",
            "a/b",
            "..\\x",
            ".hidden",
            ".sy-tmp.1.2.3",
            "a\nb",
            "a\0b",
            &"z".repeat(256),
        ] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }
}
