//! Chat clients (plugins/chat/README.md): room members that talk for the whole load
//! and check that each of their lines comes back (the room's echo is the sender's
//! confirmation), and desk visitors that check they are answered. At the end every
//! client leaves and says `bye`, so the server should hold no room afterwards.

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use super::{Busy, Ctx};
use crate::stats::Fail;

/// How long a line may take to come back before it counts as lost.
const ANSWER: Duration = Duration::from_secs(5);

/// A room's name: the prefix lets the final check ignore rooms of other users.
pub fn room_name(room: usize) -> String {
    format!("soak-r{room}")
}

/// One member of `room`: nick, join, talk until the deadline, leave, bye.
pub fn member(ctx: &Ctx, room: usize, member: usize) {
    let _busy = Busy::new(&ctx.busy_chat);
    let nick = format!("m{room}x{member}");
    let room = room_name(room);
    let r = (|| {
        let mut c = Chat::connect(ctx)?;
        c.say(&format!("/nick {nick}"), |l| {
            l.ends_with(&format!("known as {nick}"))
        })?;
        c.say(&format!("/join {room}"), |l| {
            l.starts_with(&format!("* {nick} joined #{room}"))
        })?;
        Ok(c)
    })();
    let mut c = match r {
        Ok(c) => c,
        Err(f) => return ctx.stats.fail("chat.join", f),
    };
    let mut seq = 0u64;
    while ctx.running() {
        seq += 1;
        let text = format!("line {seq} from {nick}");
        let want = format!("#{room} <{nick}> {text}");
        let r = c.say(&text, |l| l == want).map(|()| text.len() as u64);
        ctx.stats.record("chat.room_line", r);
        std::thread::sleep(ctx.shape.chat_interval);
    }
    let r = c.say("/leave", |l| l == format!("* you left #{room}"));
    ctx.stats.record("chat.leave", r.map(|()| 0));
    c.bye();
    ctx.stats.add("chat.others_lines", c.others, 0);
}

/// A visitor at the desk: with no agent online every line gets the automatic reply.
pub fn visitor(ctx: &Ctx, id: usize) {
    let _busy = Busy::new(&ctx.busy_chat);
    let mut c = match Chat::connect(ctx) {
        Ok(c) => c,
        Err(f) => return ctx.stats.fail("chat.desk", f),
    };
    let mut seq = 0u64;
    while ctx.running() {
        seq += 1;
        let text = format!("visitor {id} question {seq}");
        let r = c
            .say(&text, |l| !l.starts_with('*') && !l.starts_with('#'))
            .map(|()| text.len() as u64);
        ctx.stats.record("chat.desk", r);
        std::thread::sleep(ctx.shape.chat_interval);
    }
    c.bye();
}

/// After the load: no room of this soak may be left on the server.
pub fn no_rooms_left(ctx: &Ctx) -> Result<(), Fail> {
    let mut c = Chat::connect(ctx)?;
    let mut listing = String::new();
    c.say("/rooms", |l| {
        listing = l.to_owned();
        l.starts_with("* ")
    })?;
    c.bye();
    if listing.contains("#soak-r") {
        return Err(Fail::new("chat_leak", format!("rooms left: {listing}")));
    }
    Ok(())
}

struct Chat {
    sock: UdpSocket,
    buf: Vec<u8>,
    /// Lines of other members received (the fan-out this client saw).
    others: u64,
}

impl Chat {
    fn connect(ctx: &Ctx) -> Result<Chat, Fail> {
        let sock = UdpSocket::bind((ctx.chat.ip(), 0))?;
        sock.connect(ctx.chat)?;
        Ok(Chat {
            sock,
            buf: vec![0; 2048],
            others: 0,
        })
    }

    /// Send `line`, then read until a line satisfies `want` (others' lines are
    /// counted and skipped), within [`ANSWER`]. `! ...` is the server refusing.
    fn say(&mut self, line: &str, mut want: impl FnMut(&str) -> bool) -> Result<(), Fail> {
        self.sock.send(line.as_bytes())?;
        let deadline = Instant::now() + ANSWER;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Fail::new("chat_lost", format!("no answer to {line:?}")));
            }
            self.sock.set_read_timeout(Some(left))?;
            let n = match self.sock.recv(&mut self.buf) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => continue,
                Err(e) => return Err(e.into()),
            };
            let got = String::from_utf8_lossy(&self.buf[..n]);
            let got = got.trim_end();
            if got.starts_with("! ") {
                return Err(Fail::new("chat_refused", format!("{line:?}: {got}")));
            }
            if want(got) {
                return Ok(());
            }
            self.others += 1;
        }
    }

    /// End the session (no reply).
    fn bye(&self) {
        let _ = self.sock.send(b"bye");
    }
}
