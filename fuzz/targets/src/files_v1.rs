//! `files_v1`: the seed's `N:` protocol of the files plugin. Protocol detection answers
//! the same on every prefix (undecided, or the final answer), and a connection behaves
//! the same (bytes to the client, transfer
//! records, stored files) whether its bytes arrive whole or in two pieces.

use switchyard_files::codec::{self, CodecError, check_name};

use crate::files_machine::run;

pub fn files_v1(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    detection_is_prefix_stable(rest);

    let mut stream = [&b"0:"[..], b"1:", b"2:"][usize::from(pick % 3)].to_vec();
    stream.extend_from_slice(rest);
    let split = usize::from(pick / 3) % (stream.len() + 1);
    let whole = run(&[&stream]);
    let pieces = run(&[&stream[..split], &stream[split..]]);
    assert_eq!(whole, pieces, "split at {split} changes the outcome");

    // A download is sent only for a name the policy allows.
    if stream.starts_with(b"1:") && whole.sent_files > 0 {
        let line = stream[2..]
            .split(|&b| b == b'\n')
            .next()
            .unwrap_or_default();
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let name = std::str::from_utf8(line).expect("a sent file has a UTF-8 name");
        assert!(check_name(name, false).is_ok(), "sent {name:?}");
    }
}

/// `detect` on every prefix is `Incomplete` or the answer for the whole buffer, and
/// once a prefix is refused, every longer buffer is.
fn detection_is_prefix_stable(buf: &[u8]) {
    let full = codec::detect(buf);
    let mut refused = false;
    for cut in 0..=buf.len().min(16) {
        let d = codec::detect(&buf[..cut]);
        match &d {
            Err(CodecError::Incomplete) => assert!(!refused, "refused, then undecided"),
            Err(CodecError::Invalid(_)) => {
                refused = true;
                assert!(
                    matches!(full, Err(CodecError::Invalid(_))),
                    "{d:?} then {full:?}"
                );
            }
            other => assert_eq!(other, &full, "prefix of {cut} bytes"),
        }
    }
}
