//! Scenario tests of the state machine on a manual clock, over in-memory storage.
//!
//! # Layout
//! - this file: `Mem` (storage with the host's rules and failure knobs) and helpers.
//! - `downloads`, `uploads`, `commands`: v2 by command family.
//! - `hidden`: hidden names, refused unless `serve_hidden`.
//! - `framing`: detection, split/coalesced input, malformed lines, timeouts, drain.
//! - `deadline`: the goodbye at the drain deadline, the sessions described, and what
//!   draining closes.
//! - `v1`: the seed protocol.
//! - `waits`: every command on a store that waits (the SDK's mock), the same as on a
//!   dir; cuts and timeouts while a step waits.

mod commands;
mod deadline;
mod downloads;
mod framing;
mod hidden;
mod uploads;
mod v1;
mod waits;

use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest, Sha256};
use switchyard_sdk::{FileId, HostError, Level, Stat};

use super::{Output, Session, Storage};
use crate::codec::MAGIC;
use crate::config::Config;

/// In-memory storage with the host's rules (temps invisible until commit, no-replace
/// commits, confinement) and knobs to inject failures.
#[derive(Debug, Default)]
pub(super) struct Mem {
    pub(super) files: BTreeMap<String, Vec<u8>>,
    pub(super) dirs: BTreeSet<String>,
    pub(super) open: BTreeMap<u64, (Vec<u8>, bool)>,
    pub(super) next: u64,
    pub(super) free: u64,
    /// Names `list_dir` does not show (a file created by a racing upload).
    pub(super) unlisted: BTreeSet<String>,
    pub(super) fail_writes: Option<HostError>,
}

impl Mem {
    pub(super) fn new() -> Mem {
        Mem {
            free: 1 << 30,
            ..Mem::default()
        }
    }

    pub(super) fn with(mut self, name: &str, data: &[u8]) -> Mem {
        self.files.insert(name.into(), data.to_vec());
        self
    }

    fn check(path: &str) -> Result<(), HostError> {
        let ok = !path.is_empty()
            && !path.starts_with('/')
            && path
                .split('/')
                .all(|c| !c.is_empty() && c != "." && c != "..");
        if ok { Ok(()) } else { Err(HostError::Access) }
    }

    /// What the host does during `recv_to_file`: append the bytes to the temp.
    pub(super) fn receive(&mut self, file: FileId, data: &[u8]) {
        self.open
            .get_mut(&file.0)
            .unwrap()
            .0
            .extend_from_slice(data);
    }

    pub(super) fn sha_of(&self, file: FileId) -> [u8; 32] {
        Sha256::digest(&self.open[&file.0].0).into()
    }

    /// Visible names, side files excluded.
    pub(super) fn visible(&self) -> Vec<String> {
        self.files
            .keys()
            .filter(|n| !n.rsplit('/').next().unwrap().starts_with('.'))
            .cloned()
            .collect()
    }
}

pub(super) fn stat_of(len: usize) -> Stat {
    Stat {
        is_dir: false,
        is_file: true,
        size: len as u64,
        modified_unix: 1000,
    }
}

