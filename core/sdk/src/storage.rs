//! [`Storage`]: the handler's files as a trait, so a protocol state machine can call
//! storage without holding a [`Ctx`] — the plugin's adapter passes its `Ctx`, the
//! machine's tests pass an in-memory store that can inject failures.
//!
//! Storage calls answer at once on a dir (the host runs them during the call), which is
//! why they are a trait the machine calls rather than outputs it queues; on a storage
//! that waits they may answer [`HostError::Pending`], and [`crate::StorageWaits`] runs
//! the step again once the answer is in.

use crate::{Ctx, FileId, HostError, Stat, digest_line};

/// Whether any `/`-separated component of `path` starts with `.`: a hidden name.
///
/// Serving plugins keep their own side files there (digests `.NAME.sha256`, kept
/// partial uploads `.partial.<id>`, the host's `.sy-tmp.*` temps), next to the files
/// they describe so that they commit by an atomic rename in the same directory. So a
/// hidden name is never served, written or listed to peers unless the operator says
/// so (`serve_hidden`); one shared test keeps the plugins' rules the same.
pub fn is_hidden_path(path: &str) -> bool {
    path.split('/').any(|c| c.starts_with('.'))
}
/// Storage under the handler's root. Paths are relative, `/`-separated.
pub trait Storage {
    fn open_read(&mut self, path: &str) -> Result<(FileId, u64), HostError>;
    fn read_file(&mut self, file: FileId, offset: u64, buf: &mut [u8]) -> Result<usize, HostError>;
    fn create_temp(&mut self, path: &str) -> Result<FileId, HostError>;
    /// See [`Ctx::open_partial`]. The default refuses (`Unsupported`), so stores written
    /// before it existed still compile.
    fn open_partial(&mut self, path: &str) -> Result<(FileId, u64), HostError> {
        let _ = path;
        Err(HostError::Unsupported)
    }
    fn write_file(&mut self, file: FileId, data: &[u8]) -> Result<(), HostError>;
    fn commit_file(&mut self, file: FileId, path: &str, overwrite: bool) -> Result<(), HostError>;
    fn close_file(&mut self, file: FileId) -> Result<(), HostError>;
    fn stat(&mut self, path: &str) -> Result<Stat, HostError>;
    fn list_dir(&mut self, path: &str) -> Result<Vec<(String, Stat)>, HostError>;
    fn remove_file(&mut self, path: &str) -> Result<(), HostError>;
    fn free_space(&mut self) -> Result<u64, HostError>;
    /// A new step starts (the next request): a store that replays the answers of a
    /// step that waited ([`crate::StorageWaits`]) forgets the last step's. Nothing by
    /// default (a store that never waits keeps nothing).
    fn fresh_step(&mut self) {}
    /// The sha256 of the whole of `file`, opened with [`Storage::open_read`] at `path`,
    /// if known ([`Ctx::file_digest`]: the host's cache). The default, for stores
    /// without a host (a machine's tests), reads the digest side file
    /// ([`crate::sums`]) and checks it against the file's metadata, as the host does
    /// on a miss.
    fn file_digest(&mut self, file: FileId, path: &str) -> Option<[u8; 32]> {
        let _ = file;
        let stat = self.stat(path).ok()?;
        let (side, size) = self.open_read(&digest_line::side_path(path)?).ok()?;
        let mut buf = [0u8; digest_line::MAX_SIDE_FILE];
        let n = if size as usize <= buf.len() {
            self.read_file(side, 0, &mut buf).ok()
        } else {
            None
        };
        let _ = self.close_file(side);
        digest_line::parse(std::str::from_utf8(&buf[..n?]).ok()?, &stat)
    }
}

impl Storage for Ctx<'_> {
    fn open_read(&mut self, path: &str) -> Result<(FileId, u64), HostError> {
        Ctx::open_read(self, path)
    }
    fn read_file(&mut self, file: FileId, offset: u64, buf: &mut [u8]) -> Result<usize, HostError> {
        Ctx::read_file(self, file, offset, buf)
    }
    fn create_temp(&mut self, path: &str) -> Result<FileId, HostError> {
        Ctx::create_temp(self, path)
    }
    fn open_partial(&mut self, path: &str) -> Result<(FileId, u64), HostError> {
        Ctx::open_partial(self, path)
    }
    fn write_file(&mut self, file: FileId, data: &[u8]) -> Result<(), HostError> {
        Ctx::write_file(self, file, data)
    }
    fn commit_file(&mut self, file: FileId, path: &str, overwrite: bool) -> Result<(), HostError> {
        Ctx::commit_file(self, file, path, overwrite)
    }
    fn close_file(&mut self, file: FileId) -> Result<(), HostError> {
        Ctx::close_file(self, file)
    }
    fn stat(&mut self, path: &str) -> Result<Stat, HostError> {
        Ctx::stat(self, path)
    }
    fn list_dir(&mut self, path: &str) -> Result<Vec<(String, Stat)>, HostError> {
        Ctx::list_dir(self, path)
    }
    fn remove_file(&mut self, path: &str) -> Result<(), HostError> {
        Ctx::remove_file(self, path)
    }
    fn free_space(&mut self) -> Result<u64, HostError> {
        Ctx::free_space(self)
    }
    fn file_digest(&mut self, file: FileId, _path: &str) -> Option<[u8; 32]> {
        Ctx::file_digest(self, file).ok().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::is_hidden_path;

    #[test]
    fn any_component_with_a_leading_dot_is_hidden() {
        for hidden in [
            ".x.sha256",
            ".partial.0123456789abcdef0123456789abcdef",
            "d/.x.sha256",
            ".git/config",
            "a/..b/c",
            "..",
            ".",
        ] {
            assert!(is_hidden_path(hidden), "{hidden:?}");
        }
        for shown in ["x.sha256", "a/b.c", "a./b", "", "dir/file."] {
            assert!(!is_hidden_path(shown), "{shown:?}");
        }
    }
}
