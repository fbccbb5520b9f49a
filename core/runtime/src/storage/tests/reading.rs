//! The read side: open_read, stat, list, remove, create_dir_all, free_space.

use super::{Area, put, read_all};
use crate::storage::{FileKind, StorageError};
use switchyard_sdk::abi;

#[test]
fn open_read_returns_the_file_and_its_size() {
    for area in Area::both() {
        put(&area.at("a/b/data.bin"), &[0, 1, 2, 255]);
        let (file, size) = area.root.open_read("a/b/data.bin").expect("open");
        assert_eq!((read_all(&file), size.size), (vec![0, 1, 2, 255], 4));
    }
}

#[test]
fn open_read_refuses_what_is_not_a_regular_file() {
    for area in Area::both() {
        let r = &area.root;
        put(&area.at("dir/f"), b"f");
        let err = r.open_read("dir").expect_err("dir");
        assert!(matches!(err, StorageError::IsDir));
        assert_eq!(err.status(), abi::SY_ERR_IS_DIR);
        // A FIFO would block a plain open(O_RDONLY) forever: it must fail at once.
        rustix::fs::mknodat(
            rustix::fs::CWD,
            area.at("fifo"),
            rustix::fs::FileType::Fifo,
            0o644.into(),
            0,
        )
        .expect("mkfifo");
        assert!(matches!(
            r.open_read("fifo").expect_err("fifo"),
            StorageError::NotFile
        ));
        let err = r.open_read("missing").expect_err("missing");
        assert!(matches!(err, StorageError::NotFound));
        assert_eq!(err.status(), abi::SY_ERR_NOT_FOUND);
        assert!(matches!(
            r.open_read("dir/f/x").expect_err("file as dir"),
            StorageError::NotFound
        ));
    }
}

#[test]
fn stat_describes_files_and_directories() {
    for area in Area::both() {
        put(&area.at("d/f.txt"), b"hello");
        let f = area.root.stat("d/f.txt").expect("file");
        assert_eq!((f.kind, f.size), (FileKind::File, 5));
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs();
        assert!(
            (f.modified_unix - now as i64).abs() < 60,
            "mtime {} vs now {now}",
            f.modified_unix
        );
        let d = area.root.stat("d").expect("dir");
        assert_eq!((d.kind, d.size), (FileKind::Dir, 0));
        assert!(matches!(
            area.root.stat("d/none").expect_err("missing"),
            StorageError::NotFound
        ));
        let st = f.to_abi();
        assert_eq!(
            (st.kind, st.size, st.struct_size),
            (abi::SY_FILE_REGULAR, 5, 24)
        );
    }
}

#[test]
fn list_is_sorted_hides_temps_and_unnameable_entries() {
    for area in Area::both() {
        let r = &area.root;
        put(&area.at("b.txt"), b"bb");
        put(&area.at("a.txt"), b"a");
        put(&area.at("sub/inner"), b"");
        put(&area.at("bad\nname"), b"");
        put(&area.at("back\\slash"), b"");
        let _temp = r.create_temp("c.txt").expect("temp");
        let listed = r.list("").expect("list root");
        let summary: Vec<_> = listed
            .iter()
            .map(|(n, s)| (n.as_str(), s.kind, s.size))
            .collect();
        assert_eq!(
            summary,
            [
                ("a.txt", FileKind::File, 1),
                ("b.txt", FileKind::File, 2),
                ("sub", FileKind::Dir, 0)
            ]
        );
        assert_eq!(r.list("sub").expect("list sub").len(), 1);
        assert!(matches!(
            r.list("nope").expect_err("missing"),
            StorageError::NotFound
        ));
        assert!(matches!(
            r.list("a.txt").expect_err("file"),
            StorageError::NotFound
        ));
    }
}

#[test]
fn remove_deletes_files_only() {
    for area in Area::both() {
        let r = &area.root;
        put(&area.at("d/f"), b"x");
        let err = r.remove("d").expect_err("dir");
        assert!(matches!(err, StorageError::IsDir), "{err:?}");
        r.remove("d/f").expect("remove");
        assert!(!area.at("d/f").exists());
        assert!(matches!(
            r.remove("d/f").expect_err("again"),
            StorageError::NotFound
        ));
    }
}

#[test]
fn create_dir_all_makes_nested_directories_beneath_the_root() {
    for area in Area::both() {
        area.root.create_dir_all("incoming/2024").expect("mkdir");
        area.root
            .create_dir_all("incoming/2024")
            .expect("idempotent");
        assert!(area.at("incoming/2024").is_dir());
        assert!(matches!(
            area.root.create_dir_all("../x"),
            Err(StorageError::InvalidPath(_))
        ));
        std::os::unix::fs::symlink(area.outside(), area.at("out")).expect("symlink");
        assert!(matches!(
            area.root.create_dir_all("out/x"),
            Err(StorageError::Escapes)
        ));
        assert!(!area.outside().join("x").exists());
    }
}

/// The confinement tests run with both resolvers; this makes sure "both" is not the walk
/// twice on a machine whose kernel has `openat2`.
#[test]
fn openat2_is_used_where_the_kernel_has_it() {
    let area = Area::new(false);
    let probe = rustix::fs::openat2(
        rustix::fs::CWD,
        ".",
        rustix::fs::OFlags::PATH,
        rustix::fs::Mode::empty(),
        rustix::fs::ResolveFlags::BENEATH,
    );
    match probe {
        Ok(_) => assert!(area.root.uses_openat2()),
        Err(err) => println!("openat2 unavailable here ({err}): only the walk is tested"),
    }
    assert!(!Area::new(true).root.uses_openat2());
}

#[test]
fn free_space_is_positive_and_root_path_is_absolute() {
    let area = Area::new(false);
    assert!(area.root.free_space().expect("statvfs") > 0);
    assert!(area.root.path().is_absolute());
    assert!(area.root.path().ends_with("root"));
}

#[test]
fn root_open_creates_missing_directories_and_refuses_a_file() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let deep = tmp.path().join("x/y/z");
    crate::storage::Root::open(&deep).expect("create");
    assert!(deep.is_dir());
    put(&tmp.path().join("file"), b"");
    assert!(matches!(
        crate::storage::Root::open(&tmp.path().join("file")),
        Err(StorageError::NotDir)
    ));
}
