//! Object names a plugin may use, confined to the storage's prefix.
//!
//! The rules are those of the `dir` storage (`switchyard_runtime::storage::path`), so a
//! handler moved from a directory to a bucket accepts and refuses exactly the same
//! names: an object store has no `..` of its own, but a key `a/../b` would be a *second*
//! spelling of a file, and a key outside the prefix would be another handler's file.
//! This crate must not depend on the runtime, so the rules are restated here and pinned
//! by the same cases in the tests below.
//!
//! The host's own objects (upload records, commit locks, probes) live under components
//! starting with [`RESERVED_PREFIX`], which no plugin name may contain: a plugin can
//! neither read nor overwrite them, and listing never shows them.

use crate::error::ObjectStorageError;

/// Components starting with this belong to the host (the `dir` storage's temp prefix).
pub const RESERVED_PREFIX: &str = ".sy-tmp.";

/// Longest component accepted (Linux `NAME_MAX`, as for the `dir` storage).
const MAX_COMPONENT: usize = 255;
/// Longest name accepted (Linux `PATH_MAX` minus the NUL).
const MAX_NAME: usize = 4095;

/// A name that passed [`ObjectName::parse`]: relative, `/`-separated, canonical.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectName(String);

impl ObjectName {
    /// Check a plugin-supplied name. Refused, as by the `dir` storage: empty names, a
    /// leading `/`, empty components, `.` and `..`, `\` anywhere, control characters,
    /// components over 255 bytes, names over 4095, and [`RESERVED_PREFIX`] components.
    pub fn parse(name: &str) -> Result<ObjectName, ObjectStorageError> {
        let refuse = |why: &'static str| Err(ObjectStorageError::InvalidName(why));
        if name.is_empty() {
            return refuse("empty path");
        }
        if name.len() > MAX_NAME {
            return refuse("path too long");
        }
        if name.starts_with('/') {
            return refuse("absolute path");
        }
        if name.contains('\\') {
            return refuse("backslash in path");
        }
        if name.chars().any(char::is_control) {
            return refuse("control character in path");
        }
        for part in name.split('/') {
            if part.is_empty() {
                return refuse("empty path component");
            }
            if part == "." || part == ".." {
                return refuse("dot path component");
            }
            if part.len() > MAX_COMPONENT {
                return refuse("path component too long");
            }
            if part.starts_with(RESERVED_PREFIX) {
                return refuse("reserved temp file name");
            }
        }
        Ok(ObjectName(name.to_owned()))
    }

    /// The name as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ObjectName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A storage prefix as the topology gives it (`"team/a/"`, `"team/a"` or `""`), checked
/// with the same component rules, and normalised to no leading or trailing `/`.
pub fn parse_prefix(prefix: &str) -> Result<String, ObjectStorageError> {
    let trimmed = prefix.strip_suffix('/').unwrap_or(prefix);
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    ObjectName::parse(trimmed).map(|n| n.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(name: &str) -> &'static str {
        match ObjectName::parse(name) {
            Err(ObjectStorageError::InvalidName(why)) => why,
            other => panic!("{name:?} accepted: {other:?}"),
        }
    }

    #[test]
    fn the_dir_storage_cases_are_refused_alike() {
        assert_eq!(refused(""), "empty path");
        assert_eq!(refused("/etc/passwd"), "absolute path");
        assert_eq!(refused("a//b"), "empty path component");
        assert_eq!(refused("a/"), "empty path component");
        assert_eq!(refused(".."), "dot path component");
        assert_eq!(refused("a/../../b"), "dot path component");
        assert_eq!(refused("./a"), "dot path component");
        assert_eq!(refused("..\\x"), "backslash in path");
        assert_eq!(refused("a\nb"), "control character in path");
        assert_eq!(refused("a\0b"), "control character in path");
        assert_eq!(refused(&"x".repeat(256)), "path component too long");
        assert_eq!(refused(&"a/".repeat(2048)), "path too long");
        assert_eq!(refused(".sy-tmp.uploads/x"), "reserved temp file name");
        assert_eq!(refused("d/.sy-tmp.1"), "reserved temp file name");
    }

    #[test]
    fn ordinary_names_pass_unchanged() {
        for name in [
            "a",
            "dir/file.txt",
            ".hidden",
            "a/b/c",
            "x..y",
            "sp ace",
            "é",
        ] {
            assert_eq!(ObjectName::parse(name).unwrap().as_str(), name);
        }
        assert!(ObjectName::parse(&"x".repeat(255)).is_ok());
    }

    #[test]
    fn prefixes_normalise_and_refuse_escapes() {
        assert_eq!(parse_prefix("").unwrap(), "");
        assert_eq!(parse_prefix("team/a/").unwrap(), "team/a");
        assert_eq!(parse_prefix("team/a").unwrap(), "team/a");
        assert!(parse_prefix("../x").is_err());
        assert!(parse_prefix("/abs").is_err());
        assert!(parse_prefix("a//").is_err());
    }
}
