//! `tftp_packet`: any datagram through the TFTP parser; whatever parses is built again
//! with the crate's own builders and must parse to the same packet. The same datagram
//! goes to the listener's admission (an accepted request names a safe path, a refusal
//! builds a valid ERROR), and its bytes through netascii, encoded and decoded back in
//! pieces.

use std::net::SocketAddr;

use switchyard_tftp::admission::{self, Admission, Verdict};
use switchyard_tftp::netascii;
use switchyard_tftp::packet::{self, ErrorCode, Packet, RequestKind};

/// The builders' `ErrorCode` for a wire code, if it is one of RFC 1350's (+ 8).
fn error_code(code: u16) -> Option<ErrorCode> {
    use ErrorCode::*;
    [
        NotDefined,
        FileNotFound,
        AccessViolation,
        DiskFull,
        IllegalOperation,
        UnknownTid,
        FileExists,
        NoSuchUser,
        OptionRefused,
    ]
    .into_iter()
    .find(|c| c.code() == code)
}

/// Build `pkt` again; `None` where no builder can say it (an ERROR whose code or
/// message the builder's types cannot carry).
fn build(pkt: &Packet<'_>) -> Option<Vec<u8>> {
    Some(match pkt {
        Packet::Request {
            kind,
            filename,
            mode,
            options,
        } => packet::request(*kind, filename, mode, options),
        Packet::Data { block, data } => packet::data(*block, data),
        Packet::Ack { block } => packet::ack(*block).to_vec(),
        Packet::Error { code, message } => {
            packet::error(error_code(*code)?, std::str::from_utf8(message).ok()?)
        }
        Packet::Oack { options } => packet::oack(options),
    })
}

pub fn tftp_packet(data: &[u8]) {
    admitted(data);
    netascii_round_trips(data);
    rebuilt(data);
}

fn admitted(data: &[u8]) {
    let cfg = switchyard_tftp::Config {
        allow_create: true,
        ..Default::default()
    };
    let peer: SocketAddr = ([192, 0, 2, 1], 1069).into();
    match Admission::new(&cfg).check(0, peer, data) {
        Verdict::Accept(req) => {
            assert!(admission::check_path(&req.path).is_ok(), "{req:?}");
            assert!(matches!(Packet::parse(data), Ok(Packet::Request { .. })));
        }
        Verdict::Refuse { code, message } => {
            let wire = packet::error(code, &message);
            assert!(matches!(Packet::parse(&wire), Ok(Packet::Error { .. })));
        }
        Verdict::Drop(_) => {}
    }
}

/// `data` as a file: encoded to netascii, decoded back in pieces of every size that
/// the first byte picks, gives the file again.
fn netascii_round_trips(data: &[u8]) {
    let wire = netascii::encode(data);
    assert_eq!(wire.len() as u64, netascii::encoded_len(data));
    let piece = data.first().map_or(1, |&b| usize::from(b % 16) + 1);
    let mut dec = netascii::Decoder::new();
    let mut back = Vec::new();
    for chunk in wire.chunks(piece) {
        dec.decode(chunk, &mut back);
    }
    dec.finish(&mut back);
    assert_eq!(back, data);
}

fn rebuilt(data: &[u8]) {
    assert_eq!(
        packet::opcode(data),
        (data.len() >= 2).then(|| u16::from_be_bytes([data[0], data[1]]))
    );
    let Ok(pkt) = Packet::parse(data) else {
        return;
    };
    if let Packet::Request { kind, .. } = &pkt {
        let op = packet::opcode(data);
        match kind {
            RequestKind::Read => assert_eq!(op, Some(packet::OP_RRQ)),
            RequestKind::Write => assert_eq!(op, Some(packet::OP_WRQ)),
        }
    }
    let Some(wire) = build(&pkt) else {
        return;
    };
    // Building never grows a packet: dropped padding and NULs only shrink it, so a
    // request that fit the limit still does.
    assert!(wire.len() <= data.len() + 1, "{pkt:?}: {wire:?}");
    let again = Packet::parse(&wire).unwrap_or_else(|e| panic!("{pkt:?} rebuilt: {e}"));
    assert_eq!(again, pkt);
}
