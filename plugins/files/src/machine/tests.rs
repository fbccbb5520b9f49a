//! Scenario tests of the state machine on a manual clock, over in-memory storage.

use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest, Sha256};
use switchyard_sdk::{FileId, HostError, Stat};

use super::{Output, Session, Storage};
use crate::cmd::hex;
use crate::codec::MAGIC;
use crate::config::Config;

/// In-memory storage with the host's rules (temps invisible until commit, no-replace
/// commits, confinement) and knobs to inject failures.
#[derive(Debug, Default)]
struct Mem {
    files: BTreeMap<String, Vec<u8>>,
    dirs: BTreeSet<String>,
    open: BTreeMap<u64, (Vec<u8>, bool)>,
    next: u64,
    free: u64,
    /// Names `list_dir` does not show (a file created by a racing upload).
    unlisted: BTreeSet<String>,
    fail_writes: Option<HostError>,
}

impl Mem {
    fn new() -> Mem {
        Mem {
            free: 1 << 30,
            ..Mem::default()
        }
    }

    fn with(mut self, name: &str, data: &[u8]) -> Mem {
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
    fn receive(&mut self, file: FileId, data: &[u8]) {
        self.open
            .get_mut(&file.0)
            .unwrap()
            .0
            .extend_from_slice(data);
    }

    fn sha_of(&self, file: FileId) -> [u8; 32] {
        Sha256::digest(&self.open[&file.0].0).into()
    }

    /// Visible names, side files excluded.
    fn visible(&self) -> Vec<String> {
        self.files
            .keys()
            .filter(|n| !n.rsplit('/').next().unwrap().starts_with('.'))
            .cloned()
            .collect()
    }
}

fn stat_of(len: usize) -> Stat {
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

fn session() -> Session {
    Session::new(Config::default(), "127.0.0.1:5000".into(), 0)
}

fn drain(s: &mut Session) -> Vec<Output> {
    std::iter::from_fn(|| s.poll_output()).collect()
}

/// Everything written, concatenated.
fn written(outs: &[Output]) -> String {
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

fn closed(outs: &[Output]) -> bool {
    outs.contains(&Output::Close)
}

fn transfers(outs: &[Output]) -> Vec<&switchyard_sdk::messages::TransferCompleted> {
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

fn v2(s: &mut Session, st: &mut Mem, now: u64, lines: &str) -> Vec<Output> {
    let mut data = MAGIC.to_vec();
    data.extend_from_slice(lines.as_bytes());
    s.handle_bytes(now, &data, st);
    drain(s)
}

fn send_file(outs: &[Output]) -> (FileId, u64, u64, u64) {
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

fn recv_to_file(outs: &[Output]) -> (FileId, u64, u64) {
    outs.iter()
        .find_map(|o| match o {
            Output::RecvToFile { file, len, token } => Some((*file, *len, *token)),
            _ => None,
        })
        .expect("a RecvToFile output")
}

// ---- v2 downloads ----------------------------------------------------------------

#[test]
fn get_sends_header_then_the_file_with_sendfile() {
    let mut st = Mem::new().with("a.txt", b"hello");
    let mut s = session();
    let outs = v2(&mut s, &mut st, 1, "GET a.txt\n");
    assert_eq!(written(&outs), "OK 5 -\n");
    let (file, offset, len, token) = send_file(&outs);
    assert_eq!((offset, len), (0, 5));
    assert!(s.busy());
    s.handle_file_sent(7, token, Ok(5), &mut st);
    let outs = drain(&mut s);
    let t = transfers(&outs);
    assert_eq!(t.len(), 1);
    assert_eq!(
        (
            t[0].direction.as_str(),
            t[0].bytes,
            t[0].duration_ms,
            t[0].result.as_str()
        ),
        ("download", 5, 6, "ok")
    );
    assert!(
        !st.open.contains_key(&file.0),
        "the handle is closed after the send"
    );
    assert!(!closed(&outs) && !s.busy());
}

#[test]
fn get_with_offset_and_empty_file() {
    let mut st = Mem::new().with("a", b"0123456789").with("empty", b"");
    let mut s = session();
    let outs = v2(&mut s, &mut st, 0, "GET a 4\n");
    assert_eq!(written(&outs), "OK 6 -\n");
    let (_, offset, len, token) = send_file(&outs);
    assert_eq!((offset, len), (4, 6));
    s.handle_file_sent(1, token, Ok(6), &mut st);
    drain(&mut s);
    s.handle_bytes(2, b"GET empty\nGET a 10\nGET a 11\n", &mut st);
    let outs = drain(&mut s);
    assert_eq!(
        written(&outs),
        "OK 0 -\nOK 0 -\nERR 416 offset past the end of the file\n"
    );
    assert!(
        !outs.iter().any(|o| matches!(o, Output::SendFile { .. })),
        "nothing to send for 0 bytes"
    );
    assert!(st.open.is_empty());
}

#[test]
fn errors_keep_the_connection_usable() {
    let mut st = Mem::new().with("ok", b"x");
    st.dirs.insert("sub".into());
    let mut s = session();
    let outs = v2(
        &mut s,
        &mut st,
        0,
        "GET missing\nGET ../etc/passwd\nGET /etc/passwd\nGET a%2F..%2F..%2Fx\nGET sub\nFETCH x\nGET .ok.sha256\nSTAT ok\n",
    );
    let text = written(&outs);
    let codes: Vec<&str> = text
        .lines()
        .map(|l| l.split(' ').nth(1).unwrap_or(""))
        .collect();
    assert_eq!(
        codes,
        ["404", "403", "403", "403", "412", "400", "403", "f"],
        "{text}"
    );
    assert!(!closed(&outs));
}

#[test]
fn get_digest_comes_from_the_side_file_while_it_matches() {
    let body = b"some bytes";
    let digest = hex(&Sha256::digest(body));
    let mut st = Mem::new()
        .with("f", body)
        .with(".f.sha256", format!("{digest} 10 1000\n").as_bytes());
    let mut s = session();
    let outs = v2(&mut s, &mut st, 0, "GET f\n");
    assert_eq!(written(&outs), format!("OK 10 {digest}\n"));
    // A stale side file (size differs) is not trusted.
    st.files.insert("f".into(), b"changed!".to_vec());
    let (_, _, _, token) = send_file(&outs);
    s.handle_file_sent(1, token, Ok(10), &mut st);
    drain(&mut s);
    s.handle_bytes(2, b"GET f\n", &mut st);
    assert_eq!(written(&drain(&mut s)), "OK 8 -\n");
}

#[test]
fn failed_send_closes_and_records_the_failure() {
    let mut st = Mem::new().with("a", b"abc");
    let mut s = session();
    let (_, _, _, token) = send_file(&v2(&mut s, &mut st, 0, "GET a\n"));
    s.handle_file_sent(5, token, Err(HostError::Closed), &mut st);
    let outs = drain(&mut s);
    assert!(closed(&outs));
    assert_eq!(transfers(&outs)[0].result, "closed");
    assert!(st.open.is_empty());
    // A stale completion is ignored.
    s.handle_file_sent(6, token, Ok(3), &mut st);
    assert!(drain(&mut s).is_empty());
}

#[test]
fn pipelined_requests_wait_for_the_transfer() {
    let mut st = Mem::new().with("a", b"abc");
    let mut s = session();
    let outs = v2(&mut s, &mut st, 0, "GET a\nSTAT a\nQUIT\n");
    assert_eq!(written(&outs), "OK 3 -\n");
    let (_, _, _, token) = send_file(&outs);
    s.handle_file_sent(1, token, Ok(3), &mut st);
    let outs = drain(&mut s);
    assert_eq!(written(&outs), "OK f 3 1000\nOK bye\n");
    assert!(closed(&outs));
}

#[test]
fn reading_pauses_when_pipelined_requests_pile_up() {
    let mut st = Mem::new().with("a", b"abc");
    let cfg = Config {
        max_line_bytes: 64,
        ..Config::default()
    };
    let mut s = Session::new(cfg, "p".into(), 0);
    let (_, _, _, token) = send_file(&v2(&mut s, &mut st, 0, "GET a\n"));
    s.handle_bytes(1, "STAT a\n".repeat(10).as_bytes(), &mut st);
    assert_eq!(drain(&mut s), vec![Output::SetReading(false)]);
    s.handle_file_sent(2, token, Ok(3), &mut st);
    let outs = drain(&mut s);
    assert_eq!(written(&outs).lines().count(), 10);
    assert!(outs.contains(&Output::SetReading(true)));
}

// ---- v2 uploads --------------------------------------------------------------------

#[test]
fn put_receives_into_a_temp_and_commits_with_the_digest() {
    let mut st = Mem::new();
    let mut s = session();
    let body = b"bin\0ary\r\n:colons:";
    let outs = v2(&mut s, &mut st, 0, &format!("PUT up.bin {}\n", body.len()));
    assert_eq!(written(&outs), "CONTINUE\n");
    let (file, len, token) = recv_to_file(&outs);
    assert_eq!(len, body.len() as u64);
    assert!(st.visible().is_empty(), "nothing visible before the commit");
    st.receive(file, body);
    let digest = st.sha_of(file);
    s.handle_file_received(9, token, Ok((len, Some(digest))), &mut st);
    let outs = drain(&mut s);
    let hexd = hex(&digest);
    assert_eq!(written(&outs), format!("OK up.bin {} {hexd}\n", body.len()));
    assert_eq!(st.files["up.bin"], body);
    assert!(
        st.files.contains_key(".up.bin.sha256"),
        "digest remembered for GET"
    );
    let t = transfers(&outs);
    assert_eq!(
        (t[0].direction.as_str(), t[0].sha256.as_deref()),
        ("upload", Some(hexd.as_str()))
    );
    // And a GET now announces it.
    s.handle_bytes(10, b"GET up.bin\n", &mut st);
    assert_eq!(
        written(&drain(&mut s)),
        format!("OK {} {hexd}\n", body.len())
    );
}

#[test]
fn put_bytes_sent_with_the_request_go_to_the_file_first() {
    let mut st = Mem::new();
    let mut s = session();
    let outs = v2(&mut s, &mut st, 0, "PUT x 10\nhello");
    let (file, len, token) = recv_to_file(&outs);
    assert_eq!(len, 5, "5 of 10 bytes already came with the request");
    assert_eq!(st.open[&file.0].0, b"hello");
    st.receive(file, b"world");
    let d = st.sha_of(file);
    s.handle_file_received(1, token, Ok((5, Some(d))), &mut st);
    drain(&mut s);
    assert_eq!(st.files["x"], b"helloworld");
}

#[test]
fn put_of_zero_bytes_still_goes_through_the_host_for_the_digest() {
    let mut st = Mem::new();
    let mut s = session();
    let (file, len, token) = recv_to_file(&v2(&mut s, &mut st, 0, "PUT empty 0\n"));
    assert_eq!(len, 0);
    let d = st.sha_of(file);
    s.handle_file_received(1, token, Ok((0, Some(d))), &mut st);
    assert_eq!(
        written(&drain(&mut s)),
        format!("OK empty 0 {}\n", hex(&Sha256::digest(b"")))
    );
    assert_eq!(st.files["empty"], b"");
}

#[test]
fn put_with_a_wrong_digest_stores_nothing_and_goes_on() {
    let mut st = Mem::new();
    let mut s = session();
    let wrong = "0".repeat(64);
    let (file, _, token) = recv_to_file(&v2(&mut s, &mut st, 0, &format!("PUT x 3 {wrong}\n")));
    st.receive(file, b"abc");
    let d = st.sha_of(file);
    s.handle_file_received(1, token, Ok((3, Some(d))), &mut st);
    let outs = drain(&mut s);
    assert_eq!(written(&outs), "ERR 422 sha256 mismatch\n");
    assert!(!closed(&outs));
    assert!(
        st.visible().is_empty() && st.open.is_empty(),
        "temp deleted"
    );
}

#[test]
fn put_refusals_come_before_any_byte_is_sent() {
    let mut st = Mem::new().with("exists", b"old");
    st.free = 100 << 20;
    let cfg = Config {
        max_upload_bytes: 1 << 30,
        ..Config::default()
    };
    let mut s = Session::new(cfg, "p".into(), 0);
    let outs = v2(
        &mut s,
        &mut st,
        0,
        "PUT exists 1\nPUT exists 1 - overwrite\nPUT big 2000000000\nPUT roomy 50000000\nPUT nodir/x 1\nPUT ../x 1\n",
    );
    assert_eq!(
        written(&outs),
        "ERR 409 already exists\n\
         ERR 405 overwriting is disabled on this server\n\
         ERR 413 size over the limit of 1073741824 bytes\n\
         ERR 507 not enough free space for this size\n\
         ERR 404 no such file\n\
         ERR 400 dot path component\n"
            .replace("ERR 400 dot", "ERR 403 dot")
    );
    assert!(!outs.iter().any(|o| matches!(o, Output::RecvToFile { .. })));
    assert_eq!(st.files["exists"], b"old");
}

#[test]
fn put_overwrite_when_allowed() {
    let mut st = Mem::new().with("f", b"old");
    let cfg = Config {
        allow_overwrite: true,
        ..Config::default()
    };
    let mut s = Session::new(cfg, "p".into(), 0);
    let (file, _, token) = recv_to_file(&v2(&mut s, &mut st, 0, "PUT f 3 - overwrite\n"));
    st.receive(file, b"new");
    let d = st.sha_of(file);
    s.handle_file_received(1, token, Ok((3, Some(d))), &mut st);
    assert!(written(&drain(&mut s)).starts_with("OK f 3 "));
    assert_eq!(st.files["f"], b"new");
}

#[test]
fn client_gone_mid_upload_leaves_nothing() {
    let mut st = Mem::new();
    let mut s = session();
    let (file, _, token) = recv_to_file(&v2(&mut s, &mut st, 0, "PUT x 1000\n"));
    st.receive(file, b"partial");
    s.handle_eof(1, &mut st);
    assert!(
        drain(&mut s).is_empty(),
        "EOF alone waits for the host's verdict"
    );
    s.handle_file_received(2, token, Err(HostError::Closed), &mut st);
    let outs = drain(&mut s);
    assert!(closed(&outs));
    assert_eq!(transfers(&outs)[0].result, "client closed mid-upload");
    assert!(st.visible().is_empty() && st.open.is_empty());
}

#[test]
fn connection_reset_mid_upload_releases_the_temp() {
    let mut st = Mem::new();
    let mut s = session();
    recv_to_file(&v2(&mut s, &mut st, 0, "PUT x 1000\n"));
    s.handle_closed(1, "connection closed", &mut st);
    assert!(st.open.is_empty() && st.visible().is_empty());
    assert!(s.is_done());
}

// ---- other commands ------------------------------------------------------------------

#[test]
fn list_stat_and_hidden_names() {
    let mut st = Mem::new()
        .with("b", b"12")
        .with("a b", b"")
        .with(".a.sha256", b"x")
        .with("sub/in", b"1");
    st.dirs.insert("sub".into());
    let mut s = session();
    let outs = v2(
        &mut s,
        &mut st,
        0,
        "LIST\nLIST sub\nSTAT sub\nLIST nope/..\n",
    );
    let text = written(&outs);
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("OK 3 3"));
    let mut entries: Vec<&str> = lines.by_ref().take(3).collect();
    entries.sort();
    assert_eq!(entries, ["d 0 1000 sub", "f 0 1000 a%20b", "f 2 1000 b"]);
    assert_eq!(lines.next(), Some("OK 1 1"));
    assert_eq!(lines.next(), Some("f 1 1000 in"));
    assert_eq!(lines.next(), Some("OK d 0 1000"));
    assert_eq!(lines.next(), Some("ERR 403 dot path component"));
}

#[test]
fn list_is_capped() {
    let mut st = Mem::new();
    for i in 0..5 {
        st.files.insert(format!("f{i}"), vec![]);
    }
    let mut s = Session::new(
        Config {
            max_list_entries: 2,
            ..Config::default()
        },
        "p".into(),
        0,
    );
    assert_eq!(
        written(&v2(&mut s, &mut st, 0, "LIST\n")).lines().count(),
        3
    );
}

#[test]
fn delete_only_when_allowed() {
    let mut st = Mem::new().with("f", b"1").with(".f.sha256", b"x");
    let mut s = session();
    assert_eq!(
        written(&v2(&mut s, &mut st, 0, "DELETE f\n")),
        "ERR 405 deleting is disabled on this server\n"
    );
    assert!(st.files.contains_key("f"));
    let mut s = Session::new(
        Config {
            allow_delete: true,
            ..Config::default()
        },
        "p".into(),
        0,
    );
    assert_eq!(
        written(&v2(&mut s, &mut st, 0, "DELETE f\nDELETE f\n")),
        "OK\nERR 404 no such file\n"
    );
    assert!(st.files.is_empty(), "side file removed too");
}

#[test]
fn hash_runs_in_steps_and_is_remembered() {
    let body: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
    let mut st = Mem::new().with("big", &body);
    let mut s = Session::new(
        Config {
            hash_step_bytes: 4096,
            ..Config::default()
        },
        "p".into(),
        0,
    );
    let outs = v2(&mut s, &mut st, 0, "HASH big\n");
    assert_eq!(written(&outs), "", "first step only");
    assert_eq!(s.poll_timeout(), Some(0), "next step at once");
    s.handle_timeout(0, &mut st);
    assert_eq!(written(&drain(&mut s)), "");
    s.handle_timeout(0, &mut st);
    let want = hex(&Sha256::digest(&body));
    assert_eq!(written(&drain(&mut s)), format!("OK {want}\n"));
    assert!(st.open.is_empty());
    s.handle_bytes(1, b"HASH big\n", &mut st);
    assert_eq!(
        written(&drain(&mut s)),
        format!("OK {want}\n"),
        "answered from the side file"
    );
    assert!(st.files.contains_key(".big.sha256"));
}

#[test]
fn quit_says_bye_and_closes() {
    let mut st = Mem::new();
    let mut s = session();
    let outs = v2(&mut s, &mut st, 0, "QUIT\nSTAT x\n");
    assert_eq!(written(&outs), "OK bye\n");
    assert!(closed(&outs) && s.is_done());
}

// ---- framing, detection and timeouts -----------------------------------------------------

#[test]
fn byte_by_byte_equals_coalesced() {
    let mut input = MAGIC.to_vec();
    input.extend_from_slice(b"STAT a\r\nLIST\nGET a\n");
    let run = |chunks: Vec<&[u8]>| {
        let mut st = Mem::new().with("a", b"xyz");
        let mut s = session();
        let mut outs = Vec::new();
        for (i, c) in chunks.into_iter().enumerate() {
            s.handle_bytes(i as u64, c, &mut st);
            outs.extend(drain(&mut s));
        }
        written(&outs)
    };
    let whole = run(vec![&input]);
    assert_eq!(whole, "OK f 3 1000\nOK 1 1\nf 3 1000 a\nOK 3 -\n");
    assert_eq!(run(input.chunks(1).collect()), whole);
    assert_eq!(run(input.chunks(3).collect()), whole);
}

#[test]
fn unknown_protocol_is_closed_without_a_reply() {
    for junk in [&b"GET / HTTP/1.1\r\n"[..], b"\x16\x03\x01", b"5:x", b"1x"] {
        let mut st = Mem::new();
        let mut s = session();
        s.handle_bytes(0, junk, &mut st);
        let outs = drain(&mut s);
        assert!(closed(&outs) && written(&outs).is_empty(), "{junk:?}");
    }
}

#[test]
fn long_lines_and_malformed_lines() {
    let mut st = Mem::new();
    let mut s = Session::new(
        Config {
            max_line_bytes: 64,
            ..Config::default()
        },
        "p".into(),
        0,
    );
    let outs = v2(&mut s, &mut st, 0, "GET \u{1}x\nSTAT a\x00\n");
    assert_eq!(
        written(&outs)
            .lines()
            .filter(|l| l.starts_with("ERR 400"))
            .count(),
        2
    );
    assert!(!closed(&outs));
    s.handle_bytes(1, &[b'a'; 100], &mut st);
    let outs = drain(&mut s);
    assert_eq!(written(&outs), "ERR 414 request line over 64 bytes\n");
    assert!(closed(&outs));
}

#[test]
fn idle_and_header_timeouts() {
    let mut st = Mem::new();
    // Nothing at all: closed after the idle timeout.
    let mut s = session();
    assert_eq!(s.poll_timeout(), Some(60_000));
    s.handle_timeout(59_999, &mut st);
    assert!(drain(&mut s).is_empty(), "early timer ignored");
    s.handle_timeout(60_000, &mut st);
    assert!(closed(&drain(&mut s)));
    // A partial request line: 408 after the header timeout, counted from its first byte.
    let mut s = session();
    v2(&mut s, &mut st, 1_000, "GET a");
    s.handle_bytes(5_000, b"b", &mut st);
    assert_eq!(s.poll_timeout(), Some(11_000));
    s.handle_timeout(11_000, &mut st);
    let outs = drain(&mut s);
    assert_eq!(
        written(&outs),
        "ERR 408 request line not completed in time\n"
    );
    assert!(closed(&outs));
    // Idle between requests.
    let mut s = session();
    v2(&mut s, &mut st, 0, "LIST\n");
    assert_eq!(s.poll_timeout(), Some(60_000));
    s.handle_timeout(60_000, &mut st);
    assert!(closed(&drain(&mut s)));
}

#[test]
fn a_stalled_transfer_is_bounded() {
    let mut st = Mem::new().with("a", &[0u8; 16 * 1024]);
    let mut s = session();
    v2(&mut s, &mut st, 0, "GET a\n");
    assert_eq!(s.poll_timeout(), Some(61_000), "idle + 16 KiB at 16 KiB/s");
    s.handle_timeout(61_000, &mut st);
    let outs = drain(&mut s);
    assert!(closed(&outs));
    assert_eq!(transfers(&outs)[0].result, "timeout");
    assert!(st.open.is_empty());
}

#[test]
fn drain_closes_idle_connections_and_refuses_new_uploads() {
    let mut st = Mem::new();
    let mut s = session();
    v2(&mut s, &mut st, 0, "");
    s.handle_drain(1);
    assert!(closed(&drain(&mut s)));
    let mut s = session();
    v2(&mut s, &mut st, 0, "PUT x 1");
    s.handle_drain(1);
    s.handle_bytes(2, b"\n", &mut st);
    let outs = drain(&mut s);
    assert_eq!(written(&outs), "ERR 503 server shutting down\n");
    assert!(closed(&outs));
}

// ---- v1 (seed) ----------------------------------------------------------------------

#[test]
fn v1_download_after_the_settle_time() {
    let mut st = Mem::new().with("hello.txt", "中文 text\n".as_bytes());
    let mut s = session();
    s.handle_bytes(0, b"1:hello", &mut st);
    s.handle_bytes(30, b".txt", &mut st);
    assert!(drain(&mut s).is_empty());
    assert_eq!(s.poll_timeout(), Some(130));
    s.handle_timeout(130, &mut st);
    let outs = drain(&mut s);
    let (_, offset, len, token) = send_file(&outs);
    assert_eq!((offset, len), (0, "中文 text\n".len() as u64));
    assert!(written(&outs).is_empty(), "v1 sends the bare bytes");
    s.handle_file_sent(140, token, Ok(len), &mut st);
    let outs = drain(&mut s);
    assert!(closed(&outs));
    assert_eq!(transfers(&outs)[0].result, "ok");
}

#[test]
fn v1_name_ends_at_a_line_end_or_eof() {
    let mut st = Mem::new().with("a", b"1");
    let mut s = session();
    s.handle_bytes(0, b"1:a\r\n", &mut st);
    assert_eq!(send_file(&drain(&mut s)).2, 1);
    let mut s = session();
    s.handle_bytes(0, b"1:a", &mut st);
    s.handle_eof(1, &mut st);
    assert_eq!(send_file(&drain(&mut s)).2, 1);
}

#[test]
fn v1_refusals_close_without_serving() {
    let mut st = Mem::new().with("a", b"1");
    for req in [
        &b"1:../../etc/passwd\n"[..],
        b"1:/etc/passwd\n",
        b"1:missing\n",
        b"1:\n",
        b"1:\xff\n",
    ] {
        let mut s = session();
        s.handle_bytes(0, req, &mut st);
        let outs = drain(&mut s);
        assert!(closed(&outs), "{req:?}");
        assert!(!outs.iter().any(|o| matches!(o, Output::SendFile { .. })));
        assert!(written(&outs).is_empty());
    }
    assert!(st.open.is_empty());
}

#[test]
fn v1_upload_is_byte_exact_and_named_on_close() {
    let mut st = Mem::new();
    let mut s = session();
    s.handle_bytes(0, b"2:a:b:c\r\n", &mut st);
    s.handle_bytes(1, b"\x00\xff more", &mut st);
    assert!(st.visible().is_empty());
    s.handle_eof(2, &mut st);
    let outs = drain(&mut s);
    let names = st.visible();
    assert_eq!(names.len(), 1);
    let name = &names[0];
    assert!(name.len() == 8 && name.ends_with(".txt"), "{name}");
    assert_eq!(st.files[name], b"a:b:c\r\n\x00\xff more");
    assert_eq!(written(&outs), format!("{name}\n"));
    assert!(closed(&outs));
}

#[test]
fn v1_upload_ends_after_idle_silence_too() {
    let mut st = Mem::new();
    let mut s = session();
    s.handle_bytes(0, b"2:data", &mut st);
    assert_eq!(s.poll_timeout(), Some(60_000));
    s.handle_timeout(60_000, &mut st);
    assert!(closed(&drain(&mut s)));
    assert_eq!(st.visible().len(), 1);
}

#[test]
fn v1_uploads_never_share_a_name() {
    let mut st = Mem::new();
    let mut a = session();
    let mut b = session();
    a.handle_bytes(0, b"2:first", &mut st);
    b.handle_bytes(0, b"2:second", &mut st);
    a.handle_eof(1, &mut st);
    // Pretend b listed the root before a's commit: the no-replace commit still saves it.
    st.unlisted = st.files.keys().cloned().collect();
    b.handle_eof(1, &mut st);
    let mut bodies: Vec<Vec<u8>> = st.files.values().cloned().collect();
    bodies.sort();
    assert_eq!(bodies, [b"first".to_vec(), b"second".to_vec()]);
}

#[test]
fn v1_upload_reset_or_failure_leaves_nothing() {
    let mut st = Mem::new();
    let mut s = session();
    s.handle_bytes(0, b"2:partial", &mut st);
    s.handle_closed(1, "connection closed", &mut st);
    assert!(st.visible().is_empty() && st.open.is_empty());

    let mut s = Session::new(
        Config {
            max_upload_bytes: 4,
            ..Config::default()
        },
        "p".into(),
        0,
    );
    s.handle_bytes(0, b"2:12345", &mut st);
    assert!(closed(&drain(&mut s)));
    assert!(st.visible().is_empty() && st.open.is_empty());

    st.fail_writes = Some(HostError::NoSpace);
    let mut s = session();
    s.handle_bytes(0, b"2:x", &mut st);
    let outs = drain(&mut s);
    assert!(closed(&outs));
    assert_eq!(transfers(&outs)[0].result, "no space left");
    assert!(st.visible().is_empty() && st.open.is_empty());
}

#[test]
fn v1_quit_is_logged() {
    let mut st = Mem::new();
    let mut s = session();
    s.handle_bytes(0, "0:客户端已退出".as_bytes(), &mut st);
    s.handle_eof(1, &mut st);
    let outs = drain(&mut s);
    assert!(
        outs.iter()
            .any(|o| matches!(o, Output::Log(l) if l.contains("客户端已退出")))
    );
    assert!(closed(&outs));
}

#[test]
fn v1_can_be_disabled() {
    let mut st = Mem::new().with("a", b"1");
    let mut s = Session::new(
        Config {
            v1: false,
            ..Config::default()
        },
        "p".into(),
        0,
    );
    s.handle_bytes(0, b"1:a\n", &mut st);
    let outs = drain(&mut s);
    assert!(closed(&outs) && !outs.iter().any(|o| matches!(o, Output::SendFile { .. })));
}