impl Storage for Mem {
    fn open_read(&mut self, path: &str) -> Result<(FileId, u64), HostError> {
        Mem::check(path)?;
        if self.dirs.contains(path) {
            return Err(HostError::IsDir);
        }
        let data = self.files.get(path).ok_or(HostError::NotFound)?.clone();
        self.next += 1;
        let len = data.len() as u64;
        self.open.insert(self.next, (data, false));
        Ok((FileId(self.next), len))
    }
    fn read_file(&mut self, file: FileId, offset: u64, buf: &mut [u8]) -> Result<usize, HostError> {
        let (data, _) = self.open.get(&file.0).ok_or(HostError::Invalid)?;
        let start = (offset as usize).min(data.len());
        let n = buf.len().min(data.len() - start);
        buf[..n].copy_from_slice(&data[start..start + n]);
        Ok(n)
    }
    fn create_temp(&mut self, path: &str) -> Result<FileId, HostError> {
        Mem::check(path)?;
        if let Some((dir, _)) = path.rsplit_once('/') {
            if !self.dirs.contains(dir) {
                return Err(HostError::NotFound);
            }
        }
        self.next += 1;
        self.open.insert(self.next, (Vec::new(), true));
        Ok(FileId(self.next))
    }
    fn write_file(&mut self, file: FileId, data: &[u8]) -> Result<(), HostError> {
        if let Some(e) = self.fail_writes {
            return Err(e);
        }
        let (buf, temp) = self.open.get_mut(&file.0).ok_or(HostError::Invalid)?;
        if !*temp {
            return Err(HostError::Invalid);
        }
        buf.extend_from_slice(data);
        Ok(())
    }
    fn commit_file(&mut self, file: FileId, path: &str, overwrite: bool) -> Result<(), HostError> {
        Mem::check(path)?;
        if self.files.contains_key(path) && !overwrite {
            return Err(HostError::Exists);
        }
        let (data, _) = self.open.remove(&file.0).ok_or(HostError::Invalid)?;
        self.files.insert(path.into(), data);
        Ok(())
    }
    fn close_file(&mut self, file: FileId) -> Result<(), HostError> {
        self.open
            .remove(&file.0)
            .map(|_| ())
            .ok_or(HostError::Invalid)
    }
    fn stat(&mut self, path: &str) -> Result<Stat, HostError> {
        Mem::check(path)?;
        if self.dirs.contains(path) {
            return Ok(Stat {
                is_dir: true,
                is_file: false,
                size: 0,
                modified_unix: 1000,
            });
        }
        self.files
            .get(path)
            .map(|d| stat_of(d.len()))
            .ok_or(HostError::NotFound)
    }
    fn list_dir(&mut self, path: &str) -> Result<Vec<(String, Stat)>, HostError> {
        let prefix = if path.is_empty() {
            String::new()
        } else {
            format!("{path}/")
        };
        let mut out: Vec<(String, Stat)> = self
            .files
            .iter()
            .filter(|(n, _)| !self.unlisted.contains(*n))
            .filter_map(|(n, d)| {
                n.strip_prefix(&prefix)
                    .filter(|r| !r.contains('/'))
                    .map(|r| (r.to_owned(), stat_of(d.len())))
            })
            .collect();
        for d in &self.dirs {
            if let Some(r) = d.strip_prefix(&prefix).filter(|r| !r.contains('/')) {
                out.push((
                    r.to_owned(),
                    Stat {
                        is_dir: true,
                        is_file: false,
                        size: 0,
                        modified_unix: 1000,
                    },
                ));
            }
        }
        Ok(out)
    }
    fn remove_file(&mut self, path: &str) -> Result<(), HostError> {
        Mem::check(path)?;
        self.files
            .remove(path)
            .map(|_| ())
            .ok_or(HostError::NotFound)
    }
    fn free_space(&mut self) -> Result<u64, HostError> {
        Ok(self.free)
    }
}

pub(super) fn session() -> Session {
    Session::new(Config::default(), "127.0.0.1:5000".into(), 0)
}

pub(super) fn drain(s: &mut Session) -> Vec<Output> {
    std::iter::from_fn(|| s.poll_output()).collect()
}

/// Everything written, concatenated.
pub(super) fn written(outs: &[Output]) -> String {
    let bytes: Vec<u8> = outs
        .iter()
        .filter_map(|o| {
            if let Output::Write(d) = o {
                Some(d.clone())
            } else {
                None
            }
        })
        .flatten()
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

pub(super) fn closed(outs: &[Output]) -> bool {
    outs.contains(&Output::Close)
}

pub(super) fn transfers(outs: &[Output]) -> Vec<&switchyard_sdk::messages::TransferCompleted> {
    outs.iter()
        .filter_map(|o| {
            if let Output::Transfer(t) = o {
                Some(t)
            } else {
                None
            }
        })
        .collect()
}

/// Whether one of the log lines contains `what`.
pub(super) fn logged(outs: &[Output], what: &str) -> bool {
    outs.iter()
        .any(|o| matches!(o, Output::Log(Level::Info, l) if l.contains(what)))
}

pub(super) fn v2(s: &mut Session, st: &mut Mem, now: u64, lines: &str) -> Vec<Output> {
    let mut data = MAGIC.to_vec();
    data.extend_from_slice(lines.as_bytes());
    s.handle_bytes(now, &data, st);
    drain(s)
}

pub(super) fn send_file(outs: &[Output]) -> (FileId, u64, u64, u64) {
    outs.iter()
        .find_map(|o| match o {
            Output::SendFile {
                file,
                offset,
                len,
                token,
            } => Some((*file, *offset, *len, *token)),
            _ => None,
        })
        .expect("a SendFile output")
}

pub(super) fn recv_to_file(outs: &[Output]) -> (FileId, u64, u64) {
    outs.iter()
        .find_map(|o| match o {
            Output::RecvToFile { file, len, token } => Some((*file, *len, *token)),
            _ => None,
        })
        .expect("a RecvToFile output")
}
