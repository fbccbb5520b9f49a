//! The host side of a connection machine, in memory: the SDK's `MockHost` as storage
//! (temps invisible until committed, paths confined), plus the reads and hashes the
//! real host does for `sendfile` and `recv_to_file`.

use sha2::{Digest, Sha256};
use switchyard_sdk::testing::MockHost;
use switchyard_sdk::{FileId, Storage};

/// In-memory storage with a few files in place.
#[derive(Debug)]
pub(crate) struct Host {
    pub mock: MockHost,
}

impl Host {
    pub fn new(files: &[(&str, &[u8])]) -> Host {
        let mut mock = MockHost::new();
        for (name, data) in files {
            mock.files.insert((*name).to_owned(), data.to_vec());
        }
        Host { mock }
    }

    /// Run `f` with this host as the machine's storage at `now`.
    pub fn with<R>(&mut self, now: u64, f: impl FnOnce(&mut dyn Storage) -> R) -> R {
        let r = self.mock.with_ctx(now, |cx| f(cx));
        // Storage calls record actions (commits); nobody reads them here.
        self.mock.take_actions();
        r
    }

    /// Up to `len` bytes of an open file from `offset` (what `sendfile` sends).
    pub fn read(&mut self, file: FileId, offset: u64, len: u64) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = [0u8; 8192];
        self.with(0, |st| {
            while (out.len() as u64) < len {
                let want = (len - out.len() as u64).min(buf.len() as u64) as usize;
                match st.read_file(file, offset + out.len() as u64, &mut buf[..want]) {
                    Ok(n) if n > 0 => out.extend_from_slice(&buf[..n]),
                    _ => break,
                }
            }
        });
        out
    }

    /// The sha256 of a whole open file (what the host reports after `recv_to_file`).
    pub fn digest(&mut self, file: FileId) -> [u8; 32] {
        Sha256::digest(self.read(file, 0, u64::MAX)).into()
    }

    /// Handles (files and temps) still open.
    pub fn open_files(&self) -> usize {
        self.mock.open_files()
    }

    /// Committed files, sorted by name.
    pub fn files(&self) -> Vec<(String, Vec<u8>)> {
        self.mock
            .files
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}
