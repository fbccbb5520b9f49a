//! `ENOSPC` on a real (tiny) file system: the writer gets `NoSpace`, nothing stays.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::raw_names;
use crate::storage::{Root, StorageError};
use switchyard_sdk::abi;

/// A 64 KiB tmpfs, unmounted on drop.
struct TinyFs {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl TinyFs {
    fn mount() -> Result<TinyFs, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let path = dir.path().to_path_buf();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
            .arg(&path)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "mount failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(TinyFs { _dir: dir, path })
    }

    fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TinyFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.path).status();
    }
}

/// Whether this is CI: any non-empty `CI` but `false` or `0`, as
/// `switchyard_e2e::faults::in_ci` decides it.
fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| {
        !v.trim().is_empty() && !v.trim().eq_ignore_ascii_case("false") && v.trim() != "0"
    })
}

#[test]
fn writing_past_a_full_disk_gives_no_space_and_leaves_nothing() {
    let fs = match TinyFs::mount() {
        Ok(fs) => fs,
        Err(reason) if !rustix::process::geteuid().is_root() => {
            // The e2e harness's rule (tests/src/faults.rs), which this crate cannot
            // depend on: a check that cannot run fails under CI, and says so locally.
            assert!(
                !in_ci(),
                "CI is set, so this cannot be skipped: not root, cannot mount a tmpfs ({reason})"
            );
            eprintln!("skipped: not root, cannot mount a tmpfs ({reason})");
            return;
        }
        Err(reason) => panic!("running as root but {reason}"),
    };
    let root = Root::open(fs.path()).expect("root");
    let free = root.free_space().expect("free");
    assert!(free <= 64 * 1024, "free space {free}");
    let mut temp = root.create_temp("big").expect("temp");
    let chunk = vec![0xa5; 16 * 1024];
    let err = (0..16)
        .find_map(|_| temp.append(&chunk).err())
        .expect("disk never filled up");
    assert!(matches!(err, StorageError::NoSpace), "{err:?}");
    assert_eq!(err.status(), abi::SY_ERR_NO_SPACE);
    drop(temp);
    assert!(raw_names(fs.path()).is_empty());
    assert_eq!(root.free_space().expect("free"), free, "space given back");
}
