//! `files_machine`: one files-plugin connection ([`Session`]) driven by an arbitrary
//! sequence of byte chunks (mostly plausible request lines), end of stream, clock
//! steps, host completions and failures, and drain, over in-memory storage; the
//! invariants are those of [`crate::conn`], plus: every write is whole lines, each a
//! well-formed frame.

use arbitrary::{Arbitrary, Unstructured};
use switchyard_files::codec::{Frame, MAGIC};
use switchyard_files::config::Config;
use switchyard_files::machine::Session;
use switchyard_sdk::HostError;

use crate::conn::{Conn, Machine, Seen};

/// The files every run starts with.
pub(crate) const FILES: &[(&str, &[u8])] = &[
    ("a.txt", b"hello"),
    ("empty", b""),
    ("dir/b.bin", b"0123456789abcdef"),
    ("1000.txt", b"taken"),
];

const PEER: &str = "192.0.2.1:4000";

/// A whole connection with the default config (for the split tests).
pub(crate) fn run(pieces: &[&[u8]]) -> Seen {
    Conn::run(
        Session::new(Config::default(), PEER.into(), 0),
        FILES,
        pieces,
    )
}

impl Machine for Session {
    fn check_write(data: &[u8]) {
        assert_eq!(data.last(), Some(&b'\n'), "a write that is not whole lines");
        for line in data.split_inclusive(|&b| b == b'\n') {
            if let Err(e) = Frame::parse(line) {
                panic!(
                    "wrote a malformed line {:?}: {e}",
                    String::from_utf8_lossy(line)
                );
            }
        }
    }
}

#[derive(Debug, Arbitrary)]
struct Input {
    v1: bool,
    allow_overwrite: bool,
    allow_delete: bool,
    max_line: u16,
    max_list: u8,
    max_upload: u16,
    events: Vec<Event>,
}

#[derive(Debug, Arbitrary)]
enum Event {
    Bytes(Chunk),
    Eof,
    Advance(u32),
    Deadline,
    /// The host finishes the `sendfile` in flight (whole, or failed).
    SendDone(bool),
    RecvFails,
    Drain,
    /// The drain deadline: the connection is cut after the machine's goodbye.
    DrainDeadline,
}

#[derive(Debug, Arbitrary)]
enum Chunk {
    Magic,
    Line(Verb, Name, u16, bool),
    V1(u8, Name),
    Raw(Vec<u8>),
}

#[derive(Debug, Clone, Copy, Arbitrary)]
enum Verb {
    Get,
    Put,
    PutSha,
    List,
    Stat,
    Delete,
    Hash,
    Quit,
}

#[derive(Debug, Clone, Copy, Arbitrary)]
enum Name {
    A,
    Empty,
    DirB,
    Dir,
    New,
    Taken,
    Escape,
    Hidden,
}

impl Name {
    fn text(self) -> &'static str {
        match self {
            Name::A => "a.txt",
            Name::Empty => "empty",
            Name::DirB => "dir/b.bin",
            Name::Dir => "dir",
            Name::New => "new%20file",
            Name::Taken => "1000.txt",
            Name::Escape => "..%2Fx",
            Name::Hidden => ".sums",
        }
    }
}

impl Chunk {
    fn bytes(&self) -> Vec<u8> {
        match self {
            Chunk::Magic => MAGIC.to_vec(),
            Chunk::Line(verb, name, n, flag) => {
                let name = name.text();
                let line = match verb {
                    Verb::Get if *flag => format!("GET {name} {n}"),
                    Verb::Get => format!("GET {name}"),
                    Verb::Put => {
                        format!("PUT {name} {n}{}", if *flag { " - overwrite" } else { "" })
                    }
                    Verb::PutSha => format!("PUT {name} {} {}", n % 8, "ab".repeat(32)),
                    Verb::List if *flag => format!("LIST {name}"),
                    Verb::List => "LIST".to_owned(),
                    Verb::Stat => format!("STAT {name}"),
                    Verb::Delete => format!("DELETE {name}"),
                    Verb::Hash => format!("HASH {name}"),
                    Verb::Quit => "QUIT".to_owned(),
                };
                format!("{line}\n").into_bytes()
            }
            Chunk::V1(op, name) => format!("{}:{}\n", op % 3, name.text()).into_bytes(),
            Chunk::Raw(b) => b.clone(),
        }
    }
}

pub fn files_machine(data: &[u8]) {
    let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let cfg = Config {
        v1: input.v1,
        allow_overwrite: input.allow_overwrite,
        allow_delete: input.allow_delete,
        max_line_bytes: usize::from(input.max_line).clamp(64, 8192),
        max_list_entries: usize::from(input.max_list % 4) + 1,
        max_upload_bytes: u64::from(input.max_upload),
        // The smallest step, so that a HASH takes several.
        hash_step_bytes: 4096,
        ..Config::default()
    };
    assert_eq!(cfg.validate(), Ok(()));
    let mut c = Conn::new(Session::new(cfg, PEER.into(), 0), FILES, false);
    let mut now = 0u64;
    for event in &input.events {
        match event {
            Event::Bytes(chunk) => c.send_bytes(now, &chunk.bytes()),
            Event::Eof => c.end_of_stream(now),
            Event::Advance(ms) => {
                now += u64::from(*ms);
                c.timeout(now);
            }
            Event::Deadline => {
                if let Some(t) = c.machine.poll_timeout() {
                    now = now.max(t);
                }
                c.timeout(now);
            }
            Event::SendDone(ok) => c.complete_send(now, (!ok).then_some(HostError::Closed)),
            Event::RecvFails => c.fail_recv(now, HostError::NoSpace),
            Event::Drain => c.drain(now),
            Event::DrainDeadline => c.drain_deadline(now),
        }
    }
    c.finish(now);
}
