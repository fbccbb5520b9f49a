//! Names as the adapter serves them from the mock's files: a leading `/`, backslashes,
//! remap rules with the client's address, case folding through `list_dir`, per-client
//! roots for reads and writes; and a UEFI size probe, logged and counted as one.

use switchyard_sdk::abi;

use super::*;
use crate::packet::{Packet, ack, data};

fn from(ip: &str) -> SocketAddr {
    SocketAddr::new(ip.parse().unwrap(), 5000)
}

/// Download `name` from `client` in lock step; the bytes, or the ERROR code.
fn get(rig: &mut Rig, client: SocketAddr, name: &str) -> Result<Vec<u8>, u16> {
    rig.deliver(0, LISTENER, client, &rrq(name, &[]));
    let (sends, rest) = rig.take();
    let mut pkt = sends.last().expect("an answer").1.clone();
    if let Packet::Error { code, .. } = Packet::parse(&pkt).unwrap() {
        return Err(code);
    }
    let tid = SocketId(opened(&rest));
    let mut got = Vec::new();
    loop {
        let Packet::Data { block, data } = Packet::parse(&pkt).unwrap() else {
            panic!("{pkt:?}")
        };
        got.extend_from_slice(data);
        let last = data.len() < 512;
        rig.deliver(1, tid, client, &ack(block));
        if last {
            return Ok(got);
        }
        pkt = rig.take().0.last().expect("the next block").1.clone();
    }
}

/// Upload `content` (under 512 bytes) as `name` from `client`; the ERROR code if any.
fn put(rig: &mut Rig, client: SocketAddr, name: &str, content: &[u8]) -> Result<(), u16> {
    let wrq = request::<&str>(RequestKind::Write, name, "octet", &[]);
    rig.deliver(0, LISTENER, client, &wrq);
    let (sends, rest) = rig.take();
    if let Packet::Error { code, .. } = Packet::parse(&sends[0].1).unwrap() {
        return Err(code);
    }
    let tid = SocketId(opened(&rest));
    rig.deliver(1, tid, client, &data(1, content));
    assert_eq!(rig.take().0[0].1, ack(1));
    Ok(())
}

/// The summary line of the last transfer logged.
fn last_transfer_line(rest: &[HostAction]) -> String {
    logs(rest)
        .into_iter()
        .rev()
        .find(|l| l.starts_with("transfer "))
        .expect("a transfer line")
}

#[test]
fn a_leading_slash_and_backslashes_reach_the_file_and_the_log_names_both() {
    let mut rig = Rig::new("(backslash_to_slash: true)");
    rig.host
        .files
        .insert("boot/x64/wdsnbp.com".into(), b"wds".to_vec());
    assert_eq!(
        get(&mut rig, peer(), "/boot/x64/wdsnbp.com").unwrap(),
        b"wds"
    );
    assert_eq!(
        get(&mut rig, peer(), r"\boot\x64\wdsnbp.com").unwrap(),
        b"wds"
    );
    let (_, rest) = rig.take();
    let line = last_transfer_line(&rest);
    assert!(line.contains("file=boot/x64/wdsnbp.com"), "{line}");
    assert!(line.contains(r"requested=\boot\x64\wdsnbp.com"), "{line}");
    // Turned off, a backslash is refused as before.
    let mut strict = Rig::new("");
    strict.host.files.insert("a/b".into(), b"x".to_vec());
    assert_eq!(get(&mut strict, peer(), r"a\b"), Err(2));
}

