//! Parsing a handler's RON configuration, keeping positions.
//!
//! The host passes the exact text of the handler's `config: (...)` section; errors come
//! back with a line and column *inside that text*, which the host maps onto the topology
//! file, so an operator sees the caret under the bad value in their own file.

use serde::de::DeserializeOwned;

/// A configuration the plugin refused, with a 1-based position in the config text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ConfigError {
    pub message: String,
    pub line: u32,
    pub col: u32,
}

impl ConfigError {
    /// A value check that failed for field `name` of the config, for [`crate::Protocol::new`]
    /// to return: `Err(ConfigError::field("max_keys", "between 1 and 10000000").into())`.
    /// The host places the caret on that field's value in the topology (at `validate`,
    /// which runs `new` with no I/O, as well as at start). Written "`name`: message",
    /// which is the form the host looks for.
    pub fn field(name: &str, message: impl std::fmt::Display) -> ConfigError {
        ConfigError {
            message: format!("`{name}`: {message}"),
            line: 0,
            col: 0,
        }
    }
}

impl From<ConfigError> for String {
    fn from(e: ConfigError) -> String {
        e.message
    }
}

/// Parse `text` (RON) as `T`. An empty text parses as `()`, so that a config struct
/// whose fields all have defaults needs no section at all.
pub fn parse_config<T: DeserializeOwned>(text: &str) -> Result<T, ConfigError> {
    let text = if text.trim().is_empty() { "()" } else { text };
    ron::Options::default()
        .from_str::<T>(text)
        .map_err(|e| ConfigError {
            message: e.code.to_string(),
            line: u32::try_from(e.span.start.line).unwrap_or(0),
            col: u32::try_from(e.span.start.col).unwrap_or(0),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Cfg {
        #[serde(default)]
        size: u32,
    }

    #[test]
    fn empty_text_is_defaults() {
        assert_eq!(parse_config::<Cfg>("  ").unwrap(), Cfg { size: 0 });
    }

    #[test]
    fn unknown_field_has_position() {
        let err = parse_config::<Cfg>("(\n  size: 1,\n  sise: 2,\n)").unwrap_err();
        assert!(err.message.contains("sise"), "{err:?}");
        assert_eq!(err.line, 3);
    }

    #[test]
    fn bad_value_has_position() {
        let err = parse_config::<Cfg>("(size: \"big\")").unwrap_err();
        assert_eq!(err.line, 1);
        assert!(err.col > 1, "{err:?}");
    }
}
