//! The [`Ctx`] calls on storage under the handler's root that answer during the call
//! (open, read, write, commit, stat, list, remove): the synchronous counterparts of
//! `ctx_store`'s, which every dir storage serves.

use std::ffi::c_void;

use crate::abi::{self, SyBytes};
use crate::ctx::{Ctx, collect_entry, s};
use crate::error::HostError;
use crate::event::FileId;
use crate::stat::Stat;

impl Ctx<'_> {
    /// Open a file for reading. Returns its handle and size.
    pub fn open_read(&mut self, path: &str) -> Result<(FileId, u64), HostError> {
        let (mut id, mut size) = (0u64, 0u64);
        // SAFETY: out-pointers are valid locals.
        HostError::check(unsafe { (self.api.open_read)(self.raw, s(path), &mut id, &mut size) })?;
        Ok((FileId(id), size))
    }

    /// Read at `offset` into `buf`; returns the bytes read (0 at end of file).
    pub fn read_file(
        &mut self,
        file: FileId,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<usize, HostError> {
        let mut n = 0usize;
        // SAFETY: `buf` is writable for its length.
        HostError::check(unsafe {
            (self.api.read_file)(
                self.raw,
                file.0,
                offset,
                buf.as_mut_ptr(),
                buf.len(),
                &mut n,
            )
        })?;
        Ok(n.min(buf.len()))
    }

    /// Bring `len` bytes of `file` (from [`Ctx::open_read`]) at `offset` into the page
    /// cache off the handler thread; [`Event::FilePrefetched`](crate::Event) with `token`
    /// follows. Why: [`Ctx::read_file`] is synchronous, and on a cold cache one read
    /// would stall every session of the handler; after the prefetch it is a memory copy.
    pub fn prefetch_file(
        &mut self,
        file: FileId,
        offset: u64,
        len: u64,
        token: u64,
    ) -> Result<(), HostError> {
        // SAFETY: plain values.
        HostError::check(unsafe { (self.api.prefetch_file)(self.raw, file.0, offset, len, token) })
    }

    /// The sha256 of the whole of `file` (from [`Ctx::open_read`]), if the host knows it
    /// for that exact version of the file (`None`: hash it yourself, or answer without
    /// one). Why the host: it keys its cache by what only it sees (device, inode, size,
    /// modification and change times of the open file), so a download finds the digest
    /// without reading the side file ([`crate::sums`]) each time, and a file changed in
    /// any way misses.
    pub fn file_digest(&mut self, file: FileId) -> Result<Option<[u8; 32]>, HostError> {
        let mut digest = [0u8; 32];
        // SAFETY: `digest` is 32 writable bytes.
        match unsafe { (self.api.file_digest)(self.raw, file.0, digest.as_mut_ptr()) } {
            abi::SY_OK => Ok(Some(digest)),
            abi::SY_ERR_NOT_FOUND => Ok(None),
            other => Err(HostError::from_status(other)),
        }
    }

    /// Continue the hidden file `path` (a name starting with `.`, e.g. a partial upload
    /// committed earlier) in place. Returns a temp-file handle positioned at its end and
    /// its size: [`Ctx::write_file`] and [`Ctx::recv_to_file`] append (a receive's
    /// sha256 covers the file from byte 0), [`Ctx::commit_file`] moves it to its final
    /// name. Unlike a temp, [`Ctx::close_file`] keeps it with what was appended.
    /// Why: resuming a large upload must not copy what was already received.
    /// [`HostError::Busy`] while another handle continues the same file.
    pub fn open_partial(&mut self, path: &str) -> Result<(FileId, u64), HostError> {
        let (mut id, mut size) = (0u64, 0u64);
        // SAFETY: out-pointers are valid locals.
        HostError::check(unsafe {
            (self.api.open_partial)(self.raw, s(path), &mut id, &mut size)
        })?;
        Ok((FileId(id), size))
    }

    /// Create a hidden temp file beside `path` (checked now). Nothing is visible under
    /// `path` until [`Ctx::commit_file`].
    pub fn create_temp(&mut self, path: &str) -> Result<FileId, HostError> {
        let mut id = 0u64;
        // SAFETY: out-pointer is a valid local.
        HostError::check(unsafe { (self.api.create_temp)(self.raw, s(path), &mut id) })?;
        Ok(FileId(id))
    }

    /// Append to a temp file.
    pub fn write_file(&mut self, file: FileId, data: &[u8]) -> Result<(), HostError> {
        // SAFETY: `data` is valid for the call.
        HostError::check(unsafe {
            (self.api.write_file)(self.raw, file.0, SyBytes::from_slice(data))
        })
    }

    /// fsync a temp file and move it to `path` atomically; [`HostError::Exists`] if
    /// `path` exists and `overwrite` is false. The handle is closed either way on success.
    pub fn commit_file(
        &mut self,
        file: FileId,
        path: &str,
        overwrite: bool,
    ) -> Result<(), HostError> {
        let flags = if overwrite {
            abi::SY_COMMIT_OVERWRITE
        } else {
            0
        };
        // SAFETY: `path` is valid for the call.
        HostError::check(unsafe { (self.api.commit_file)(self.raw, file.0, s(path), flags) })
    }

    /// Close a handle; an uncommitted temp file is deleted.
    pub fn close_file(&mut self, file: FileId) -> Result<(), HostError> {
        // SAFETY: plain values.
        HostError::check(unsafe { (self.api.close_file)(self.raw, file.0) })
    }

    /// Metadata of `path`.
    pub fn stat(&mut self, path: &str) -> Result<Stat, HostError> {
        let mut out = abi::SyStat {
            struct_size: std::mem::size_of::<abi::SyStat>() as u32,
            ..Default::default()
        };
        // SAFETY: out-pointer is a valid local.
        HostError::check(unsafe { (self.api.stat)(self.raw, s(path), &mut out) })?;
        Ok(Stat::from(out))
    }

    /// The entries of directory `path` (`""` is the root), hidden temp files excluded.
    pub fn list_dir(&mut self, path: &str) -> Result<Vec<(String, Stat)>, HostError> {
        let mut out: Vec<(String, Stat)> = Vec::new();
        // SAFETY: `each` matches `SyListFn`; `out` outlives the call.
        HostError::check(unsafe {
            (self.api.list_dir)(
                self.raw,
                s(path),
                collect_entry,
                &mut out as *mut _ as *mut c_void,
            )
        })?;
        Ok(out)
    }

    /// Remove a file.
    pub fn remove_file(&mut self, path: &str) -> Result<(), HostError> {
        // SAFETY: `path` is valid for the call.
        HostError::check(unsafe { (self.api.remove_file)(self.raw, s(path)) })
    }

    /// Free bytes on the root's file system.
    pub fn free_space(&mut self) -> Result<u64, HostError> {
        let mut out = 0u64;
        // SAFETY: out-pointer is a valid local.
        HostError::check(unsafe { (self.api.free_space)(self.raw, &mut out) })?;
        Ok(out)
    }
}
