//! One transcript record: the JSON line written for one typed message.

use serde::Serialize;
use serde_json::Value;

/// `{"at_ms":..,"handler_port":..,"type":..,"data":<the message JSON>}`, in that
/// order. `invalid_json` appears only when the sender's bytes were no JSON (a C
/// plugin could send anything): they are then kept as a lossy string, not dropped.
#[derive(Debug, Serialize)]
struct Record<'a> {
    at_ms: u64,
    handler_port: &'a str,
    #[serde(rename = "type")]
    type_name: &'a str,
    data: Value,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    invalid_json: bool,
    /// The stream sequence, for a record read from a stream (the transcript's cursor).
    #[serde(skip_serializing_if = "Option::is_none")]
    seq: Option<u64>,
    /// The publisher, `host/handler.port`, for a record read from a stream.
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<&'a str>,
}

/// Where a record read from a stream came from.
#[derive(Debug, Clone, Copy)]
pub struct Stored<'a> {
    /// The stream sequence.
    pub seq: u64,
    /// The publisher, `host/handler.port`.
    pub from: &'a str,
}

/// Encode one record as a single line, newline included. The message is parsed and
/// re-serialized compactly so that pretty-printed JSON cannot break the one-line rule.
pub fn encode(at_ms: u64, port: &str, type_name: &str, data: &[u8]) -> Vec<u8> {
    encode_with(at_ms, port, type_name, data, None)
}

/// [`encode`] of a message read from a stream: `seq` and `from` follow the fields of
/// [`encode`]; `handler_port` is the publisher's `handler.port` without its host.
pub fn encode_stored(at_ms: u64, stored: Stored<'_>, type_name: &str, data: &[u8]) -> Vec<u8> {
    let port = stored
        .from
        .split_once('/')
        .map_or(stored.from, |(_, port)| port);
    encode_with(at_ms, port, type_name, data, Some(stored))
}

fn encode_with(
    at_ms: u64,
    port: &str,
    type_name: &str,
    data: &[u8],
    stored: Option<Stored<'_>>,
) -> Vec<u8> {
    let (data, invalid_json) = match serde_json::from_slice::<Value>(data) {
        Ok(value) => (value, false),
        Err(_) => (
            Value::String(String::from_utf8_lossy(data).into_owned()),
            true,
        ),
    };
    let record = Record {
        at_ms,
        handler_port: port,
        type_name,
        data,
        invalid_json,
        seq: stored.map(|s| s.seq),
        from: stored.map(|s| s.from),
    };
    // Serializing a Value with string keys cannot fail.
    let mut line = serde_json::to_vec(&record).unwrap_or_default();
    line.push(b'\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_one_line_in_field_order() {
        let line = encode(
            7,
            "events",
            "switchyard.ChatMessage/1",
            b"{\n  \"text\": \"a\\nb\"\n}",
        );
        assert_eq!(
            String::from_utf8(line).unwrap(),
            "{\"at_ms\":7,\"handler_port\":\"events\",\"type\":\"switchyard.ChatMessage/1\",\"data\":{\"text\":\"a\\nb\"}}\n"
        );
    }

    #[test]
    fn a_stored_record_names_its_sequence_and_publisher() {
        let stored = Stored {
            seq: 42,
            from: "host-b/chat.messages",
        };
        let line = encode_stored(7, stored, "t/1", b"{}");
        assert_eq!(
            String::from_utf8(line).unwrap(),
            "{\"at_ms\":7,\"handler_port\":\"chat.messages\",\"type\":\"t/1\",\"data\":{},\"seq\":42,\"from\":\"host-b/chat.messages\"}\n"
        );
    }

    #[test]
    fn non_json_is_kept_and_flagged() {
        let line = encode(1, "events", "x", b"not json \xff");
        let v: Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(v["data"], "not json \u{fffd}");
        assert_eq!(v["invalid_json"], true);
        assert_eq!(line.iter().filter(|b| **b == b'\n').count(), 1);
    }
}