#[test]
fn a_remap_rule_puts_each_client_under_its_address() {
    let mut rig =
        Rig::new(r#"(remap: [(match: r"^pxelinux\.cfg/default$", replace: r"hosts/\i/default")])"#);
    rig.host
        .files
        .insert("hosts/10.0.0.7/default".into(), b"seven".to_vec());
    rig.host
        .files
        .insert("pxelinux.cfg/default".into(), b"everyone".to_vec());
    let seven = from("10.0.0.7");
    assert_eq!(
        get(&mut rig, seven, "pxelinux.cfg/default").unwrap(),
        b"seven"
    );
    // Another client's directory lacks it: not found, never the shared file.
    assert_eq!(
        get(&mut rig, from("10.0.0.8"), "pxelinux.cfg/default"),
        Err(1)
    );
}

#[test]
fn case_insensitive_finds_the_file_through_list_dir_only_when_asked() {
    let mut plain = Rig::new("");
    plain.host.files.insert("small.txt".into(), b"s".to_vec());
    assert_eq!(get(&mut plain, peer(), "SMALL.TXT"), Err(1));

    let mut rig = Rig::new("(case_insensitive: true, backslash_to_slash: true)");
    rig.host.files.insert("small.txt".into(), b"s".to_vec());
    rig.host
        .files
        .insert("Boot/x64/WdsNbp.com".into(), b"wds".to_vec());
    assert_eq!(get(&mut rig, peer(), "SMALL.TXT").unwrap(), b"s");
    let (_, rest) = rig.take();
    let line = last_transfer_line(&rest);
    assert!(
        line.contains("file=small.txt requested=SMALL.TXT"),
        "{line}"
    );
    assert_eq!(
        get(&mut rig, peer(), r"\boot\X64\wdsnbp.COM").unwrap(),
        b"wds",
        "every component folded"
    );
    assert_eq!(get(&mut rig, peer(), "SMALL.TXT.bak"), Err(1));
    // Uploads take the name as sent.
    let mut up = Rig::new("(case_insensitive: true, allow_create: true)");
    up.host.files.insert("dir/f".into(), b"old".to_vec());
    assert_eq!(put(&mut up, peer(), "DIR/F", b"new"), Ok(()));
    assert_eq!(up.host.files["DIR/F"], b"new");
    assert_eq!(up.host.files["dir/f"], b"old");
}

#[test]
fn client_dirs_serve_and_take_each_range_under_its_directory() {
    let config = r#"(allow_create: true, client_dirs: [
        (cidr: "10.1.2.0/24", dir: "special"),
        (cidr: "10.1.0.0/16", dir: "lab"),
    ])"#;
    let mut rig = Rig::new(config);
    for (path, content) in [("special/f", "special"), ("lab/f", "lab"), ("f", "root")] {
        rig.host
            .files
            .insert(path.into(), content.as_bytes().to_vec());
    }
    assert_eq!(get(&mut rig, from("10.1.2.3"), "f").unwrap(), b"special");
    assert_eq!(get(&mut rig, from("10.1.9.9"), "/f").unwrap(), b"lab");
    assert_eq!(get(&mut rig, from("192.0.2.1"), "f").unwrap(), b"root");
    put(&mut rig, from("10.1.9.9"), "up.bin", b"from the lab").unwrap();
    assert_eq!(rig.host.files["lab/up.bin"], b"from the lab");
    assert!(!rig.host.files.contains_key("up.bin"));
    // A range whose directory has no such file: not found, not the root's.
    rig.host.files.remove("lab/f");
    assert_eq!(get(&mut rig, from("10.1.9.9"), "f"), Err(1));
    // Unmatched clients refused when so configured.
    let mut strict = Rig::new(
        r#"(client_dirs: [(cidr: "10.1.0.0/16", dir: "lab")], unmatched_clients: refuse)"#,
    );
    strict.host.files.insert("f".into(), b"root".to_vec());
    assert_eq!(get(&mut strict, from("192.0.2.1"), "f"), Err(2));
}

