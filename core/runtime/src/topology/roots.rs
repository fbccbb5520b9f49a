//! Private storage kept out of served roots.
//!
//! A served root (TFTP, files, bulk) hands every file under it to any peer who names
//! it, so a private root (audit transcripts: chat lines with peer addresses) that lies
//! inside one is published, and one that contains a served root would mix the peers'
//! uploads into private state. The check compares where the roots really are:
//! relative paths resolved against the working directory, `.` and `..` resolved
//! lexically, and then, as far as the path exists, symlinks followed (so `./pub` being
//! a link to `./state` counts). Served roots may share or nest among themselves.
//!
//! Known limit: a symlink created *after* validation, or a bind mount, is not seen;
//! the check guards against configuration mistakes, not against the operator.

use std::path::{Component, Path, PathBuf};

use super::catalog::StorageKind;

/// Where `root` really is: absolute, without `.` and `..`, with the longest existing
/// prefix canonicalized (symlinks followed) and the rest appended as written.
pub(crate) fn normalize(root: &Path, cwd: &Path) -> PathBuf {
    let lexical = lexical(&cwd.join(root));
    let mut existing = lexical.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(real) = existing.canonicalize() {
            return rest.iter().rev().fold(real, |p, c| p.join(c));
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                existing = parent;
            }
            _ => return lexical,
        }
    }
}

/// `path` (absolute) with `.` dropped and each `..` removing the component before it
/// (`..` above `/` stays at `/`, as the kernel does).
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// Whether one of two normalized roots equals or lies inside the other (by component:
/// `/srv/data2` is not inside `/srv/data`).
fn nested(a: &Path, b: &Path) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

/// For each handler `(storage, normalized root)` (`None`: no root or no plugin), the
/// indices of the served roots a *private* root overlaps; empty for served handlers.
pub(crate) fn overlaps(handlers: &[Option<(StorageKind, PathBuf)>]) -> Vec<Vec<usize>> {
    handlers
        .iter()
        .map(|me| {
            match me {
            Some((StorageKind::Private, mine)) => handlers
                .iter()
                .enumerate()
                .filter(|(_, other)| {
                    matches!(other, Some((StorageKind::Served, theirs)) if nested(mine, theirs))
                })
                .map(|(j, _)| j)
                .collect(),
            _ => Vec::new(),
        }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CWD: &str = "/nonexistent-cwd/switchyard";

    fn n(p: &str) -> PathBuf {
        normalize(Path::new(p), Path::new(CWD))
    }

    #[test]
    fn spellings_of_one_directory_normalize_alike() {
        let data = n("data");
        for same in [
            "./data",
            "data/",
            "./data/.",
            "x/../data",
            &format!("{CWD}/data"),
        ] {
            assert_eq!(n(same), data, "{same}");
        }
        assert_eq!(n("../../../.."), PathBuf::from("/"));
        assert_ne!(n("data2"), data);
    }

    #[test]
    fn nesting_is_by_component_both_ways() {
        assert!(nested(&n("./data/audit"), &n("data")));
        assert!(nested(&n("data"), &n("./data/audit")));
        assert!(nested(&n("data"), &n("./data/")));
        assert!(nested(&n("state/../data/audit"), &n("data")));
        assert!(!nested(&n("data2"), &n("data")));
        assert!(!nested(&n("state/audit"), &n("data")));
    }

    #[test]
    fn only_private_roots_against_served_ones_count() {
        let s = |p: &str| Some((StorageKind::Served, n(p)));
        let p = |r: &str| Some((StorageKind::Private, n(r)));
        let handlers = [
            s("data"),
            s("./data"),
            s("data/incoming"),
            p("data/audit"),
            p("state/audit"),
            None,
            p("state"),
        ];
        assert_eq!(
            overlaps(&handlers),
            vec![vec![], vec![], vec![], vec![0, 1], vec![], vec![], vec![]]
        );
    }

    #[test]
    fn a_symlink_into_a_served_root_counts() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir_all(data.join("audit")).unwrap();
        std::os::unix::fs::symlink(data.join("audit"), dir.path().join("state")).unwrap();
        let private = normalize(Path::new("state/transcripts"), dir.path());
        let served = normalize(Path::new("data"), dir.path());
        assert!(nested(&private, &served), "{private:?} {served:?}");
        // Without following the link the two look apart.
        assert!(!nested(
            &lexical(&dir.path().join("state")),
            &lexical(&data)
        ));
    }
}
