//! Symlinks inside the root (`super::super::symlinks`): followed while every step stays
//! beneath the root, by reads, `stat`, `list`, uploads and digests, with `openat2` and
//! with the walk; refused when they leave it, loop, or name something hidden.

use std::os::unix::fs::symlink;

use switchyard_sdk::{abi, sums};

use super::{Area, put, raw_names, read_all};
use crate::storage::{FileKind, MAX_LINKS, StorageError, Symlinks};

/// The content read through `rel`.
fn read(area: &Area, rel: &str) -> Vec<u8> {
    let (file, version) = area
        .root
        .open_read(rel)
        .unwrap_or_else(|e| panic!("{rel}: {e}"));
    let data = read_all(&file);
    assert_eq!(version.size, data.len() as u64);
    data
}

/// A PXE tree: `default` at the root, per-client names linking to it in every form.
fn boot_tree(area: &Area) {
    put(&area.at("default"), b"menu");
    put(&area.at("sub/real.txt"), b"real");
    std::fs::create_dir(area.at("pxelinux.cfg")).expect("mkdir");
    symlink("../default", area.at("pxelinux.cfg/01-aa-bb")).expect("symlink");
    symlink("real.txt", area.at("sub/alias.txt")).expect("symlink");
    symlink("sub", area.at("subalias")).expect("symlink");
    symlink(".", area.at("sub/self")).expect("symlink");
    symlink("..", area.at("sub/up")).expect("symlink");
    // A chain: each link to the next, through a linked directory.
    symlink("subalias/alias.txt", area.at("chain")).expect("symlink");
    // Absolute, naming the root by its own path.
    symlink(area.at("sub/real.txt"), area.at("abs_in")).expect("symlink");
}

#[test]
fn links_inside_the_root_are_followed_for_reads() {
    for area in Area::both() {
        boot_tree(&area);
        for (rel, want) in [
            ("pxelinux.cfg/01-aa-bb", &b"menu"[..]),
            ("sub/alias.txt", b"real"),
            ("subalias/real.txt", b"real"),
            ("subalias/alias.txt", b"real"),
            ("sub/self/real.txt", b"real"),
            ("sub/up/default", b"menu"),
            ("sub/self/up/sub/alias.txt", b"real"),
            ("chain", b"real"),
            ("abs_in", b"real"),
        ] {
            assert_eq!(read(&area, rel), want, "{rel}");
        }
        assert_eq!(area.root.symlinks(), Symlinks::FollowInside, "the default");
    }
}

/// `stat` and `list` describe a followed link as its target; one that is not followed
/// (dangling, leaving the root) as what it is.
#[test]
fn stat_and_list_describe_a_followed_link_as_its_target() {
    for area in Area::both() {
        boot_tree(&area);
        symlink("../outside/secret", area.at("sub/out")).expect("symlink");
        symlink("missing", area.at("sub/dangling")).expect("symlink");
        let st = area.root.stat("sub/alias.txt").expect("stat");
        assert_eq!((st.kind, st.size), (FileKind::File, 4));
        assert_eq!(
            area.root.stat("subalias").expect("stat").kind,
            FileKind::Dir
        );
        assert_eq!(
            area.root.stat("subalias/alias.txt").expect("stat").kind,
            FileKind::File
        );
        let kinds: Vec<(String, FileKind)> = area
            .root
            .list("subalias")
            .expect("list through a link")
            .into_iter()
            .map(|(n, s)| (n, s.kind))
            .collect();
        let want = [
            ("alias.txt", FileKind::File),
            ("dangling", FileKind::Other),
            ("out", FileKind::Other),
            ("real.txt", FileKind::File),
            ("self", FileKind::Dir),
            ("up", FileKind::Dir),
        ];
        assert_eq!(
            kinds,
            want.map(|(n, k)| (n.to_owned(), k)),
            "listed as their targets"
        );
        assert_eq!(
            area.root.stat("sub/out").expect("stat").kind,
            FileKind::Other
        );
        assert!(matches!(
            area.root.open_read("sub/dangling"),
            Err(StorageError::NotFound)
        ));
    }
}

/// Every way out is refused, however many links in: `..` above the root (from a link
/// to a directory too), an absolute target elsewhere, a chain whose last link leaves.
#[test]
fn links_that_leave_the_root_are_refused_however_reached() {
    for area in Area::every() {
        put(&area.at("sub/real.txt"), b"real");
        symlink("../..", area.at("sub/up2")).expect("symlink");
        symlink("sub/up2/outside/secret", area.at("via_dir")).expect("symlink");
        symlink("hop2", area.at("hop1")).expect("symlink");
        symlink("../outside/secret", area.at("hop2")).expect("symlink");
        symlink("/etc/passwd", area.at("abs_out")).expect("symlink");
        let root_text = area.at("").to_str().expect("utf-8").to_owned();
        // The root's path as a prefix of a longer name is not the root.
        symlink(
            format!("{}x/secret", root_text.trim_end_matches('/')),
            area.at("sibling"),
        )
        .expect("symlink");
        for rel in [
            "via_dir",
            "hop1",
            "abs_out",
            "sub/up2/outside/secret",
            "sibling",
        ] {
            let err = area.root.open_read(rel).expect_err(rel);
            assert!(matches!(err, StorageError::Escapes), "{rel}: {err:?}");
            assert_eq!(err.status(), abi::SY_ERR_ACCESS);
            assert!(matches!(
                area.root.create_temp(&format!("{rel}/x")).expect_err(rel),
                StorageError::Escapes | StorageError::NotFound
            ));
        }
        assert!(matches!(
            area.root.list("sub/up2"),
            Err(StorageError::Escapes)
        ));
        assert_eq!(raw_names(&area.outside()), ["secret"]);
    }
}

