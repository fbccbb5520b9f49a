//! `bulk_machine`: one bulk-plugin connection ([`Session`]) driven by an arbitrary
//! sequence of byte chunks (mostly v1 and v2 headers, bodies and trailers), end of
//! stream, clock steps, host completions and failures, and drain, over in-memory
//! storage with kept partials to resume. The invariants are those of [`crate::conn`],
//! plus: every write is exactly one well-formed v2 reply.

use arbitrary::{Arbitrary, Unstructured};
use switchyard_bulk::codec::{Get, Put, Reply, Request, V1Header};
use switchyard_bulk::config::Config;
use switchyard_bulk::machine::Session;
use switchyard_sdk::HostError;

use crate::conn::{Conn, Machine, Seen};

/// An upload id whose partial is kept in [`FILES`].
const KEPT_ID: [u8; 16] = [7; 16];

/// The files every run starts with (a kept partial of 4 bytes for [`KEPT_ID`]).
pub(crate) const FILES: &[(&str, &[u8])] = &[
    ("incoming/a.bin", b"hello"),
    ("incoming/v1-000001.bin", b"seed"),
    (
        "incoming/.partial.07070707070707070707070707070707",
        b"part",
    ),
];

const PEER: &str = "192.0.2.2:4000";

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
        assert_eq!(
            Reply::check(data),
            Ok(data.len()),
            "a write that is not one reply"
        );
        assert!(Reply::parse(data).is_ok());
    }
}

#[derive(Debug, Arbitrary)]
struct Input {
    v1: bool,
    downloads: bool,
    resume: bool,
    allow_overwrite: bool,
    max_file: u16,
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
    V1Header(u16),
    Put {
        name: Name,
        len: u16,
        digest: u8,
        resumable: bool,
        replace: bool,
    },
    Get(Name, u16),
    /// Body or trailer bytes.
    Fill(u8, u16),
    Raw(Vec<u8>),
}

#[derive(Debug, Clone, Copy, Arbitrary)]
enum Name {
    A,
    V1,
    New,
    Hidden,
    Slash,
}

impl Name {
    fn text(self) -> &'static str {
        match self {
            Name::A => "a.bin",
            Name::V1 => "v1-000001.bin",
            Name::New => "new file.dat",
            Name::Hidden => ".partial.07",
            Name::Slash => "../x",
        }
    }
}

impl Chunk {
    fn bytes(&self) -> Vec<u8> {
        match self {
            Chunk::V1Header(n) => V1Header::encode(u64::from(*n)).expect("fits").to_vec(),
            Chunk::Put {
                name,
                len,
                digest,
                resumable,
                replace,
            } => Request::Put(Put {
                name: name.text().into(),
                len: u64::from(*len),
                digest: (digest % 3 == 1).then_some([*digest; 32]),
                digest_last: digest % 3 == 2,
                upload_id: resumable.then_some(KEPT_ID),
                replace: *replace,
            })
            .encode()
            .expect("a valid request"),
            Chunk::Get(name, offset) => Request::Get(Get {
                name: name.text().into(),
                offset: u64::from(*offset),
            })
            .encode()
            .expect("a valid request"),
            Chunk::Fill(b, n) => vec![*b; usize::from(*n % 512)],
            Chunk::Raw(b) => b.clone(),
        }
    }
}

pub fn bulk_machine(data: &[u8]) {
    let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let cfg = Config {
        v1: input.v1,
        downloads: input.downloads,
        resume: input.resume,
        allow_overwrite: input.allow_overwrite,
        max_file_bytes: u64::from(input.max_file),
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
