//! The handler's `config: (...)` section, with safe defaults.
//!
//! Every field has a default so that `config: ()` serves seed visitors at once. Agents
//! are off until an `agent_secret` is configured: no secret, no anonymous agents.

use serde::Deserialize;

/// Chat configuration, as written in the topology.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Largest accepted datagram, in bytes. Larger ones get an error reply, never
    /// truncation. 1024 matches the seed client's receive buffer, so nothing we
    /// relay to it can be cut either.
    pub max_datagram: usize,
    /// Sent to a visitor when no agent is online.
    pub auto_reply: String,
    /// Sent to a visitor whose message no agent answered within `answer_timeout_secs`,
    /// so that a client waiting for one reply (the seed) never hangs.
    pub busy_reply: String,
    pub answer_timeout_secs: u64,
    /// A session (visitor or agent) silent this long is forgotten.
    pub idle_timeout_secs: u64,
    /// Shared secret of the `/agent SECRET` handshake; `None` disables agents.
    pub agent_secret: Option<String>,
    /// Per-source token bucket: sustained datagrams per second...
    pub rate_per_sec: u32,
    /// ...and burst size.
    pub burst: u32,
    /// Sessions (distinct source addresses) at once; further sources are refused.
    pub max_sessions: usize,
    pub max_rooms: usize,
    pub max_room_members: usize,
    /// Failed `/agent` attempts after which a source may not try again (until it expires).
    pub max_auth_failures: u32,
    /// Rooms and the support desk across the hosts of a cluster bus (the topology's
    /// `bus`); `None`: this host alone.
    pub cluster: Option<ClusterConfig>,
}

/// The chat across hosts (`crate::wire` says what goes over the bus).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterConfig {
    /// The bus subjects' stem (`<subject>.desk`, `<subject>.room.<room>`,
    /// `<subject>.presence`): chats that should meet share it.
    pub subject: String,
    /// The key-value bucket of visitor claims (exactly one agent of the cluster holds a
    /// visitor).
    pub claims_bucket: String,
    /// A host not heard from this long is gone: its room members leave and its agents'
    /// visitors go back to the queue; a claim not renewed this long expires. Hosts
    /// send their presence every third of it.
    pub presence_secs: u64,
}

impl Default for ClusterConfig {
    fn default() -> ClusterConfig {
        ClusterConfig {
            subject: "chat".into(),
            claims_bucket: "chat-claims".into(),
            presence_secs: 15,
        }
    }
}

impl ClusterConfig {
    fn validate(&self) -> Result<(), String> {
        let token_ok = |t: &str| {
            !t.is_empty()
                && t.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
        };
        if !self.subject.split('.').all(token_ok) {
            return Err(format!(
                "cluster.subject: {:?}: dotted words of letters, digits, `_` and `-`",
                self.subject
            ));
        }
        if !token_ok(&self.claims_bucket) {
            return Err(format!(
                "cluster.claims_bucket: {:?}: letters, digits, `_` and `-`",
                self.claims_bucket
            ));
        }
        if !(3..=3600).contains(&self.presence_secs) {
            return Err("cluster.presence_secs: between 3 and 3600".into());
        }
        Ok(())
    }
}

impl Default for Config {
    fn default() -> Config {
        Config {
            max_datagram: 1024,
            auto_reply:
                "Thanks for your message. No agent is online right now; please try again later."
                    .into(),
            busy_reply:
                "All our agents are busy; your message is queued and an agent will answer soon."
                    .into(),
            answer_timeout_secs: 30,
            idle_timeout_secs: 300,
            agent_secret: None,
            rate_per_sec: 20,
            burst: 40,
            max_sessions: 10_000,
            max_rooms: 1_000,
            max_room_members: 10_000,
            max_auth_failures: 5,
            cluster: None,
        }
    }
}

impl Config {
    /// Refuse values that would make the service unsafe or useless.
    pub fn validate(&self) -> Result<(), String> {
        if !(32..=65_507).contains(&self.max_datagram) {
            return Err("max_datagram: between 32 and 65507 bytes".into());
        }
        for (name, text) in [
            ("auto_reply", &self.auto_reply),
            ("busy_reply", &self.busy_reply),
        ] {
            if text.trim().is_empty() || text.len() > self.max_datagram {
                return Err(format!(
                    "{name}: must be non-empty and at most max_datagram bytes"
                ));
            }
        }
        if self.answer_timeout_secs == 0 || self.idle_timeout_secs == 0 {
            return Err("answer_timeout_secs and idle_timeout_secs: at least 1".into());
        }
        if let Some(secret) = &self.agent_secret {
            if secret.len() < 8 || secret.chars().any(char::is_whitespace) {
                return Err("agent_secret: at least 8 characters, no whitespace".into());
            }
        }
        if self.rate_per_sec == 0 || self.burst == 0 {
            return Err("rate_per_sec and burst: at least 1".into());
        }
        if self.max_sessions == 0 || self.max_rooms == 0 || self.max_room_members == 0 {
            return Err("max_sessions, max_rooms and max_room_members: at least 1".into());
        }
        self.cluster
            .as_ref()
            .map_or(Ok(()), ClusterConfig::validate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_sdk::parse_config;

    #[test]
    fn empty_config_is_valid_defaults() {
        let c: Config = parse_config("").unwrap();
        assert_eq!(c, Config::default());
        assert!(c.validate().is_ok());
        assert_eq!(c.agent_secret, None, "agents are off by default");
    }

    #[test]
    fn unknown_field_is_refused() {
        let err = parse_config::<Config>("(max_datagam: 10)").unwrap_err();
        assert!(err.message.contains("max_datagam"), "{err:?}");
    }

    #[test]
    fn unsafe_values_are_refused() {
        let bad = [
            Config {
                max_datagram: 10,
                ..Config::default()
            },
            Config {
                max_datagram: 70_000,
                ..Config::default()
            },
            Config {
                auto_reply: " ".into(),
                ..Config::default()
            },
            Config {
                agent_secret: Some("short".into()),
                ..Config::default()
            },
            Config {
                agent_secret: Some("has space in".into()),
                ..Config::default()
            },
            Config {
                rate_per_sec: 0,
                ..Config::default()
            },
            Config {
                idle_timeout_secs: 0,
                ..Config::default()
            },
            Config {
                max_sessions: 0,
                ..Config::default()
            },
            Config {
                cluster: Some(ClusterConfig {
                    subject: "chat.*".into(),
                    ..ClusterConfig::default()
                }),
                ..Config::default()
            },
            Config {
                cluster: Some(ClusterConfig {
                    presence_secs: 1,
                    ..ClusterConfig::default()
                }),
                ..Config::default()
            },
        ];
        for c in bad {
            assert!(c.validate().is_err(), "{c:?}");
        }
        let ok = Config {
            agent_secret: Some("longenough".into()),
            ..Config::default()
        };
        assert!(ok.validate().is_ok());
    }
}
