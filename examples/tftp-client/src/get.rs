//! `get`: download REMOTE to a hidden temp file beside LOCAL, renamed only when complete.

use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write};
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::Instant;

use switchyard_tftp::netascii::Decoder;
use switchyard_tftp::packet::{self, ErrorCode, RequestKind};
use switchyard_tftp::transfer::{Action, Params, Receiver};

use crate::drive;
use crate::{Failure, Mode, Opts, addr, progress};

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

/// A UDP socket of the server's address family on an ephemeral port.
pub fn socket_for(server: SocketAddr) -> Result<UdpSocket, Failure> {
    let any: SocketAddr = if server.is_ipv4() {
        "0.0.0.0:0".parse().expect("literal")
    } else {
        "[::]:0".parse().expect("literal")
    };
    UdpSocket::bind(any).map_err(|e| Failure::Transfer(format!("bind: {e}")))
}

/// Where to save: LOCAL, LOCAL/NAME for a directory, or ./NAME.
fn target(remote: &str, local: Option<PathBuf>) -> Result<PathBuf, Failure> {
    let name = remote.rsplit(['/', '\\']).next().unwrap_or("");
    let name_ok = !name.is_empty() && name != "." && name != "..";
    match local {
        Some(p) if p.is_dir() => {
            if !name_ok {
                return Err(Failure::Usage(format!("no file name in {remote:?}")));
            }
            Ok(p.join(name))
        }
        Some(p) => Ok(p),
        None if name_ok => Ok(PathBuf::from(name)),
        None => Err(Failure::Usage(format!(
            "no file name in {remote:?}; give LOCAL"
        ))),
    }
}

/// A fresh hidden temp path beside `dest`.
fn temp_beside(dest: &Path) -> PathBuf {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    dest.with_file_name(format!(".{name}.{}.tftp-part", std::process::id()))
}

pub fn run(server: &str, remote: &str, local: Option<PathBuf>, opts: &Opts) -> Result<(), Failure> {
    let addr = addr::resolve(server, crate::DEFAULT_PORT)?;
    let dest = target(remote, local)?;
    let temp = temp_beside(&dest);
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&temp)
        .map_err(|e| Failure::Transfer(format!("{}: {e}", temp.display())))?;
    let result = download(addr, remote, &dest, &temp, file, opts);
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

fn download(
    addr: SocketAddr,
    remote: &str,
    dest: &Path,
    temp: &Path,
    file: File,
    opts: &Opts,
) -> Result<(), Failure> {
    let sock = socket_for(addr)?;
    let (asked, params) = asked(opts, 0);
    let rrq = packet::request(RequestKind::Read, remote, mode_name(opts.mode), &asked);
    let start = Instant::now();
    let mut first = Vec::new();
    let mut m = Receiver::client(0, params, addr, rrq, asked, &mut first);
    let pb = progress::bar(None, remote, opts.quiet);
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let mut decoder = (opts.mode == Mode::Netascii).then(Decoder::new);
    let mut scratch = Vec::new();
    let mut sized = false;
    let mut exec =
        |_: &UdpSocket, m: &Receiver, action: Action<'_>| -> Result<(), (ErrorCode, String)> {
            let io = |e: std::io::Error| (ErrorCode::NotDefined, format!("local write: {e}"));
            match action {
                Action::Write(data) => {
                    if !sized {
                        if let Some(n) = m.announced_size() {
                            pb.set_length(n);
                            sized = true;
                        }
                    }
                    match &mut decoder {
                        Some(d) => {
                            scratch.clear();
                            d.decode(data, &mut scratch);
                            out.write_all(&scratch).map_err(io)?;
                        }
                        None => out.write_all(data).map_err(io)?,
                    }
                    pb.inc(data.len() as u64);
                }
                Action::Commit => {
                    if let Some(d) = &mut decoder {
                        scratch.clear();
                        d.finish(&mut scratch);
                        out.write_all(&scratch).map_err(io)?;
                    }
                    out.flush().map_err(io)?;
                    fs::rename(temp, dest).map_err(io)?;
                }
                _ => {}
            }
            Ok(())
        };
    let outcome = drive::run(&sock, &mut m, start, first, &mut exec);
    pb.finish_and_clear();
    if outcome.ok() {
        Ok(())
    } else {
        Err(Failure::Transfer(format!("{remote}: {}", outcome.reason)))
    }
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
            assert!(target(bad, None).is_err(), "{bad}");
        }
    }

    #[test]
    fn temp_is_hidden_beside_the_target() {
        let t = temp_beside(Path::new("/srv/out/f.bin"));
        assert_eq!(t.parent(), Some(Path::new("/srv/out")));
        let name = t.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.starts_with(".f.bin.") && name.ends_with(".tftp-part"),
            "{name}"
        );
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
        };
        let (wanted, p) = asked(&plain, 0);
        assert!(wanted.is_empty(), "netascii: no tsize");
        assert_eq!((p.blksize, p.windowsize), (512, 1));
    }
}
