//! Remembered sha256 digests, so that `GET` can tell the client what to expect without
//! reading the file twice.
//!
//! The digest of `dir/name` lives in the hidden file `dir/.name.sha256` as
//! `<hex> <size> <mtime>`; it is trusted only while the file's size and modification
//! time still match (an external change within the same second and size goes
//! unnoticed: the client then reports a mismatch, it never accepts wrong bytes).
//! Hidden names are refused to clients, so they can neither read nor forge these.

use switchyard_sdk::Stat;

use super::Storage;

/// Longest component the host accepts.
const MAX_COMPONENT: usize = 255;

/// The side file holding `name`'s digest, if its name fits.
pub(crate) fn sum_path(name: &str) -> Option<String> {
    let (dir, base) = match name.rsplit_once('/') {
        Some((d, b)) => (Some(d), b),
        None => (None, name),
    };
    let side = format!(".{base}.sha256");
    if side.len() > MAX_COMPONENT {
        return None;
    }
    Some(match dir {
        Some(d) => format!("{d}/{side}"),
        None => side,
    })
}

/// The remembered digest of `name`, if it is still valid for `stat`.
pub(crate) fn load(st: &mut dyn Storage, name: &str, stat: &Stat) -> Option<String> {
    let path = sum_path(name)?;
    let (file, size) = st.open_read(&path).ok()?;
    let mut buf = [0u8; 128];
    let n = if size as usize <= buf.len() {
        st.read_file(file, 0, &mut buf).ok()
    } else {
        None
    };
    let _ = st.close_file(file);
    let text = std::str::from_utf8(&buf[..n?]).ok()?;
    let mut parts = text.split_ascii_whitespace();
    let (hex, len, mtime) = (parts.next()?, parts.next()?, parts.next()?);
    let valid = hex.len() == 64
        && hex.bytes().all(|b| b.is_ascii_hexdigit())
        && len.parse::<u64>().ok()? == stat.size
        && mtime.parse::<i64>().ok()? == stat.modified_unix;
    valid.then(|| hex.to_owned())
}

/// Remember `hex` as the digest of `name` (best effort: a failure only costs a later
/// `HASH`).
pub(crate) fn store(st: &mut dyn Storage, name: &str, hex: &str) {
    let Some(path) = sum_path(name) else { return };
    let Ok(stat) = st.stat(name) else { return };
    let Ok(file) = st.create_temp(&path) else {
        return;
    };
    let line = format!("{hex} {} {}\n", stat.size, stat.modified_unix);
    if st.write_file(file, line.as_bytes()).is_err() || st.commit_file(file, &path, true).is_err() {
        let _ = st.close_file(file);
    }
}

/// Forget `name`'s digest (after a delete).
pub(crate) fn forget(st: &mut dyn Storage, name: &str) {
    if let Some(path) = sum_path(name) {
        let _ = st.remove_file(&path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn side_file_sits_beside_the_file() {
        assert_eq!(sum_path("a.txt").as_deref(), Some(".a.txt.sha256"));
        assert_eq!(sum_path("d/e/f").as_deref(), Some("d/e/.f.sha256"));
        assert_eq!(sum_path(&"x".repeat(250)), None);
    }
}
