//! The lexical check: every refused form, and what stays allowed.

use crate::storage::{StorageError, TEMP_PREFIX, validate_path};

#[test]
fn traversal_and_malformed_paths_are_refused() {
    let long = "x".repeat(256);
    let temp = format!("a/{TEMP_PREFIX}1.2.3");
    let refused = [
        "",
        "/etc/passwd",
        "..",
        "../x",
        "a/../../x",
        "a/..",
        "./a",
        "a/./b",
        ".",
        "a//b",
        "a/",
        "a\\b",
        "..\\x",
        "a\0b",
        "a\nb",
        "a\x7fb",
        "a\u{85}b",
        &long,
        &temp,
    ];
    for path in refused {
        let err = validate_path(path).expect_err(path);
        assert!(
            matches!(err, StorageError::InvalidPath(_)),
            "{path:?}: {err:?}"
        );
        assert_eq!(err.status(), switchyard_sdk::abi::SY_ERR_ACCESS, "{path:?}");
    }
}

#[test]
fn ordinary_paths_are_accepted_unchanged() {
    let max = "y".repeat(255);
    for path in [
        "a",
        "a/b/c.txt",
        ".hidden",
        "..x",
        "x..",
        "a b",
        "ünïcode",
        "a:b",
        max.as_str(),
    ] {
        assert_eq!(validate_path(path).expect(path).as_str(), path);
    }
}

#[test]
fn split_last_separates_directory_and_name() {
    assert_eq!(
        validate_path("a/b/c").unwrap().split_last(),
        (Some("a/b"), "c")
    );
    assert_eq!(validate_path("c").unwrap().split_last(), (None, "c"));
}
