//! What a bus subject may be, checked where a plugin names one (the host table, so
//! `MockHost` refuses what the host refuses) and where the topology does (routes and
//! the subject prefix, through `switchyard-bus`, which re-exports these).
//!
//! NATS splits subjects on `.`; `*` and `>` are wildcards and whitespace ends the
//! subject on the wire, so a name with any of them would address other subjects than
//! the one meant.

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

/// What is wrong with a key-value key, or `None`: dotted (`visitor.42`), each part a
/// plain token of `A-Z a-z 0-9 - _ / =` (JetStream's key alphabet).
pub fn key_problem(key: &str) -> Option<String> {
    key.split('.').find_map(token_problem).or_else(|| {
        key.chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '/' | '=' | '.')))
            .map(|c| format!("`{}`: keys are `A-Z a-z 0-9 - _ / = .`", c.escape_default()))
    })
}

/// What is wrong with a bucket name (one token of `A-Z a-z 0-9 _ -`), or `None`.
pub fn bucket_problem(name: &str) -> Option<String> {
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    (!ok).then(|| "letters, digits, `_` and `-` only, not empty".into())
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
        assert_eq!(key_problem("visitor.42/a=b"), None);
        assert!(key_problem("visitor..42").is_some());
        assert!(key_problem("visitor:42").is_some());
        assert_eq!(bucket_problem("claims-1"), None);
        assert!(bucket_problem("claims.1").is_some());
        assert!(bucket_problem("").is_some());
    }
}
