//! `get`: download REMOTE to `.NAME.part` beside LOCAL, renamed onto LOCAL only when
//! complete. The part is created at the first DATA packet, so a missing remote file
//! leaves nothing behind; a failure or a signal removes it (unless `--keep-partial`).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::time::Instant;

use sha2::{Digest, Sha256};
use switchyard_client_support::partial::{self, Partial};
use switchyard_client_support::progress::{self, Summary};
use switchyard_client_support::{Exit, Failure};
use switchyard_tftp::netascii::Decoder;
use switchyard_tftp::packet::{self, ErrorCode, RequestKind};
use switchyard_tftp::transfer::{Action, Params, Receiver};

use crate::{Mode, Opts, addr, drive, sock};

/// What only `get` has.
#[derive(Debug, Clone, Copy, Default)]
pub struct GetFlags {
    /// Replace LOCAL if it exists.
    pub force: bool,
    /// Leave the part behind on failure.
    pub keep_partial: bool,
}

/// The options to ask for, and the parameters to start with.
pub fn asked(opts: &Opts, tsize: u64) -> (Vec<(String, String)>, Params) {
    let mut asked = Vec::new();
    if let Some(b) = opts.blksize {
        asked.push(("blksize".to_string(), b.to_string()));
    }
    if let Some(w) = opts.windowsize {
        asked.push(("windowsize".to_string(), w.to_string()));
    }
    if let Some(t) = opts.timeout {
        asked.push(("timeout".to_string(), t.to_string()));
    }
    if opts.mode == Mode::Octet {
        asked.push(("tsize".to_string(), tsize.to_string()));
    }
    let timeout_ms = opts.timeout.map_or(1000, |t| u64::from(t) * 1000);
    let params = Params {
        blksize: opts.blksize.unwrap_or(512),
        windowsize: opts.windowsize.unwrap_or(1),
        timeout_ms,
        max_timeout_ms: timeout_ms.max(8000),
        max_retries: opts.retries.max(1),
        dally_ms: 0,
        max_bytes: u64::MAX,
    };
    (asked, params)
}

pub fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::Octet => "octet",
        Mode::Netascii => "netascii",
    }
}

/// The socket for a transfer with `opts` to `server`, its receive buffer sized for the
/// largest window the server may grant (what we ask for).
pub fn socket(server: std::net::SocketAddr, opts: &Opts) -> Result<UdpSocket, Failure> {
    let want = sock::recv_buffer_wanted(opts.blksize.unwrap_or(512), opts.windowsize.unwrap_or(1));
    sock::open(server, want)
}

/// Where to save: LOCAL, LOCAL/NAME for a directory, or ./NAME.
fn target(remote: &str, local: Option<PathBuf>) -> Result<PathBuf, Failure> {
    let name = remote.rsplit(['/', '\\']).next().unwrap_or("");
    let name_ok = !name.is_empty() && name != "." && name != "..";
    let usage = |m: String| Failure::new(Exit::Usage, m);
    match local {
        Some(p) if p.is_dir() => {
            if !name_ok {
                return Err(usage(format!("no file name in {remote:?}")));
            }
            Ok(p.join(name))
        }
        Some(p) => Ok(p),
        None if name_ok => Ok(PathBuf::from(name)),
        None => Err(usage(format!("no file name in {remote:?}; give LOCAL"))),
    }
}

/// The part and its buffered writer, once the first DATA came.
struct Open {
    part: Partial,
    out: BufWriter<File>,
}

