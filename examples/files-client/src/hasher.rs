//! sha256 on a second thread, so hashing overlaps the network instead of adding to it.
//!
//! Buffers go to the thread and come back for reuse: no allocation per chunk.

use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use sha2::{Digest, Sha256};

/// Chunks in flight between the reader and the hashing thread.
const DEPTH: usize = 4;

/// A background sha256.
#[derive(Debug)]
pub struct Hasher {
    to_hash: Option<SyncSender<(Vec<u8>, usize)>>,
    spare: Receiver<Vec<u8>>,
    thread: Option<JoinHandle<[u8; 32]>>,
    chunk: usize,
    created: usize,
}

impl Hasher {
    /// A hasher taking buffers of `chunk` bytes.
    pub fn new(chunk: usize) -> Hasher {
        let (to_hash, rx) = sync_channel::<(Vec<u8>, usize)>(DEPTH);
        let (give_back, spare) = sync_channel::<Vec<u8>>(DEPTH + 2);
        let thread = std::thread::spawn(move || {
            let mut h = Sha256::new();
            for (buf, n) in rx {
                h.update(&buf[..n]);
                let _ = give_back.send(buf);
            }
            h.finalize().into()
        });
        Hasher {
            to_hash: Some(to_hash),
            spare,
            thread: Some(thread),
            chunk,
            created: 0,
        }
    }

    /// A buffer to fill (recycled once the thread is done with it).
    pub fn buffer(&mut self) -> Vec<u8> {
        if self.created < DEPTH + 2 {
            self.created += 1;
            return vec![0u8; self.chunk];
        }
        self.spare.recv().unwrap_or_else(|_| vec![0u8; self.chunk])
    }

    /// Hash the first `n` bytes of `buf` (in the background).
    pub fn update(&mut self, buf: Vec<u8>, n: usize) {
        if let Some(tx) = &self.to_hash {
            let _ = tx.send((buf, n));
        }
    }

    /// The digest of everything given, as lowercase hex.
    pub fn finish(mut self) -> String {
        drop(self.to_hash.take());
        let digest = self
            .thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default();
        switchyard_files::cmd::hex(&digest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_a_one_shot_digest() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7) as u8).collect();
        let mut h = Hasher::new(1000);
        for piece in data.chunks(1000) {
            let mut buf = h.buffer();
            buf[..piece.len()].copy_from_slice(piece);
            h.update(buf, piece.len());
        }
        assert_eq!(
            h.finish(),
            switchyard_files::cmd::hex(&Sha256::digest(&data))
        );
    }
}
