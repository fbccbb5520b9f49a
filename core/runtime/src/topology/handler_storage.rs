//! A handler's storage fields: `root` (where its files are), `storage` (a named entry
//! of `storages` instead) and `symlinks` (whether links beneath the root are followed
//! inside it, `crate::storage::Symlinks`), read apart from the rest of the handler so
//! `document.rs` stays the format's outline.

use std::path::PathBuf;

use super::collect::{Diag, did_you_mean};
use super::diagnostic::DiagnosticKind;
use super::model::StorageBackend;
use super::raw;
use super::reader::{Fields, Reader};
use super::storages::StorageDef;
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

/// What a handler's `storage: "name"` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StorageRef {
    /// A `dir` storage: its path, the handler's root.
    Dir(PathBuf),
    /// An `s3` storage, by name (its plugin must be able to wait on storage).
    S3(String),
}

/// `storage: "name"`: the root of a `dir` storage (the caller places it at the
/// `storage` value, so later checks, such as nested roots, point there), or the name
/// of an `s3` storage. Refused, at the value: a name `storages` does not define, and a
/// handler that also has a `root`.
pub(crate) fn read_storage_ref<'a>(
    r: &mut Reader<'a>,
    raw: &'a str,
    what: &str,
    has_root: bool,
    storages: &[StorageDef],
) -> Option<StorageRef> {
    let name = r.value::<String>(raw, &format!("`storage` of {what}"))?;
    let span = r.span(raw);
    let refuse = |kind, message: String, label: &str, help: Option<String>| {
        Diag::new(kind, span.clone(), message)
            .label(label.to_string())
            .help(help)
    };
    if has_root {
        r.push(refuse(
            DiagnosticKind::BadValue,
            format!("{what} has both `root` and `storage`"),
            "a second place for its files",
            Some("keep one: `storage: \"name\"` or `root: Some(\"./data\")`".into()),
        ));
        return None;
    }
    let Some(def) = storages.iter().find(|s| s.name == name) else {
        let help = did_you_mean(&name, storages.iter().map(|s| s.name.as_str()))
            .or_else(|| Some("define it under the top-level `storages: { ... }`".into()));
        r.push(refuse(
            DiagnosticKind::UnknownStorage,
            format!("{what} uses storage `{name}`, which `storages` does not define"),
            "unknown storage",
            help,
        ));
        return None;
    };
    match def.backend.as_ref()? {
        StorageBackend::Dir(path) => Some(StorageRef::Dir(path.clone())),
        StorageBackend::S3(_) => Some(StorageRef::S3(name)),
    }
}
