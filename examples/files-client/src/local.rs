//! Where a download may go.
//!
//! The target is exactly the path asked for (or, by default, the *last component* of
//! the server's name in the current directory), never a path made from server input.
//! How it appears there (`.NAME.part`, then a rename) is
//! `switchyard_client_support::partial`.

use std::path::{Path, PathBuf};

use switchyard_client_support::{Exit, Failure};

/// Where `get NAME [LOCAL]` writes.
pub fn target(name: &str, local: Option<&Path>) -> Result<PathBuf, Failure> {
    let base = name
        .rsplit('/')
        .next()
        .filter(|b| !b.is_empty() && *b != "." && *b != "..");
    let base = base.ok_or_else(|| {
        Failure::new(
            Exit::Usage,
            format!("{name:?} has no file name to save under"),
        )
    })?;
    Ok(match local {
        Some(p) if p.is_dir() => p.join(base),
        Some(p) => p.to_path_buf(),
        None => PathBuf::from(base),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_target_is_the_last_component_here() {
        assert_eq!(
            target("dir/sub/f.txt", None).unwrap(),
            PathBuf::from("f.txt")
        );
        assert_eq!(
            target("f", Some(Path::new("out.bin"))).unwrap(),
            PathBuf::from("out.bin")
        );
        assert_eq!(target("dir/", None).unwrap_err().exit, Exit::Usage);
        assert!(target("..", None).is_err());
    }
}
