//! The `admin` listener's address and its token (`admin_token_env`), read and checked.
//!
//! Why the token comes from an environment variable the topology names, not inline:
//! topology files are committed, shared and printed in reports; a secret in them
//! leaks with them. `admin_token_env: Some("SWITCHYARD_ADMIN_TOKEN")` names the
//! variable; the host reads it at start and at each reload.
//!
//! An admin address that is not loopback is refused without a token: the console
//! shows peers, files and handler states, and its actions reload the topology.

use std::net::SocketAddr;
use std::ops::Range;

use super::collect::Diag;
use super::diagnostic::DiagnosticKind;
use super::reader::Reader;

/// The admin listener as written.
/// A value and where it is written (as `document::At`, which stands above this file).
#[derive(Debug, Clone)]
pub(crate) struct Spanned<T> {
    pub value: T,
    pub span: Option<Range<usize>>,
}

#[derive(Debug, Default)]
pub(crate) struct AdminDef {
    pub addr: Option<Spanned<SocketAddr>>,
    /// The name of the environment variable holding the token.
    pub token_env: Option<Spanned<String>>,
}

/// Read `admin` and `admin_token_env` (raw values of the top-level struct).
pub(crate) fn read<'a>(
    r: &mut Reader<'a>,
    admin: Option<&'a str>,
    token_env: Option<&'a str>,
) -> AdminDef {
    let mut def = AdminDef::default();
    if let Some(raw) = admin {
        def.addr = r
            .value::<Option<SocketAddr>>(raw, "`admin` (an address like \"127.0.0.1:9100\")")
            .flatten()
            .map(|value| Spanned {
                value,
                span: r.span(raw),
            });
    }
    if let Some(raw) = token_env {
        def.token_env = r
            .value::<Option<String>>(
                raw,
                "`admin_token_env` (the name of an environment variable, like \"SWITCHYARD_ADMIN_TOKEN\")",
            )
            .flatten()
            .map(|value| Spanned {
                value,
                span: r.span(raw),
            });
    }
    def
}

/// The token, read from the environment through `env`; every problem is a diagnostic
/// at the place it is written.
pub(crate) fn token(
    r: &mut Reader<'_>,
    def: &AdminDef,
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<String> {
    let token = def.token_env.as_ref().and_then(|name| {
        let value = env(&name.value).filter(|v| !v.trim().is_empty());
        if value.is_none() {
            r.push(
                Diag::new(
                    DiagnosticKind::BadValue,
                    name.span.clone(),
                    format!(
                        "`admin_token_env` names `{}`, which is not set (or empty) in the host's environment",
                        name.value
                    ),
                )
                .label("no token there")
                .help(Some(format!(
                    "export {}=<a long random string> before starting the host",
                    name.value
                ))),
            );
        }
        value
    });
    if let Some(addr) = &def.addr
        && !addr.value.ip().is_loopback()
        && def.token_env.is_none()
    {
        r.push(
            Diag::new(
                DiagnosticKind::BadValue,
                addr.span.clone(),
                format!(
                    "the admin listener `{}` is not on loopback and has no token",
                    addr.value
                ),
            )
            .label("reachable from other hosts")
            .help(Some(
                "add `admin_token_env: Some(\"SWITCHYARD_ADMIN_TOKEN\")` and set that variable, or bind `admin` to 127.0.0.1".into(),
            )),
        );
    }
    token
}
