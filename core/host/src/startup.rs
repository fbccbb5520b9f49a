//! What `serve` checks before it binds anything, and `validate` reports too.
//!
//! Each storage root must be readable and writable, and the pid file's and the access
//! log's directories writable, by the user the host will run as (the topology's
//! `user`, or whoever starts it): the pid file and the reload answers next to it are
//! written and removed after a privilege drop, and SIGUSR1 creates a new access log
//! there after logrotate moved the old one. A root that does not exist yet is created here,
//! owned by that user (as systemd's `StateDirectory=` would), so the host never
//! leaves itself a directory it cannot write after the drop.

use std::path::{Component, Path, PathBuf};

use nix::unistd::{Uid, chown};
use switchyard_runtime::topology::Topology;

use crate::access::{self, Need, Problem, RunAs};

/// The directories the host needs, as `(what, path, need)`.
pub fn needed(topo: &Topology, pid_file: Option<&Path>) -> Vec<(String, PathBuf, Need)> {
    let mut dirs: Vec<(String, PathBuf, Need)> = topo
        .handlers
        .iter()
        .filter_map(|h| {
            let root = h.root.as_ref()?;
            // `components` drops the `.` of `/srv/./data` (relative roots are joined
            // to the working directory), so messages show the path as one would type it.
            Some((
                format!("handler `{}`: storage root", h.name),
                root.components().collect(),
                Need::ReadWrite,
            ))
        })
        .collect();
    if let Some(pid) = pid_file {
        dirs.push(("pid file directory".into(), parent_of(pid), Need::Write));
    }
    // Written to, and after logrotate created anew by SIGUSR1, as that user.
    if let Some(access) = &topo.access_log {
        dirs.push((
            "access log directory".into(),
            parent_of(&access.path),
            Need::Write,
        ));
    }
    dirs
}

/// The directory holding `file` (`.` for a bare name).
pub fn parent_of(file: &Path) -> PathBuf {
    match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Create every missing storage root, owned by `who` when running as root for
/// someone else. Errors are reported by the access check that follows.
pub fn create_roots(topo: &Topology, who: &RunAs) {
    let give_away = Uid::effective().is_root() && who.uid != Uid::effective();
    for root in topo.handlers.iter().filter_map(|h| h.root.as_ref()) {
        let mut at = PathBuf::new();
        for part in root.components() {
            at.push(part);
            if matches!(part, Component::Normal(_)) && !at.exists() {
                if std::fs::create_dir(&at).is_err() {
                    break;
                }
                if give_away {
                    let _ = chown(&at, Some(who.uid), Some(who.gid));
                }
            }
        }
    }
}

/// Check what the host needs as `who`.
pub fn check(topo: &Topology, pid_file: Option<&Path>, who: &RunAs) -> Vec<Problem> {
    access::check(who, &needed(topo, pid_file))
}
