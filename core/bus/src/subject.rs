//! Subject checks, shared with the topology (it checks `subject_prefix` with
//! [`token_problem`]), and the prefix applied to every name the host uses.
//!
//! NATS splits subjects on `.`; `*` and `>` are wildcards and whitespace ends the
//! subject on the wire, so a name with any of them would address other subjects than
//! the one meant.

/// The header naming the host that published a message (its `name` in the topology).
pub const HOST_HEADER: &str = "Switchyard-Host";
/// The header naming a typed message's type and schema version, as its port declares
/// it (`switchyard.ChatMessage/1`): a receiver refuses a type its input port does not
/// accept instead of misreading the bytes.
pub const TYPE_HEADER: &str = "Switchyard-Type";
/// The header naming the `handler.port` that emitted a typed message on its host.
pub const SOURCE_HEADER: &str = "Switchyard-Source";

/// What is wrong with one subject token (a part between dots), or `None`.
pub fn token_problem(token: &str) -> Option<String> {
    if token.is_empty() {
        return Some("empty (two dots in a row, or a dot at an end)".into());
    }
    if let Some(c) = token
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || matches!(c, '*' | '>' | '.'))
    {
        return Some(format!(
            "`{}` is not allowed (wildcards, dots and whitespace are NATS syntax)",
            c.escape_default()
        ));
    }
    None
}

/// What is wrong with a dotted subject (no wildcards), or `None`.
pub fn subject_problem(subject: &str) -> Option<String> {
    subject.split('.').find_map(token_problem)
}

/// `prefix.subject`, after checking `subject` (`what` names it in the error).
pub(crate) fn prefixed(
    prefix: &str,
    subject: &str,
    what: &'static str,
) -> Result<String, crate::BusError> {
    match subject_problem(subject) {
        Some(problem) => Err(crate::BusError::Invalid {
            what,
            value: subject.into(),
            problem,
        }),
        None => Ok(format!("{prefix}.{subject}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_subjects() {
        assert_eq!(token_problem("chat-room_1"), None);
        assert!(token_problem("").is_some());
        assert!(token_problem("a*").is_some());
        assert!(token_problem("a b").is_some());
        assert_eq!(subject_problem("room.42.msg"), None);
        assert!(subject_problem("room..msg").is_some());
        assert!(subject_problem("room.>").is_some());
        assert_eq!(prefixed("sy", "a.b", "subject").unwrap(), "sy.a.b");
        assert!(prefixed("sy", "a.", "subject").is_err());
    }
}
