//! sha256 of a file being written, on a second thread that trails the writer.
//!
//! Downloads move socket -> pipe -> file with `splice(2)`, so this process never holds
//! the bytes; the thread re-reads each range from the page cache as soon as it is
//! written. The two copies that remain (into the page cache, and back for hashing)
//! then run on two cores at once instead of one after the other.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::mpsc::{Sender, channel};
use std::thread::JoinHandle;

use sha2::{Digest, Sha256};

use crate::error::ClientError;

/// Bytes re-read per step.
const STEP: usize = 1 << 20;

/// A background sha256 of `file`'s first bytes, as far as [`FileHasher::advance`] says
/// they are written.
#[derive(Debug)]
pub struct FileHasher {
    written: Option<Sender<u64>>,
    thread: Option<JoinHandle<std::io::Result<[u8; 32]>>>,
}

impl FileHasher {
    /// Hash `file` (a handle of its own: reads are positioned, the writer's offset
    /// is untouched).
    pub fn new(file: File) -> FileHasher {
        let (tx, rx) = channel::<u64>();
        let thread = std::thread::spawn(move || {
            let mut h = Sha256::new();
            let mut buf = vec![0u8; STEP];
            let mut done = 0u64;
            for upto in rx {
                while done < upto {
                    let want = ((upto - done).min(STEP as u64)) as usize;
                    let n = file.read_at(&mut buf[..want], done)?;
                    if n == 0 {
                        return Err(std::io::Error::other("file shorter than written"));
                    }
                    h.update(&buf[..n]);
                    done += n as u64;
                }
            }
            Ok(h.finalize().into())
        });
        FileHasher {
            written: Some(tx),
            thread: Some(thread),
        }
    }

    /// The first `upto` bytes of the file are written.
    pub fn advance(&self, upto: u64) {
        if let Some(tx) = &self.written {
            let _ = tx.send(upto);
        }
    }

    /// The digest of everything advanced over, as lowercase hex.
    pub fn finish(mut self) -> std::io::Result<String> {
        drop(self.written.take());
        let thread = self.thread.take().expect("joined once");
        let digest = thread
            .join()
            .map_err(|_| std::io::Error::other("hashing thread panicked"))??;
        Ok(switchyard_files::cmd::hex(&digest))
    }
}

/// sha256 of the first `size` bytes of `file`, read with positioned reads (the
/// sending side moves the shared offset).
pub fn hash_file(file: &File, size: u64) -> Result<String, ClientError> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; STEP];
    let mut off = 0u64;
    while off < size {
        let want = ((size - off).min(STEP as u64)) as usize;
        let n = file
            .read_at(&mut buf[..want], off)
            .map_err(|e| ClientError::local_read(e.to_string()))?;
        if n == 0 {
            return Err(ClientError::local_read(
                "local file shrank while hashing".into(),
            ));
        }
        h.update(&buf[..n]);
        off += n as u64;
    }
    Ok(switchyard_files::cmd::hex(&h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn trails_the_writer_and_matches_a_one_shot_digest() {
        let path = std::env::temp_dir().join(format!("sy-files-hasher-{}", std::process::id()));
        let mut f = File::create(&path).unwrap();
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7) as u8).collect();
        let h = FileHasher::new(File::open(&path).unwrap());
        let mut written = 0u64;
        for piece in data.chunks(700_001) {
            f.write_all(piece).unwrap();
            written += piece.len() as u64;
            h.advance(written);
        }
        assert_eq!(
            h.finish().unwrap(),
            switchyard_files::cmd::hex(&Sha256::digest(&data))
        );
        std::fs::remove_file(&path).unwrap();
    }
}
