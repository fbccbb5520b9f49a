//! The top-level `storages:` section: named storage backends a handler can use with
//! `storage: "name"` instead of `root:`.
//!
//! ```ron
//! storages: {
//!     "local": (kind: dir, path: "./data"),
//!     "shared": (kind: s3, endpoint: "http://127.0.0.1:8333", bucket: "switchyard",
//!                prefix: "files/", region: "us-east-1", path_style: true,
//!                access_key_env: "SY_S3_KEY", secret_key_env: "SY_S3_SECRET"),
//! }
//! ```
//!
//! A `dir` storage is exactly a `root:` (the handler gets its path as its root). An
//! `s3` storage is read and checked in full, so operators can prepare topologies, but
//! no handler can use one until the storage calls of the ABI can wait (issue 21).
//! Credentials are never in the file: it names the environment variables to read.

use std::path::PathBuf;

use serde::Deserialize;

use super::collect::Diag;
use super::diagnostic::DiagnosticKind;
use super::model::{S3StorageSpec, StorageBackend};
use super::reader::{Fields, Reader};
use super::service_url::{UrlRules, url_problem};

const STORAGE_FIELDS: &[&str] = &[
    "kind",
    "path",
    "endpoint",
    "bucket",
    "prefix",
    "region",
    "access_key_env",
    "secret_key_env",
    "path_style",
];
const DIR_FIELDS: &[&str] = &["kind", "path"];
/// The signing region when none is given (stores that ignore regions accept it).
const DEFAULT_REGION: &str = "us-east-1";

/// One entry of `storages`, as read. `backend` is `None` when it had errors (already
/// reported), so a handler naming it gets no second diagnostic.
#[derive(Debug)]
pub(crate) struct StorageDef {
    pub name: String,
    pub backend: Option<StorageBackend>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Kind {
    Dir,
    S3,
}

/// Read storage `name` from its value text.
pub(crate) fn read<'a>(r: &mut Reader<'a>, name: String, raw: &'a str) -> StorageDef {
    let what = format!("storage `{name}`");
    let backend = read_backend(r, raw, &what);
    StorageDef { name, backend }
}

fn read_backend<'a>(r: &mut Reader<'a>, raw: &'a str, what: &str) -> Option<StorageBackend> {
    let f = r.open(raw, what.into(), STORAGE_FIELDS)?;
    let kind_raw = r.required(&f, "kind")?;
    let kind = r.value::<Kind>(kind_raw, &format!("`kind` of {what}"))?;
    let before = r.diags.0.len();
    let backend = match kind {
        Kind::Dir => {
            refuse_fields(r, &f, what, |n| !DIR_FIELDS.contains(&n), "`s3`");
            let path = r.required(&f, "path")?;
            StorageBackend::Dir(r.value::<PathBuf>(path, &format!("`path` of {what}"))?)
        }
        Kind::S3 => {
            refuse_fields(r, &f, what, |n| n == "path", "`dir`");
            StorageBackend::S3(read_s3(r, &f, what)?)
        }
    };
    (r.diags.0.len() == before).then_some(backend)
}

/// Fields of the other kind, each reported at its name.
fn refuse_fields(
    r: &mut Reader<'_>,
    f: &Fields<'_>,
    what: &str,
    foreign: impl Fn(&str) -> bool,
    other: &str,
) {
    for (name, _) in f
        .fields
        .iter()
        .filter(|(n, _)| foreign(n) && STORAGE_FIELDS.contains(n))
    {
        r.push(
            Diag::new(
                DiagnosticKind::UnknownField,
                r.span(name),
                format!("field `{name}` of {what} belongs to {other} storages"),
            )
            .label("not for this kind"),
        );
    }
}

