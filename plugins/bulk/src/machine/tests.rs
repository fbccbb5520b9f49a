//! The state machine, driven by hand: an in-memory storage that can fail, and a test
//! "host" that plays `recv_to_file` (append + sha256 of the whole temp) itself.
//!
//! # Layout
//! - this file: `Mem`, helpers, and the machine on it (a dir's behaviour).
//! - `waits`: the machine on the SDK's mock, on a store that waits as on a dir; cuts,
//!   timeouts and bytes while a step waits.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};
use switchyard_sdk::messages::TransferCompleted;
use switchyard_sdk::{FileId, HostError, Stat};

use super::*;
use crate::codec::{Get, Put, Reply, Request, Status, V1Header};

mod waits;

#[derive(Debug, Default)]
struct Mem {
    files: BTreeMap<String, Vec<u8>>,
    open: BTreeMap<u64, (Vec<u8>, bool)>,
    /// Handles from `open_partial`, with the path each continues.
    continues: BTreeMap<u64, String>,
    /// `read_file` calls (a resume must not read the kept part back).
    reads: usize,
    /// Modification times (Unix seconds) by path; 0 when not set.
    mtimes: BTreeMap<String, i64>,
    /// `open_partial` finds the file gone (another connection removed it after the
    /// upload's stat).
    partial_vanishes: bool,
    next: u64,
    free: u64,
    fail_create: Option<HostError>,
    no_space_after: Option<u64>,
}

impl Mem {
    fn new() -> Mem {
        Mem {
            free: 1 << 40,
            ..Default::default()
        }
    }
    fn stat_of(&self, path: &str, data: &[u8]) -> Stat {
        Stat {
            is_dir: false,
            is_file: true,
            size: data.len() as u64,
            modified_unix: self.mtimes.get(path).copied().unwrap_or(0),
        }
    }
    /// Play the host's `recv_to_file`: append, then hash the whole temp.
    fn receive(&mut self, file: FileId, body: &[u8]) -> [u8; 32] {
        let f = self.open.get_mut(&file.0).expect("open temp");
        f.0.extend_from_slice(body);
        Sha256::digest(&f.0).into()
    }
    fn visible(&self) -> Vec<String> {
        self.files
            .keys()
            .filter(|k| !k.rsplit('/').next().unwrap().starts_with('.'))
            .cloned()
            .collect()
    }
}

impl Storage for Mem {
    fn open_read(&mut self, path: &str) -> Result<(FileId, u64), HostError> {
        let data = self.files.get(path).cloned().ok_or(HostError::NotFound)?;
        self.next += 1;
        let n = data.len() as u64;
        self.open.insert(self.next, (data, false));
        Ok((FileId(self.next), n))
    }
    fn read_file(&mut self, file: FileId, offset: u64, buf: &mut [u8]) -> Result<usize, HostError> {
        self.reads += 1;
        let (d, _) = self.open.get(&file.0).ok_or(HostError::Invalid)?;
        let start = (offset as usize).min(d.len());
        let n = buf.len().min(d.len() - start);
        buf[..n].copy_from_slice(&d[start..start + n]);
        Ok(n)
    }
    fn create_temp(&mut self, path: &str) -> Result<FileId, HostError> {
        if let Some(e) = self.fail_create {
            return Err(e);
        }
        assert!(!path.is_empty());
        self.next += 1;
        self.open.insert(self.next, (Vec::new(), true));
        Ok(FileId(self.next))
    }
    fn open_partial(&mut self, path: &str) -> Result<(FileId, u64), HostError> {
        assert!(path.rsplit('/').next().unwrap().starts_with('.'));
        if self.partial_vanishes {
            self.files.remove(path);
            return Err(HostError::NotFound);
        }
        if self.continues.values().any(|p| p == path) {
            return Err(HostError::Busy);
        }
        let data = self.files.get(path).cloned().ok_or(HostError::NotFound)?;
        self.next += 1;
        let n = data.len() as u64;
        self.open.insert(self.next, (data, true));
        self.continues.insert(self.next, path.to_owned());
        Ok((FileId(self.next), n))
    }
    fn write_file(&mut self, file: FileId, data: &[u8]) -> Result<(), HostError> {
        let (d, temp) = self.open.get_mut(&file.0).ok_or(HostError::Invalid)?;
        assert!(*temp);
        if self
            .no_space_after
            .is_some_and(|n| d.len() + data.len() > n as usize)
        {
            return Err(HostError::NoSpace);
        }
        d.extend_from_slice(data);
        Ok(())
    }
    fn commit_file(&mut self, file: FileId, path: &str, overwrite: bool) -> Result<(), HostError> {
        if self.files.contains_key(path) && !overwrite {
            return Err(HostError::Exists);
        }
        let (d, temp) = self.open.remove(&file.0).ok_or(HostError::Invalid)?;
        assert!(temp);
        if let Some(from) = self.continues.remove(&file.0) {
            self.files.remove(&from); // renamed
        }
        self.files.insert(path.to_owned(), d);
        Ok(())
    }
    fn close_file(&mut self, file: FileId) -> Result<(), HostError> {
        let (d, _) = self.open.remove(&file.0).ok_or(HostError::Invalid)?;
        // A continued partial keeps what was appended, unless it was removed.
        if let Some(path) = self.continues.remove(&file.0) {
            if let Some(kept) = self.files.get_mut(&path) {
                *kept = d;
            }
        }
        Ok(())
    }
    fn stat(&mut self, path: &str) -> Result<Stat, HostError> {
        self.files
            .get(path)
            .map(|d| self.stat_of(path, d))
            .ok_or(HostError::NotFound)
    }
    fn list_dir(&mut self, path: &str) -> Result<Vec<(String, Stat)>, HostError> {
        let prefix = format!("{path}/");
        Ok(self
            .files
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix(&prefix)?.to_owned(), self.stat_of(k, v))))
            .collect())
    }
    fn remove_file(&mut self, path: &str) -> Result<(), HostError> {
        if self.continues.values().any(|p| p == path) {
            return Err(HostError::Busy);
        }
        self.files
            .remove(path)
            .map(|_| ())
            .ok_or(HostError::NotFound)
    }
    fn free_space(&mut self) -> Result<u64, HostError> {
        Ok(self.free)
    }
}

