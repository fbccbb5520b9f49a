//! Start-up checks of what the host will need to write, as the user it will run as
//! (what `nginx -t` does for its paths).
//!
//! A host that starts as root and drops to `user` opens its storage roots first, so
//! an unwritable root used to show only later, as a failure on every request. The
//! check runs the kernel's own permission test ([`faccessat2`] with `AT_EACCESS`) on a
//! throwaway thread whose *filesystem* ids are switched to the target user
//! (`setfsuid`/`setfsgid`/`setgroups` are per thread at the kernel level, and a
//! non-zero fsuid drops root's override capabilities). So the answer covers modes,
//! owners, the primary group, every parent directory, read-only mounts and ACLs,
//! exactly as the kernel will decide after the drop, without dropping anything in
//! the process itself.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::unistd::{Gid, Uid, User};

/// Whom the checks are made for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunAs {
    pub name: String,
    pub uid: Uid,
    pub gid: Gid,
}

impl RunAs {
    /// The topology's `user`, or whoever runs the host now.
    pub fn resolve(user: Option<&str>) -> Result<RunAs, String> {
        match user {
            Some(name) => {
                let u = User::from_name(name)
                    .map_err(|e| format!("cannot look up user `{name}`: {e}"))?
                    .ok_or_else(|| format!("no user named `{name}`"))?;
                Ok(RunAs {
                    name: name.to_owned(),
                    uid: u.uid,
                    gid: u.gid,
                })
            }
            None => {
                let uid = Uid::effective();
                let name = User::from_uid(uid)
                    .ok()
                    .flatten()
                    .map_or_else(|| format!("uid {uid}"), |u| u.name);
                Ok(RunAs {
                    name,
                    uid,
                    gid: Gid::effective(),
                })
            }
        }
    }

    /// Whether the checks can be made as this user from this process: as itself, or
    /// as anyone when running as root.
    pub fn checkable(&self) -> bool {
        Uid::effective() == self.uid || Uid::effective().is_root()
    }
}

/// What a path is needed for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Read, list and write files in this directory.
    ReadWrite,
    /// Create and remove files in this directory (a pid file's directory).
    Write,
}

/// One path the user cannot use as needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub what: String,
    pub path: PathBuf,
    pub reason: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.what, self.path.display(), self.reason)
    }
}

/// Check each `(what, dir, need)` as `who`. A directory that does not exist yet is
/// judged by its nearest existing parent (the host will create it there).
pub fn check(who: &RunAs, dirs: &[(String, PathBuf, Need)]) -> Vec<Problem> {
    let who = who.clone();
    let dirs = dirs.to_vec();
    let switch = Uid::effective() != who.uid;
    std::thread::spawn(move || {
        if switch {
            if let Err(e) = become_for_fs(&who) {
                return vec![Problem {
                    what: "start-up checks".into(),
                    path: PathBuf::from("/"),
                    reason: format!("cannot check as `{}`: {e}", who.name),
                }];
            }
        }
        dirs.iter()
            .filter_map(|(what, dir, need)| {
                let reason = check_dir(dir, *need).err()?;
                Some(Problem {
                    what: what.clone(),
                    path: dir.clone(),
                    reason: format!("{reason} for user `{}` (uid {})", who.name, who.uid),
                })
            })
            .collect()
    })
    .join()
    .unwrap_or_else(|_| Vec::new())
}

/// Switch this thread's filesystem ids (and only this thread's: raw system calls,
/// not libc's wrappers, which would apply `setgroups` to every thread).
fn become_for_fs(who: &RunAs) -> std::io::Result<()> {
    let gid = who.gid.as_raw();
    // SAFETY: plain system calls on this thread's credentials, with valid pointers.
    unsafe {
        if libc::syscall(libc::SYS_setgroups, 1usize, &raw const gid) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        libc::syscall(libc::SYS_setfsgid, gid);
        libc::syscall(libc::SYS_setfsuid, who.uid.as_raw());
        // setfsuid reports the previous id, never an error: read it back.
        if libc::syscall(libc::SYS_setfsuid, u32::MAX) != i64::from(who.uid.as_raw()) {
            return Err(std::io::Error::from(std::io::ErrorKind::PermissionDenied));
        }
    }
    Ok(())
}

fn check_dir(dir: &Path, need: Need) -> Result<(), String> {
    let mut at = dir.to_path_buf();
    let mut creating = false;
    loop {
        match std::fs::symlink_metadata(&at) {
            Ok(_) => break,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                creating = true;
                if !at.pop() || at.as_os_str().is_empty() {
                    at = PathBuf::from(".");
                    break;
                }
            }
            Err(e) => return Err(format!("cannot look at it: {e}")),
        }
    }
    let mode = match (need, creating) {
        // A directory to be made only needs its parent writable and searchable.
        (_, true) | (Need::Write, false) => libc::W_OK | libc::X_OK,
        (Need::ReadWrite, false) => libc::R_OK | libc::W_OK | libc::X_OK,
    };
    if !creating && !at.is_dir() {
        return Err("not a directory".into());
    }
    access(&at, mode).map_err(|e| {
        let what = if mode & libc::R_OK != 0 {
            "not readable and writable"
        } else {
            "not writable"
        };
        if creating {
            format!("cannot be created: {} {what} ({e})", at.display())
        } else {
            format!("{what} ({e})")
        }
    })
}

/// `faccessat2(AT_FDCWD, path, mode, AT_EACCESS)`: checked with this thread's
/// effective and filesystem ids (glibc's `faccessat` would emulate `AT_EACCESS` with
/// `stat` on kernels it distrusts, ignoring the fsuid).
fn access(path: &Path, mode: i32) -> std::io::Result<()> {
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    // SAFETY: a valid C string for the duration of the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_faccessat2,
            libc::AT_FDCWD,
            c.as_ptr(),
            mode,
            libc::AT_EACCESS,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn me() -> RunAs {
        RunAs::resolve(None).unwrap()
    }

    #[test]
    fn a_writable_directory_and_a_missing_one_below_it_pass() {
        let dir = tempfile::tempdir().unwrap();
        let problems = check(
            &me(),
            &[
                ("root".into(), dir.path().to_path_buf(), Need::ReadWrite),
                ("new".into(), dir.path().join("a/b"), Need::ReadWrite),
            ],
        );
        assert!(problems.is_empty(), "{problems:?}");
    }

    #[test]
    fn a_file_is_not_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, b"x").unwrap();
        let problems = check(&me(), &[("root".into(), file, Need::ReadWrite)]);
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].reason.contains("not a directory"),
            "{problems:?}"
        );
    }

    /// As root the check switches to another user, so a root-owned 0755 directory
    /// must fail for `nobody`; as anyone else, a 0555 directory of one's own fails
    /// (unless running as root, where the mode would not stop us: covered above).
    #[test]
    fn an_unwritable_directory_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let locked = dir.path().join("locked");
        std::fs::create_dir(&locked).unwrap();
        let who = if Uid::effective().is_root() {
            std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
            RunAs::resolve(Some("nobody")).unwrap()
        } else {
            std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o555)).unwrap();
            me()
        };
        let problems = check(&who, &[("root".into(), locked.clone(), Need::ReadWrite)]);
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].reason.contains("not readable and writable"),
            "{problems:?}"
        );
        assert!(problems[0].reason.contains(&who.name), "{problems:?}");
    }
}
