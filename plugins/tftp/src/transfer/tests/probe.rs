//! A client that answers the server's OACK with ERROR 8: a size probe when the OACK
//! told the size, a refused negotiation (`aborted`) otherwise or once DATA flowed.

use super::*;

/// A server download of 2000 bytes whose OACK is `granted`; `offer_size` as the
/// plugin calls it when `tsize` was granted.
fn download(granted: &[(&str, &str)], offer_size: bool) -> Sender {
    let mut out = Vec::new();
    let oack = Some(oack(granted));
    let mut s = Sender::server(0, params(512, 1), client(), 2000, oack, &mut out);
    if offer_size {
        s.offer_size();
    }
    s
}

fn answer(s: &mut Sender, pkt: &[u8]) -> Vec<Action<'static>> {
    let mut out = Vec::new();
    s.on_packet(5, client(), pkt, &mut out);
    out
}

#[test]
fn error_8_after_an_oack_that_told_the_size_is_a_probe() {
    let mut s = download(&[("tsize", "2000")], true);
    let out = answer(
        &mut s,
        &error(ErrorCode::OptionRefused, "User aborted download"),
    );
    let o = outcome(&out).expect("the transfer ended");
    assert_eq!(o.kind, Ending::Probe);
    assert!(o.reason.starts_with("size probe: peer error 8"), "{o:?}");
    assert_eq!(o.bytes, 0);
    assert!(sent(&out).is_empty(), "an ERROR is never answered");
    assert!(out.contains(&Action::Close));
    assert!(s.is_done() && s.deadline().is_none());
}

#[test]
fn other_errors_or_an_oack_without_the_size_are_aborted_transfers() {
    // Not code 8.
    let mut s = download(&[("tsize", "2000")], true);
    let o = outcome(&answer(&mut s, &error(ErrorCode::NotDefined, "cancelled"))).unwrap();
    assert_eq!(o.kind, Ending::Aborted);
    // No size told: the client refused what we granted.
    let mut s = download(&[("blksize", "1024")], false);
    let o = outcome(&answer(&mut s, &error(ErrorCode::OptionRefused, "no"))).unwrap();
    assert_eq!(o.kind, Ending::Aborted);
    // After the OACK was acknowledged, ERROR 8 is a client giving up mid-transfer.
    let mut s = download(&[("tsize", "2000")], true);
    assert_eq!(blocks(&answer(&mut s, &ack(0))), vec![(1, 512)]);
    let o = outcome(&answer(&mut s, &error(ErrorCode::OptionRefused, "no"))).unwrap();
    assert_eq!(o.kind, Ending::Aborted);
}