#[test]
fn unique_root_uses_the_clients_directory_for_reads_and_writes() {
    let mut rig = Rig::new("(allow_create: true, unique_root: ip)");
    rig.host.files.insert("10.0.0.7/f".into(), b"mine".to_vec());
    rig.host
        .files
        .insert("2001-db8--7/f".into(), b"mine6".to_vec());
    rig.host.files.insert("f".into(), b"root".to_vec());
    assert_eq!(get(&mut rig, from("10.0.0.7"), "f").unwrap(), b"mine");
    assert_eq!(get(&mut rig, from("2001:db8::7"), "f").unwrap(), b"mine6");
    put(&mut rig, from("10.0.0.7"), "up", b"u").unwrap();
    assert_eq!(rig.host.files["10.0.0.7/up"], b"u");
    // No directory of its own: the root, as dnsmasq does...
    assert_eq!(get(&mut rig, from("10.0.0.8"), "f").unwrap(), b"root");
    // ... or refused.
    let mut strict = Rig::new("(unique_root: ip, unmatched_clients: refuse)");
    strict.host.files.insert("f".into(), b"root".to_vec());
    strict
        .host
        .files
        .insert("10.0.0.7/f".into(), b"mine".to_vec());
    assert_eq!(get(&mut strict, from("10.0.0.8"), "f"), Err(2));
    assert_eq!(get(&mut strict, from("10.0.0.7"), "f").unwrap(), b"mine");
}

#[test]
fn a_uefi_size_probe_is_logged_at_info_and_counted_as_a_probe() {
    let mut rig = Rig::new("");
    rig.host.files.insert("boot.efi".into(), vec![7u8; 3000]);
    let client = peer();
    rig.deliver(0, LISTENER, client, &rrq("boot.efi", &[("tsize", "0")]));
    let (sends, rest) = rig.take();
    assert_eq!(
        Packet::parse(&sends[0].1).unwrap(),
        Packet::Oack {
            options: vec![("tsize", "3000")]
        }
    );
    let tid = SocketId(opened(&rest));
    let refuse = packet::error(ErrorCode::OptionRefused, "User aborted download");
    rig.deliver(3, tid, client, &refuse);
    let (sends, rest) = rig.take();
    assert!(sends.is_empty(), "an ERROR is never answered");
    assert!(rest.contains(&HostAction::CloseSocket { socket: tid.0 }));
    let levels: Vec<(u32, &str)> = rest
        .iter()
        .filter_map(|a| match a {
            HostAction::Log { level, msg } => Some((*level, msg.as_str())),
            _ => None,
        })
        .collect();
    let (level, line) = levels
        .iter()
        .find(|(_, m)| m.starts_with("transfer "))
        .expect("a summary line");
    assert_eq!(*level, abi::SY_LOG_INFO, "{line}");
    assert!(
        line.contains("result=probe reason=\"size probe: peer error 8"),
        "{line}"
    );
    assert!(
        !levels.iter().any(|(l, _)| *l <= abi::SY_LOG_WARN),
        "{levels:?}"
    );
    assert_eq!(rig.host.ended.last(), Some(&(tid.0, "probe".to_string())));
    assert_eq!(emitted(&rest)[0].result, "probe");
    assert_eq!(rig.tftp.active_sessions(), 0);
    assert_eq!(rig.host.open_files(), 0);
    // The real download that follows is an ordinary transfer.
    let got = get(&mut rig, from("127.0.0.1"), "boot.efi").unwrap();
    assert_eq!(got.len(), 3000);
}

#[test]
fn bad_rules_and_ranges_are_config_errors_where_validate_shows_them() {
    let text =
        "(\n  remap: [\n    (match: \"^a\", stop: true),\n    (match: \"(\", stop: true),\n  ],\n)";
    let err = MockHost::check_config::<Tftp>(text).unwrap_err();
    assert!(err.message.contains("bad regex \"(\""), "{err:?}");
    assert_eq!(err.line, 4, "the second rule's line: {err:?}");
    let text = "(client_dirs: [\n  (cidr: \"10.1.2.0/16\", dir: \"lab\"),\n])";
    let err = MockHost::check_config::<Tftp>(text).unwrap_err();
    assert!(
        err.message.contains("did you mean \"10.1.0.0/16\""),
        "{err:?}"
    );
    assert_eq!(err.line, 2, "{err:?}");
    assert!(MockHost::check_config::<Tftp>("(unique_root: mac)").is_err());
}
