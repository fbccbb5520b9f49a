//! `files_v2`: the framed protocol of the files plugin. Frames, requests, replies,
//! `LIST` entries and names decode -> encode -> decode to the same value; a frame is
//! incomplete on every shorter prefix; and a v2 connection behaves the same whether its
//! bytes arrive whole or in two pieces.

use switchyard_files::cmd::Command;
use switchyard_files::cmd::list::Entry;
use switchyard_files::codec::{
    CodecError, Frame, MAGIC, Reply, check_name, decode_name, encode_name,
};

use crate::files_machine::run;

/// Line limit for the codec checks (the config's smallest allowed).
const MAX_LINE: usize = 64;

pub fn files_v2(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let max_line = if pick & 1 == 0 { MAX_LINE } else { 4096 };
    let mut at = 0;
    while at < rest.len() {
        match Frame::next(&rest[at..], max_line) {
            Ok((frame, used)) => {
                frame_round_trips(&rest[at..at + used], &frame, max_line);
                at += used;
            }
            Err(CodecError::Invalid(_)) => {
                let used = Frame::check(&rest[at..], max_line).expect("a whole line was found");
                at += used;
            }
            Err(CodecError::Incomplete | CodecError::TooLong(_)) => break,
            Err(e) => panic!("framing said {e:?}"),
        }
    }

    let mut stream = MAGIC.to_vec();
    stream.extend_from_slice(rest);
    let split = usize::from(pick >> 1) % (stream.len() + 1);
    let whole = run(&[&stream]);
    let pieces = run(&[&stream[..split], &stream[split..]]);
    assert_eq!(whole, pieces, "split at {split} changes the outcome");
}

fn frame_round_trips(line: &[u8], frame: &Frame, max_line: usize) {
    for cut in 0..line.len() {
        assert_eq!(
            Frame::check(&line[..cut], max_line),
            Err(CodecError::Incomplete),
            "prefix of {cut}"
        );
    }
    let wire = frame.to_bytes();
    assert_eq!(
        &Frame::parse(&wire).expect("an encoded frame parses"),
        frame
    );
    assert!(
        frame
            .tokens
            .iter()
            .all(|t| !t.is_empty() && !t.contains(' '))
    );

    if let Ok(Some(cmd)) = Command::from_frame(frame) {
        let again = Command::from_frame(&cmd.to_frame()).expect("an encoded request parses");
        assert_eq!(again.as_ref(), Some(&cmd));
    }
    if let Ok(reply) = Reply::from_frame(frame.clone()) {
        let again = Frame::parse(&reply.to_bytes()).expect("an encoded reply is a frame");
        assert_eq!(
            Reply::from_frame(again).expect("an encoded reply parses"),
            reply
        );
    }
    if let Ok(entry) = Entry::from_frame(frame) {
        assert_eq!(Entry::from_frame(&entry.to_frame()).as_ref(), Ok(&entry));
    }
    for token in &frame.tokens {
        if let Ok(name) = decode_name(token) {
            let encoded = encode_name(&name);
            assert!(!encoded.contains(|c: char| c == ' ' || c.is_control()));
            assert_eq!(decode_name(&encoded).as_ref(), Ok(&name));
            if check_name(&name, false).is_ok() {
                assert!(!name.split('/').any(|c| c == ".." || c.is_empty()));
            }
        }
    }
}
