//! [`Watched`]: a step's storage that notes whether a call answered
//! [`HostError::Pending`].
//!
//! Why a wrapper rather than a check at every call: a step's code treats a failed
//! storage call as the protocol's error (a reply, a refusal), and some calls it makes
//! are best effort and swallow their errors (the digest side file). Whatever the step
//! did after a call that waited, the machine throws away (its outputs) or overwrites
//! (its phase) when it parks the step; knowing *that* a call waited is all it needs,
//! and only this wrapper sees every call.

use switchyard_sdk::{FileId, HostError, Stat, Storage};

/// `st`, seen through: every call forwarded as it is, `waited` set by a `Pending`.
pub(super) struct Watched<'a> {
    st: &'a mut dyn Storage,
    pub(super) waited: bool,
}

impl<'a> Watched<'a> {
    pub(super) fn new(st: &'a mut dyn Storage) -> Watched<'a> {
        Watched { st, waited: false }
    }

    fn note<T>(&mut self, r: Result<T, HostError>) -> Result<T, HostError> {
        if matches!(r, Err(HostError::Pending)) {
            self.waited = true;
        }
        r
    }
}

impl Storage for Watched<'_> {
    fn open_read(&mut self, path: &str) -> Result<(FileId, u64), HostError> {
        let r = self.st.open_read(path);
        self.note(r)
    }
    fn read_file(&mut self, file: FileId, offset: u64, buf: &mut [u8]) -> Result<usize, HostError> {
        let r = self.st.read_file(file, offset, buf);
        self.note(r)
    }
    fn create_temp(&mut self, path: &str) -> Result<FileId, HostError> {
        let r = self.st.create_temp(path);
        self.note(r)
    }
    fn open_partial(&mut self, path: &str) -> Result<(FileId, u64), HostError> {
        let r = self.st.open_partial(path);
        self.note(r)
    }
    fn write_file(&mut self, file: FileId, data: &[u8]) -> Result<(), HostError> {
        let r = self.st.write_file(file, data);
        self.note(r)
    }
    fn commit_file(&mut self, file: FileId, path: &str, overwrite: bool) -> Result<(), HostError> {
        let r = self.st.commit_file(file, path, overwrite);
        self.note(r)
    }
    fn close_file(&mut self, file: FileId) -> Result<(), HostError> {
        let r = self.st.close_file(file);
        self.note(r)
    }
    fn stat(&mut self, path: &str) -> Result<Stat, HostError> {
        let r = self.st.stat(path);
        self.note(r)
    }
    fn list_dir(&mut self, path: &str) -> Result<Vec<(String, Stat)>, HostError> {
        let r = self.st.list_dir(path);
        self.note(r)
    }
    fn remove_file(&mut self, path: &str) -> Result<(), HostError> {
        let r = self.st.remove_file(path);
        self.note(r)
    }
    fn free_space(&mut self) -> Result<u64, HostError> {
        let r = self.st.free_space();
        self.note(r)
    }
    fn fresh_step(&mut self) {
        self.st.fresh_step();
    }
    fn file_digest(&mut self, file: FileId, path: &str) -> Option<[u8; 32]> {
        self.st.file_digest(file, path)
    }
}
