//! The lexical path check every storage call starts with.
//!
//! A plugin names files with relative `/`-separated paths. Before anything touches the
//! disk the path is checked *by component* (never by string prefix, so `d2/x` is not
//! "inside" `d`): this alone makes `..`, absolute paths and Windows separators
//! impossible, so the kernel-side resolution (`resolve`) only has symlinks and mounts
//! left to police.
//!
//! # Layout
//! - [`validate_path`] and [`RelPath`], the checked path.
//! - [`TEMP_PREFIX`] and [`is_temp_name`]: the reserved hidden names of temp files.

use super::StorageError;

/// Every temp file name starts with this. It is hidden (leading dot), never listed,
/// and refused as a component of any plugin path, so a plugin can neither read,
/// overwrite nor guess-and-commit another transfer's temp file.
pub const TEMP_PREFIX: &str = ".sy-tmp.";

/// Longest component accepted (Linux `NAME_MAX`).
const MAX_COMPONENT: usize = 255;
/// Longest path accepted (Linux `PATH_MAX` minus the NUL).
const MAX_PATH: usize = 4095;

/// True for names this module uses for temp files.
pub fn is_temp_name(name: &[u8]) -> bool {
    name.starts_with(TEMP_PREFIX.as_bytes())
}

/// A path that passed [`validate_path`]: relative, non-empty, made of normal components.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelPath(String);

impl RelPath {
    /// The path as given (already canonical: no empty, `.` or `..` components).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The directory part (`None` for a name directly under the root) and the last
    /// component.
    pub fn split_last(&self) -> (Option<&str>, &str) {
        match self.0.rsplit_once('/') {
            Some((dir, name)) => (Some(dir), name),
            None => (None, &self.0),
        }
    }
}

/// Check a plugin-supplied path lexically.
///
/// Refused: empty paths; a leading `/` (absolute); empty components (`a//b`, trailing
/// `/`); `.` and `..` components (there is exactly one spelling for each file, which
/// keeps plugin-side policies such as "uploads only under `incoming/`" sound); `\`
/// anywhere (a Windows client's `..\x` must not become a file named `..\x` either);
/// NUL and other control characters (log injection, C string truncation); components
/// over 255 bytes and paths over 4095; and components starting with [`TEMP_PREFIX`].
pub fn validate_path(rel: &str) -> Result<RelPath, StorageError> {
    if rel.is_empty() {
        return Err(StorageError::InvalidPath("empty path"));
    }
    if rel.len() > MAX_PATH {
        return Err(StorageError::InvalidPath("path too long"));
    }
    if rel.starts_with('/') {
        return Err(StorageError::InvalidPath("absolute path"));
    }
    if rel.contains('\\') {
        return Err(StorageError::InvalidPath("backslash in path"));
    }
    if rel.chars().any(char::is_control) {
        return Err(StorageError::InvalidPath("control character in path"));
    }
    for component in rel.split('/') {
        match component {
            "" => return Err(StorageError::InvalidPath("empty path component")),
            "." | ".." => return Err(StorageError::InvalidPath("dot path component")),
            c if c.len() > MAX_COMPONENT => {
                return Err(StorageError::InvalidPath("path component too long"));
            }
            c if is_temp_name(c.as_bytes()) => {
                return Err(StorageError::InvalidPath("reserved temp file name"));
            }
            _ => {}
        }
    }
    Ok(RelPath(rel.to_owned()))
}
