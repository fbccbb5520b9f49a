//! Nothing outside the root is reachable: traversal, symlinks, sibling-prefix roots,
//! and symlinks swapped in while a transfer is running.

use std::os::unix::fs::symlink;

use super::{Area, put, raw_names, read_all};
use crate::storage::{FileKind, Root, StorageError, Symlinks};
use switchyard_sdk::abi;

/// Every operation refuses every traversal form before touching the disk.
#[test]
fn traversal_forms_are_refused_by_every_operation() {
    for area in Area::both() {
        let r = &area.root;
        let secret = area.outside().join("secret");
        let abs = secret.to_str().expect("utf-8").to_owned();
        for path in [
            "../outside/secret",
            "a/../../outside/secret",
            abs.as_str(),
            "..\\outside\\secret",
            "a\0b",
            "",
        ] {
            let refused = |e: StorageError| {
                assert!(matches!(e, StorageError::InvalidPath(_)), "{path:?}: {e:?}")
            };
            refused(r.open_read(path).expect_err(path));
            refused(r.create_temp(path).expect_err(path));
            refused(r.stat(path).expect_err(path));
            refused(r.remove(path).expect_err(path));
            if !path.is_empty() {
                refused(r.list(path).expect_err(path));
            }
            let mut temp = r.create_temp("ok").expect("temp");
            refused(r.commit(&mut temp, path, true).expect_err(path));
        }
        assert_eq!(
            std::fs::read(&secret).expect("secret"),
            b"secret",
            "outside file untouched"
        );
        assert_eq!(raw_names(&area.outside()), ["secret"]);
    }
}

/// A symlink inside the root pointing out (relative or absolute, to a file or a dir) is
/// refused for reading, for creating a temp in it and for listing it, whether the root
/// follows links inside it or refuses them all.
#[test]
fn symlinks_out_of_the_root_are_refused() {
    for area in Area::every() {
        let r = &area.root;
        symlink("../outside/secret", area.at("rel_link")).expect("symlink");
        symlink(area.outside().join("secret"), area.at("abs_link")).expect("symlink");
        symlink(area.outside(), area.at("out_dir")).expect("symlink");
        for path in ["rel_link", "abs_link", "out_dir/secret"] {
            let err = r.open_read(path).expect_err(path);
            assert!(matches!(err, StorageError::Escapes), "{path}: {err:?}");
            assert_eq!(err.status(), abi::SY_ERR_ACCESS);
        }
        assert!(matches!(
            r.create_temp("out_dir/new").expect_err("temp"),
            StorageError::Escapes
        ));
        assert!(matches!(
            r.list("out_dir").expect_err("list"),
            StorageError::Escapes
        ));
        assert!(matches!(
            r.stat("out_dir/secret").expect_err("stat"),
            StorageError::Escapes
        ));
        assert!(matches!(
            r.remove("out_dir/secret").expect_err("remove"),
            StorageError::Escapes
        ));
        let mut temp = r.create_temp("x").expect("temp");
        assert!(matches!(
            r.commit(&mut temp, "out_dir/x", true).expect_err("commit"),
            StorageError::Escapes
        ));
        assert_eq!(
            raw_names(&area.outside()),
            ["secret"],
            "nothing created outside"
        );
        // The link itself is visible as what it is, not as its target.
        assert_eq!(r.stat("abs_link").expect("stat").kind, FileKind::Other);
    }
}

/// With `symlinks: refuse`, symlinks are refused even when they stay inside the root,
/// so an alias cannot bypass a plugin's lexical policy (e.g. "uploads only under
/// `incoming/`").
#[test]
fn with_refuse_symlinks_inside_the_root_are_refused_too() {
    for area in Area::both_with(Symlinks::Refuse) {
        let r = &area.root;
        put(&area.at("sub/real.txt"), b"real");
        symlink("real.txt", area.at("sub/alias.txt")).expect("symlink");
        symlink("sub", area.at("subalias")).expect("symlink");
        assert!(matches!(
            r.open_read("sub/alias.txt").expect_err("file alias"),
            StorageError::Escapes
        ));
        assert!(matches!(
            r.open_read("subalias/real.txt").expect_err("dir alias"),
            StorageError::Escapes
        ));
        assert!(matches!(
            r.create_temp("subalias/new").expect_err("dir alias"),
            StorageError::Escapes
        ));
        let listed = r.list("sub").expect("list");
        assert_eq!(
            listed
                .iter()
                .map(|(n, s)| (n.as_str(), s.kind))
                .collect::<Vec<_>>(),
            [("alias.txt", FileKind::Other), ("real.txt", FileKind::File)]
        );
        assert_eq!(
            read_all(&r.open_read("sub/real.txt").expect("real").0),
            b"real"
        );
    }
}

/// A root `.../d` can never reach `.../d2`, however the path is spelled.
#[test]
fn sibling_prefix_root_is_not_reachable() {
    let tmp = tempfile::tempdir().expect("tempdir");
    put(&tmp.path().join("d2/secret"), b"secret");
    let r = Root::open(&tmp.path().join("d")).expect("root");
    assert!(matches!(
        r.open_read("../d2/secret").expect_err("dotdot"),
        StorageError::InvalidPath(_)
    ));
    assert!(matches!(
        r.open_read("2/secret").expect_err("suffix"),
        StorageError::NotFound
    ));
    assert!(matches!(
        r.open_read("d2/secret").expect_err("name"),
        StorageError::NotFound
    ));
    let d2 = tmp.path().join("d2");
    assert!(matches!(
        r.open_read(d2.to_str().expect("utf-8")),
        Err(StorageError::InvalidPath(_))
    ));
}

/// Once a file is open, replacing it by a symlink to a secret changes nothing: the
/// transfer keeps reading the file it opened.
#[test]
fn symlink_swapped_in_during_a_download_is_not_followed() {
    for area in Area::every() {
        put(&area.at("pub/file"), b"public");
        let (file, size) = area.root.open_read("pub/file").expect("open");
        std::fs::remove_file(area.at("pub/file")).expect("rm");
        symlink(area.outside().join("secret"), area.at("pub/file")).expect("swap");
        assert_eq!((read_all(&file), size.size), (b"public".to_vec(), 6));
        assert!(matches!(
            area.root.open_read("pub/file").expect_err("reopen"),
            StorageError::Escapes
        ));
    }
}

/// An upload's directory replaced by a symlink to the outside mid-transfer: the commit
/// (which resolves its target again) is refused, and the temp stays where it was made.
#[test]
fn symlink_swapped_in_during_an_upload_is_not_followed() {
    for area in Area::every() {
        let r = &area.root;
        std::fs::create_dir(area.at("up")).expect("mkdir");
        let mut temp = r.create_temp("up/file").expect("temp");
        temp.append(b"payload").expect("append");
        std::fs::rename(area.at("up"), area.at("moved")).expect("move dir away");
        symlink(area.outside(), area.at("up")).expect("swap");
        temp.append(b" more").expect("append after swap");
        assert!(matches!(
            r.commit(&mut temp, "up/file", false).expect_err("commit"),
            StorageError::Escapes
        ));
        assert_eq!(
            raw_names(&area.outside()),
            ["secret"],
            "nothing written outside"
        );
        assert_eq!(
            raw_names(&area.at("moved")).len(),
            1,
            "temp stays in its own directory"
        );
        drop(temp);
        assert!(
            raw_names(&area.at("moved")).is_empty(),
            "dropped temp removed from the moved dir"
        );
    }
}
