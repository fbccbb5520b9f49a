//! The bus's connection options from the topology and the environment: the secrets are
//! read from the variables the topology names, at start and at each reload, so a
//! changed password is taken up by a reload.

use switchyard_bus::{BusOptions, Credentials};

use crate::topology::{BusCredentials, BusSpec};

/// Options to connect as `spec` says, or why not (a variable missing or not UTF-8).
pub fn options(spec: &BusSpec, env: impl Fn(&str) -> Option<String>) -> Result<BusOptions, String> {
    let read = |name: &str| {
        env(name)
            .ok_or_else(|| format!("environment variable `{name}` (named by `bus`) is not set"))
    };
    let credentials = match &spec.credentials {
        BusCredentials::None => Credentials::None,
        BusCredentials::UserPassword {
            user_env,
            password_env,
        } => Credentials::UserPassword {
            user: read(user_env)?,
            password: read(password_env)?,
        },
        BusCredentials::Token { token_env } => Credentials::Token(read(token_env)?),
    };
    let mut options = BusOptions::new(spec.servers.clone(), &spec.subject_prefix, &spec.name);
    options.credentials = credentials;
    // The client's own queue holds as many commands as the host's: a publish waits
    // there while NATS is away, so `max_queued` bounds both.
    options.client_capacity = spec.max_queued;
    Ok(options)
}

/// The process's environment, as [`options`] reads it.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(credentials: BusCredentials) -> BusSpec {
        BusSpec {
            servers: vec!["nats://127.0.0.1:4222".into()],
            name: "a".into(),
            subject_prefix: "sy".into(),
            credentials,
            max_queued: 16,
            streams: Vec::new(),
        }
    }

    #[test]
    fn secrets_come_from_the_named_variables_or_the_start_is_refused() {
        let env = |name: &str| (name == "U").then(|| "alice".to_string());
        let pair = BusCredentials::UserPassword {
            user_env: "U".into(),
            password_env: "P".into(),
        };
        let err = options(&spec(pair), env).unwrap_err();
        assert!(err.contains("`P`"), "{err}");
        let token = BusCredentials::Token {
            token_env: "U".into(),
        };
        let got = options(&spec(token), env).unwrap();
        assert_eq!(got.credentials, Credentials::Token("alice".into()));
        assert_eq!(got.client_capacity, 16);
        assert_eq!(
            options(&spec(BusCredentials::None), env)
                .unwrap()
                .credentials,
            Credentials::None
        );
    }
}