/// A loop ends after `MAX_LINKS` links; a chain of exactly that many is followed.
#[test]
fn link_loops_end_and_long_chains_are_bounded() {
    for area in Area::both() {
        symlink("loop_b", area.at("loop_a")).expect("symlink");
        symlink("loop_a", area.at("loop_b")).expect("symlink");
        symlink("me", area.at("me")).expect("symlink");
        std::fs::create_dir(area.at("d")).expect("mkdir");
        symlink("../d/deeper", area.at("d/deeper")).expect("symlink");
        for rel in ["loop_a", "me", "d/deeper/x"] {
            let err = area.root.open_read(rel).expect_err(rel);
            assert!(
                matches!(err, StorageError::LinkRefused(_)),
                "{rel}: {err:?}"
            );
            assert_eq!(err.status(), abi::SY_ERR_ACCESS);
        }
        assert_eq!(
            area.root.stat("loop_a").expect("stat").kind,
            FileKind::Other
        );
        put(&area.at("end"), b"end");
        let mut previous = "end".to_owned();
        for i in 0..=MAX_LINKS {
            let name = format!("l{i}");
            symlink(&previous, area.at(&name)).expect("symlink");
            previous = name;
        }
        assert_eq!(read(&area, &format!("l{}", MAX_LINKS - 1)), b"end");
        assert!(matches!(
            area.root.open_read(&format!("l{MAX_LINKS}")),
            Err(StorageError::LinkRefused(_))
        ));
    }
}

/// A link never publishes a hidden file: side files, kept partials and host temps
/// live under hidden names.
#[test]
fn a_link_to_a_hidden_name_is_refused() {
    for area in Area::both() {
        put(&area.at(".f.sha256"), b"digest");
        put(&area.at(".hidden/inner"), b"inner");
        put(&area.at(".sy-tmp.1.2.3"), b"partial upload");
        symlink(".f.sha256", area.at("side")).expect("symlink");
        symlink(".hidden/inner", area.at("inner")).expect("symlink");
        symlink("./.sy-tmp.1.2.3", area.at("temp")).expect("symlink");
        std::fs::create_dir(area.at("d")).expect("mkdir");
        symlink("../.hidden", area.at("d/h")).expect("symlink");
        for rel in ["side", "inner", "temp", "d/h/inner"] {
            let err = area.root.open_read(rel).expect_err(rel);
            assert!(
                matches!(err, StorageError::LinkRefused(_)),
                "{rel}: {err:?}"
            );
        }
    }
}

/// Uploads: a temp made through a linked directory lands in the target directory;
/// committing onto a link replaces the link itself (with overwrite), never its
/// target; without overwrite the link counts as an existing name. Removing a link
/// removes the link.
#[test]
fn uploads_through_links_land_inside_and_never_write_a_link_target() {
    for area in Area::both() {
        let r = &area.root;
        put(&area.at("shared/default"), b"shared by every client");
        symlink("shared", area.at("up")).expect("symlink");
        symlink("shared/default", area.at("mine")).expect("symlink");
        let mut temp = r.create_temp("up/new.txt").expect("temp through a link");
        temp.append(b"new").expect("append");
        r.commit(&mut temp, "up/new.txt", false).expect("commit");
        assert_eq!(
            std::fs::read(area.at("shared/new.txt")).expect("read"),
            b"new"
        );

        let mut temp = r.create_temp("mine").expect("temp");
        temp.append(b"my own").expect("append");
        assert!(matches!(
            r.commit(&mut temp, "mine", false)
                .expect_err("no overwrite"),
            StorageError::Exists
        ));
        r.commit(&mut temp, "mine", true).expect("overwrite");
        assert!(!area.at("mine").is_symlink(), "the link was replaced");
        assert_eq!(std::fs::read(area.at("mine")).expect("read"), b"my own");
        assert_eq!(
            std::fs::read(area.at("shared/default")).expect("read"),
            b"shared by every client",
            "the target is untouched"
        );
        symlink("shared/default", area.at("gone")).expect("symlink");
        r.remove("gone").expect("remove the link");
        assert!(area.at("shared/default").exists(), "not its target");
    }
}

/// The digest cache is keyed by the opened file: a link and its target share one
/// entry; on a miss the side file beside the target answers; a link moved to another
/// file gets that file's digest, never the old one's.
#[test]
fn a_linked_name_gets_its_targets_digest_and_never_a_stale_one() {
    for area in Area::both() {
        let r = &area.root;
        put(&area.at("images/a.img"), b"image a");
        put(&area.at("images/b.img"), b"image b, longer");
        for (name, digest) in [("images/a.img", [0xa; 32]), ("images/b.img", [0xb; 32])] {
            let (_, version) = r.open_read(name).expect("open");
            let side = sums::side_path(name).expect("side path");
            put(
                &area.at(&side),
                sums::encode(&digest, &version.stat()).as_bytes(),
            );
        }
        symlink("images/a.img", area.at("current")).expect("symlink");
        let (_, via_link) = r.open_read("current").expect("open link");
        assert_eq!(
            r.digest("current", &via_link),
            Some([0xa; 32]),
            "beside the target"
        );
        let (_, direct) = r.open_read("images/a.img").expect("open target");
        assert_eq!(via_link, direct, "one key for the link and its target");

        std::fs::remove_file(area.at("current")).expect("rm");
        symlink("images/b.img", area.at("current")).expect("retarget");
        let (_, moved) = r.open_read("current").expect("open link");
        assert_ne!(moved, via_link);
        assert_eq!(r.digest("current", &moved), Some([0xb; 32]));
    }
}
