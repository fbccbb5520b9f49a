//! A listener's `bind` and `dual_stack`: the text read, then host names resolved.
//!
//! `bind` is a literal `ip:port` (IPv6 in brackets) or `host:port`. A host name is
//! resolved when the topology is compiled, i.e. at `serve` start, at every reload and by
//! `validate`, and each address it resolves to is bound: `localhost:69` serves
//! 127.0.0.1 and ::1 alike when the machine resolves it to both, as clients that try
//! each address of a name expect. Resolution is std's blocking `getaddrinfo`: fine here,
//! on the host's main thread before anything is bound, and never on a handler thread
//! (a slow resolver delays a start or a reload, never a datagram).
//!
//! This file reads the text; `resolution.rs` turns host names into addresses.

use std::net::SocketAddr;

use super::collect::Diag;
use super::diagnostic::DiagnosticKind;
use super::reader::{Fields, Reader};

/// A `bind` value as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BindAddr {
    /// `ip:port`: bound exactly as written, no resolver involved.
    Literal(SocketAddr),
    /// `host:port`: bound at every address the host name resolves to.
    Host { name: String, port: u16 },
}

/// Why a `bind` text is neither `ip:port` nor `host:port`.
fn parse(text: &str) -> Result<BindAddr, String> {
    let literal = match text.parse::<SocketAddr>() {
        Ok(addr) => return Ok(BindAddr::Literal(addr)),
        Err(err) => err,
    };
    let Some((host, port)) = text.rsplit_once(':') else {
        return Err("no `:port`".into());
    };
    // A colon or bracket left in the host part: an IPv6 literal gone wrong, say so.
    if host.contains([':', '[', ']']) {
        return Err(literal.to_string());
    }
    let port: u16 = port
        .parse()
        .map_err(|_| format!("port `{port}` is not a number from 0 to 65535"))?;
    if !is_host_name(host) {
        return Err(format!("`{host}` is neither an IP address nor a host name"));
    }
    Ok(BindAddr::Host {
        name: host.to_owned(),
        port,
    })
}

/// RFC 1123 host name: dot-separated labels of letters, digits and `-` (not at either
/// end of a label), 253 characters at most. A last label of digits only is refused: it
/// is a mistyped IPv4 address (`127.1`), which getaddrinfo would otherwise take.
fn is_host_name(host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host);
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(label_ok)
        && !host
            .rsplit('.')
            .next()
            .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
}

/// Read `bind` (field value `raw` of the listener `f`).
pub(crate) fn read_bind<'a>(r: &mut Reader<'a>, f: &Fields<'a>, raw: &'a str) -> Option<BindAddr> {
    let text: String = r.value(raw, &format!("`bind` in {}", f.what))?;
    match parse(&text) {
        Ok(bind) => Some(bind),
        Err(reason) => {
            r.push(
                Diag::new(
                    DiagnosticKind::BadAddress,
                    r.span(raw),
                    format!("invalid bind address `{text}` in {}: {reason}", f.what),
                )
                .label("not ip:port or host:port")
                .help(Some(
                    "write `ip:port` or `host:port`, e.g. \"127.0.0.1:7007\", \"[::1]:7007\" or \"localhost:7007\" (port 0 = any free port)".into(),
                )),
            );
            None
        }
    }
}

/// Read `dual_stack` (default off) and check it against the `bind` read: only an IPv6
/// address can be dual stack. False when absent, false or refused.
pub(crate) fn read_dual_stack<'a>(
    r: &mut Reader<'a>,
    f: &Fields<'a>,
    bind: Option<&BindAddr>,
) -> bool {
    let raw = f.get("dual_stack");
    let on = r.optional(f, "dual_stack", false).unwrap_or(false);
    let refusal = match bind {
        _ if !on => return false,
        Some(BindAddr::Literal(SocketAddr::V6(_))) | None => return on,
        Some(BindAddr::Literal(v4 @ SocketAddr::V4(_))) => (
            format!(
                "`dual_stack` in {} needs an IPv6 address; `{v4}` is IPv4",
                f.what
            ),
            format!(
                "bind \"[::]:{}\" with `dual_stack: true` to take IPv4 and IPv6 on one socket, or drop `dual_stack`",
                v4.port()
            ),
        ),
        Some(BindAddr::Host { name, port }) => (
            format!(
                "`dual_stack` in {} needs an IPv6 address, not the host name `{name}`",
                f.what
            ),
            format!(
                "a host name already binds every address it resolves to; for one socket taking both families bind \"[::]:{port}\" with `dual_stack: true`"
            ),
        ),
    };
    r.push(
        Diag::new(
            DiagnosticKind::BadValue,
            raw.and_then(|raw| r.span(raw)),
            refusal.0,
        )
        .label("only for an IPv6 address")
        .help(Some(refusal.1)),
    );
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(name: &str, port: u16) -> BindAddr {
        BindAddr::Host {
            name: name.into(),
            port,
        }
    }

    #[test]
    fn literals_stay_literal_and_names_keep_their_port() {
        assert_eq!(
            parse("127.0.0.1:7"),
            Ok(BindAddr::Literal("127.0.0.1:7".parse().unwrap()))
        );
        assert_eq!(
            parse("[fe80::1%2]:9"),
            Ok(BindAddr::Literal("[fe80::1%2]:9".parse().unwrap()))
        );
        assert_eq!(parse("localhost:6969"), Ok(host("localhost", 6969)));
        assert_eq!(parse("my-host.example.:0"), Ok(host("my-host.example.", 0)));
    }

    #[test]
    fn what_is_neither_is_refused_with_the_reason() {
        assert_eq!(parse("localhost"), Err("no `:port`".into()));
        assert_eq!(
            parse("localhost:70000"),
            Err("port `70000` is not a number from 0 to 65535".into())
        );
        assert_eq!(parse("::1:80"), Err("invalid socket address syntax".into()));
        assert_eq!(
            parse("[::1]x:80"),
            Err("invalid socket address syntax".into())
        );
        for bad in [
            "127.1:80",
            "1.2.3.4.5:80",
            "-a.example:1",
            "a..b:1",
            "a b:1",
            ":80",
        ] {
            let err = parse(bad).unwrap_err();
            assert!(
                err.contains("neither an IP address nor a host name"),
                "{bad}: {err}"
            );
        }
        assert!(parse(&format!("{}:1", "a".repeat(64))).is_err());
    }
}
