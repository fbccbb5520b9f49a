//! The `storages` section and a handler's `storage`: what compiles, and every error at
//! its `file:line:col`.

use std::path::PathBuf;

use super::fake::{assert_at, compile_text, errors, only, pos};
use crate::topology::{DiagnosticKind, StorageBackend};

const S3: &str = r#"(kind: s3, endpoint: "http://127.0.0.1:8333", bucket: "switchyard")"#;

/// A `files` handler with `handler` as its storage fields and `storages` defined.
fn layout(storages: &str, handler: &str) -> String {
    format!(
        r#"(
    storages: {{ {storages} }},
    listeners: {{ "t": (kind: tcp, bind: "127.0.0.1:0") }},
    handlers: {{
        "files": (plugin: "files", {handler}),
    }},
    routes: [ (from: "t", to: "files") ],
)
"#
    )
}

#[test]
fn a_dir_storage_is_the_handlers_root_and_s3_storages_are_kept() {
    let storages = format!(
        r#""local": (kind: dir, path: "./data"), "shared": (kind: s3, endpoint: "https://s3.example.com", bucket: "my-bucket", prefix: "team/a/", region: "eu-west-1", access_key_env: "SY_KEY", secret_key_env: "SY_SECRET", path_style: false), "anon": {S3}"#
    );
    let t = compile_text(&layout(&storages, r#"storage: "local""#)).unwrap();
    assert_eq!(
        t.handlers[0].root,
        Some(PathBuf::from("/srv/switchyard/./data"))
    );
    assert_eq!(t.storages.len(), 3);
    assert_eq!(
        t.storages[0].backend,
        StorageBackend::Dir("/srv/switchyard/./data".into())
    );
    let StorageBackend::S3(s3) = &t.storages[1].backend else {
        panic!("{:?}", t.storages[1])
    };
    assert_eq!(
        (s3.bucket.as_str(), s3.prefix.as_str(), s3.region.as_str()),
        ("my-bucket", "team/a", "eu-west-1")
    );
    assert_eq!(s3.access_key_env.as_deref(), Some("SY_KEY"));
    assert!(!s3.path_style);
    let StorageBackend::S3(anon) = &t.storages[2].backend else {
        panic!()
    };
    assert!(anon.path_style && anon.access_key_env.is_none() && anon.region == "us-east-1");
}

#[test]
fn an_unknown_storage_is_reported_at_the_handlers_storage_value() {
    let text = layout(
        r#""local": (kind: dir, path: "./data")"#,
        r#"storage: "locl""#,
    );
    let e = errors(&text);
    let d = only(&e, DiagnosticKind::UnknownStorage);
    assert_at(&d, pos(&text, "\"locl\""));
    assert!(d.help.as_deref().unwrap().contains("local"), "{d:?}");
}

#[test]
fn a_handler_on_an_s3_storage_gets_a_private_spool_root_and_its_binding() {
    let text = layout(&format!(r#""shared": {S3}"#), r#"storage: "shared""#);
    let t = compile_text(&text).unwrap();
    let h = &t.handlers[0];
    let binding = h.object_storage.as_ref().expect("bound to the s3 storage");
    assert_eq!(binding.name, "shared");
    assert_eq!(binding.spec.bucket, "switchyard");
    let spool = h.root.as_ref().expect("a spool root");
    assert!(
        spool.starts_with(std::env::temp_dir()),
        "{}",
        spool.display()
    );
    assert!(spool.ends_with("shared"), "{}", spool.display());
}

#[test]
fn an_s3_storage_is_refused_to_a_plugin_whose_storage_calls_cannot_wait() {
    let text = format!(
        r#"(
    storages: {{ "shared": {S3} }},
    listeners: {{ "u": (kind: udp, bind: "127.0.0.1:0") }},
    handlers: {{ "e": (plugin: "echo", storage: "shared") }},
    routes: [ (from: "u", to: "e") ],
)
"#
    );
    let e = errors(&text);
    let d = only(&e, DiagnosticKind::UnsupportedStorage);
    assert_at(&d, pos(&text, "\"shared\")"));
    assert!(
        d.message
            .contains("plugin `echo` makes synchronous storage calls only"),
        "{}",
        d.message
    );
}

#[test]
fn create_dirs_on_an_s3_storage_is_refused() {
    let text = layout(
        &format!(r#""shared": {S3}"#),
        r#"storage: "shared", create_dirs: ["incoming"]"#,
    );
    let d = only(&errors(&text), DiagnosticKind::BadValue);
    assert_at(&d, pos(&text, "\"shared\","));
    assert!(
        d.message.contains("`create_dirs` on s3 storage"),
        "{}",
        d.message
    );
}

#[test]
fn root_and_storage_together_are_refused_at_the_storage_value() {
    let text = layout(
        r#""local": (kind: dir, path: "./data")"#,
        r#"root: Some("./other"), storage: "local""#,
    );
    let d = only(&errors(&text), DiagnosticKind::BadValue);
    assert_at(&d, pos(&text, "\"local\")"));
    assert!(
        d.message.contains("both `root` and `storage`"),
        "{}",
        d.message
    );
}

#[test]
fn a_missing_or_empty_or_invalid_bucket_is_reported() {
    let text = layout(r#""s": (kind: s3, endpoint: "http://h:1")"#, "");
    let d = only(&errors(&text), DiagnosticKind::MissingField);
    assert_at(&d, pos(&text, "(kind: s3"));
    assert!(d.message.contains("`bucket`"), "{}", d.message);
    for bucket in ["", "b", "Upper", "-x-"] {
        let text = layout(
            &format!(r#""s": (kind: s3, endpoint: "http://h:1", bucket: "{bucket}")"#),
            "",
        );
        let d = only(&errors(&text), DiagnosticKind::BadValue);
        assert_at(&d, pos(&text, &format!("\"{bucket}\")")));
        assert!(
            d.message.contains("invalid `bucket` of storage `s`"),
            "{}",
            d.message
        );
    }
}

#[test]
fn a_bad_endpoint_url_is_reported_at_its_value() {
    for endpoint in [
        "127.0.0.1:8333",
        "ftp://h",
        "http://h:1/bucket",
        "http://key:secret@h:1",
        "not a url",
    ] {
        let text = layout(
            &format!(r#""s": (kind: s3, endpoint: "{endpoint}", bucket: "bkt")"#),
            "",
        );
        let d = only(&errors(&text), DiagnosticKind::BadValue);
        assert_at(&d, pos(&text, &format!("\"{endpoint}\"")));
        assert!(
            d.message.contains("invalid `endpoint`"),
            "{endpoint}: {}",
            d.message
        );
    }
}

#[test]
fn prefixes_credentials_and_fields_of_the_other_kind_are_checked() {
    let text = layout(
        r#""s": (kind: s3, endpoint: "http://h:1", bucket: "bkt", prefix: "../up")"#,
        "",
    );
    assert_at(
        &only(&errors(&text), DiagnosticKind::BadValue),
        pos(&text, "\"../up\""),
    );
    let text = layout(
        r#""s": (kind: s3, endpoint: "http://h:1", bucket: "bkt", access_key_env: "K")"#,
        "",
    );
    let d = only(&errors(&text), DiagnosticKind::MissingField);
    assert!(d.message.contains("only one of"), "{}", d.message);
    let text = layout(
        r#""s": (kind: s3, endpoint: "http://h:1", bucket: "bkt", secret_key_env: "1BAD", access_key_env: "K")"#,
        "",
    );
    assert_at(
        &only(&errors(&text), DiagnosticKind::BadValue),
        pos(&text, "\"1BAD\""),
    );
    let text = layout(r#""d": (kind: dir, path: "./x", bucket: "bkt")"#, "");
    let d = only(&errors(&text), DiagnosticKind::UnknownField);
    assert_at(&d, pos(&text, "bucket"));
    let text = layout(r#""d": (kind: ftp)"#, "");
    assert_at(
        &only(&errors(&text), DiagnosticKind::BadValue),
        pos(&text, "ftp"),
    );
}

#[test]
fn a_handler_naming_a_broken_storage_gets_no_second_error() {
    let text = layout(
        r#""s": (kind: s3, endpoint: "nope", bucket: "bkt")"#,
        r#"storage: "s""#,
    );
    let e = errors(&text);
    assert_eq!(e.len(), 1, "{e}");
}