fn read_s3<'a>(r: &mut Reader<'a>, f: &Fields<'a>, what: &str) -> Option<S3StorageSpec> {
    let endpoint = r.required(f, "endpoint").and_then(|raw| {
        let text = r.value::<String>(raw, &format!("`endpoint` of {what}"))?;
        checked(
            r,
            raw,
            what,
            "endpoint",
            url_problem(&text, &ENDPOINT_URL),
            text,
        )
    });
    let bucket = r.required(f, "bucket").and_then(|raw| {
        let text = r.value::<String>(raw, &format!("`bucket` of {what}"))?;
        checked(r, raw, what, "bucket", bucket_problem(&text), text)
    });
    let prefix = match f.get("prefix") {
        None => Some(String::new()),
        Some(raw) => r
            .value::<String>(raw, &format!("`prefix` of {what}"))
            .and_then(|p| checked(r, raw, what, "prefix", prefix_problem(&p), p)),
    };
    let region = r.optional(f, "region", DEFAULT_REGION.to_string());
    let path_style = r.optional(f, "path_style", true);
    let key = env_name(r, f, "access_key_env", what);
    let secret = env_name(r, f, "secret_key_env", what);
    if key.is_some() != secret.is_some() {
        r.push(
            Diag::new(
                DiagnosticKind::MissingField,
                f.open.clone(),
                format!("{what} names only one of `access_key_env` and `secret_key_env`"),
            )
            .label("both or neither")
            .help(Some(
                "give both for signed requests, or neither for anonymous access".into(),
            )),
        );
    }
    Some(S3StorageSpec {
        endpoint: endpoint?,
        bucket: bucket?,
        prefix: prefix?.trim_end_matches('/').to_string(),
        region: region?,
        access_key_env: key.flatten(),
        secret_key_env: secret.flatten(),
        path_style: path_style?,
    })
}

/// `Some(Some(name))` for a valid variable name, `Some(None)` when absent.
pub(super) fn env_name<'a>(
    r: &mut Reader<'a>,
    f: &Fields<'a>,
    field: &str,
    what: &str,
) -> Option<Option<String>> {
    let raw = f.get(field)?;
    let name = r.value::<String>(raw, &format!("`{field}` of {what}"))?;
    let valid = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    let problem =
        (!valid).then(|| "not an environment variable name (letters, digits, `_`)".to_string());
    Some(checked(r, raw, what, field, problem, name))
}

/// `value`, or a diagnostic at `raw` saying what is wrong with it.
pub(super) fn checked<T>(
    r: &mut Reader<'_>,
    raw: &str,
    what: &str,
    field: &str,
    problem: Option<String>,
    value: T,
) -> Option<T> {
    let Some(problem) = problem else {
        return Some(value);
    };
    r.push(
        Diag::new(
            DiagnosticKind::BadValue,
            r.span(raw),
            format!("invalid `{field}` of {what}: {problem}"),
        )
        .label("this value"),
    );
    None
}

/// An endpoint URL: `http(s)://host[:port]`, the bucket and prefix being fields of
/// their own, and credentials never in the file.
const ENDPOINT_URL: UrlRules = UrlRules {
    schemes: &["http", "https"],
    scheme_rule: "the scheme must be `http` or `https`",
    example: "http://127.0.0.1:8333",
    credentials_fields: "(`access_key_env`)",
    path_note: ": `bucket` and `prefix` are fields",
};

/// S3's bucket naming rules: 3 to 63 of `a-z 0-9 . -`, starting and ending with a
/// letter or digit (SeaweedFS answers `NoSuchBucket` for `b`, so the file says it).
fn bucket_problem(bucket: &str) -> Option<String> {
    if bucket.is_empty() {
        return Some("empty bucket name".into());
    }
    let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let ok = (3..=63).contains(&bucket.len())
        && bucket
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        && edge_ok(bucket.chars().next())
        && edge_ok(bucket.chars().last());
    (!ok).then(|| {
        "3 to 63 of `a-z`, `0-9`, `.`, `-`, starting and ending with a letter or digit".into()
    })
}

/// A prefix is a name (relative, no empty, `.` or `..` component), trailing `/` allowed.
fn prefix_problem(prefix: &str) -> Option<String> {
    let body = prefix.strip_suffix('/').unwrap_or(prefix);
    if body.is_empty() {
        return None;
    }
    let bad = body.starts_with('/')
        || body.contains('\\')
        || body
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..");
    bad.then(|| "relative, without empty, `.` or `..` components (it must not escape the bucket's namespace)".into())
}
