//! Uploads: invisible until commit, nothing left behind, atomic no-replace, overwrite.

use std::os::unix::fs::PermissionsExt;
use std::sync::{Arc, Barrier};

use super::{Area, put, raw_names};
use crate::storage::{StorageError, TEMP_PREFIX};
use switchyard_sdk::abi;

#[test]
fn temp_is_invisible_until_commit() {
    for area in Area::both() {
        let r = &area.root;
        let mut temp = r.create_temp("up.bin").expect("temp");
        temp.append(b"hello ").expect("append");
        std::io::Write::write_all(temp.file_mut(), b"world").expect("write through fd");
        assert_eq!(temp.len().expect("len"), 11);
        assert!(
            r.list("").expect("list").is_empty(),
            "temp hidden from list"
        );
        assert!(matches!(
            r.stat("up.bin").expect_err("stat"),
            StorageError::NotFound
        ));
        assert!(matches!(
            r.open_read("up.bin").expect_err("read"),
            StorageError::NotFound
        ));
        let names = raw_names(&area.at(""));
        assert!(
            names.len() == 1 && names[0].starts_with(TEMP_PREFIX),
            "{names:?}"
        );
        let mode = std::fs::metadata(area.at(&names[0]))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777 & !0o022, 0o644 & !0o022, "mode {mode:o}");

        r.commit(&mut temp, "up.bin", false).expect("commit");
        assert!(temp.is_committed());
        drop(temp);
        assert_eq!(
            std::fs::read(area.at("up.bin")).expect("read"),
            b"hello world"
        );
        assert_eq!(raw_names(&area.at("")), ["up.bin"], "no temp left");
    }
}

#[test]
fn dropped_temp_leaves_nothing() {
    for area in Area::both() {
        std::fs::create_dir(area.at("d")).expect("mkdir");
        let mut temp = area.root.create_temp("d/partial").expect("temp");
        temp.append(&[7; 10_000]).expect("append");
        drop(temp);
        assert!(raw_names(&area.at("d")).is_empty());
    }
}

#[test]
fn no_overwrite_commit_keeps_the_original_and_the_temp() {
    for area in Area::both() {
        let r = &area.root;
        put(&area.at("name"), b"original");
        let mut temp = r.create_temp("name").expect("temp");
        temp.append(b"intruder").expect("append");
        let err = r.commit(&mut temp, "name", false).expect_err("exists");
        assert!(matches!(err, StorageError::Exists));
        assert_eq!(err.status(), abi::SY_ERR_EXISTS);
        assert_eq!(std::fs::read(area.at("name")).expect("read"), b"original");
        // The upload survives the refusal and can go under another name.
        r.commit(&mut temp, "name.1", false).expect("retry");
        assert_eq!(std::fs::read(area.at("name.1")).expect("read"), b"intruder");
    }
}

#[test]
fn two_concurrent_uploads_of_one_name_exactly_one_wins() {
    for area in Area::both() {
        let root = Arc::new(area.root);
        let n = 8;
        let barrier = Arc::new(Barrier::new(n));
        let threads: Vec<_> = (0..n)
            .map(|i| {
                let (root, barrier) = (Arc::clone(&root), Arc::clone(&barrier));
                std::thread::spawn(move || {
                    let mut temp = root.create_temp("same").expect("temp");
                    temp.append(format!("writer {i}").as_bytes())
                        .expect("append");
                    barrier.wait();
                    root.commit(&mut temp, "same", false).map(|()| i)
                })
            })
            .collect();
        let results: Vec<_> = threads
            .into_iter()
            .map(|t| t.join().expect("thread"))
            .collect();
        let winners: Vec<usize> = results
            .iter()
            .filter_map(|r| r.as_ref().ok().copied())
            .collect();
        assert_eq!(winners.len(), 1, "{results:?}");
        assert!(
            results
                .iter()
                .filter(|r| r.is_err())
                .all(|r| matches!(r, Err(StorageError::Exists)))
        );
        let path = area.tmp.path().join("root");
        assert_eq!(
            std::fs::read(path.join("same")).expect("read"),
            format!("writer {}", winners[0]).as_bytes()
        );
        assert_eq!(raw_names(&path), ["same"], "losers' temps removed");
    }
}