fn session(config: &str) -> Session {
    let cfg: Config = switchyard_sdk::parse_config(config).unwrap();
    cfg.validate().unwrap();
    Session::new(cfg, "127.0.0.1:5000".into(), 0)
}

fn drain(s: &mut Session) -> Vec<Output> {
    std::iter::from_fn(|| s.poll_output()).collect()
}

fn replies(out: &[Output]) -> Vec<Reply> {
    let mut bytes = Vec::new();
    for o in out {
        if let Output::Write(d) = o {
            bytes.extend_from_slice(d);
        }
    }
    let mut v = Vec::new();
    while !bytes.is_empty() {
        let n = Reply::check(&bytes).unwrap();
        v.push(Reply::parse(&bytes).unwrap());
        bytes.drain(..n);
    }
    v
}

fn recv_of(out: &[Output]) -> Option<(FileId, u64, u64)> {
    out.iter().find_map(|o| match o {
        Output::RecvToFile { file, len, token } => Some((*file, *len, *token)),
        _ => None,
    })
}

fn transfers(out: &[Output]) -> Vec<TransferCompleted> {
    out.iter()
        .filter_map(|o| match o {
            Output::Transfer(t) => Some(t.clone()),
            _ => None,
        })
        .collect()
}

fn warned(out: &[Output], what: &str) -> bool {
    out.iter()
        .any(|o| matches!(o, Output::Log(Level::Warn, l) if l.contains(what)))
}

fn closes(out: &[Output]) -> bool {
    out.contains(&Output::Close)
}

