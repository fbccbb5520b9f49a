//! The top-level `bus` section: the NATS connection that carries messages between
//! hosts (issue 22).
//!
//! ```ron
//! bus: Some((
//!     kind: nats,
//!     servers: ["nats://127.0.0.1:4222"],
//!     name: "host-a",                  // this host, in every message it publishes
//!     subject_prefix: "switchyard",    // every subject is under it (the default)
//!     user_env: "SY_NATS_USER", password_env: "SY_NATS_PASSWORD", // or token_env
//!     max_queued: 4096,                // messages waiting for NATS, at most
//!     streams: { "transcript": (subjects: ["chat.lines"]) }, // bus_streams.rs
//! )),
//! ```
//!
//! Read and checked in full, each problem at its place. Credentials are never in the
//! file: it names the environment variables to read (user and password, or a token),
//! which the host reads at start and at each reload. Routes to and from subjects:
//! `bus_routes.rs`.

use ron::value::RawValue;
use serde::Deserialize;
use switchyard_bus::{subject_problem, token_problem};

use super::collect::Diag;
use super::diagnostic::DiagnosticKind;
use super::model::{BusCredentials, BusSpec};
use super::raw;
use super::reader::{Fields, Reader};
use super::service_url::{UrlRules, url_problem};
use super::storages::{checked, env_name};

const FIELDS: &[&str] = &[
    "kind",
    "servers",
    "name",
    "subject_prefix",
    "user_env",
    "password_env",
    "token_env",
    "max_queued",
    "streams",
];
/// The prefix when none is given.
const DEFAULT_PREFIX: &str = "switchyard";
const WHAT: &str = "`bus`";
/// `max_queued` when none is given: a few seconds of a busy chat host's messages.
const DEFAULT_MAX_QUEUED: usize = 4096;

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Kind {
    Nats,
}

/// Read `bus`'s value (`Some((...))` or `None`).
pub(crate) fn read<'a>(r: &mut Reader<'a>, raw: &'a str) -> Option<BusSpec> {
    let inner = match raw::parse::<Option<&'a RawValue>>(raw) {
        Ok(None) => return None,
        Ok(Some(v)) => v.trim().get_ron(),
        Err(_) => {
            r.push(
                Diag::new(DiagnosticKind::BadValue, r.span(raw), "invalid `bus`")
                    .label("not `Some((...))` or `None`")
                    .help(Some("write `Some((kind: nats, servers: [\"nats://127.0.0.1:4222\"], name: \"host-a\"))`, or leave the field out".into())),
            );
            return None;
        }
    };
    read_spec(r, inner)
}

fn read_spec<'a>(r: &mut Reader<'a>, raw: &'a str) -> Option<BusSpec> {
    let f = r.open(raw, WHAT.into(), FIELDS)?;
    let kind = r
        .required(&f, "kind")
        .and_then(|k| r.value::<Kind>(k, "`kind` of `bus`"));
    let servers = read_servers(r, &f);
    let name = r.required(&f, "name").and_then(|raw| {
        let name = r.value::<String>(raw, "`name` of `bus`")?;
        checked(r, raw, WHAT, "name", token_problem(&name), name)
    });
    let prefix = match f.get("subject_prefix") {
        None => Some(DEFAULT_PREFIX.to_string()),
        Some(raw) => r
            .value::<String>(raw, "`subject_prefix` of `bus`")
            .and_then(|p| checked(r, raw, WHAT, "subject_prefix", subject_problem(&p), p)),
    };
    let credentials = read_credentials(r, &f);
    let max_queued = r
        .optional(&f, "max_queued", DEFAULT_MAX_QUEUED)
        .and_then(|n| match f.get("max_queued") {
            Some(raw) if n == 0 => {
                checked(r, raw, WHAT, "max_queued", Some("at least 1".into()), n)
            }
            _ => Some(n),
        });
    let streams = match f.get("streams") {
        None => Some(Vec::new()),
        Some(raw) => super::bus_streams::read(r, raw),
    };
    kind?;
    Some(BusSpec {
        servers: servers?,
        name: name?,
        subject_prefix: prefix?,
        credentials: credentials?,
        max_queued: max_queued?,
        streams: streams?,
    })
}

/// `servers`: a non-empty list of checked URLs, each problem at its item.
fn read_servers<'a>(r: &mut Reader<'a>, f: &Fields<'a>) -> Option<Vec<String>> {
    let raw = r.required(f, "servers")?;
    let seq = r.seq(raw, "`servers` of `bus`")?;
    if seq.items.is_empty() {
        let problem = Some("no server; write e.g. [\"nats://127.0.0.1:4222\"]".to_string());
        return checked(r, raw, WHAT, "servers", problem, Vec::new());
    }
    let mut servers = Some(Vec::new());
    for item in seq.items {
        let url = r
            .value::<String>(item, "a server of `bus`")
            .and_then(|u| checked(r, item, WHAT, "server", url_problem(&u, &SERVER_URL), u));
        match (url, servers.as_mut()) {
            (Some(url), Some(list)) => list.push(url),
            _ => servers = None,
        }
    }
    servers
}

/// A server URL: `nats://host[:port]` (or `tls://`), no user info (credentials come
/// from the environment), no path.
const SERVER_URL: UrlRules = UrlRules {
    schemes: &["nats", "tls"],
    scheme_rule: "the scheme must be `nats` (or `tls`)",
    example: "nats://127.0.0.1:4222",
    credentials_fields: "(`user_env`, `token_env`)",
    path_note: "",
};

/// `user_env` with `password_env`, or `token_env`, or none.
fn read_credentials<'a>(r: &mut Reader<'a>, f: &Fields<'a>) -> Option<BusCredentials> {
    let user = env_name(r, f, "user_env", WHAT);
    let password = env_name(r, f, "password_env", WHAT);
    let token = env_name(r, f, "token_env", WHAT);
    let both_kinds = token.is_some() && (user.is_some() || password.is_some());
    let half_pair = user.is_some() != password.is_some();
    if both_kinds || half_pair {
        let field = if both_kinds { "token_env" } else { "user_env" };
        let at = f
            .get(field)
            .or(f.get("password_env"))
            .and_then(|raw| r.span(raw));
        let message = if both_kinds {
            "`bus` gives both `token_env` and a user: NATS takes one or the other"
        } else {
            "`bus` names only one of `user_env` and `password_env`"
        };
        r.push(
            Diag::new(DiagnosticKind::BadValue, at, message)
                .label("here")
                .help(Some(
                    "give `user_env` and `password_env`, or `token_env`, or none".into(),
                )),
        );
        return None;
    }
    Some(match (user, password, token) {
        (Some(u), Some(p), _) => BusCredentials::UserPassword {
            user_env: u?,
            password_env: p?,
        },
        (_, _, Some(t)) => BusCredentials::Token { token_env: t? },
        _ => BusCredentials::None,
    })
}
