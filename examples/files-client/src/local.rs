//! Local files: where a download may go, and how it appears there.
//!
//! A download is written to a hidden temp file in the target's directory and renamed
//! onto the target only when complete and verified; a failure removes the temp. The
//! target is exactly the path asked for (or, by default, the *last component* of the
//! server's name in the current directory), never a path made from server input.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

/// Where `get NAME [LOCAL]` writes.
pub fn target(name: &str, local: Option<&Path>) -> Result<PathBuf, String> {
    let base = name
        .rsplit('/')
        .next()
        .filter(|b| !b.is_empty() && *b != "." && *b != "..");
    let base = base.ok_or_else(|| format!("{name:?} has no file name to save under"))?;
    Ok(match local {
        Some(p) if p.is_dir() => p.join(base),
        Some(p) => p.to_path_buf(),
        None => PathBuf::from(base),
    })
}

/// A temp file beside `target`, removed on drop unless [`Partial::persist`]ed.
#[derive(Debug)]
pub struct Partial {
    path: PathBuf,
    file: Option<File>,
}

impl Partial {
    pub fn create(target: &Path) -> Result<Partial, String> {
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let base = target
            .file_name()
            .ok_or_else(|| format!("{}: not a file path", target.display()))?;
        for attempt in 0..100u32 {
            let path = dir.join(format!(
                ".{}.part-{}-{attempt}",
                base.to_string_lossy(),
                std::process::id()
            ));
            // Readable too: the hashing thread re-reads what was written.
            match OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(file) => {
                    return Ok(Partial {
                        path,
                        file: Some(file),
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(format!("{}: {e}", path.display())),
            }
        }
        Err(format!("{}: cannot create a temp file", dir.display()))
    }

    pub fn file(&mut self) -> &mut File {
        self.file.as_mut().expect("open until persisted")
    }

    /// Rename onto `target` (replacing it only if `replace`). Atomic but not fsynced:
    /// like curl or wget, a download is not made durable against power loss (the
    /// server side is: it fsyncs every upload before answering).
    pub fn persist(mut self, target: &Path, replace: bool) -> Result<(), String> {
        drop(self.file.take());
        if !replace && target.exists() {
            return Err(format!(
                "{} exists (use --force to replace it)",
                target.display()
            ));
        }
        std::fs::rename(&self.path, target).map_err(|e| format!("{}: {e}", target.display()))?;
        self.path = PathBuf::new();
        Ok(())
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
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
        assert!(target("dir/", None).is_err());
        assert!(target("..", None).is_err());
    }

    #[test]
    fn partial_is_removed_unless_persisted() {
        let dir = std::env::temp_dir().join(format!("sy-files-local-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let target = dir.join("t.bin");
        {
            let mut p = Partial::create(&target).unwrap();
            std::io::Write::write_all(p.file(), b"x").unwrap();
        }
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            0,
            "temp removed on drop"
        );
        let mut p = Partial::create(&target).unwrap();
        std::io::Write::write_all(p.file(), b"data").unwrap();
        p.persist(&target, false).unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"data");
        let p = Partial::create(&target).unwrap();
        assert!(p.persist(&target, false).unwrap_err().contains("exists"));
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            1,
            "only the target is left"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