fn sha(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// Feed `head` (split at `cuts`), then play the host receiving `rest`.
fn upload(s: &mut Session, st: &mut Mem, pieces: &[&[u8]], rest: &[u8]) -> Vec<Output> {
    let mut out = Vec::new();
    for p in pieces {
        s.handle_bytes(1, p, st);
        out.extend(drain(s));
    }
    match recv_of(&out) {
        Some((file, len, token)) => {
            assert_eq!(len, rest.len() as u64, "asks for exactly the rest");
            let d = st.receive(file, rest);
            s.handle_file_received(2, token, Ok((len, Some(d))), st);
            out.extend(drain(s));
        }
        // The body came whole with the header: finished without a receive.
        None => assert!(rest.is_empty(), "no receive asked for the rest"),
    }
    out
}

/// Feed `a` then `b`; if the machine asked for a receive, play it with the rest of
/// `body`. Returns every output.
fn two_pieces(s: &mut Session, st: &mut Mem, a: &[u8], b: &[u8], body: &[u8]) -> Vec<Output> {
    let mut out = Vec::new();
    for piece in [a, b] {
        s.handle_bytes(1, piece, st);
        out.extend(drain(s));
    }
    if let Some((file, len, token)) = recv_of(&out) {
        // Whatever came with the header was written; the host is asked for the rest.
        let have = st.open[&file.0].0.len() as u64;
        assert_eq!(have + len, body.len() as u64);
        let d = st.receive(file, &body[have as usize..]);
        s.handle_file_received(2, token, Ok((len, Some(d))), st);
        out.extend(drain(s));
    }
    out
}

#[test]
fn v1_header_split_at_every_point_stores_exactly_the_body() {
    let body = b"hello, bulk world";
    let mut wire = V1Header::encode(body.len() as u64).unwrap().to_vec();
    wire.extend_from_slice(body);
    for cut in 0..=wire.len() {
        let (a, b) = wire.split_at(cut);
        let mut st = Mem::new();
        let mut s = session("");
        let out = two_pieces(&mut s, &mut st, a, b, body);
        assert_eq!(st.files["incoming/v1-000001.bin"], body, "cut {cut}");
        assert!(closes(&out));
        let t = transfers(&out);
        assert_eq!(t[0].result, "ok");
        assert_eq!(t[0].bytes, body.len() as u64);
        assert_eq!(
            t[0].sha256.as_deref(),
            Some(crate::codec::hex(&sha(body)).as_str())
        );
        assert!(replies(&out).is_empty(), "v1 gets no reply");
    }
}

#[test]
fn v1_one_byte_at_a_time() {
    let body = b"abc";
    let mut wire = V1Header::encode(3).unwrap().to_vec();
    wire.extend_from_slice(body);
    let mut st = Mem::new();
    let mut s = session("");
    // The header byte by byte; the body then goes to the host's receive.
    let pieces: Vec<&[u8]> = wire[..4].chunks(1).collect();
    let out = upload(&mut s, &mut st, &pieces, body);
    assert_eq!(st.files["incoming/v1-000001.bin"], body);
    assert!(closes(&out));
}

#[test]
fn v1_negative_and_over_limit_lengths_create_nothing() {
    for len in [-1i32, i32::MIN] {
        let mut st = Mem::new();
        let mut s = session("");
        s.handle_bytes(1, &len.to_be_bytes(), &mut st);
        let out = drain(&mut s);
        assert!(warned(&out, "negative length"));
        assert!(closes(&out));
        assert!(st.open.is_empty() && st.files.is_empty());
    }
    let mut st = Mem::new();
    let mut s = session("(max_file_bytes: 100)");
    s.handle_bytes(1, &101i32.to_be_bytes(), &mut st);
    let out = drain(&mut s);
    assert!(warned(&out, "over the limit"));
    assert!(closes(&out));
    assert!(st.open.is_empty() && st.files.is_empty());
}

#[test]
fn v1_names_are_unique_and_continue_numbering() {
    let mut st = Mem::new();
    st.files
        .insert("incoming/v1-000041.bin".into(), b"old".to_vec());
    for expected in ["incoming/v1-000042.bin", "incoming/v1-000043.bin"] {
        let mut s = session("");
        let mut wire = V1Header::encode(2).unwrap().to_vec();
        wire.extend_from_slice(b"xy");
        upload(&mut s, &mut st, &[&wire], b"");
        assert_eq!(st.files[expected], b"xy");
    }
    assert_eq!(st.files["incoming/v1-000041.bin"], b"old");
}

#[test]
fn v1_short_body_leaves_nothing_visible() {
    let mut st = Mem::new();
    let mut s = session("");
    let mut wire = V1Header::encode(1000).unwrap().to_vec();
    wire.extend_from_slice(&[1; 10]);
    s.handle_bytes(1, &wire, &mut st);
    let (_, len, token) = recv_of(&drain(&mut s)).unwrap();
    assert_eq!(len, 990);
    s.handle_file_received(5, token, Err(HostError::Closed), &mut st);
    let out = drain(&mut s);
    assert!(st.files.is_empty(), "{:?}", st.files.keys());
    assert!(st.open.is_empty(), "temp closed (deleted)");
    assert_eq!(transfers(&out)[0].outcome(), Outcome::Aborted);
    assert!(warned(
        &out,
        "result=\"aborted\" reason=\"connection closed\""
    ));
    // The host's ConnClosed that follows changes nothing.
    s.handle_closed(6, "connection closed", &mut st);
    assert!(drain(&mut s).is_empty());
}

#[test]
fn v1_connection_closed_without_a_completion_deletes_the_temp() {
    let mut st = Mem::new();
    let mut s = session("");
    s.handle_bytes(1, &V1Header::encode(50).unwrap(), &mut st);
    drain(&mut s);
    s.handle_closed(2, "connection reset", &mut st);
    assert!(st.open.is_empty() && st.files.is_empty());
    assert!(!s.busy());
}

#[test]
fn v1_extra_bytes_are_logged_and_never_stored() {
    let mut st = Mem::new();
    let mut s = session("");
    let mut wire = V1Header::encode(3).unwrap().to_vec();
    wire.extend_from_slice(b"abcEXTRA");
    let out = upload(&mut s, &mut st, &[&wire], b"");
    assert!(
        recv_of(&out).is_none(),
        "whole body in hand: no receive to race the EOF"
    );
    assert!(warned(&out, "protocol error"));
    assert!(
        out.iter()
            .any(|o| matches!(o, Output::Log(Level::Info, l) if l.contains("extra_bytes=5")))
    );
    assert_eq!(st.files["incoming/v1-000001.bin"], b"abc");
    // Extra bytes after the transfer ended: logged once more? No: once per connection.
    s.handle_bytes(3, b"more", &mut st);
    let out = drain(&mut s);
    assert!(!warned(&out, "protocol error"));
}

#[test]
fn v1_extra_bytes_after_the_commit_close_the_connection() {
    let mut st = Mem::new();
    let mut s = session("");
    let mut wire = V1Header::encode(3).unwrap().to_vec();
    wire.extend_from_slice(b"ab");
    upload(&mut s, &mut st, &[&wire], b"c");
    s.handle_bytes(3, b"junk", &mut st);
    let out = drain(&mut s);
    assert!(warned(&out, "4 bytes the protocol does not allow"));
    assert!(closes(&out));
    assert_eq!(st.files["incoming/v1-000001.bin"], b"abc");
}

#[test]
fn v1_can_be_disabled() {
    let mut st = Mem::new();
    let mut s = session("(v1: false)");
    s.handle_bytes(1, &[0, 0, 0, 1], &mut st);
    let out = drain(&mut s);
    assert!(warned(&out, "v1 is disabled") && closes(&out));
    assert!(st.open.is_empty());
}

#[test]
fn v1_refused_when_space_is_short() {
    let mut st = Mem::new();
    st.free = 1000;
    let mut s = session("(reserve_free_bytes: 500)");
    s.handle_bytes(1, &V1Header::encode(600).unwrap(), &mut st);
    let out = drain(&mut s);
    assert!(warned(&out, "free") && closes(&out));
    assert!(st.open.is_empty());
}

#[test]
fn missing_incoming_directory_is_explained() {
    let mut st = Mem::new();
    st.fail_create = Some(HostError::NotFound);
    let mut s = session("");
    s.handle_bytes(1, &V1Header::encode(1).unwrap(), &mut st);
    let out = drain(&mut s);
    assert!(warned(&out, "\\\"incoming\\\" missing"), "{out:?}");
}

fn put(name: &str, len: u64) -> Put {
    Put {
        name: name.into(),
        len,
        digest: None,
        digest_last: false,
        upload_id: None,
        replace: false,
    }
}

fn wire(req: Request) -> Vec<u8> {
    req.encode().unwrap()
}

#[test]
fn v2_put_with_digest_first_stores_and_replies() {
    let body = vec![9u8; 5000];
    let mut st = Mem::new();
    let mut s = session("");
    let mut w = wire(Request::Put(Put {
        digest: Some(sha(&body)),
        ..put("a.pptx", 5000)
    }));
    w.extend_from_slice(&body[..100]);
    let out = upload(&mut s, &mut st, &[&w], &body[100..]);
    let r = replies(&out);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].status, Status::Ok);
    assert_eq!(r[0].text, "a.pptx");
    assert_eq!(r[0].value, 5000);
    assert_eq!(r[0].digest, Some(sha(&body)));
    assert_eq!(st.files["incoming/a.pptx"], body);
    // The digest is remembered beside the file.
    let side = String::from_utf8(st.files["incoming/.a.pptx.sha256"].clone()).unwrap();
    assert!(side.starts_with(&crate::codec::hex(&sha(&body))));
    assert!(closes(&out));
}

#[test]
fn v2_header_split_at_every_point() {
    let body = b"0123456789";
    let mut w = wire(Request::Put(Put {
        digest: Some(sha(body)),
        upload_id: None,
        ..put("x.bin", 10)
    }));
    w.extend_from_slice(body);
    for cut in 0..=w.len() {
        let mut st = Mem::new();
        let mut s = session("");
        let out = two_pieces(&mut s, &mut st, &w[..cut], &w[cut..], body);
        let r = replies(&out);
        assert_eq!(r[0].status, Status::Ok, "cut {cut}");
        assert_eq!(st.files["incoming/x.bin"], body);
    }
}

#[test]
fn v2_digest_mismatch_stores_nothing() {
    let mut st = Mem::new();
    let mut s = session("");
    let w = wire(Request::Put(Put {
        digest: Some([0; 32]),
        ..put("a", 3)
    }));
    let out = upload(&mut s, &mut st, &[&w], b"abc");
    let r = replies(&out);
    assert_eq!(r[0].status, Status::DigestMismatch);
    assert!(st.visible().is_empty());
    assert!(st.open.is_empty());
    assert_eq!(transfers(&out)[0].outcome(), Outcome::Invalid);
    assert!(warned(&out, "reason=\"digest-mismatch: expected "));
}

