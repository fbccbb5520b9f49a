//! [`Stat`]: what a plugin may learn about a path (kind, size, mtime), and its ABI form;
//! [`FileVersion`]: what tells one version of an open file from another.

use switchyard_sdk::abi;

/// The kind of a directory entry, as the ABI reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A regular file: the only kind that can be read or committed to.
    File,
    /// A directory.
    Dir,
    /// Anything else (symlink, FIFO, socket, device): listed so the plugin sees it
    /// exists, but never opened.
    Other,
}

/// Metadata of one path under a root. Symlinks are described, not followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    pub kind: FileKind,
    /// Size in bytes (0 for directories and other kinds).
    pub size: u64,
    /// Last modification, seconds since the Unix epoch.
    pub modified_unix: i64,
}

impl Stat {
    /// Convert the kernel's `struct stat`.
    pub(super) fn from_raw(st: &rustix::fs::Stat) -> Self {
        let kind = match rustix::fs::FileType::from_raw_mode(st.st_mode) {
            rustix::fs::FileType::RegularFile => FileKind::File,
            rustix::fs::FileType::Directory => FileKind::Dir,
            _ => FileKind::Other,
        };
        let size = if kind == FileKind::File {
            u64::try_from(st.st_size).unwrap_or(0)
        } else {
            0
        };
        Self {
            kind,
            size,
            modified_unix: st.st_mtime,
        }
    }

    /// The `SyStat` handed to a plugin.
    pub fn to_abi(&self) -> abi::SyStat {
        abi::SyStat {
            struct_size: std::mem::size_of::<abi::SyStat>() as u32,
            kind: match self.kind {
                FileKind::File => abi::SY_FILE_REGULAR,
                FileKind::Dir => abi::SY_FILE_DIR,
                FileKind::Other => abi::SY_FILE_OTHER,
            },
            size: self.size,
            modified_unix: self.modified_unix,
        }
    }
}

/// One version of a file's contents, as far as its metadata can tell: the key of the
/// digest cache (`super::digests`).
///
/// Device and inode name the file (a file renamed into place is another inode); size
/// and modification time change with every write; the change time also moves when
/// the modification time is set back by hand (`touch -d`, `rsync -t`), which the
/// modification time alone would not show. Times are to the nanosecond.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileVersion {
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    pub mtime: (i64, u32),
    pub ctime: (i64, u32),
}

impl FileVersion {
    /// From the kernel's `struct stat` (field widths differ between architectures).
    #[allow(clippy::unnecessary_cast)]
    pub(super) fn from_raw(st: &rustix::fs::Stat) -> FileVersion {
        FileVersion {
            dev: st.st_dev as u64,
            ino: st.st_ino as u64,
            size: u64::try_from(st.st_size).unwrap_or(0),
            mtime: (st.st_mtime as i64, st.st_mtime_nsec as u32),
            ctime: (st.st_ctime as i64, st.st_ctime_nsec as u32),
        }
    }

    /// The version of an open file, as the kernel describes it now (a spooled copy
    /// of an object, whose digest is then remembered under it).
    pub fn of(file: &std::fs::File) -> std::io::Result<FileVersion> {
        Ok(FileVersion::from_raw(&rustix::fs::fstat(file)?))
    }

    /// What the digest side file is checked against (size, whole seconds).
    pub fn stat(&self) -> switchyard_sdk::Stat {
        switchyard_sdk::Stat {
            is_dir: false,
            is_file: true,
            size: self.size,
            modified_unix: self.mtime.0,
        }
    }
}
