//! [`StorageWaits`]: the storage of a sans-I/O machine whose storage may wait (an s3
//! storage), without turning every storage call of the machine into a state.
//!
//! A machine calls [`Storage`] synchronously. Through a [`WaitingStorage`], a call that
//! must wait starts its operation ([`Ctx::storage_begin`]) and answers
//! [`HostError::Pending`]; the machine then parks the step it was running (a request,
//! an upload's commit) and changes nothing else. When the operation ends
//! ([`crate::Event::StorageDone`]), [`StorageWaits::complete`] keeps its answer and the
//! machine runs the parked step again from its start: the calls the step made before
//! get the answers they got the first time (in order), the call that waited gets its
//! answer, and the step goes on. Why replay rather than callbacks: the step's code is
//! the same for a dir (which never waits) and an object store, so both are served by
//! one path, tested by the same tests.
//!
//! The rule a machine keeps: a step changes nothing before a storage call that may
//! answer `Pending`, other than through storage calls (whose answers are replayed).
//! A new step (the next request) starts with [`Storage::fresh_step`], which forgets
//! the answers of the last one.

use std::task::Poll;

use crate::ctx::Ctx;
use crate::error::HostError;
use crate::file_id::FileId;
use crate::stat::Stat;
use crate::storage::Storage;
use crate::store_op::{StoreDone, StoreOp};

/// What one storage call answered, kept for the replay of a step that waited.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Answer {
    Done(StoreDone),
    Listed(Vec<(String, Stat)>),
    Failed(HostError),
}

/// The storage answers of a machine's current step, and the operation it waits for.
/// One per machine (a connection, a transfer); tokens are `token_base + n`, so the
/// plugin tells them apart from its other tokens.
#[derive(Debug, Clone, Default)]
pub struct StorageWaits {
    token_base: u64,
    next: u64,
    answers: Vec<Answer>,
    cursor: usize,
    waiting: Option<u64>,
}

impl StorageWaits {
    /// Waits whose tokens start at `token_base`.
    pub fn new(token_base: u64) -> StorageWaits {
        StorageWaits {
            token_base,
            ..StorageWaits::default()
        }
    }

    /// The machine's storage for one input: answers replayed, then calls to the host.
    pub fn storage<'w, 'c>(&'w mut self, ctx: &'w mut Ctx<'c>) -> WaitingStorage<'w, 'c> {
        self.cursor = 0;
        WaitingStorage { waits: self, ctx }
    }

    /// Whether an operation is in flight (the machine's step is parked).
    pub fn is_waiting(&self) -> bool {
        self.waiting.is_some()
    }

    /// Whether `token` is the operation this machine waits for.
    pub fn owns(&self, token: u64) -> bool {
        self.waiting == Some(token)
    }

    /// The operation `token` ended with `result` (a listing's entries are read from
    /// `ctx` now). `true`: it was this machine's, run the parked step again.
    pub fn complete(
        &mut self,
        ctx: &mut Ctx<'_>,
        token: u64,
        result: Result<StoreDone, HostError>,
    ) -> bool {
        if !self.owns(token) {
            return false;
        }
        self.waiting = None;
        self.answers.push(answer(ctx, token, result));
        true
    }

    /// Forget the answers of the last step (nothing is in flight): a new one starts.
    fn fresh(&mut self) {
        if self.waiting.is_none() {
            self.answers.clear();
            self.cursor = 0;
        }
    }

    fn call(&mut self, ctx: &mut Ctx<'_>, op: StoreOp<'_>) -> Answer {
        if let Some(kept) = self.answers.get(self.cursor) {
            self.cursor += 1;
            return kept.clone();
        }
        if self.waiting.is_some() {
            // The parked step is not run while it waits: a call now is another step's.
            return Answer::Failed(HostError::Busy);
        }
        let token = self.token_base + self.next;
        self.next = self.next.wrapping_add(1) % (1 << 32);
        match ctx.storage_begin(op, token) {
            Poll::Pending => {
                self.waiting = Some(token);
                Answer::Failed(HostError::Pending)
            }
            Poll::Ready(result) => {
                let got = answer(ctx, token, result);
                self.answers.push(got.clone());
                self.cursor += 1;
                got
            }
        }
    }
}