#[test]
fn v2_digest_last_is_read_after_the_body() {
    for good in [true, false] {
        let body = b"payload";
        let mut st = Mem::new();
        let mut s = session("");
        let w = wire(Request::Put(Put {
            digest_last: true,
            ..put("p.txt", 7)
        }));
        let out = upload(&mut s, &mut st, &[&w], body);
        assert!(replies(&out).is_empty(), "waits for the digest");
        let digest = if good { sha(body) } else { [1; 32] };
        // The trailer may be split too.
        s.handle_bytes(3, &digest[..5], &mut st);
        assert!(drain(&mut s).is_empty());
        s.handle_bytes(3, &digest[5..], &mut st);
        let r = replies(&drain(&mut s));
        if good {
            assert_eq!(r[0].status, Status::Ok);
            assert_eq!(st.files["incoming/p.txt"], body);
        } else {
            assert_eq!(r[0].status, Status::DigestMismatch);
            assert!(st.visible().is_empty());
        }
    }
}

/// A digest-last upload of `body` as `t` in one piece: header, body, trailer, `extra`.
fn digest_last_in_one_read(body: &[u8], extra: &[u8]) -> Vec<u8> {
    let mut w = wire(Request::Put(Put {
        digest_last: true,
        ..put("t", body.len() as u64)
    }));
    w.extend_from_slice(body);
    w.extend_from_slice(&sha(body));
    w.extend_from_slice(extra);
    w
}

#[test]
fn v2_digest_last_trailer_in_the_same_read_as_everything() {
    let body = b"xyz";
    let mut st = Mem::new();
    let mut s = session("");
    let w = digest_last_in_one_read(body, b"");
    let out = upload(&mut s, &mut st, &[&w], b"");
    assert_eq!(replies(&out)[0].status, Status::Ok);
    assert!(!warned(&out, "protocol error"));
    assert_eq!(st.files["incoming/t"], body);
}

/// Found by fuzzing (`bulk_v2`): bytes after a digest-last trailer closed the
/// connection before the upload's reply was written, so the client never learnt
/// whether its file was stored.
#[test]
fn v2_bytes_after_the_trailer_still_get_the_reply_before_the_close() {
    let body = b"abc";
    let mut st = Mem::new();
    let mut s = session("");
    let w = digest_last_in_one_read(body, b"extra");
    let out = upload(&mut s, &mut st, &[&w], b"");
    assert!(warned(&out, "protocol error"));
    let close = out
        .iter()
        .position(|o| *o == Output::Close)
        .expect("a close");
    let reply = out
        .iter()
        .position(|o| matches!(o, Output::Write(_)))
        .expect("a reply");
    assert!(reply < close, "the reply comes before the close: {out:?}");
    assert_eq!(out.iter().filter(|o| **o == Output::Close).count(), 1);
    assert_eq!(replies(&out)[0].status, Status::Ok);
    assert_eq!(st.files["incoming/t"], body);
}

/// Upload `body` as `a.txt` without the replace flag onto the names `taken`, with
/// handler `config`: the name the server stored it under.
fn upload_onto_taken(config: &str, taken: &[&str], body: &[u8]) -> (String, Mem) {
    let mut st = Mem::new();
    for name in taken {
        st.files
            .insert(format!("incoming/{name}"), name.as_bytes().to_vec());
    }
    let mut s = session(config);
    let put = wire(Request::Put(put("a.txt", body.len() as u64)));
    let out = upload(&mut s, &mut st, &[&put], body);
    (replies(&out)[0].text.clone(), st)
}

#[test]
fn v2_taken_names_get_a_suffix() {
    let (name, st) = upload_onto_taken("", &["a.txt", "a-1.txt"], b"3");
    assert_eq!(name, "a-2.txt");
    assert_eq!(st.files["incoming/a-2.txt"], b"3");
    assert_eq!(st.files["incoming/a.txt"], b"a.txt");
}

#[test]
fn v2_replace_commits_over_the_name_when_allowed() {
    for digest_last in [false, true] {
        let mut st = Mem::new();
        st.files.insert("incoming/a.txt".into(), b"old".to_vec());
        st.files
            .insert("incoming/.a.txt.sha256".into(), b"stale".to_vec());
        let mut s = session("(allow_overwrite: true)");
        let w = wire(Request::Put(Put {
            replace: true,
            digest_last,
            ..put("a.txt", 3)
        }));
        let mut out = upload(&mut s, &mut st, &[&w], b"new");
        if digest_last {
            s.handle_bytes(3, &sha(b"new"), &mut st);
            out.extend(drain(&mut s));
        }
        let r = replies(&out);
        assert_eq!(r[0].status, Status::Ok, "{r:?}");
        assert_eq!(r[0].text, "a.txt", "the name itself, no suffix");
        assert_eq!(st.files["incoming/a.txt"], b"new");
        assert_eq!(st.visible(), ["incoming/a.txt"], "no second copy");
        // The remembered digest is the new file's.
        let side = String::from_utf8(st.files["incoming/.a.txt.sha256"].clone()).unwrap();
        assert!(side.starts_with(&crate::codec::hex(&sha(b"new"))), "{side}");
    }
}

#[test]
fn v2_replace_of_a_free_name_just_stores() {
    let mut st = Mem::new();
    let mut s = session("(allow_overwrite: true)");
    let w = wire(Request::Put(Put {
        replace: true,
        ..put("b.bin", 2)
    }));
    let out = upload(&mut s, &mut st, &[&w], b"hi");
    assert_eq!(replies(&out)[0].text, "b.bin");
    assert_eq!(st.files["incoming/b.bin"], b"hi");
}

