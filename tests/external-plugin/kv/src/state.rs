//! The store's state as bytes, per state version, and migration between versions.
//!
//! A third party's format, written by hand so the crate depends on the SDK alone:
//! each field is a big-endian `u32` length and its bytes; numbers are big-endian `u64`.
//! - version 1: keys (key, value), then open connections (id, bytes of a partial line).
//! - version 2: each key also has a revision (how many times it was set).
//! - version 3: as version 2, behind a magic word (the `refuse-old-state` build).
//!
//! Decoding checks every length against what is left and refuses trailing bytes: a
//! damaged state is refused whole, never half taken.

use std::collections::BTreeMap;

/// What the store keeps: each key's value and revision, and the partial line of each
/// open connection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub keys: BTreeMap<String, Entry>,
    pub partial: BTreeMap<u64, Vec<u8>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub value: String,
    pub revision: u64,
}

/// The state version this build writes.
pub const VERSION: u32 = if cfg!(feature = "refuse-old-state") {
    3
} else if cfg!(feature = "state-v2") {
    2
} else {
    1
};

/// Magic word of version 3.
const V3_MAGIC: &[u8; 4] = b"KV3\0";

pub fn encode(s: &Snapshot) -> Vec<u8> {
    let mut out = Vec::new();
    if VERSION == 3 {
        out.extend_from_slice(V3_MAGIC);
    }
    put_u64(&mut out, s.keys.len() as u64);
    for (k, e) in &s.keys {
        put_bytes(&mut out, k.as_bytes());
        put_bytes(&mut out, e.value.as_bytes());
        if VERSION >= 2 {
            put_u64(&mut out, e.revision);
        }
    }
    put_u64(&mut out, s.partial.len() as u64);
    for (id, line) in &s.partial {
        put_u64(&mut out, *id);
        put_bytes(&mut out, line);
    }
    out
}

/// Read a state of `version`: this build's own, or an older one it migrates.
pub fn decode(version: u32, data: &[u8]) -> Result<Snapshot, String> {
    match version {
        v if v == VERSION => read(v, data),
        // Version 1 had no revisions: every key was set once as far as we know.
        1 if VERSION == 2 => read(1, data),
        v if v < VERSION => Err(format!(
            "state version {v} is older than this build takes (it takes {VERSION} only)"
        )),
        v => Err(format!(
            "state version {v} is newer than this build ({VERSION})"
        )),
    }
}

fn read(version: u32, mut data: &[u8]) -> Result<Snapshot, String> {
    let d = &mut data;
    if version == 3 && take(d, 4)? != V3_MAGIC {
        return Err("not a version 3 state".into());
    }
    let mut s = Snapshot::default();
    for _ in 0..take_u64(d)? {
        let key = take_str(d)?;
        let value = take_str(d)?;
        let revision = if version >= 2 { take_u64(d)? } else { 1 };
        s.keys.insert(key, Entry { value, revision });
    }
    for _ in 0..take_u64(d)? {
        let id = take_u64(d)?;
        let line = take_bytes(d)?.to_vec();
        s.partial.insert(id, line);
    }
    if !d.is_empty() {
        return Err(format!("{} bytes after the state", d.len()));
    }
    Ok(s)
}

fn put_u64(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(&n.to_be_bytes());
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_be_bytes());
    out.extend_from_slice(b);
}

fn take<'a>(d: &mut &'a [u8], n: usize) -> Result<&'a [u8], String> {
    if d.len() < n {
        return Err("the state ends early".into());
    }
    let (head, rest) = d.split_at(n);
    *d = rest;
    Ok(head)
}

fn take_u64(d: &mut &[u8]) -> Result<u64, String> {
    let b = take(d, 8)?;
    Ok(u64::from_be_bytes(b.try_into().expect("8 bytes")))
}

fn take_bytes<'a>(d: &mut &'a [u8]) -> Result<&'a [u8], String> {
    let len = take(d, 4)?;
    let len = u32::from_be_bytes(len.try_into().expect("4 bytes")) as usize;
    take(d, len)
}

fn take_str(d: &mut &[u8]) -> Result<String, String> {
    String::from_utf8(take_bytes(d)?.to_vec()).map_err(|_| "a key or value is not UTF-8".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Snapshot {
        let mut s = Snapshot::default();
        s.keys.insert(
            "a".into(),
            Entry {
                value: "1".into(),
                revision: 1,
            },
        );
        s.partial.insert(7, b"GET".to_vec());
        s
    }

    #[test]
    fn this_builds_state_round_trips() {
        assert_eq!(decode(VERSION, &encode(&sample())).unwrap(), sample());
    }

    #[test]
    fn version_1_is_migrated_by_the_v2_build_and_refused_by_the_v3_build() {
        let mut v1 = Vec::new();
        put_u64(&mut v1, 1);
        put_bytes(&mut v1, b"a");
        put_bytes(&mut v1, b"1");
        put_u64(&mut v1, 0);
        match VERSION {
            1 | 2 => {
                let s = decode(1, &v1).unwrap();
                let a = Entry {
                    value: "1".into(),
                    revision: 1,
                };
                assert_eq!(s.keys.get("a"), Some(&a));
            }
            _ => assert!(decode(1, &v1).unwrap_err().contains("older")),
        }
    }

    #[test]
    fn damaged_or_unknown_states_are_refused_whole() {
        let bytes = encode(&sample());
        assert!(decode(VERSION, &bytes[..bytes.len() - 1]).is_err());
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(
            decode(VERSION, &longer)
                .unwrap_err()
                .contains("after the state")
        );
        assert!(decode(VERSION + 1, &bytes).unwrap_err().contains("newer"));
    }
}
