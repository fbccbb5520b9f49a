//! `bulk_v1`: the seed's 4-byte signed length. Decoding is undecided on every shorter
//! prefix, refuses exactly the negative lengths, and encodes back to the same bytes;
//! any `u64` encodes when v1 can say it and decodes to itself; and a v1 upload behaves
//! the same (bytes to the client, transfer
//! records, stored files) whether its bytes arrive whole or in two pieces.

use switchyard_bulk::codec::{self, CodecError, Detected, V1_HEADER_LEN, V1Header};

use crate::bulk_machine::run;

pub fn bulk_v1(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    for cut in 0..rest.len().min(V1_HEADER_LEN) {
        assert_eq!(V1Header::check(&rest[..cut]), Err(CodecError::Incomplete));
    }
    match V1Header::parse(rest) {
        Ok(h) => {
            let wire = V1Header::encode(h.len).expect("a decoded length encodes");
            assert_eq!(&wire[..], &rest[..V1_HEADER_LEN]);
            assert_eq!(V1Header::check(rest), Ok(V1_HEADER_LEN));
        }
        Err(CodecError::Invalid(_)) => assert!(rest[0] & 0x80 != 0, "refused {rest:?}"),
        Err(CodecError::Incomplete) => assert!(rest.len() < V1_HEADER_LEN),
    }
    if rest.first().is_some_and(|&b| b != codec::MAGIC[0]) {
        assert_eq!(codec::detect(rest), Some(Detected::V1));
    }

    let mut n = [0u8; 8];
    let k = rest.len().min(8);
    n[..k].copy_from_slice(&rest[..k]);
    let len = u64::from_le_bytes(n);
    match V1Header::encode(len) {
        Some(wire) => assert_eq!(V1Header::parse(&wire).map(|h| h.len), Ok(len)),
        None => assert!(len > i32::MAX as u64),
    }

    // A v1 upload of a small body, split anywhere.
    let body = &rest[..rest.len().min(256)];
    let mut stream = V1Header::encode(body.len() as u64).expect("small").to_vec();
    stream.extend_from_slice(body);
    let split = usize::from(pick) % (stream.len() + 1);
    let whole = run(&[&stream]);
    let pieces = run(&[&stream[..split], &stream[split..]]);
    assert_eq!(whole, pieces, "split at {split} changes the outcome");
}
