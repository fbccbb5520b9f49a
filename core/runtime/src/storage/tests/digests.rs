//! `Root::digest`: a served file's sha256 from its side file, then from the cache by
//! the file's version; a file changed in any way is another version.

use std::os::unix::fs::FileExt;

use switchyard_sdk::sums;

use super::{Area, put};

/// The side file a plugin would have written for `path` as it is now.
fn side_file(area: &Area, rel: &str, digest: &[u8; 32]) {
    let (_, version) = area.root.open_read(rel).expect("open");
    let side = sums::side_path(rel).expect("side path");
    put(
        &area.at(&side),
        sums::encode(digest, &version.stat()).as_bytes(),
    );
}

#[test]
fn the_side_file_is_read_once_then_the_cache_answers() {
    let area = Area::new(false);
    put(&area.at("d/k1"), b"one kibibyte, nearly");
    side_file(&area, "d/k1", &[0xab; 32]);
    let (_, version) = area.root.open_read("d/k1").expect("open");
    assert_eq!(area.root.digest("d/k1", &version), Some([0xab; 32]));
    // Without its side file the same version is still known: the cache answered.
    std::fs::remove_file(area.at("d/.k1.sha256")).expect("rm side");
    assert_eq!(area.root.digest("d/k1", &version), Some([0xab; 32]));
}

#[test]
fn a_changed_file_is_another_version_and_gets_no_stale_digest() {
    let area = Area::new(false);
    put(&area.at("f"), b"first version");
    side_file(&area, "f", &[1; 32]);
    let (_, first) = area.root.open_read("f").expect("open");
    assert_eq!(area.root.digest("f", &first), Some([1; 32]));

    // Written in place, same size, the modification time set back to the second
    // the side file names: the side file would pass, but the version differs.
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(area.at("f"))
        .expect("open for writing");
    f.write_all_at(b"FIRST", 0).expect("write");
    let when = std::time::UNIX_EPOCH + std::time::Duration::new(first.mtime.0 as u64, 0);
    f.set_modified(when).expect("set mtime");
    drop(f);
    let (_, second) = area.root.open_read("f").expect("reopen");
    assert_ne!(first, second, "contents changed: another version");
    assert_eq!((second.size, second.mtime.0), (first.size, first.mtime.0));
    assert_eq!(
        area.root.digest("f", &first),
        Some([1; 32]),
        "the old one stays"
    );
    // Its side file would still pass (same size and second: the side file's known
    // limit, `switchyard_sdk::sums`); without it, nothing may answer for the second
    // version: the cache keeps the first version's digest to the first version.
    std::fs::remove_file(area.at(".f.sha256")).expect("rm side");
    assert_eq!(area.root.digest("f", &second), None);

    // Replaced by a rename: another inode.
    put(&area.at("g.new"), b"first version");
    std::fs::rename(area.at("g.new"), area.at("f")).expect("rename");
    let (_, third) = area.root.open_read("f").expect("reopen");
    assert_ne!(third.ino, first.ino);
    assert_eq!(area.root.digest("f", &third), None);
}

#[test]
fn a_side_file_that_does_not_match_or_is_not_ours_gives_nothing() {
    let area = Area::new(false);
    put(&area.at("a"), b"abc");
    let (_, version) = area.root.open_read("a").expect("open");
    let stale = switchyard_sdk::Stat {
        size: 4,
        ..version.stat()
    };
    put(
        &area.at(".a.sha256"),
        sums::encode(&[2; 32], &stale).as_bytes(),
    );
    assert_eq!(area.root.digest("a", &version), None, "size differs");
    put(&area.at(".a.sha256"), &[b'0'; 200]);
    assert_eq!(
        area.root.digest("a", &version),
        None,
        "too long to be a digest line"
    );
    std::fs::remove_file(area.at(".a.sha256")).expect("rm");
    assert_eq!(area.root.digest("a", &version), None, "none at all");
}