pub fn run(
    server: &str,
    remote: &str,
    local: Option<PathBuf>,
    opts: &Opts,
    flags: GetFlags,
) -> Result<Summary, Failure> {
    let addr = addr::resolve(server, crate::DEFAULT_PORT)?;
    let dest = target(remote, local)?;
    partial::check_target(&dest, flags.force)?;
    let sock = socket(addr, opts)?;
    let (asked, params) = asked(opts, 0);
    let rrq = packet::request(RequestKind::Read, remote, mode_name(opts.mode), &asked);
    let start = Instant::now();
    let mut first = Vec::new();
    let mut m = Receiver::client(0, params, addr, rrq, asked, &mut first);
    let pb = progress::bar(None, remote, opts.quiet);
    let mut decoder = (opts.mode == Mode::Netascii).then(Decoder::new);
    let mut scratch = Vec::new();
    let mut sized = false;
    let mut hash = Sha256::new();
    let mut open: Option<Open> = None;
    let mut local_failure: Option<Failure> = None;
    let mut exec = |_: &UdpSocket, m: &Receiver, action: Action<'_>| {
        let stop = |f: Failure| (ErrorCode::NotDefined, f.msg.clone());
        match action {
            Action::Write(data) => {
                if !sized && let Some(n) = m.announced_size() {
                    progress::set_size(&pb, n);
                    sized = true;
                }
                let o = ensure_open(&mut open, &dest, flags).inspect_err(|f| {
                    local_failure = Some(f.clone());
                });
                let o = o.map_err(stop)?;
                let bytes = match &mut decoder {
                    Some(d) => {
                        scratch.clear();
                        d.decode(data, &mut scratch);
                        &scratch[..]
                    }
                    None => data,
                };
                if let Err(e) = o.out.write_all(bytes) {
                    let f = Failure::write(o.part.path(), &e);
                    local_failure = Some(f.clone());
                    return Err(stop(f));
                }
                hash.update(bytes);
                pb.inc(data.len() as u64);
            }
            Action::Commit => {
                let done = ensure_open(&mut open, &dest, flags).and_then(|o| {
                    if let Some(d) = &mut decoder {
                        scratch.clear();
                        d.finish(&mut scratch);
                        o.out
                            .write_all(&scratch)
                            .map_err(|e| Failure::write(o.part.path(), &e))?;
                        hash.update(&scratch);
                    }
                    o.out.flush().map_err(|e| Failure::write(o.part.path(), &e))
                });
                let done = done.and_then(|()| {
                    let o = open.take().expect("opened above");
                    drop(o.out);
                    o.part.persist(&dest, flags.force)
                });
                if let Err(f) = done {
                    local_failure = Some(f.clone());
                    return Err(stop(f));
                }
            }
            _ => {}
        }
        Ok(())
    };
    let ended = drive::run(&sock, addr, &mut m, start, first, &mut exec);
    pb.finish_and_clear();
    drop(open); // a part left open is a failed transfer's: removed (or kept)
    let outcome = ended.map_err(|e| drive::network_failure(addr, &e))?;
    if let Some(f) = local_failure {
        return Err(f);
    }
    if !outcome.ok() {
        return Err(drive::failure(remote, &outcome));
    }
    Ok(Summary {
        name: remote.to_owned(),
        bytes: outcome.bytes,
        seconds: start.elapsed().as_secs_f64(),
        sha256: hex(&hash.finalize()),
        skipped: false,
    })
}

/// The part for `dest`, created on first use.
fn ensure_open<'o>(
    open: &'o mut Option<Open>,
    dest: &Path,
    flags: GetFlags,
) -> Result<&'o mut Open, Failure> {
    if open.is_none() {
        let mut part = Partial::create(dest, flags.keep_partial)?;
        let file = part
            .file()
            .try_clone()
            .map_err(|e| Failure::write(dest, &e))?;
        *open = Some(Open {
            part,
            out: BufWriter::with_capacity(1 << 20, file),
        });
    }
    Ok(open.as_mut().expect("just set"))
}

/// Lower-case hex of a digest.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saves_under_the_last_component_or_where_asked() {
        assert_eq!(target("a/b/c.bin", None).unwrap(), PathBuf::from("c.bin"));
        assert_eq!(
            target("..\\..\\win.ini", None).unwrap(),
            PathBuf::from("win.ini")
        );
        assert_eq!(
            target("x", Some(PathBuf::from("/tmp/out.bin"))).unwrap(),
            PathBuf::from("/tmp/out.bin")
        );
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            target("d/f.txt", Some(dir.path().to_path_buf())).unwrap(),
            dir.path().join("f.txt")
        );
        for bad in ["..", "dir/", ".", "a/.."] {
            assert_eq!(target(bad, None).unwrap_err().exit, Exit::Usage, "{bad}");
        }
    }

    #[test]
    fn options_asked_follow_the_flags() {
        let opts = Opts {
            blksize: Some(1468),
            windowsize: Some(8),
            timeout: Some(3),
            mode: Mode::Octet,
            retries: 4,
            quiet: true,
            json: false,
        };
        let (wanted, p) = asked(&opts, 0);
        let names: Vec<&str> = wanted.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["blksize", "windowsize", "timeout", "tsize"]);
        assert_eq!(
            (p.blksize, p.windowsize, p.timeout_ms, p.max_retries),
            (1468, 8, 3000, 4)
        );
        let plain = Opts {
            blksize: None,
            windowsize: None,
            timeout: None,
            mode: Mode::Netascii,
            retries: 5,
            quiet: true,
            json: false,
        };
        let (wanted, p) = asked(&plain, 0);
        assert!(wanted.is_empty(), "netascii: no tsize");
        assert_eq!((p.blksize, p.windowsize), (512, 1));
    }
}
