//! A download's temp file: `.NAME.part` beside its target, renamed onto the target
//! when complete, removed on any failure and on SIGINT/SIGTERM unless asked to keep it.
//!
//! Why a fixed name per target (and not one with the pid in it): a rerun finds and
//! replaces the leftover of an earlier one instead of adding another, and `--resume`
//! knows where to continue from. Why a signal handler: Ctrl-C would otherwise skip
//! every destructor and leave the part behind.
//!
//! Callers create the part only once the server said the file exists, so a missing
//! remote file leaves nothing on disk.

use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Once;
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};

use crate::exit::{Exit, Failure};

/// The part being written, as a C string the signal handler can `unlink` (null when
/// none). Each one is leaked: the handler may read it at any moment, so it is never
/// freed (a few bytes per transfer).
static ARMED: AtomicPtr<libc::c_char> = AtomicPtr::new(std::ptr::null_mut());
/// Keep the armed part on a signal (`--resume`, `--keep-partial`).
static KEEP: AtomicBool = AtomicBool::new(false);

/// `.NAME.part` in `target`'s directory.
pub fn part_path(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    target.with_file_name(format!(".{name}.part"))
}

/// A temp file beside a target, removed on drop (and on a signal) unless kept.
#[derive(Debug)]
pub struct Partial {
    path: PathBuf,
    file: Option<File>,
    keep: bool,
}

impl Partial {
    /// A fresh, empty part for `target` (an old leftover is replaced). `keep`: leave it
    /// behind on failure or interrupt, for a later `--resume`.
    pub fn create(target: &Path, keep: bool) -> Result<Partial, Failure> {
        Partial::open(target, keep, true)
    }

    /// The part for `target` as an earlier attempt left it (created empty if there is
    /// none), kept on failure; the second value is how many bytes it holds.
    pub fn resume(target: &Path) -> Result<(Partial, u64), Failure> {
        let p = Partial::open(target, true, false)?;
        let len = p
            .file
            .as_ref()
            .expect("open")
            .metadata()
            .map_err(|e| Failure::read(&p.path, &e))?
            .len();
        Ok((p, len))
    }

    fn open(target: &Path, keep: bool, truncate: bool) -> Result<Partial, Failure> {
        let path = part_path(target);
        // Readable too: hashers read back what was written.
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(truncate)
            .open(&path)
            .map_err(|e| Failure::write(&path, &e))?;
        arm(&path, keep);
        Ok(Partial {
            path,
            file: Some(file),
            keep,
        })
    }

    /// Where the part is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn file(&mut self) -> &mut File {
        self.file.as_mut().expect("open until persisted")
    }

    /// Rename onto `target`, refusing an existing target unless `replace`
    /// ([`Exit::Exists`]). Atomic but not fsynced: like curl or wget, a download is not
    /// made durable against power loss.
    pub fn persist(mut self, target: &Path, replace: bool) -> Result<(), Failure> {
        drop(self.file.take());
        if !replace && target.exists() {
            self.keep = false;
            return Err(exists(target));
        }
        std::fs::rename(&self.path, target).map_err(|e| Failure::write(target, &e))?;
        self.path = PathBuf::new();
        Ok(())
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        disarm();
        if !self.keep && !self.path.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// "`target` exists (use --force to replace it)", exit 73.
pub fn exists(target: &Path) -> Failure {
    Failure::new(
        Exit::Exists,
        format!("{} exists (use --force to replace it)", target.display()),
    )
}

/// Refuse an existing `target` unless `force`, before anything is fetched.
pub fn check_target(target: &Path, force: bool) -> Result<(), Failure> {
    if !force && target.exists() {
        return Err(exists(target));
    }
    Ok(())
}

fn arm(path: &Path, keep: bool) {
    install_handlers();
    KEEP.store(keep, Ordering::SeqCst);
    if let Ok(c) = CString::new(path.as_os_str().as_bytes()) {
        ARMED.store(c.into_raw(), Ordering::SeqCst);
    }
}

fn disarm() {
    ARMED.store(std::ptr::null_mut(), Ordering::SeqCst);
}

/// SIGINT/SIGTERM: remove the armed part unless kept, then exit 128 + signal.
extern "C" fn on_signal(sig: libc::c_int) {
    let path = ARMED.load(Ordering::SeqCst);
    if !path.is_null() && !KEEP.load(Ordering::SeqCst) {
        // SAFETY: `path` is a leaked, never-freed C string; unlink and _exit are
        // async-signal-safe.
        unsafe {
            libc::unlink(path);
        }
    }
    // SAFETY: _exit is async-signal-safe; nothing else runs after it.
    unsafe { libc::_exit(128 + sig) }
}

fn install_handlers() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for sig in [libc::SIGINT, libc::SIGTERM] {
            // SAFETY: a zeroed sigaction with a plain handler and an empty mask is valid;
            // the handler only calls async-signal-safe functions.
            unsafe {
                let mut sa: libc::sigaction = std::mem::zeroed();
                sa.sa_sigaction = on_signal as *const () as usize;
                libc::sigemptyset(&mut sa.sa_mask);
                libc::sigaction(sig, &sa, std::ptr::null_mut());
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_part_is_hidden_beside_the_target_with_a_fixed_name() {
        assert_eq!(
            part_path(Path::new("/srv/out/f.bin")),
            PathBuf::from("/srv/out/.f.bin.part")
        );
        assert_eq!(part_path(Path::new("f.bin")), PathBuf::from(".f.bin.part"));
    }

    #[test]
    fn a_part_is_removed_unless_kept_or_persisted() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("t.bin");
        {
            let mut p = Partial::create(&target, false).unwrap();
            std::io::Write::write_all(p.file(), b"x").unwrap();
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        {
            let mut p = Partial::create(&target, true).unwrap();
            std::io::Write::write_all(p.file(), b"abc").unwrap();
        }
        let (p, len) = Partial::resume(&target).unwrap();
        assert_eq!(len, 3, "kept for --resume");
        p.persist(&target, false).unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"abc");
        let p = Partial::create(&target, false).unwrap();
        assert_eq!(p.persist(&target, false).unwrap_err().exit, Exit::Exists);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        assert_eq!(check_target(&target, false).unwrap_err().exit, Exit::Exists);
        assert!(check_target(&target, true).is_ok());
    }
}
