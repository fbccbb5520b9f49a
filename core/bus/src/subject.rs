//! Subject checks (the SDK's, so a plugin's subjects and the topology's are checked
//! alike), the headers the host writes, and the prefix applied to every name the host
//! uses.

/// The header naming the host that published a message (its `name` in the topology).
pub const HOST_HEADER: &str = "Switchyard-Host";
/// The header naming a typed message's type and schema version, as its port declares
/// it (`switchyard.ChatMessage/1`): a receiver refuses a type its input port does not
/// accept instead of misreading the bytes.
pub const TYPE_HEADER: &str = "Switchyard-Type";
/// The header naming the `handler.port` that emitted a typed message on its host.
pub const SOURCE_HEADER: &str = "Switchyard-Source";

pub use switchyard_sdk::bus_subject::{subject_problem, token_problem};

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
    fn the_prefix_goes_before_a_checked_subject() {
        assert_eq!(prefixed("sy", "a.b", "subject").unwrap(), "sy.a.b");
        assert!(prefixed("sy", "a.", "subject").is_err());
    }
}
