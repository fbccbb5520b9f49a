//! Reading RON one level at a time, leaving every value unparsed text *in the file*.
//!
//! ron 0.12 deserializes `&'a RawValue` as a slice of the input it was given (see
//! `Deserializer::deserialize_newtype_struct` for the raw-value token), and struct field
//! names as slices too (`Parser::identifier`). So when each level is parsed from a slice
//! of the topology file, every key and value found is again a slice of the file and its
//! position is pointer arithmetic. Each value is then parsed on its own, so a bad entry
//! costs one diagnostic instead of hiding every entry after it.
//!
//! A syntax error anywhere is found by the first (top-level) parse, because skipping a
//! raw value still parses it fully.

use std::fmt;

use ron::value::RawValue;
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// A RON struct `( name: value, ... )`: field names and value texts, in file order,
/// duplicates kept (so they can be reported).
#[derive(Debug)]
pub(crate) struct RawStruct<'a> {
    pub fields: Vec<(&'a str, &'a str)>,
}

/// A RON map `{ key: value, ... }`: key and value texts, in file order, duplicates kept.
#[derive(Debug)]
pub(crate) struct RawMap<'a> {
    pub entries: Vec<(&'a str, &'a str)>,
}

/// A RON list `[ value, ... ]`: the value texts, in file order.
#[derive(Debug)]
pub(crate) struct RawSeq<'a> {
    pub items: Vec<&'a str>,
}

/// The text of a raw value without surrounding whitespace and comments; still a slice
/// of the same input.
fn trimmed(raw: &RawValue) -> &str {
    raw.trim().get_ron()
}

impl<'de> Deserialize<'de> for RawStruct<'de> {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawStruct<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a struct `( name: value, ... )`")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut fields = Vec::new();
                while let Some(name) = map.next_key::<&'de str>()? {
                    let value: &'de RawValue = map.next_value()?;
                    fields.push((name, trimmed(value)));
                }
                Ok(RawStruct { fields })
            }
        }
        // No field list: unknown fields are reported by the caller, all of them.
        de.deserialize_struct("", &[], V)
    }
}

impl<'de> Deserialize<'de> for RawMap<'de> {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawMap<'de>;
            // ron treats a visitor expecting "struct ..." as a flattened struct: don't.
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map `{ \"name\": value, ... }`")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some(key) = map.next_key::<&'de RawValue>()? {
                    let value: &'de RawValue = map.next_value()?;
                    entries.push((trimmed(key), trimmed(value)));
                }
                Ok(RawMap { entries })
            }
        }
        de.deserialize_map(V)
    }
}

impl<'de> Deserialize<'de> for RawSeq<'de> {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawSeq<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list `[ value, ... ]`")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<&'de RawValue>()? {
                    items.push(trimmed(item));
                }
                Ok(RawSeq { items })
            }
        }
        de.deserialize_seq(V)
    }
}

/// Parse `text` (a slice of the file) as `T`, with ron's own error on failure.
pub(crate) fn parse<'a, T: Deserialize<'a>>(text: &'a str) -> Result<T, ron::error::SpannedError> {
    ron::Options::default().from_str(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::source::offset_in;

    #[test]
    fn struct_fields_are_slices_of_the_input() {
        let text = "( a: 1, /* c */ b: (x: [1, 2]) // end\n, a: \"s\" )";
        let st: RawStruct<'_> = parse(text).unwrap();
        let names: Vec<&str> = st.fields.iter().map(|f| f.0).collect();
        assert_eq!(names, ["a", "b", "a"]);
        assert_eq!(st.fields[1].1, "(x: [1, 2])");
        assert_eq!(offset_in(text, st.fields[1].1), Some(19..30));
        assert_eq!(offset_in(text, st.fields[0].0), Some(2..3));
    }

    #[test]
    fn map_keys_and_values_are_slices() {
        let text = "{ \"x\": (kind: udp), \"y\" : 3 }";
        let map: RawMap<'_> = parse(text).unwrap();
        assert_eq!(map.entries.len(), 2);
        assert_eq!(map.entries[0], ("\"x\"", "(kind: udp)"));
        assert_eq!(offset_in(text, map.entries[1].0), Some(20..23));
        assert_eq!(map.entries[1].1, "3");
    }

    #[test]
    fn seq_items_are_slices() {
        let text = "[ (from: \"a\", to: \"b\"), (from: \"c\") ]";
        let seq: RawSeq<'_> = parse(text).unwrap();
        assert_eq!(seq.items, ["(from: \"a\", to: \"b\")", "(from: \"c\")"]);
        assert!(offset_in(text, seq.items[1]).is_some());
    }

    #[test]
    fn syntax_errors_deep_inside_are_found_at_the_top() {
        let text = "(\n  a: { \"x\": (b: [1, 2,, ]) },\n)";
        let err = parse::<RawStruct<'_>>(text).unwrap_err();
        assert_eq!(err.span.start.line, 2);
    }
}