#[test]
fn overwrite_replaces_a_file_but_not_a_directory() {
    for area in Area::both() {
        let r = &area.root;
        put(&area.at("f"), b"old");
        let mut temp = r.create_temp("f").expect("temp");
        temp.append(b"new").expect("append");
        r.commit(&mut temp, "f", true).expect("overwrite");
        assert_eq!(std::fs::read(area.at("f")).expect("read"), b"new");
        std::fs::create_dir(area.at("dir")).expect("mkdir");
        let mut temp = r.create_temp("dir").expect("temp");
        assert!(matches!(
            r.commit(&mut temp, "dir", true).expect_err("dir"),
            StorageError::IsDir
        ));
        assert!(matches!(
            r.commit(&mut temp, "dir", false).expect_err("dir"),
            StorageError::Exists
        ));
        assert!(area.at("dir").is_dir());
    }
}

#[test]
fn commit_may_land_in_another_directory_of_the_root() {
    for area in Area::both() {
        area.root.create_dir_all("incoming").expect("mkdir");
        let mut temp = area.root.create_temp("staging").expect("temp");
        temp.append(b"x").expect("append");
        area.root
            .commit(&mut temp, "incoming/final", false)
            .expect("commit");
        drop(temp);
        assert_eq!(raw_names(&area.at("")), ["incoming"]);
        assert_eq!(raw_names(&area.at("incoming")), ["final"]);
    }
}

#[test]
fn parents_are_not_created_implicitly() {
    for area in Area::both() {
        let err = area
            .root
            .create_temp("no/such/dir/file")
            .expect_err("missing parent");
        assert!(matches!(err, StorageError::NotFound));
        let mut temp = area.root.create_temp("file").expect("temp");
        assert!(matches!(
            area.root.commit(&mut temp, "no/file", false),
            Err(StorageError::NotFound)
        ));
        assert!(!area.at("no").exists());
    }
}

#[test]
fn misuse_of_a_temp_is_reported_as_invalid() {
    let a = Area::new(false);
    let b = Area::new(false);
    let mut temp = a.root.create_temp("t").expect("temp");
    let err = b.root.commit(&mut temp, "t", false).expect_err("foreign");
    assert!(matches!(err, StorageError::BadTemp(_)));
    assert_eq!(err.status(), abi::SY_ERR_INVALID);
    a.root.commit(&mut temp, "t", false).expect("commit");
    assert!(matches!(
        a.root.commit(&mut temp, "u", false),
        Err(StorageError::BadTemp(_))
    ));
    assert!(matches!(
        temp.append(b"late"),
        Err(StorageError::BadTemp(_))
    ));
}

/// The `link` + `unlink` fallback for file systems without `RENAME_NOREPLACE` is just as
/// atomic: the second link of a name fails with `EEXIST`.
#[test]
fn link_fallback_refuses_an_existing_name() {
    let area = Area::new(false);
    let dir = rustix::fs::open(area.at(""), rustix::fs::OFlags::RDONLY, 0.into()).expect("dir");
    let first = area.root.create_temp("n").expect("temp");
    let second = area.root.create_temp("n").expect("temp");
    crate::storage::temp::link_then_unlink(&first, &dir, "n").expect("first link");
    let err = crate::storage::temp::link_then_unlink(&second, &dir, "n").expect_err("second link");
    assert_eq!(err, rustix::io::Errno::EXIST);
    drop(second);
    drop(first); // its temp name is already gone: the drop's unlink finds nothing
    assert_eq!(raw_names(&area.at("")), ["n"]);
}
