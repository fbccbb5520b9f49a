//! Handlers on an `s3` storage: their plugin must be able to wait on storage, and
//! their local spool directory.
//!
//! Why a spool: the host serves an object's bytes with the same zero-copy paths as a
//! dir's (`sendfile`, batched datagrams from a file range) by bringing a version of
//! the object into a local file first, and uploads arrive in a local temp before they
//! become a multipart upload at commit (docs/decisions/object-store-spool.md). So an
//! `s3` handler has a root, a private one: never the operator's, never served as is.

use std::path::PathBuf;

use super::catalog::PluginDescription;
use super::collect::Diag;
use super::diagnostic::DiagnosticKind;
use super::document::Document;
use super::model::{S3Binding, StorageBackend};
use super::reader::Reader;
use super::storages::StorageDef;

/// A handler on an `s3` storage whose plugin makes synchronous storage calls only:
/// refused at its `storage` value (such a plugin would block its thread on every
/// round trip, or fail on the first one).
pub(crate) fn check(r: &mut Reader<'_>, doc: &Document<'_>, plugins: &[Option<PluginDescription>]) {
    for (h, plugin) in doc.handlers.iter().zip(plugins) {
        let (Some(storage), Some(plugin)) = (&h.object_storage, plugin) else {
            continue;
        };
        if !plugin.storage_waits {
            r.push(
                Diag::new(
                    DiagnosticKind::UnsupportedStorage,
                    storage.span.clone(),
                    format!(
                        "handler `{}` uses s3 storage `{}`, but plugin `{}` makes synchronous storage calls only",
                        h.name.value, storage.value, plugin.name
                    ),
                )
                .label("an s3 storage")
                .help(Some(
                    "serve it from a `dir` storage or a `root`, or rebuild the plugin with an SDK whose storage can wait (`STORAGE_WAITS`)".into(),
                )),
            );
        }
        if !h.create_dirs.is_empty() {
            r.push(
                Diag::new(
                    DiagnosticKind::BadValue,
                    storage.span.clone(),
                    format!(
                        "handler `{}` has `create_dirs` on s3 storage `{}`",
                        h.name.value, storage.value
                    ),
                )
                .label("directories of an object store are name prefixes")
                .help(Some(
                    "remove `create_dirs`: a name like `incoming/x` needs no directory".into(),
                )),
            );
        }
    }
}

/// The spool directory of `s3` storage `name`: private to this user, shared by the
/// handlers (and host processes) on the storage; temps name their writer, so one
/// host's start never sweeps another's.
pub(crate) fn spool_dir(name: &str) -> PathBuf {
    let uid = rustix::process::getuid().as_raw();
    std::env::temp_dir()
        .join(format!("switchyard-spool-{uid}"))
        .join(name)
}

/// The `s3` storage `name` as a handler is bound to it.
pub(crate) fn binding(storages: &[StorageDef], name: &str) -> Option<S3Binding> {
    let def = storages.iter().find(|s| s.name == name)?;
    match def.backend.as_ref()? {
        StorageBackend::S3(spec) => Some(S3Binding {
            name: name.to_owned(),
            spec: spec.clone(),
        }),
        StorageBackend::Dir(_) => None,
    }
}
