//! Questions asked before an upload, none of which starts a body: is the name taken,
//! and (`--checksum`) does the server hold these very bytes.
//!
//! Both are `GET`s the protocol already answers (`docs/bulk-protocol.md`, "Asking for
//! a digest only" and "Asking whether a name is taken"), so they work against any v2
//! server, including ones from before the replace flag.

use std::io::Write;
use std::net::SocketAddr;

use switchyard_bulk::codec::{Get, PROBE_OFFSET, Reply, Request, Status, taken_size};
use switchyard_client_support::{Exit, Failure};

use crate::wire;

/// What the server holds under a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Remote {
    /// Nothing: an upload stores under the name itself.
    Free,
    /// A file of this many bytes.
    Taken(u64),
    /// The server would not say (downloads disabled): the reason it gave.
    Unknown(String),
}

/// One `GET name offset`, answered by its reply only: the caller asks at offsets that
/// send no body, and the connection closes with this function.
fn ask(addrs: &[SocketAddr], name: &str, offset: u64) -> Result<Reply, Failure> {
    let mut sock = wire::connect(addrs)?;
    let req = Request::Get(Get {
        name: name.to_owned(),
        offset,
    })
    .encode()
    .map_err(|e| Failure::new(Exit::Usage, e.to_string()))?;
    sock.write_all(&req)
        .map_err(|e| Failure::network("sending the request", &e))?;
    wire::read_reply(&mut sock)
}

/// Whether `name` is taken: a `GET` past the end of any file is `NOT_FOUND` either
/// way, and its text says which.
pub fn remote(addrs: &[SocketAddr], name: &str) -> Result<Remote, Failure> {
    let r = ask(addrs, name, PROBE_OFFSET)?;
    classify(&r)
}

fn classify(r: &Reply) -> Result<Remote, Failure> {
    match r.status {
        Status::NotFound => Ok(taken_size(&r.text).map_or(Remote::Free, Remote::Taken)),
        // Only a file of 2^64-1 bytes could answer OK; it is certainly taken.
        Status::Ok => Ok(Remote::Taken(u64::MAX)),
        Status::Unavailable => Ok(Remote::Unknown(r.text.clone())),
        _ => Err(wire::refused(r)),
    }
}

/// `--checksum`: does the server hold `name` as `size` bytes hashing to `digest`? A
/// `GET` at offset `size` of a file that long answers `OK`, value 0 (nothing follows),
/// with the digest it remembers; the caller asks only once [`remote`] said the file
/// has that size, so no body ever starts.
pub fn holds(
    addrs: &[SocketAddr],
    name: &str,
    size: u64,
    digest: &[u8; 32],
) -> Result<bool, Failure> {
    let r = ask(addrs, name, size)?;
    Ok(r.status == Status::Ok && r.value == 0 && r.digest.as_ref() == Some(digest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_bulk::codec::{NO_SUCH_FILE, past_the_end};

    #[test]
    fn replies_classify() {
        let nf = |t: &str| Reply::error(Status::NotFound, t);
        assert_eq!(classify(&nf(NO_SUCH_FILE)), Ok(Remote::Free));
        assert_eq!(
            classify(&nf(&past_the_end(PROBE_OFFSET, 7))),
            Ok(Remote::Taken(7))
        );
        let off = Reply::error(Status::Unavailable, "downloads are disabled");
        assert_eq!(
            classify(&off),
            Ok(Remote::Unknown("downloads are disabled".into()))
        );
        let bad = classify(&Reply::error(Status::BadName, "hidden")).unwrap_err();
        assert_eq!(bad.exit, Exit::Denied);
    }
}
