//! sha256 digests as object metadata (`x-amz-meta-sha256`, lowercase hex), instead of
//! the `dir` storage's `.NAME.sha256` side files: a digest then lives and dies with
//! its object, and a replaced object cannot keep a stale digest.

use object_store::Attributes;

use crate::files::digest_attribute;

/// A sha256 digest.
pub type Sha256 = [u8; 32];

/// Lowercase hex, as stored.
pub fn to_hex(digest: &Sha256) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parse 64 hex digits; `None` for anything else (a foreign or damaged value is then
/// simply "no digest", never a wrong one).
pub fn from_hex(text: &str) -> Option<Sha256> {
    if text.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// The digest among an object's attributes, if one was stored.
pub(crate) fn digest_from_attributes(attributes: &Attributes) -> Option<Sha256> {
    from_hex(attributes.get(&digest_attribute())?.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_refuses_junk() {
        let d: Sha256 = std::array::from_fn(|i| (i * 7) as u8);
        assert_eq!(from_hex(&to_hex(&d)), Some(d));
        assert_eq!(from_hex("abc"), None);
        assert_eq!(from_hex(&"zz".repeat(32)), None);
    }
}
