//! Whole streams through a [`DirectSink`] on a real file: what lands on disk, the
//! digest, an abandoned stream's prefix and reservation, and the page-cache fallback.

use std::fs::File;
use std::io::Write;
use std::task::Waker;

use sha2::{Digest, Sha256};

use crate::limits::{ALIGN, BUF_SIZE, DIRECT_MIN, RESERVE_AHEAD};
use crate::outcome::Finished;
use crate::sink::DirectSink;

fn block_on<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 12) as u8)
        .collect()
}

/// A new read-write file in a fresh directory, holding `before`.
fn file_holding(before: &[u8]) -> (tempfile::TempDir, std::path::PathBuf, File) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("temp");
    let mut f = File::options()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .unwrap();
    f.write_all(before).unwrap();
    (dir, path, f)
}

/// Receive `body` after `before` bytes already in a temp, half through `push` and
/// half through `spare`/`filled`, as the actor and the read stream do.
fn receive(before: &[u8], body: &[u8], sha256: bool) -> (Vec<u8>, Finished) {
    let (_dir, path, temp) = file_holding(before);
    let mut d = DirectSink::open_direct(&temp, body.len() as u64, sha256)
        .unwrap()
        .expect("this file system takes O_DIRECT");
    let waker = Waker::noop();
    let mut at = 0;
    let mut turn = 0;
    while at < body.len() {
        turn += 1;
        if turn % 2 == 0 {
            let n = (body.len() - at).min(777 + turn * 5000);
            d.push(&body[at..at + n]);
            at += n;
        } else {
            let spare = d.spare(waker).expect("the workers give buffers back");
            let n = spare.len().min(300_000);
            spare[..n].copy_from_slice(&body[at..at + n]);
            d.filled(n);
            at += n;
        }
    }
    assert!(
        d.spare(waker).is_none_or(|s| s.is_empty()),
        "nothing more is wanted"
    );
    let done = block_on(d.finish()).unwrap();
    assert_eq!(
        temp.metadata().unwrap().len(),
        done.size,
        "cut to its exact size"
    );
    (std::fs::read(&path).unwrap(), done)
}

#[test]
fn an_unaligned_start_keeps_the_bytes_before_and_the_digest_covers_the_whole_file() {
    let before = pattern(1000, 7);
    let body = pattern(DIRECT_MIN as usize + 3 * BUF_SIZE + 123, 99);
    let (got, done) = receive(&before, &body, true);
    let whole = [before.as_slice(), body.as_slice()].concat();
    assert_eq!(done.size, whole.len() as u64);
    assert!(got == whole, "the file differs from what was sent");
    assert_eq!(done.digest, Some(Sha256::digest(&whole).into()));
}

#[test]
fn an_aligned_start_without_a_digest_writes_exactly_the_body() {
    let before = pattern(2 * ALIGN, 3);
    let body = pattern(DIRECT_MIN as usize + BUF_SIZE, 5);
    let (got, done) = receive(&before, &body, false);
    assert_eq!(done.digest, None);
    assert!(
        got == [before, body].concat(),
        "the file differs from what was sent"
    );
}

#[test]
fn an_abandoned_receive_leaves_a_correct_prefix_and_gives_its_reservation_back() {
    use std::os::unix::fs::MetadataExt;
    let before = pattern(1000, 1);
    let (_dir, path, temp) = file_holding(&before);
    let len = 256 * BUF_SIZE;
    let d = DirectSink::open_direct(&temp, len as u64, true)
        .unwrap()
        .unwrap();
    let reserved = temp.metadata().unwrap().blocks() * 512;
    assert!(
        (RESERVE_AHEAD..len as u64 / 2).contains(&reserved),
        "a window is reserved, not the whole length: {reserved}"
    );
    let body = pattern(3 * BUF_SIZE, 2);
    let mut d = d;
    d.push(&body);
    let kept = block_on(d.abandon());
    assert_eq!(
        kept,
        3 * BUF_SIZE as u64 - 1000,
        "bytes of the stream in the file"
    );
    // The three full buffers landed, in order; the last 1000 bytes were dropped,
    // and the file was cut to what was written, giving the reservation back.
    let whole = [before.as_slice(), body.as_slice()].concat();
    assert_eq!(temp.metadata().unwrap().len(), 3 * BUF_SIZE as u64);
    let kept = temp.metadata().unwrap().blocks() * 512;
    assert!(kept <= 4 * BUF_SIZE as u64, "reserved blocks kept: {kept}");
    let got = std::fs::read(&path).unwrap();
    assert!(
        got == whole[..3 * BUF_SIZE],
        "the file is not a prefix of the upload"
    );
}

#[test]
fn a_small_stream_through_open_uses_page_cache_writes_and_the_blocking_calls() {
    let before = pattern(333, 4);
    let (_dir, path, part) = file_holding(&before);
    let body = pattern(2 * BUF_SIZE + 77, 8);
    assert!(
        DirectSink::open_direct(&part, body.len() as u64, true)
            .unwrap()
            .is_none()
    );
    let mut sink = DirectSink::open(&part, body.len() as u64, true).unwrap();
    let mut at = 0;
    while at < body.len() {
        let spare = sink.spare_blocking();
        let n = spare.len().min(body.len() - at).min(100_000);
        spare[..n].copy_from_slice(&body[at..at + n]);
        sink.filled(n);
        at += n;
    }
    let done = sink.finish_blocking().unwrap();
    assert_eq!(part.metadata().unwrap().len(), done.size);
    let whole = [before, body].concat();
    assert!(std::fs::read(&path).unwrap() == whole, "the file differs");
    assert_eq!(done.digest, Some(Sha256::digest(&whole).into()));
}

#[test]
fn a_small_rest_after_a_large_kept_part_still_hashes_on_the_threads() {
    // Resuming near the end: the kept part is what costs (hashing it), not the rest.
    let before = pattern(DIRECT_MIN as usize + 5, 12);
    let body = pattern(1000, 13);
    let (got, done) = receive(&before, &body, true);
    let whole = [before, body].concat();
    assert!(got == whole, "the file differs from what was sent");
    assert_eq!(done.digest, Some(Sha256::digest(&whole).into()));
}

#[test]
fn small_receives_take_the_plain_path() {
    let dir = tempfile::tempdir().unwrap();
    let f = File::create(dir.path().join("f")).unwrap();
    assert!(
        DirectSink::open_direct(&f, DIRECT_MIN - 1, true)
            .unwrap()
            .is_none()
    );
}
