//! Where things are stored: unique names for uploads, kept partial uploads, and the
//! digest side files.
//!
//! - A v1 upload (no name on the wire) is stored as `v1-NNNNNN.bin`, `N` one past the
//!   highest already in the directory; a v2 upload under its own name, or
//!   `stem-1.ext`, `stem-2.ext`... when taken. The commit itself refuses an existing
//!   name atomically, so two concurrent uploads never get (or overwrite) one name;
//!   the loser just tries the next candidate.
//! - The received part of a resumable upload is kept as `.partial.<upload id hex>`.
//! - A stored file's digest is remembered in its side file ([`switchyard_sdk::sums`],
//!   the format the files plugin writes too, so both read each other's), so `GET`
//!   tells the client what to expect without reading the file twice.
//!
//! Hidden names are refused to clients (`codec::check_name`), so they can neither read
//! nor forge any of these.

use switchyard_sdk::{FileId, Stat, sums};

use super::Storage;
use crate::codec::{MAX_NAME, hex};
use crate::config::Config;

/// Most candidates tried for one upload before giving up.
pub(crate) const MAX_CANDIDATES: u64 = 10_000;
const V1_PREFIX: &str = "v1-";
const V1_SUFFIX: &str = ".bin";
const PARTIAL_PREFIX: &str = ".partial.";

/// The `n`th candidate name for a v2 upload of `name` (0 is the name itself).
pub(crate) fn v2_candidate(name: &str, n: u64) -> String {
    if n == 0 {
        return name.to_owned();
    }
    let (stem, ext) = match name.rfind('.') {
        Some(i) if i > 0 => name.split_at(i),
        _ => (name, ""),
    };
    let suffix = format!("-{n}{ext}");
    let mut keep = MAX_NAME.saturating_sub(suffix.len()).min(stem.len());
    while !stem.is_char_boundary(keep) {
        keep -= 1;
    }
    format!("{}{suffix}", &stem[..keep])
}

/// The v1 name with number `n`.
pub(crate) fn v1_name(n: u64) -> String {
    format!("{V1_PREFIX}{n:06}{V1_SUFFIX}")
}

/// The first v1 number to try: one past the highest in `entries`.
pub(crate) fn v1_first(entries: &[(String, Stat)]) -> u64 {
    entries
        .iter()
        .filter_map(|(name, _)| {
            name.strip_prefix(V1_PREFIX)?
                .strip_suffix(V1_SUFFIX)?
                .parse::<u64>()
                .ok()
        })
        .max()
        .map_or(1, |n| n.saturating_add(1))
}

/// Name of the kept part of upload `id`.
pub(crate) fn partial_name(id: &[u8; 16]) -> String {
    format!("{PARTIAL_PREFIX}{}", hex(id))
}

/// Whether `name` is a kept partial (exactly `.partial.` and 32 hex digits: the
/// digest side file of a file called `partial.x` is not one).
pub(crate) fn is_partial_name(name: &str) -> bool {
    name.strip_prefix(PARTIAL_PREFIX)
        .is_some_and(|id| id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The kept partials other than `keep`, oldest first, with their mtimes.
fn partials(cfg: &Config, st: &mut dyn Storage, keep: &str) -> Vec<(i64, String)> {
    let Ok(entries) = st.list_dir(&cfg.incoming_dir) else {
        return Vec::new();
    };
    let mut partials: Vec<(i64, String)> = entries
        .into_iter()
        .filter(|(n, s)| is_partial_name(n) && s.is_file && n != keep)
        .map(|(n, s)| (s.modified_unix, n))
        .collect();
    partials.sort();
    partials
}

/// Delete the given partials; one being continued right now is refused by the host
/// (`Busy`) and stays. Returns how many went.
fn remove_partials(cfg: &Config, st: &mut dyn Storage, names: Vec<String>) -> usize {
    names
        .into_iter()
        .filter(|name| st.remove_file(&cfg.path_of(name)).is_ok())
        .count()
}

/// Delete the oldest kept partials beyond `cfg.max_partials`, never `keep`.
pub(crate) fn prune_partials(cfg: &Config, st: &mut dyn Storage, keep: &str) -> usize {
    let partials = partials(cfg, st, keep);
    // `keep` itself counts towards the limit.
    let excess = (partials.len() + 1).saturating_sub(cfg.max_partials);
    let oldest = partials.into_iter().take(excess).map(|(_, n)| n).collect();
    remove_partials(cfg, st, oldest)
}

/// Delete the partials last written more than `cfg.partial_max_age_secs` before
/// `now_unix` (abandoned uploads), never `keep`, nor one whose time is not known.
pub(crate) fn expire_partials(
    cfg: &Config,
    st: &mut dyn Storage,
    keep: &str,
    now_unix: i64,
) -> usize {
    if cfg.partial_max_age_secs == 0 {
        return 0;
    }
    // An age past i64 (e.g. u64::MAX meant as "never") expires nothing.
    let age = i64::try_from(cfg.partial_max_age_secs).unwrap_or(i64::MAX);
    let cutoff = now_unix.saturating_sub(age);
    // An mtime of 0 is not known (an object store's listing gives none): such a
    // partial is never taken for abandoned; the host writes real ones.
    let expired = partials(cfg, st, keep)
        .into_iter()
        .filter(|(mtime, _)| *mtime > 0)
        .take_while(|(mtime, _)| *mtime < cutoff)
        .map(|(_, n)| n)
        .collect();
    remove_partials(cfg, st, expired)
}

/// The known digest of stored file `name`, open as `file`: the host's cache, or the
/// side file if it still matches the file.
pub(crate) fn load_sum(
    cfg: &Config,
    st: &mut dyn Storage,
    name: &str,
    file: FileId,
) -> Option<[u8; 32]> {
    sums::load(st, &cfg.path_of(name), file)
}

/// Remember `digest` for stored file `name` (best effort: without it, a `GET` simply
/// carries no digest).
pub(crate) fn store_sum(cfg: &Config, st: &mut dyn Storage, name: &str, digest: &[u8; 32]) {
    sums::store(st, &cfg.path_of(name), digest);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat() -> Stat {
        Stat {
            is_dir: false,
            is_file: true,
            size: 1,
            modified_unix: 0,
        }
    }

    #[test]
    fn v2_candidates_keep_the_extension() {
        assert_eq!(v2_candidate("a.pptx", 0), "a.pptx");
        assert_eq!(v2_candidate("a.pptx", 1), "a-1.pptx");
        assert_eq!(v2_candidate("archive.tar.gz", 2), "archive.tar-2.gz");
        assert_eq!(v2_candidate("README", 3), "README-3");
        let long = "é".repeat(127) + ".x";
        let c = v2_candidate(&long, 12);
        assert!(c.len() <= MAX_NAME && c.ends_with("-12.x"), "{c}");
    }

    #[test]
    fn v1_numbers_continue_after_the_highest() {
        assert_eq!(v1_first(&[]), 1);
        let entries = vec![
            ("v1-000007.bin".to_owned(), stat()),
            ("v1-000003.bin".to_owned(), stat()),
            ("v1-x.bin".to_owned(), stat()),
            ("other".to_owned(), stat()),
        ];
        assert_eq!(v1_first(&entries), 8);
        assert_eq!(v1_name(8), "v1-000008.bin");
    }

    #[test]
    fn partial_names_are_hidden() {
        assert_eq!(
            partial_name(&[0xab; 16]),
            format!(".partial.{}", "ab".repeat(16))
        );
        assert!(crate::codec::check_name(&partial_name(&[0; 16])).is_err());
    }
}
