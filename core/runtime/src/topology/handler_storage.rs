//! A handler's storage fields: `root` (where its files are) and `symlinks` (whether
//! links beneath the root are followed inside it, `crate::storage::Symlinks`), read
//! apart from the rest of the handler so `document.rs` stays the format's outline.

use std::path::PathBuf;

use super::collect::Diag;
use super::diagnostic::DiagnosticKind;
use super::raw;
use super::reader::{Fields, Reader};
use crate::storage::Symlinks;

/// `Some("path")`, `None`, or (leniently) a bare `"path"`.
pub(crate) fn read_root(r: &mut Reader<'_>, raw: &str, what: &str) -> Option<PathBuf> {
    if let Ok(root) = raw::parse::<Option<PathBuf>>(raw) {
        return root;
    }
    if let Ok(root) = raw::parse::<PathBuf>(raw) {
        return Some(root);
    }
    r.push(
        Diag::new(
            DiagnosticKind::BadValue,
            r.span(raw),
            format!("invalid `root` of {what}"),
        )
        .label("not a path")
        .help(Some("write `Some(\"./data\")` or `None`".into())),
    );
    None
}

/// `symlinks: follow_inside | refuse`, if given. A handler without a `root` has no
/// links to follow: the field is refused there, at its value, rather than ignored.
pub(crate) fn read_symlinks<'a>(
    r: &mut Reader<'a>,
    f: &Fields<'a>,
    has_root: bool,
    what: &str,
) -> Option<Symlinks> {
    let raw = f.get("symlinks")?;
    let value = r.value::<Symlinks>(raw, &format!("`symlinks` of {what}"))?;
    let span = r.span(raw);
    if !has_root {
        r.push(
            Diag::new(
                DiagnosticKind::BadValue,
                span,
                format!("`symlinks` of {what} needs a `root`"),
            )
            .label("no storage root to follow links in")
            .help(Some(
                "give the handler `root: Some(\"./data\")`, or remove `symlinks`".into(),
            )),
        );
        return None;
    }
    Some(value)
}
