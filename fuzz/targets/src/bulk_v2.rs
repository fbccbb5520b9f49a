//! `bulk_v2`: v2 requests and replies. Whatever decodes encodes back to the very same
//! bytes (requests) or decodes again to the same value (replies, whose text is
//! decoded lossily); both are undecided on every shorter prefix; structured requests
//! round-trip; and a v2 connection (but a resumable upload, which must wait for
//! `CONTINUE`) behaves the same (bytes to the client, transfer records, stored files)
//! whether its bytes arrive whole or in two pieces.

use arbitrary::{Arbitrary, Unstructured};
use switchyard_bulk::codec::{CodecError, Get, Put, Reply, Request};

use crate::bulk_machine::run;

#[derive(Debug, Arbitrary)]
enum Structured {
    Put {
        name: String,
        len: u64,
        digest: Option<[u8; 32]>,
        digest_last: bool,
        upload_id: Option<[u8; 16]>,
        replace: bool,
    },
    Get {
        name: String,
        offset: u64,
    },
}

pub fn bulk_v2(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    decoded_requests_round_trip(rest);
    decoded_replies_round_trip(rest);
    if let Ok(s) = Structured::arbitrary(&mut Unstructured::new(rest)) {
        structured_request_round_trips(s);
    }

    // A resumable client must wait for `CONTINUE` before its body: bytes sent earlier
    // are refused, so how they are split decides the outcome by design.
    if matches!(
        Request::parse(rest),
        Ok(Request::Put(Put {
            upload_id: Some(_),
            ..
        }))
    ) {
        return;
    }
    let split = usize::from(pick) % (rest.len() + 1);
    let whole = run(&[rest]);
    let pieces = run(&[&rest[..split], &rest[split..]]);
    assert_eq!(whole, pieces, "split at {split} changes the outcome");
}

fn decoded_requests_round_trip(buf: &[u8]) {
    let Ok(n) = Request::check(buf) else {
        return;
    };
    for cut in 0..n {
        assert_eq!(
            Request::check(&buf[..cut]),
            Err(CodecError::Incomplete),
            "prefix {cut}"
        );
    }
    if let Ok(req) = Request::parse(buf) {
        assert_eq!(req.encode().expect("a decoded request encodes"), &buf[..n]);
    }
}

fn decoded_replies_round_trip(buf: &[u8]) {
    let Ok(n) = Reply::check(buf) else {
        return;
    };
    for cut in 0..n {
        assert_eq!(
            Reply::check(&buf[..cut]),
            Err(CodecError::Incomplete),
            "prefix {cut}"
        );
    }
    let reply = Reply::parse(buf).expect("a checked reply parses");
    let wire = reply.encode();
    assert_eq!(Reply::check(&wire), Ok(wire.len()));
    let again = Reply::parse(&wire).expect("an encoded reply parses");
    if std::str::from_utf8(&buf[48..n]).is_ok() {
        assert_eq!(again, reply);
    } else {
        // Lossy text may grow past the limit and be cut; the rest is exact.
        assert_eq!(
            (again.status, again.value, again.digest),
            (reply.status, reply.value, reply.digest)
        );
    }
}

fn structured_request_round_trips(s: Structured) {
    let req = match s {
        Structured::Put {
            name,
            len,
            digest,
            digest_last,
            upload_id,
            replace,
        } => Request::Put(Put {
            name,
            len,
            digest,
            digest_last,
            upload_id,
            replace,
        }),
        Structured::Get { name, offset } => Request::Get(Get { name, offset }),
    };
    match req.encode() {
        Ok(wire) => {
            assert_eq!(Request::check(&wire), Ok(wire.len()));
            assert_eq!(Request::parse(&wire).as_ref(), Ok(&req));
        }
        Err(_) => {
            let (name, both) = match &req {
                Request::Put(p) => (&p.name, p.digest.is_some() && p.digest_last),
                Request::Get(g) => (&g.name, false),
            };
            assert!(
                name.is_empty() || name.len() > 255 || both,
                "{req:?} refused"
            );
        }
    }
}