#[test]
fn v2_replace_is_refused_by_default_before_anything_is_created() {
    let mut st = Mem::new();
    st.files.insert("incoming/a.txt".into(), b"old".to_vec());
    let mut s = session("");
    let mut w = wire(Request::Put(Put {
        replace: true,
        ..put("a.txt", 3)
    }));
    w.extend_from_slice(b"new");
    s.handle_bytes(1, &w, &mut st);
    let out = drain(&mut s);
    let r = replies(&out);
    assert_eq!(r[0].status, Status::NotAllowed);
    assert!(r[0].text.contains("allow_overwrite"), "{}", r[0].text);
    assert!(closes(&out));
    assert!(st.open.is_empty(), "no temp created");
    assert_eq!(st.files["incoming/a.txt"], b"old");
    assert_eq!(st.visible(), ["incoming/a.txt"]);
}

#[test]
fn v2_without_the_replace_flag_a_taken_name_still_gets_a_suffix_when_allowed() {
    // Clients from before the flag keep their `stem-1.ext`, whatever the handler allows.
    let (name, st) = upload_onto_taken("(allow_overwrite: true)", &["a.txt"], b"new");
    assert_eq!(name, "a-1.txt");
    assert_eq!(st.files["incoming/a.txt"], b"a.txt");
    assert_eq!(st.files["incoming/a-1.txt"], b"new");
}

#[test]
fn v2_refusals_come_before_anything_is_created() {
    let cases: Vec<(Vec<u8>, Status)> = vec![
        (wire(Request::Put(put("../x", 1))), Status::BadName),
        (wire(Request::Put(put(".hidden", 1))), Status::BadName),
        (wire(Request::Put(put("a", u64::MAX))), Status::TooLarge),
        (
            wire(Request::Put(put("a", (16 << 30) + 1))),
            Status::TooLarge,
        ),
        (vec![0xB5, b'B', b'L', b'X'], Status::BadRequest),
        (
            {
                let mut w = wire(Request::Put(put("a", 1)));
                w[4] = 9;
                w
            },
            Status::BadRequest,
        ),
    ];
    for (w, status) in cases {
        let mut st = Mem::new();
        let mut s = session("");
        s.handle_bytes(1, &w, &mut st);
        let out = drain(&mut s);
        assert_eq!(replies(&out)[0].status, status);
        assert!(closes(&out));
        assert!(st.open.is_empty() && st.files.is_empty());
        // A parsed request refused is a transfer record; bytes that are no request not.
        let results: Vec<String> = transfers(&out).into_iter().map(|t| t.result).collect();
        let want: &[&str] = if status == Status::BadRequest {
            &[]
        } else {
            &["refused"]
        };
        assert_eq!(results, want, "{status:?}");
    }
}

#[test]
fn v2_no_space_mid_transfer_replies_and_deletes() {
    let mut st = Mem::new();
    let mut s = session("");
    s.handle_bytes(1, &wire(Request::Put(put("big", 1 << 20))), &mut st);
    let (_, _, token) = recv_of(&drain(&mut s)).unwrap();
    s.handle_file_received(2, token, Err(HostError::NoSpace), &mut st);
    let out = drain(&mut s);
    assert_eq!(replies(&out)[0].status, Status::NoSpace);
    assert!(st.open.is_empty() && st.files.is_empty());
    assert!(closes(&out));
    assert_eq!(transfers(&out)[0].outcome(), Outcome::Error);
}

#[test]
fn v2_no_space_while_writing_the_first_bytes() {
    let mut st = Mem::new();
    st.no_space_after = Some(2);
    let mut s = session("");
    let mut w = wire(Request::Put(put("f", 10)));
    w.extend_from_slice(b"0123");
    s.handle_bytes(1, &w, &mut st);
    let out = drain(&mut s);
    assert_eq!(replies(&out)[0].status, Status::NoSpace);
    assert!(st.open.is_empty());
}

#[test]
fn resume_keeps_the_part_and_continues_with_the_whole_digest() {
    let body: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let id = [7u8; 16];
    let req = Request::Put(Put {
        digest: Some(sha(&body)),
        upload_id: Some(id),
        ..put("movie.mkv", body.len() as u64)
    });
    let partial = format!("incoming/.partial.{}", "07".repeat(16));
    // First attempt: CONTINUE 0, then the client dies after 30000 bytes.
    let mut st = Mem::new();
    let mut s = session("");
    s.handle_bytes(1, &wire(req.clone()), &mut st);
    let out = drain(&mut s);
    let r = replies(&out);
    assert_eq!((r[0].status, r[0].value), (Status::Continue, 0));
    let (file, len, token) = recv_of(&out).unwrap();
    assert_eq!(len, body.len() as u64);
    st.open
        .get_mut(&file.0)
        .unwrap()
        .0
        .extend_from_slice(&body[..100_000]);
    s.handle_file_received(3, token, Err(HostError::Closed), &mut st);
    let out = drain(&mut s);
    assert_eq!(transfers(&out)[0].outcome(), Outcome::Partial);
    assert!(warned(&out, "; 100000 bytes kept for resume\""));
    assert_eq!(st.files[&partial].len(), 100_000);
    assert!(st.visible().is_empty(), "a partial is hidden");

    // Second attempt: CONTINUE 100000 at once; the partial itself is continued (no
    // copy, nothing read back) and the host's digest covers the whole file.
    let mut s = session("");
    s.handle_bytes(10, &wire(req.clone()), &mut st);
    let out = drain(&mut s);
    let r = replies(&out);
    assert_eq!((r[0].status, r[0].value), (Status::Continue, 100_000));
    let (file, len, token) = recv_of(&out).unwrap();
    assert_eq!(len, 200_000);
    assert_eq!(st.continues.get(&file.0), Some(&partial));
    assert_eq!(st.reads, 0, "the kept part is not read back");

    // A second connection resuming the same upload meanwhile is refused, harmlessly.
    let mut other = session("");
    other.handle_bytes(10, &wire(req.clone()), &mut st);
    let out = drain(&mut other);
    assert_eq!(replies(&out)[0].status, Status::Unavailable);
    assert!(closes(&out));
    assert_eq!(st.files[&partial].len(), 100_000);

    let d = st.receive(file, &body[100_000..]);
    s.handle_file_received(11, token, Ok((len, Some(d))), &mut st);
    let out = drain(&mut s);
    let r = replies(&out);
    assert_eq!(r[0].status, Status::Ok);
    assert_eq!(r[0].digest, Some(sha(&body)));
    assert_eq!(st.files["incoming/movie.mkv"], body);
    assert!(
        !st.files.contains_key(&partial),
        "the partial became the file"
    );
    assert!(st.open.is_empty());
}

