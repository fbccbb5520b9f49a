//! `tftp_options`: option negotiation with arbitrary options and limits. What the server
//! grants stays within the RFC ranges and the configured limits, travels in an OACK
//! that parses back to the same pairs, and is accepted as is by the client side (which
//! must agree with the server on every negotiated value).

use arbitrary::{Arbitrary, Unstructured};
use switchyard_tftp::options::{self, Limits, MAX_BLKSIZE};
use switchyard_tftp::packet::{self, Packet, RequestKind};

#[derive(Debug, Arbitrary)]
struct Input {
    write: bool,
    max_blksize: u16,
    max_windowsize: u16,
    client_buffer_kib: u16,
    file_size: Option<u64>,
    options: Vec<(Name, String)>,
}

/// Mostly the names the server knows, in any case, sometimes anything.
#[derive(Debug, Arbitrary)]
enum Name {
    Known(u8, bool),
    Other(String),
}

impl Name {
    fn text(&self) -> String {
        match self {
            Name::Known(i, upper) => {
                let n = ["blksize", "windowsize", "timeout", "tsize"][usize::from(*i % 4)];
                if *upper {
                    n.to_ascii_uppercase()
                } else {
                    n.to_owned()
                }
            }
            Name::Other(s) => s.clone(),
        }
    }
}

pub fn tftp_options(data: &[u8]) {
    let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    // The limits a valid config allows (`Config::check`).
    let limits = Limits {
        max_blksize: input.max_blksize.clamp(8, MAX_BLKSIZE),
        max_windowsize: input.max_windowsize.max(1),
        client_buffer: u64::from(input.client_buffer_kib) * 1024,
    };
    let kind = if input.write {
        RequestKind::Write
    } else {
        RequestKind::Read
    };
    let asked: Vec<(String, String)> = input
        .options
        .iter()
        .map(|(n, v)| (n.text(), v.clone()))
        .collect();
    let borrowed: Vec<(&str, &str)> = asked
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let n = options::negotiate(kind, &borrowed, limits, input.file_size);

    if n.granted.iter().any(|(name, _)| name == "blksize") {
        assert!((8..=limits.max_blksize).contains(&n.blksize), "{n:?}");
    } else {
        assert_eq!(n.blksize, options::DEFAULT_BLKSIZE);
    }
    assert!((1..=limits.max_windowsize).contains(&n.windowsize), "{n:?}");
    assert!(
        n.windowsize <= options::window_fit(n.blksize, limits.client_buffer),
        "a window the client's buffer cannot hold: {n:?}"
    );
    assert!(n.timeout_ms.is_none_or(|t| (1000..=255_000).contains(&t)));
    let mut names: Vec<&str> = n.granted.iter().map(|(k, _)| k.as_str()).collect();
    let granted = names.len();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), granted, "an option granted twice: {n:?}");
    assert!(
        names
            .iter()
            .all(|k| ["blksize", "timeout", "tsize", "windowsize"].contains(k))
    );
    if kind == RequestKind::Read && input.file_size.is_none() {
        assert!(!names.contains(&"tsize"));
    }

    // The OACK on the wire parses back to the granted pairs.
    let wire = packet::oack(&n.granted);
    let Ok(Packet::Oack { options: back }) = Packet::parse(&wire) else {
        panic!("OACK {wire:?} does not parse");
    };
    let back_owned: Vec<(String, String)> = back
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(back_owned, n.granted);

    // The client (which asks in lowercase, as `examples/tftp-client` does) accepts the
    // server's answer and ends up with the same parameters.
    let asked_lower: Vec<(String, String)> = asked
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
        .collect();
    let client = options::accept_oack(&asked_lower, &back)
        .unwrap_or_else(|e| panic!("client refuses the server's OACK {back:?}: {e}"));
    assert_eq!(
        (client.blksize, client.windowsize, client.timeout_ms),
        (n.blksize, n.windowsize, n.timeout_ms)
    );
    assert_eq!(client.tsize, n.tsize);
}
