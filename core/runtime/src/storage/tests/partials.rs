//! Continued partials (`Root::open_partial`): appended in place, kept when dropped,
//! one writer at a time, hidden names only.

use super::{Area, put, raw_names};
use crate::storage::StorageError;
use switchyard_sdk::abi;

#[test]
fn a_partial_is_appended_in_place_and_committed_to_its_name() {
    for area in Area::both() {
        put(&area.at(".partial.1"), b"kept ");
        let (mut temp, size) = area.root.open_partial(".partial.1").expect("open");
        assert_eq!(size, 5);
        temp.append(b"rest").expect("append");
        area.root
            .commit(&mut temp, "done.bin", false)
            .expect("commit");
        drop(temp);
        assert_eq!(std::fs::read(area.at("done.bin")).unwrap(), b"kept rest");
        assert_eq!(raw_names(&area.at("")), ["done.bin"], "renamed, not copied");
    }
}

#[test]
fn a_dropped_partial_keeps_what_was_appended_and_can_be_continued_again() {
    for area in Area::both() {
        put(&area.at(".partial.2"), b"one ");
        let (mut temp, _) = area.root.open_partial(".partial.2").expect("open");
        temp.append(b"two ").expect("append");
        drop(temp);
        assert_eq!(std::fs::read(area.at(".partial.2")).unwrap(), b"one two ");
        // Lost again and kept: committed onto its own name (a no-op rename + fsync).
        let (mut temp, size) = area.root.open_partial(".partial.2").expect("reopen");
        assert_eq!(size, 8);
        temp.append(b"three").expect("append");
        area.root
            .commit(&mut temp, ".partial.2", true)
            .expect("commit onto itself");
        drop(temp);
        assert_eq!(
            std::fs::read(area.at(".partial.2")).unwrap(),
            b"one two three"
        );
    }
}

#[test]
fn a_second_handle_on_the_same_partial_is_busy_until_the_first_closes() {
    let area = Area::new(false);
    put(&area.at(".partial.3"), b"x");
    let (first, _) = area.root.open_partial(".partial.3").expect("open");
    let err = area.root.open_partial(".partial.3").expect_err("busy");
    assert!(matches!(err, StorageError::Busy), "{err:?}");
    assert_eq!(err.status(), abi::SY_ERR_BUSY);
    // Nor can it be removed from under its writer (a prune, another upload's id).
    assert!(matches!(
        area.root.remove(".partial.3").expect_err("locked"),
        StorageError::Busy
    ));
    drop(first);
    area.root.open_partial(".partial.3").expect("free again");
    area.root
        .remove(".partial.3")
        .expect("removable once closed");
}

#[test]
fn only_hidden_regular_files_can_be_continued() {
    let area = Area::new(false);
    put(&area.at("visible.bin"), b"x");
    std::fs::create_dir(area.at(".dir")).unwrap();
    std::os::unix::fs::symlink(area.at("visible.bin"), area.at(".link")).unwrap();
    let visible = area.root.open_partial("visible.bin").expect_err("visible");
    assert!(
        matches!(visible, StorageError::InvalidPath(_)),
        "{visible:?}"
    );
    assert_eq!(std::fs::read(area.at("visible.bin")).unwrap(), b"x");
    assert!(matches!(
        area.root.open_partial(".missing").expect_err("missing"),
        StorageError::NotFound
    ));
    assert!(matches!(
        area.root.open_partial(".dir").expect_err("dir"),
        StorageError::IsDir
    ));
    assert!(matches!(
        area.root.open_partial(".link").expect_err("symlink"),
        StorageError::Escapes
    ));
    assert!(matches!(
        area.root.open_partial("../outside/.x").expect_err("escape"),
        StorageError::InvalidPath(_)
    ));
}