#[test]
fn a_continued_partial_lost_again_keeps_everything_received() {
    let body: Vec<u8> = (0..9_000u32).map(|i| (i % 13) as u8).collect();
    let id = [3u8; 16];
    let req = Request::Put(Put {
        upload_id: Some(id),
        ..put("disk.img", body.len() as u64)
    });
    let partial = format!("incoming/.partial.{}", "03".repeat(16));
    let mut st = Mem::new();
    st.files.insert(partial.clone(), body[..2_000].to_vec());
    for (upto, at) in [(5_000, 1), (9_000, 2)] {
        let mut s = session("");
        s.handle_bytes(at, &wire(req.clone()), &mut st);
        let out = drain(&mut s);
        let kept = st.files[&partial].len();
        assert_eq!(replies(&out)[0].value, kept as u64);
        let (file, _, token) = recv_of(&out).unwrap();
        let d = st.receive(file, &body[kept..upto]);
        let result = if upto < body.len() {
            Err(HostError::Closed)
        } else {
            Ok(((upto - kept) as u64, Some(d)))
        };
        s.handle_file_received(at, token, result, &mut st);
        let out = drain(&mut s);
        if upto < body.len() {
            assert_eq!(transfers(&out)[0].result, "partial");
            assert!(warned(&out, "; 5000 bytes kept for resume\""));
            assert_eq!(st.files[&partial], body[..5_000]);
        } else {
            assert_eq!(replies(&out)[0].status, Status::Ok);
            assert_eq!(st.files["incoming/disk.img"], body);
            assert!(!st.files.contains_key(&partial));
        }
    }
}

#[test]
fn a_resumed_upload_with_the_wrong_digest_drops_its_partial() {
    let body = vec![1u8; 6_000];
    let partial = format!("incoming/.partial.{}", "05".repeat(16));
    let mut st = Mem::new();
    st.files.insert(partial.clone(), body[..2_000].to_vec());
    let mut s = session("");
    let req = Request::Put(Put {
        upload_id: Some([5; 16]),
        digest: Some([0; 32]),
        ..put("x.bin", body.len() as u64)
    });
    s.handle_bytes(1, &wire(req), &mut st);
    let (file, len, token) = recv_of(&drain(&mut s)).unwrap();
    // A prune meanwhile cannot delete the partial being continued.
    assert_eq!(st.remove_file(&partial), Err(HostError::Busy));
    let d = st.receive(file, &body[2_000..]);
    s.handle_file_received(2, token, Ok((len, Some(d))), &mut st);
    let out = drain(&mut s);
    assert_eq!(replies(&out)[0].status, Status::DigestMismatch);
    assert!(st.files.is_empty(), "{:?}", st.files.keys());
    assert!(st.open.is_empty());
}

#[test]
fn a_large_kept_part_extends_the_transfer_deadline() {
    let partial = format!("incoming/.partial.{}", "06".repeat(16));
    let mut st = Mem::new();
    st.files.insert(partial, vec![0; 100 << 20]);
    let mut s = session("(idle_timeout_secs: 1, min_transfer_rate: 1048576)");
    let req = Request::Put(Put {
        upload_id: Some([6; 16]),
        ..put("y.bin", (100 << 20) + (1 << 20))
    });
    s.handle_bytes(0, &wire(req), &mut st);
    let _ = drain(&mut s);
    // 1 s idle + 1 MiB at 1 MiB/s + 100 MiB read back at 50 MiB/s.
    assert_eq!(s.poll_timeout(), Some(1_000 + 1_000 + 2_000));
}

#[test]
fn a_fully_kept_partial_is_still_hashed_by_the_host() {
    let body = vec![9u8; 4_000];
    let req = Request::Put(Put {
        upload_id: Some([4; 16]),
        digest: Some(sha(&body)),
        ..put("done.bin", body.len() as u64)
    });
    let mut st = Mem::new();
    st.files.insert(
        format!("incoming/.partial.{}", "04".repeat(16)),
        body.clone(),
    );
    let mut s = session("");
    s.handle_bytes(1, &wire(req), &mut st);
    let out = drain(&mut s);
    assert_eq!(replies(&out)[0].value, 4_000);
    // Nothing left to send, but the plugin never saw the kept bytes: it asks the host
    // for a zero-length receive, whose digest covers the file.
    let (file, len, token) = recv_of(&out).unwrap();
    assert_eq!(len, 0);
    let d = st.receive(file, &[]);
    s.handle_file_received(2, token, Ok((0, Some(d))), &mut st);
    let out = drain(&mut s);
    assert_eq!(replies(&out)[0].status, Status::Ok);
    assert_eq!(st.files["incoming/done.bin"], body);
}

#[test]
fn resume_timeout_keeps_the_part_too() {
    let mut st = Mem::new();
    let mut s = session("(idle_timeout_secs: 1, min_transfer_rate: 1000)");
    let req = Request::Put(Put {
        upload_id: Some([1; 16]),
        ..put("slow", 2000)
    });
    s.handle_bytes(0, &wire(req), &mut st);
    let (file, _, _) = recv_of(&drain(&mut s)).unwrap();
    st.open
        .get_mut(&file.0)
        .unwrap()
        .0
        .extend_from_slice(&[5; 10]);
    let deadline = s.poll_timeout().unwrap();
    assert_eq!(deadline, 1000 + 2000);
    s.handle_timeout(deadline - 1, &mut st);
    assert!(drain(&mut s).is_empty(), "not yet");
    s.handle_timeout(deadline, &mut st);
    let out = drain(&mut s);
    assert_eq!(replies(&out)[0].status, Status::Timeout);
    assert!(closes(&out));
    assert_eq!(
        st.files[&format!("incoming/.partial.{}", "01".repeat(16))].len(),
        10
    );
}

#[test]
fn resume_refuses_a_length_shorter_than_the_kept_part() {
    let mut st = Mem::new();
    st.files.insert(
        format!("incoming/.partial.{}", "02".repeat(16)),
        vec![0; 50],
    );
    let mut s = session("");
    let req = Request::Put(Put {
        upload_id: Some([2; 16]),
        ..put("x", 40)
    });
    s.handle_bytes(0, &wire(req), &mut st);
    let out = drain(&mut s);
    assert_eq!(replies(&out)[0].status, Status::ResumeMismatch);
    assert!(st.open.is_empty());
}

