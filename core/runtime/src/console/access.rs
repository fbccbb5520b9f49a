//! Who may read the console and who may act through it, as pure checks on a
//! request's headers (unit-tested without a server).
//!
//! - Reading (`GET`) needs the token when the admin listener is bound to a
//!   non-loopback address: anyone who can reach it could otherwise watch. On
//!   loopback, reading is open like `/metrics` always was. The check is on the
//!   listener's address, not the peer's: a reverse proxy on the same host would make
//!   every remote peer look local.
//! - Acting (`POST`) always needs the token, loopback or not, and an `Origin` header,
//!   when a browser sends one, naming this very listener (`Host`): a page elsewhere
//!   can neither send the token nor pass the origin check, so no cross-site request
//!   triggers an action.
//!
//! The token is accepted as `Authorization: Bearer <token>` or as the password of
//! `Authorization: Basic` (any user name), which a browser asks for itself after a
//! `401` with `WWW-Authenticate: Basic`.

use base64::Engine as _;

/// The token and where the listener is, as the topology gives them.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct AccessPolicy {
    /// The admin token (read from the environment variable `admin_token_env` names).
    pub token: Option<String>,
    /// The admin listener is bound to a loopback address.
    pub loopback: bool,
}

/// Why a request is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No or a wrong token: `401` (a browser then asks for the password).
    Unauthorized,
    /// Actions need a token and none is configured: `403`.
    NoTokenConfigured,
    /// `Origin` names another site: `403`.
    ForeignOrigin,
}

impl Refusal {
    /// The text of the refusal, for the answer's body.
    pub fn text(self) -> &'static str {
        match self {
            Refusal::Unauthorized => {
                "unauthorized: send the admin token (Authorization: Bearer <token>, or as the Basic password)\n"
            }
            Refusal::NoTokenConfigured => {
                "forbidden: actions need an admin token (`admin_token_env` in the topology)\n"
            }
            Refusal::ForeignOrigin => "forbidden: the request's Origin is not this console\n",
        }
    }
}

impl std::fmt::Debug for AccessPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessPolicy")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("loopback", &self.loopback)
            .finish()
    }
}

impl AccessPolicy {
    /// Whether reading needs the token.
    pub fn read_needs_token(&self) -> bool {
        self.token.is_some() && !self.loopback
    }

    /// May a `GET` with this `Authorization` header read?
    pub fn check_read(&self, authorization: Option<&str>) -> Result<(), Refusal> {
        match &self.token {
            Some(token) if !self.loopback && !token_matches(authorization, token) => {
                Err(Refusal::Unauthorized)
            }
            _ => Ok(()),
        }
    }

    /// May a `POST` with these headers act?
    pub fn check_action(
        &self,
        authorization: Option<&str>,
        origin: Option<&str>,
        host: Option<&str>,
    ) -> Result<(), Refusal> {
        let Some(token) = &self.token else {
            return Err(Refusal::NoTokenConfigured);
        };
        if !origin_is_host(origin, host) {
            return Err(Refusal::ForeignOrigin);
        }
        if !token_matches(authorization, token) {
            return Err(Refusal::Unauthorized);
        }
        Ok(())
    }
}

/// `Origin` absent (not a browser, or a same-origin GET), or `http(s)://<Host>`.
fn origin_is_host(origin: Option<&str>, host: Option<&str>) -> bool {
    let Some(origin) = origin else {
        return true;
    };
    let Some(host) = host else {
        return false;
    };
    let rest = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    rest.is_some_and(|h| h.eq_ignore_ascii_case(host))
}

/// The header carries `token`, as a bearer token or a Basic password.
fn token_matches(authorization: Option<&str>, token: &str) -> bool {
    let Some(value) = authorization.map(str::trim) else {
        return false;
    };
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    let given = if scheme.eq_ignore_ascii_case("bearer") {
        rest.trim().as_bytes().to_vec()
    } else if scheme.eq_ignore_ascii_case("basic") {
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(rest.trim()) else {
            return false;
        };
        match decoded.iter().position(|&b| b == b':') {
            Some(colon) => decoded[colon + 1..].to_vec(),
            None => return false,
        }
    } else {
        return false;
    };
    constant_time_eq(&given, token.as_bytes())
}

/// Compare without an early exit, so the time taken says nothing of where they differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(token: Option<&str>, loopback: bool) -> AccessPolicy {
        AccessPolicy {
            token: token.map(Into::into),
            loopback,
        }
    }

    #[test]
    fn reading_needs_the_token_only_off_loopback() {
        assert_eq!(policy(Some("s3cret"), true).check_read(None), Ok(()));
        assert_eq!(policy(None, true).check_read(None), Ok(()));
        let open = policy(Some("s3cret"), false);
        assert_eq!(open.check_read(None), Err(Refusal::Unauthorized));
        assert_eq!(
            open.check_read(Some("Bearer wrong")),
            Err(Refusal::Unauthorized)
        );
        assert_eq!(open.check_read(Some("Bearer s3cret")), Ok(()));
        // `any:s3cret` in base64: a browser's Basic prompt, any user name.
        assert_eq!(open.check_read(Some("Basic YW55OnMzY3JldA==")), Ok(()));
        assert_eq!(
            open.check_read(Some("Basic s3cret")),
            Err(Refusal::Unauthorized)
        );
    }

    #[test]
    fn actions_need_a_token_and_a_same_origin() {
        let host = Some("127.0.0.1:9100");
        let auth = Some("Bearer t");
        assert_eq!(
            policy(None, true).check_action(auth, None, host),
            Err(Refusal::NoTokenConfigured)
        );
        let p = policy(Some("t"), true);
        assert_eq!(p.check_action(None, None, host), Err(Refusal::Unauthorized));
        assert_eq!(p.check_action(auth, None, host), Ok(()));
        assert_eq!(
            p.check_action(auth, Some("http://127.0.0.1:9100"), host),
            Ok(())
        );
        assert_eq!(
            p.check_action(auth, Some("http://evil.example"), host),
            Err(Refusal::ForeignOrigin)
        );
        assert_eq!(
            p.check_action(auth, Some("null"), host),
            Err(Refusal::ForeignOrigin)
        );
        assert_eq!(
            p.check_action(auth, Some("http://127.0.0.1:9100"), None),
            Err(Refusal::ForeignOrigin)
        );
    }
}