fn answer(ctx: &mut Ctx<'_>, token: u64, result: Result<StoreDone, HostError>) -> Answer {
    match result {
        Ok(StoreDone::Listed) => match ctx.storage_listing(token) {
            Ok(entries) => Answer::Listed(entries),
            Err(e) => Answer::Failed(e),
        },
        Ok(done) => Answer::Done(done),
        Err(e) => Answer::Failed(e),
    }
}

/// [`StorageWaits`] lent with the [`Ctx`] of one input: the [`Storage`] a machine gets.
/// When it is dropped and nothing waits, the step's answers are forgotten.
#[derive(Debug)]
pub struct WaitingStorage<'w, 'c> {
    waits: &'w mut StorageWaits,
    ctx: &'w mut Ctx<'c>,
}

impl Drop for WaitingStorage<'_, '_> {
    fn drop(&mut self) {
        self.waits.fresh();
    }
}

impl WaitingStorage<'_, '_> {
    fn op(&mut self, op: StoreOp<'_>) -> Result<Answer, HostError> {
        match self.waits.call(self.ctx, op) {
            Answer::Failed(e) => Err(e),
            other => Ok(other),
        }
    }

    fn opened(&mut self, op: StoreOp<'_>) -> Result<(FileId, u64), HostError> {
        match self.op(op)? {
            Answer::Done(StoreDone::Opened { file, size }) => Ok((file, size)),
            _ => Err(HostError::Invalid),
        }
    }

    fn done(&mut self, op: StoreOp<'_>) -> Result<(), HostError> {
        self.op(op).map(|_| ())
    }
}

impl Storage for WaitingStorage<'_, '_> {
    fn open_read(&mut self, path: &str) -> Result<(FileId, u64), HostError> {
        self.opened(StoreOp::OpenRead(path))
    }
    fn read_file(&mut self, file: FileId, offset: u64, buf: &mut [u8]) -> Result<usize, HostError> {
        self.ctx.read_file(file, offset, buf)
    }
    fn create_temp(&mut self, path: &str) -> Result<FileId, HostError> {
        match self.op(StoreOp::CreateTemp(path))? {
            Answer::Done(StoreDone::Created(file)) => Ok(file),
            _ => Err(HostError::Invalid),
        }
    }
    fn open_partial(&mut self, path: &str) -> Result<(FileId, u64), HostError> {
        self.opened(StoreOp::OpenPartial(path))
    }
    fn write_file(&mut self, file: FileId, data: &[u8]) -> Result<(), HostError> {
        self.ctx.write_file(file, data)
    }
    fn commit_file(&mut self, file: FileId, path: &str, overwrite: bool) -> Result<(), HostError> {
        self.done(StoreOp::Commit {
            file,
            path,
            overwrite,
        })
    }
    fn close_file(&mut self, file: FileId) -> Result<(), HostError> {
        self.ctx.close_file(file)
    }
    fn stat(&mut self, path: &str) -> Result<Stat, HostError> {
        match self.op(StoreOp::Stat(path))? {
            Answer::Done(StoreDone::Stat(stat)) => Ok(stat),
            _ => Err(HostError::Invalid),
        }
    }
    fn list_dir(&mut self, path: &str) -> Result<Vec<(String, Stat)>, HostError> {
        match self.op(StoreOp::List(path))? {
            Answer::Listed(entries) => Ok(entries),
            _ => Err(HostError::Invalid),
        }
    }
    fn remove_file(&mut self, path: &str) -> Result<(), HostError> {
        self.done(StoreOp::Remove(path))
    }
    fn free_space(&mut self) -> Result<u64, HostError> {
        self.ctx.free_space()
    }
    fn file_digest(&mut self, file: FileId, _path: &str) -> Option<[u8; 32]> {
        self.ctx.file_digest(file).ok().flatten()
    }
    fn fresh_step(&mut self) {
        self.waits.fresh();
    }
}

#[cfg(test)]
mod tests;