#[test]
fn non_resumable_loss_keeps_nothing_and_resume_can_be_off() {
    let mut st = Mem::new();
    let mut s = session("(resume: false)");
    let req = Request::Put(Put {
        upload_id: Some([3; 16]),
        ..put("x", 40)
    });
    s.handle_bytes(0, &wire(req), &mut st);
    let out = drain(&mut s);
    // The client still gets its CONTINUE (it waits for one), from 0.
    assert_eq!(replies(&out)[0].status, Status::Continue);
    let (_, _, token) = recv_of(&out).unwrap();
    s.handle_file_received(1, token, Err(HostError::Closed), &mut st);
    drain(&mut s);
    assert!(st.files.is_empty() && st.open.is_empty());
}

#[test]
fn body_bytes_before_continue_are_a_protocol_error() {
    let mut st = Mem::new();
    let mut s = session("");
    let mut w = wire(Request::Put(Put {
        upload_id: Some([4; 16]),
        ..put("x", 40)
    }));
    w.extend_from_slice(b"early");
    s.handle_bytes(0, &w, &mut st);
    let out = drain(&mut s);
    assert!(warned(&out, "protocol error"));
    // The upload itself still runs from offset 0.
    assert_eq!(recv_of(&out).unwrap().1, 40);
}

#[test]
fn partials_beyond_the_limit_are_pruned_oldest_first() {
    let mut st = Mem::new();
    for i in 0..3u8 {
        st.files
            .insert(format!("incoming/.partial.{i:032}"), vec![i]);
    }
    let mut s = session("(max_partials: 2)");
    let req = Request::Put(Put {
        upload_id: Some([9; 16]),
        ..put("x", 40)
    });
    s.handle_bytes(0, &wire(req), &mut st);
    let (_, _, token) = recv_of(&drain(&mut s)).unwrap();
    s.handle_file_received(1, token, Err(HostError::Closed), &mut st);
    drain(&mut s);
    let partials: Vec<_> = st
        .files
        .keys()
        .filter(|k| k.contains(".partial."))
        .collect();
    assert_eq!(partials.len(), 2, "{partials:?}");
    assert!(
        st.files
            .contains_key(&format!("incoming/.partial.{}", "09".repeat(16)))
    );
}

#[test]
fn partials_not_continued_for_too_long_are_deleted() {
    const NOW: i64 = 1_800_000_000;
    let day = 24 * 3600;
    let mut st = Mem::new();
    // Abandoned 8 days ago, 6 days ago, and the one this upload continues (10 days
    // old: expired too, so it starts over).
    for (id, age) in [(1u8, 8 * day), (2, 6 * day), (3, 10 * day)] {
        let path = format!("incoming/.partial.{}", format!("{id:02x}").repeat(16));
        st.files.insert(path.clone(), vec![id; 10]);
        st.mtimes.insert(path, NOW - age);
    }
    let mut s = session("(partial_max_age_secs: 604800)");
    s.set_wall_clock(NOW);
    let req = Request::Put(Put {
        upload_id: Some([3; 16]),
        ..put("z.bin", 40)
    });
    s.handle_bytes(0, &wire(req.clone()), &mut st);
    let out = drain(&mut s);
    assert_eq!(
        replies(&out)[0].value,
        0,
        "the expired kept part is not resumed"
    );
    let left: Vec<_> = st.files.keys().cloned().collect();
    assert_eq!(left, [format!("incoming/.partial.{}", "02".repeat(16))]);

    // With 0, with an age too large for the clock, or without a wall clock, age
    // never deletes anything.
    for (config, clock) in [
        ("(partial_max_age_secs: 0)", Some(NOW)),
        ("(partial_max_age_secs: 18446744073709551615)", Some(NOW)),
        ("()", None),
    ] {
        let mut st2 = Mem::new();
        let path = format!("incoming/.partial.{}", "01".repeat(16));
        st2.files.insert(path.clone(), vec![1]);
        st2.mtimes.insert(path, NOW - 400 * day);
        let mut s = session(config);
        if let Some(t) = clock {
            s.set_wall_clock(t);
        }
        s.handle_bytes(0, &wire(req.clone()), &mut st2);
        assert_eq!(st2.files.len(), 1, "{config} {clock:?}");
    }
}

#[test]
fn a_partial_removed_after_the_stat_means_starting_over() {
    let mut st = Mem::new();
    st.files.insert(
        format!("incoming/.partial.{}", "0a".repeat(16)),
        vec![1; 10],
    );
    st.partial_vanishes = true;
    let mut s = session("");
    let req = Request::Put(Put {
        upload_id: Some([0x0A; 16]),
        ..put("w.bin", 40)
    });
    s.handle_bytes(0, &wire(req), &mut st);
    let out = drain(&mut s);
    assert_eq!(
        (replies(&out)[0].status, replies(&out)[0].value),
        (Status::Continue, 0)
    );
    assert_eq!(
        recv_of(&out).unwrap().1,
        40,
        "the whole body, into a fresh temp"
    );
}

#[test]
fn get_sends_the_file_with_its_remembered_digest() {
    let mut st = Mem::new();
    // Store one through an upload so the digest side file exists.
    let mut s = session("");
    upload(
        &mut s,
        &mut st,
        &[&wire(Request::Put(put("d.bin", 6)))],
        b"abcdef",
    );
    let mut s = session("");
    let g = Request::Get(Get {
        name: "d.bin".into(),
        offset: 2,
    });
    s.handle_bytes(5, &wire(g), &mut st);
    let out = drain(&mut s);
    let r = replies(&out);
    assert_eq!((r[0].status, r[0].value), (Status::Ok, 4));
    assert_eq!(r[0].digest, Some(sha(b"abcdef")));
    let (file, offset, len, token) = out
        .iter()
        .find_map(|o| match o {
            Output::SendFile {
                file,
                offset,
                len,
                token,
            } => Some((*file, *offset, *len, *token)),
            _ => None,
        })
        .unwrap();
    assert_eq!((offset, len), (2, 4));
    assert!(st.open.contains_key(&file.0));
    s.handle_file_sent(6, token, Ok(4), &mut st);
    let out = drain(&mut s);
    let t = transfers(&out);
    assert_eq!(
        (t[0].direction.as_str(), t[0].bytes, t[0].result.as_str()),
        ("download", 4, "ok")
    );
    assert!(closes(&out));
    assert!(st.open.is_empty());
}

