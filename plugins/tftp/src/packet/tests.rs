//! Tests of [`super`]'s packet logic.

use super::*;

#[test]
fn seed_rrq_parses() {
    // struct.pack('!H%dsb5sb', 1, b"hello.txt", 0, b"octet", 0), as the seed sends it.
    let pkt = b"\x00\x01hello.txt\x00octet\x00";
    assert_eq!(
        Packet::parse(pkt).unwrap(),
        Packet::Request {
            kind: RequestKind::Read,
            filename: "hello.txt",
            mode: "octet",
            options: vec![]
        }
    );
}

#[test]
fn request_with_options_roundtrips() {
    let opts = [("blksize", "1468"), ("tsize", "0"), ("windowsize", "8")];
    let pkt = request(RequestKind::Write, "a/b.bin", "OCTET", &opts);
    match Packet::parse(&pkt).unwrap() {
        Packet::Request {
            kind,
            filename,
            mode,
            options,
        } => {
            assert_eq!(kind, RequestKind::Write);
            assert_eq!(filename, "a/b.bin");
            assert_eq!(mode, "OCTET");
            assert_eq!(options, opts.to_vec());
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn trailing_nul_padding_is_ignored() {
    let pkt = b"\x00\x01f\x00octet\x00blksize\x00512\x00\x00\x00\x00";
    match Packet::parse(pkt).unwrap() {
        Packet::Request { options, .. } => assert_eq!(options, vec![("blksize", "512")]),
        other => panic!("{other:?}"),
    }
}

#[test]
fn data_ack_error_oack_roundtrip() {
    assert_eq!(
        Packet::parse(&data(65535, b"xyz")).unwrap(),
        Packet::Data {
            block: 65535,
            data: b"xyz"
        }
    );
    assert_eq!(
        Packet::parse(&data(0, b"")).unwrap(),
        Packet::Data {
            block: 0,
            data: b""
        }
    );
    assert_eq!(
        Packet::parse(&ack(258)).unwrap(),
        Packet::Ack { block: 258 }
    );
    assert_eq!(
        Packet::parse(&error(ErrorCode::UnknownTid, "Unknown\0 TID")).unwrap(),
        Packet::Error {
            code: 5,
            message: b"Unknown TID"
        }
    );
    assert_eq!(
        Packet::parse(&oack(&[("blksize", "8")])).unwrap(),
        Packet::Oack {
            options: vec![("blksize", "8")]
        }
    );
    assert_eq!(
        Packet::parse(&oack::<&str>(&[])).unwrap(),
        Packet::Oack { options: vec![] }
    );
}

#[test]
fn error_without_nul_is_tolerated() {
    assert_eq!(
        Packet::parse(b"\x00\x05\x00\x01gone").unwrap(),
        Packet::Error {
            code: 1,
            message: b"gone"
        }
    );
    assert_eq!(
        Packet::parse(b"\x00\x05\x00\x00").unwrap(),
        Packet::Error {
            code: 0,
            message: b""
        }
    );
}

#[test]
fn every_malformed_form_is_an_error() {
    let cases: &[(&[u8], ParseError)] = &[
        (b"", ParseError::TooShort),
        (b"\x00", ParseError::TooShort),
        (b"\x00\x00", ParseError::UnknownOpcode(0)),
        (b"\x00\x07abc", ParseError::UnknownOpcode(7)),
        (b"\xff\xff", ParseError::UnknownOpcode(65535)),
        (b"\x00\x01", ParseError::Unterminated),
        (b"\x00\x01file", ParseError::Unterminated),
        (b"\x00\x01file\x00", ParseError::Unterminated),
        (b"\x00\x01file\x00octet", ParseError::Unterminated),
        (b"\x00\x01\x00octet\x00", ParseError::EmptyFilename),
        (b"\x00\x02f\x00\x00", ParseError::EmptyMode),
        (b"\x00\x01\xff\xfe\x00octet\x00", ParseError::NotUtf8),
        (b"\x00\x01f\x00oct\xc3\x00", ParseError::NotUtf8),
        (
            b"\x00\x01f\x00octet\x00blksize\x00",
            ParseError::OptionWithoutValue,
        ),
        (
            b"\x00\x01f\x00octet\x00blksize\x00512",
            ParseError::OptionWithoutValue,
        ),
        (b"\x00\x01f\x00octet\x00blksize", ParseError::Unterminated),
        (
            b"\x00\x01f\x00octet\x00\x00512\x00",
            ParseError::EmptyOptionName,
        ),
        (b"\x00\x03", ParseError::TooShort),
        (b"\x00\x03\x01", ParseError::TooShort),
        (b"\x00\x04", ParseError::TooShort),
        (b"\x00\x04\x00", ParseError::TooShort),
        (b"\x00\x04\x00\x01\x00", ParseError::TrailingBytes),
        (b"\x00\x05", ParseError::TooShort),
        (b"\x00\x05\x00", ParseError::TooShort),
        (b"\x00\x06blksize\x00", ParseError::OptionWithoutValue),
    ];
    for (bytes, want) in cases {
        assert_eq!(Packet::parse(bytes), Err(*want), "{bytes:?}");
    }
}

#[test]
fn oversized_and_option_flood_requests_are_refused() {
    let mut big = b"\x00\x01".to_vec();
    big.extend(std::iter::repeat_n(b'a', MAX_REQUEST));
    big.extend_from_slice(b"\x00octet\x00");
    assert_eq!(Packet::parse(&big), Err(ParseError::TooLong));
    let opts: Vec<(String, String)> = (0..=MAX_OPTIONS)
        .map(|i| (format!("o{i}"), "1".to_string()))
        .collect();
    let pkt = request(RequestKind::Read, "f", "octet", &opts);
    assert_eq!(Packet::parse(&pkt), Err(ParseError::TooManyOptions));
}

#[test]
fn headers_are_big_endian() {
    assert_eq!(data_header(0x0102), [0, 3, 1, 2]);
    assert_eq!(ack(0xfffe), [0, 4, 0xff, 0xfe]);
    assert_eq!(opcode(b"\x00\x06"), Some(6));
    assert_eq!(opcode(b"\x00"), None);
}
