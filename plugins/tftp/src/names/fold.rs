//! `case_insensitive`: a name not found as spelled is looked up again ignoring case,
//! one directory at a time, through the host's `list_dir` (Windows boot asks for
//! `\Boot\x64\WdsNbp.com` while the files are lower case; firmware upper-cases names).
//!
//! Only after the exact name missed, so an exact name costs nothing more; a miss costs
//! one listing per component. Each component takes the entry spelled exactly that way
//! if there is one, else the first that matches ignoring case in byte order (so the
//! answer does not depend on the order the directory lists in). Hidden entries are
//! never candidates: a requested name that is not hidden must not fold onto one.

use switchyard_sdk::{HostError, Storage};

/// The spelling under `base` (`""`: the root) of `name` ignoring case, if one exists:
/// directories for every component but the last, a file for the last. `Ok(None)` when
/// none does; a storage error other than "not found" is passed on.
pub fn find_folded(
    st: &mut (impl Storage + ?Sized),
    base: &str,
    name: &str,
) -> Result<Option<String>, HostError> {
    let parts: Vec<&str> = name.split('/').collect();
    let mut dir = base.to_owned();
    let mut found = Vec::with_capacity(parts.len());
    for (i, part) in parts.iter().enumerate() {
        let want_dir = i + 1 < parts.len();
        let entries = match st.list_dir(&dir) {
            Ok(e) => e,
            Err(HostError::NotFound) => return Ok(None),
            Err(e) => return Err(e),
        };
        let wanted = part.to_lowercase();
        let mut candidates: Vec<&str> = entries
            .iter()
            .filter(|(n, stat)| {
                stat.is_dir == want_dir && !n.starts_with('.') && n.to_lowercase() == wanted
            })
            .map(|(n, _)| n.as_str())
            .collect();
        candidates.sort_unstable();
        let Some(pick) = candidates
            .iter()
            .find(|n| *n == part)
            .or(candidates.first())
        else {
            return Ok(None);
        };
        found.push(pick.to_string());
        dir = join(&dir, pick);
    }
    Ok(Some(found.join("/")))
}

/// `dir/name`, or `name` under the root.
pub fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_owned()
    } else {
        format!("{dir}/{name}")
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use switchyard_sdk::{FileId, Stat};

    use super::*;

    /// Directories and files by path; `list_dir` counted.
    #[derive(Default)]
    struct Tree {
        entries: BTreeMap<String, bool>,
        listings: usize,
    }

    impl Tree {
        fn with(paths: &[&str]) -> Tree {
            let mut t = Tree::default();
            for p in paths {
                let mut at = String::new();
                let parts: Vec<&str> = p.split('/').collect();
                for (i, part) in parts.iter().enumerate() {
                    at = join(&at, part);
                    t.entries.insert(at.clone(), i + 1 < parts.len());
                }
            }
            t
        }
    }

    fn stat(is_dir: bool) -> Stat {
        Stat {
            is_dir,
            is_file: !is_dir,
            size: 0,
            modified_unix: 0,
        }
    }

    impl Storage for Tree {
        fn list_dir(&mut self, path: &str) -> Result<Vec<(String, Stat)>, HostError> {
            self.listings += 1;
            if !path.is_empty() && self.entries.get(path) != Some(&true) {
                return Err(HostError::NotFound);
            }
            let prefix = if path.is_empty() {
                String::new()
            } else {
                format!("{path}/")
            };
            Ok(self
                .entries
                .iter()
                .filter_map(|(p, d)| {
                    let rest = p.strip_prefix(&prefix)?;
                    (!rest.contains('/')).then(|| (rest.to_owned(), stat(*d)))
                })
                .rev() // not in byte order: the lookup must not rely on it
                .collect())
        }
        fn open_read(&mut self, _: &str) -> Result<(FileId, u64), HostError> {
            unreachable!()
        }
        fn read_file(&mut self, _: FileId, _: u64, _: &mut [u8]) -> Result<usize, HostError> {
            unreachable!()
        }
        fn create_temp(&mut self, _: &str) -> Result<FileId, HostError> {
            unreachable!()
        }
        fn write_file(&mut self, _: FileId, _: &[u8]) -> Result<(), HostError> {
            unreachable!()
        }
        fn commit_file(&mut self, _: FileId, _: &str, _: bool) -> Result<(), HostError> {
            unreachable!()
        }
        fn close_file(&mut self, _: FileId) -> Result<(), HostError> {
            unreachable!()
        }
        fn stat(&mut self, _: &str) -> Result<Stat, HostError> {
            unreachable!()
        }
        fn remove_file(&mut self, _: &str) -> Result<(), HostError> {
            unreachable!()
        }
        fn free_space(&mut self) -> Result<u64, HostError> {
            unreachable!()
        }
    }

    #[test]
    fn every_component_is_folded_one_listing_each() {
        let mut t = Tree::with(&["Boot/x64/wdsnbp.com", "small.txt"]);
        assert_eq!(
            find_folded(&mut t, "", "BOOT/X64/WdsNbp.COM")
                .unwrap()
                .as_deref(),
            Some("Boot/x64/wdsnbp.com")
        );
        assert_eq!(t.listings, 3);
        assert_eq!(
            find_folded(&mut t, "", "SMALL.TXT").unwrap().as_deref(),
            Some("small.txt")
        );
    }

    #[test]
    fn under_a_client_directory_only_the_name_is_folded() {
        let mut t = Tree::with(&["lab/Pxelinux.0", "Pxelinux.0"]);
        assert_eq!(
            find_folded(&mut t, "lab", "PXELINUX.0").unwrap().as_deref(),
            Some("Pxelinux.0")
        );
        assert_eq!(find_folded(&mut t, "missing", "x").unwrap(), None);
    }

    #[test]
    fn an_exact_spelling_wins_then_byte_order_decides() {
        let mut t = Tree::with(&["a/README", "a/readme", "a/ReadMe"]);
        assert_eq!(
            find_folded(&mut t, "", "A/readme").unwrap().as_deref(),
            Some("a/readme")
        );
        assert_eq!(
            find_folded(&mut t, "", "a/rEADME").unwrap().as_deref(),
            Some("a/README"),
            "\"README\" < \"ReadMe\" < \"readme\""
        );
    }

    #[test]
    fn kinds_must_fit_and_nothing_hidden_or_missing_is_found() {
        let mut t = Tree::with(&["dir/file", "f/x", ".hidden/f"]);
        // A file where a directory is needed, a directory where the file is needed.
        assert_eq!(find_folded(&mut t, "", "DIR/FILE/x").unwrap(), None);
        assert_eq!(find_folded(&mut t, "", "DIR").unwrap(), None);
        assert_eq!(find_folded(&mut t, "", "nope").unwrap(), None);
        assert_eq!(find_folded(&mut t, "", ".HIDDEN/f").unwrap(), None);
    }
}