#[test]
fn get_refusals() {
    let mut st = Mem::new();
    st.files.insert("incoming/f".into(), b"12".to_vec());
    // Side files that exist: a hidden name is refused before storage is asked.
    let partial = ".partial.0123456789abcdef0123456789abcdef";
    st.files
        .insert("incoming/.f.sha256".into(), b"digest".to_vec());
    st.files
        .insert(format!("incoming/{partial}"), b"kept".to_vec());
    for (name, offset, status, outcome) in [
        ("nope", 0, Status::NotFound, Outcome::NotFound),
        ("../etc/passwd", 0, Status::BadName, Outcome::Refused),
        (".f.sha256", 0, Status::BadName, Outcome::Refused),
        (partial, 0, Status::BadName, Outcome::Refused),
        ("f", 3, Status::NotFound, Outcome::NotFound),
    ] {
        let mut s = session("");
        let g = Request::Get(Get {
            name: name.into(),
            offset,
        });
        s.handle_bytes(0, &wire(g), &mut st);
        let out = drain(&mut s);
        assert_eq!(replies(&out)[0].status, status, "{name}");
        assert!(st.open.is_empty());
        let t = transfers(&out);
        assert_eq!((t.len(), t[0].outcome()), (1, outcome), "{name}");
        assert_eq!((t[0].direction.as_str(), t[0].bytes), ("download", 0));
    }
    let mut s = session("(downloads: false)");
    let g = Request::Get(Get {
        name: "f".into(),
        offset: 0,
    });
    s.handle_bytes(0, &wire(g), &mut st);
    let out = drain(&mut s);
    assert_eq!(replies(&out)[0].status, Status::Unavailable);
    assert_eq!(transfers(&out)[0].outcome(), Outcome::Refused);
}

#[test]
fn a_get_past_any_end_tells_a_taken_name_without_a_body() {
    // The client's "does NAME exist" question (docs/bulk-protocol.md).
    let mut st = Mem::new();
    st.files.insert("incoming/f".into(), b"12".to_vec());
    for (name, taken) in [("f", Some(2)), ("nope", None)] {
        let mut s = session("");
        let g = Request::Get(Get {
            name: name.into(),
            offset: crate::codec::PROBE_OFFSET,
        });
        s.handle_bytes(0, &wire(g), &mut st);
        let out = drain(&mut s);
        let r = replies(&out);
        assert_eq!(r[0].status, Status::NotFound, "{name}");
        assert_eq!(crate::codec::taken_size(&r[0].text), taken, "{}", r[0].text);
        assert!(!out.iter().any(|o| matches!(o, Output::SendFile { .. })));
        assert!(st.open.is_empty());
        // A question asked before every upload: no warning, no transfer record.
        assert!(transfers(&out).is_empty(), "{out:?}");
        assert!(!out.iter().any(|o| matches!(o, Output::Log(Level::Warn, _))));
        assert!(closes(&out));
    }
}

#[test]
fn slowloris_header_times_out() {
    let mut st = Mem::new();
    let mut s = session("(header_timeout_secs: 5)");
    assert_eq!(s.poll_timeout(), Some(5000));
    s.handle_bytes(100, &[0, 0], &mut st);
    s.handle_timeout(5000, &mut st);
    let out = drain(&mut s);
    assert!(warned(&out, "header timeout") && closes(&out));
    assert_eq!(s.poll_timeout(), None);
}

#[test]
fn v2_header_timeout_gets_a_reply() {
    let mut st = Mem::new();
    let mut s = session("");
    s.handle_bytes(1, &[0xB5, b'B'], &mut st);
    s.handle_timeout(10_000, &mut st);
    assert_eq!(replies(&drain(&mut s))[0].status, Status::Timeout);
}

#[test]
fn stalled_v1_upload_times_out_and_leaves_nothing() {
    let mut st = Mem::new();
    let mut s = session("(idle_timeout_secs: 2, min_transfer_rate: 100)");
    s.handle_bytes(0, &V1Header::encode(1000).unwrap(), &mut st);
    drain(&mut s);
    assert_eq!(s.poll_timeout(), Some(2000 + 10_000));
    s.handle_timeout(12_000, &mut st);
    let out = drain(&mut s);
    assert!(closes(&out));
    assert_eq!(transfers(&out)[0].result, "timeout");
    assert!(st.open.is_empty() && st.files.is_empty());
}

#[test]
fn eof_inside_the_header_is_logged() {
    let mut st = Mem::new();
    let mut s = session("");
    s.handle_bytes(0, &[0, 0, 1], &mut st);
    s.handle_eof(1, &mut st);
    let out = drain(&mut s);
    assert!(warned(&out, "closed inside the header") && closes(&out));
}

#[test]
fn drain_closes_idle_connections_and_refuses_new_uploads() {
    let mut st = Mem::new();
    let mut s = session("");
    s.handle_drain(0);
    assert!(closes(&drain(&mut s)));
    assert!(!s.busy());

    let mut s = session("");
    s.handle_bytes(0, &[0, 0], &mut st);
    s.handle_drain(1);
    assert!(drain(&mut s).is_empty(), "a header in progress may finish");
    assert!(s.busy());
    s.handle_bytes(2, &[0, 1], &mut st);
    let out = drain(&mut s);
    assert!(warned(&out, "shutting down") && closes(&out));
    assert!(st.open.is_empty());
}

#[test]
fn zero_length_upload_still_gets_a_digest() {
    let mut st = Mem::new();
    let mut s = session("");
    let out = upload(
        &mut s,
        &mut st,
        &[&wire(Request::Put(put("empty", 0)))],
        b"",
    );
    let r = replies(&out);
    assert_eq!(r[0].status, Status::Ok);
    assert_eq!(r[0].digest, Some(sha(b"")));
    assert_eq!(st.files["incoming/empty"], b"");
}
