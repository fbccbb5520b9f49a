//! A `files` client (docs/files-protocol.md): v2 sessions of a few commands each
//! (PUT then GET back then DELETE of a fresh file, GET of a fixture, QUIT), and
//! sometimes a v1 `1:NAME` download. Every byte read is checked by sha256.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};

use super::verify::{check, pick_fixture};
use super::{Busy, Ctx};
use crate::data::{Rng, content, sha256_hex};
use crate::stats::Fail;

/// Commands per v2 connection, at most: several per connection exercises the
/// persistent protocol, reconnecting exercises accept and teardown.
const MAX_ROUNDS: u64 = 4;

pub fn client(ctx: &Ctx, id: usize, mut rng: Rng) {
    let mut n = 0u64;
    while ctx.running() {
        let _busy = Busy::new(&ctx.busy_tcp);
        if rng.chance(10) {
            let r = v1_get(ctx, &mut rng);
            ctx.record("files.v1_get", r);
        } else if let Err(f) = v2_session(ctx, id, &mut n, &mut rng) {
            ctx.record("files.v2", Err(f));
        }
    }
}

/// `1:NAME`, then the file's bytes until the server closes.
fn v1_get(ctx: &Ctx, rng: &mut Rng) -> Result<u64, Fail> {
    let (name, (size, digest)) = pick_fixture(ctx, rng);
    let mut s = connect(ctx)?;
    s.write_all(format!("1:{name}\n").as_bytes())?;
    s.shutdown(Shutdown::Write)?;
    let mut got = Vec::with_capacity(*size);
    s.read_to_end(&mut got)?;
    check(&got, *size, digest, name)?;
    Ok(got.len() as u64)
}

fn v2_session(ctx: &Ctx, id: usize, n: &mut u64, rng: &mut Rng) -> Result<(), Fail> {
    let mut c = V2::connect(ctx)?;
    for _ in 0..=rng.below(MAX_ROUNDS) {
        if !ctx.running() {
            break;
        }
        if rng.chance(50) {
            *n += 1;
            let name = format!("soak-f-{id}-{n}.bin");
            let data = content(rng.next_u64(), rng.size(ctx.shape.max_size));
            let r = c.put_get_delete(&name, &data);
            let failed = r.is_err();
            ctx.record("files.put_get_delete", r);
            if failed {
                return Ok(()); // the connection's state is unknown: start afresh
            }
        } else {
            let (name, (size, digest)) = pick_fixture(ctx, rng);
            let r = c.get(name).and_then(|got| {
                check(&got, *size, digest, name)?;
                Ok(got.len() as u64)
            });
            let failed = r.is_err();
            ctx.record("files.get", r);
            if failed {
                return Ok(());
            }
        }
    }
    c.command("QUIT", "OK bye")
}

/// One v2 connection.
struct V2 {
    conn: BufReader<TcpStream>,
}

impl V2 {
    fn connect(ctx: &Ctx) -> Result<V2, Fail> {
        let mut s = connect(ctx)?;
        s.write_all(b"SYFILES/2\n")?;
        Ok(V2 {
            conn: BufReader::new(s),
        })
    }

    fn send(&mut self, line: &str) -> Result<(), Fail> {
        self.conn
            .get_mut()
            .write_all(format!("{line}\n").as_bytes())?;
        Ok(())
    }

    fn reply(&mut self) -> Result<String, Fail> {
        let mut line = String::new();
        if self.conn.read_line(&mut line)? == 0 {
            return Err(Fail::new("io_eof", "server closed instead of replying"));
        }
        Ok(line.trim_end().to_owned())
    }

    /// Send `line`, expect exactly `want`.
    fn command(&mut self, line: &str, want: &str) -> Result<(), Fail> {
        self.send(line)?;
        let got = self.reply()?;
        if got != want {
            return Err(Fail::new("files_reply", format!("{line}: {got}")));
        }
        Ok(())
    }

    /// `GET name`: the bytes, checked against the server's digest when it sends one.
    fn get(&mut self, name: &str) -> Result<Vec<u8>, Fail> {
        self.send(&format!("GET {name}"))?;
        let reply = self.reply()?;
        let f: Vec<&str> = reply.split(' ').collect();
        let ["OK", len, digest] = f[..] else {
            return Err(Fail::new("files_reply", format!("GET {name}: {reply}")));
        };
        let len: usize = len
            .parse()
            .map_err(|_| Fail::new("files_reply", format!("GET {name}: {reply}")))?;
        let mut got = vec![0; len];
        self.conn.read_exact(&mut got)?;
        if digest != "-" && digest != sha256_hex(&got) {
            return Err(Fail::new(
                "digest_mismatch",
                format!("GET {name}: bytes do not hash to the server's {digest}"),
            ));
        }
        Ok(got)
    }

    /// PUT a fresh file with its digest, read it back, delete it.
    fn put_get_delete(&mut self, name: &str, data: &[u8]) -> Result<u64, Fail> {
        let digest = sha256_hex(data);
        self.command(&format!("PUT {name} {} {digest}", data.len()), "CONTINUE")?;
        self.conn.get_mut().write_all(data)?;
        let reply = self.reply()?;
        if reply != format!("OK {name} {} {digest}", data.len()) {
            let kind = if reply.starts_with("OK ") {
                "digest_mismatch"
            } else {
                "files_reply"
            };
            return Err(Fail::new(kind, format!("PUT {name}: {reply}")));
        }
        let back = self.get(name)?;
        check(&back, data.len(), &digest, name)?;
        self.command(&format!("DELETE {name}"), "OK")?;
        Ok(2 * data.len() as u64)
    }
}

fn connect(ctx: &Ctx) -> Result<TcpStream, Fail> {
    let s = TcpStream::connect_timeout(&ctx.files, ctx.left())?;
    s.set_read_timeout(Some(ctx.left()))?;
    s.set_write_timeout(Some(ctx.left()))?;
    Ok(s)
}
