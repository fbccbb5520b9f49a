//! What a symlink under a root may do ([`Symlinks`]), and the component walk that
//! resolves a path beneath the root by that policy ([`walk`]).
//!
//! **Followed inside the root** (the default, [`Symlinks::FollowInside`]): a boot
//! fleet's per-client names are links (`pxelinux.cfg/01-aa-bb-… -> default`), and
//! tftpd-hpa follows them. A link is followed only while every step of its target
//! stays beneath the root:
//! - a relative target is read from the link's own directory, `..` going back up the
//!   directories this walk came down (never through the kernel's `..`), and a `..`
//!   above the root refuses the path ([`StorageError::Escapes`]);
//! - an absolute target is followed when it names a place under the root by the
//!   root's own path (`/srv/tftp/pxelinux.cfg/default` for the root `/srv/tftp`, the
//!   path as the topology gives it or with its symlinks resolved): the rest of it is
//!   read from the root, so this too never leaves it. Any other absolute target is
//!   refused as leaving the root, as `RESOLVE_BENEATH` refuses it
//!   ([`StorageError::Escapes`]). tftpd-hpa `--secure` chroots, and reads a target
//!   `/pxelinux.cfg/default` from its root: such links are to be made relative
//!   (`ln -sfr`), which every server reads alike;
//! - a target naming a hidden component (first byte `.`, other than `.` and `..`) is
//!   refused ([`StorageError::LinkRefused`]): side files, kept partials and the host's
//!   temps live under hidden names, and a link must not publish them;
//! - at most [`MAX_LINKS`] links per resolution (the kernel's own bound), so a loop
//!   ends with [`StorageError::LinkRefused`].
//!
//! **Refused** ([`Symlinks::Refuse`], topology `symlinks: refuse`): any symlink on the
//! way is [`StorageError::Escapes`], as before links were followed: for an operator who
//! wants a plugin's lexical policy ("uploads only under `incoming/`") to hold against
//! every alias.
//!
//! Why our walk and not the kernel's `openat2(RESOLVE_BENEATH)` following links: the
//! kernel cannot refuse a link into a hidden name, and it refuses absolute targets
//! where tftpd-hpa reads them from the root; with one walk the policy is the same on
//! every kernel, with or without `openat2`. It is as safe: every step is an `openat`
//! with `O_NOFOLLOW` relative to a directory fd this walk holds, and `..` pops that
//! stack, so neither a link nor a rename mid-walk can take it above the root. It costs
//! one `openat` per component, paid only for paths that hold a link (`openat2` with
//! `RESOLVE_NO_SYMLINKS` answers the others in one call, `super::resolve`).
//!
//! # Layout
//! - [`Symlinks`]: the policy, a topology field of the handler.
//! - [`LinkRules`]: the policy and the paths that name one root.
//! - [`walk`]: open a path by the rules; [`Walked`] is the fd and the path it really is.

use std::collections::VecDeque;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::fs::{FileType, Mode, OFlags};
use rustix::io::Errno;
use serde::Deserialize;

use super::StorageError;

/// Most symlinks followed while resolving one path (Linux's `MAXSYMLINKS`).
pub const MAX_LINKS: usize = 40;

/// Whether symlinks beneath a root are followed (handler field `symlinks`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Symlinks {
    /// Followed while every step stays beneath the root (module docs).
    #[default]
    FollowInside,
    /// Every symlink refused, wherever it points.
    Refuse,
}

impl Symlinks {
    /// The word used in topology files and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Symlinks::FollowInside => "follow_inside",
            Symlinks::Refuse => "refuse",
        }
    }
}

/// How one root treats the links beneath it: its policy, and the absolute paths that
/// name the root itself (for absolute targets; see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkRules {
    pub policy: Symlinks,
    /// Without a trailing `/` (except `/` itself), without duplicates.
    root_paths: Vec<String>,
}

impl LinkRules {
    /// `policy` for the root at `paths` (absolute; non-UTF-8 ones are left out: no
    /// target could name them).
    pub fn new(policy: Symlinks, paths: &[&std::path::Path]) -> LinkRules {
        let mut root_paths: Vec<String> = Vec::new();
        for path in paths {
            let Some(text) = path.to_str() else { continue };
            let text = match text.trim_end_matches('/') {
                "" => "/",
                trimmed => trimmed,
            };
            if text.starts_with('/') && !root_paths.iter().any(|p| p == text) {
                root_paths.push(text.to_owned());
            }
        }
        LinkRules { policy, root_paths }
    }

    /// What absolute `target` names beneath the root, if it starts with a path of the
    /// root (`""` for the root itself).
    fn beneath<'t>(&self, target: &'t str) -> Option<&'t str> {
        self.root_paths.iter().find_map(|root| {
            let rest = if root == "/" {
                target
            } else {
                target.strip_prefix(root.as_str())?
            };
            (rest.is_empty() || rest.starts_with('/')).then_some(rest)
        })
    }
}

/// What [`walk`] opened, and where it is beneath the root with every link resolved
/// (`.` for the root itself).
#[derive(Debug)]
pub struct Walked {
    pub fd: OwnedFd,
    pub path: String,
}

/// The flags of a step through a directory.
const STEP: OFlags = OFlags::PATH
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

/// Open `rel` (a validated path, or `"."`) beneath `root` with `flags` (`CLOEXEC`
/// included by the caller), one component at a time, following symlinks by `rules`.
pub fn walk(
    root: BorrowedFd<'_>,
    rel: &str,
    (flags, mode): (OFlags, Mode),
    rules: &LinkRules,
) -> Result<Walked, StorageError> {
    let policy = rules.policy;
    // Directories beneath `root` this walk came down, each with its name.
    let mut held: Vec<(OwnedFd, String)> = Vec::new();
    let mut todo: VecDeque<String> = if rel == "." {
        VecDeque::new()
    } else {
        rel.split('/').map(str::to_owned).collect()
    };
    let mut links = 0;
    while let Some(name) = todo.pop_front() {
        match name.as_str() {
            // Only a link's target holds these (`rel` was validated).
            "" | "." => continue,
            ".." => {
                if held.pop().is_none() {
                    return Err(StorageError::Escapes);
                }
                continue;
            }
            _ => {}
        }
        let cur = held.last().map_or(root, |(fd, _)| fd.as_fd());
        let last = todo.is_empty();
        let (step, step_mode) = if last {
            (flags | OFlags::NOFOLLOW, mode)
        } else {
            (STEP, Mode::empty())
        };
        let target = match rustix::fs::openat(cur, name.as_str(), step, step_mode) {
            // `O_PATH | O_NOFOLLOW` without `O_DIRECTORY` opens a link itself.
            Ok(fd) if policy == Symlinks::FollowInside && opened_a_link(step, &fd) => {
                match read_link(cur, &name)? {
                    Some(target) => target,
                    None => return Err(StorageError::NotFound),
                }
            }
            // Under `Refuse`, such an fd names the link (`stat` describes it), as
            // before links were followed.
            Ok(fd) if last => {
                return Ok(Walked {
                    fd,
                    path: joined(&held, &name),
                });
            }
            Ok(fd) => {
                held.push((fd, name));
                continue;
            }
            // A link opened with `O_NOFOLLOW`: `ELOOP`, or `ENOTDIR` with `O_DIRECTORY`
            // (which a plain file gives too: the link is looked for).
            Err(err @ (Errno::LOOP | Errno::NOTDIR)) => match read_link(cur, &name)? {
                Some(_) if policy == Symlinks::Refuse => return Err(StorageError::Escapes),
                Some(target) => target,
                None => return Err(err.into()),
            },
            Err(err) => return Err(err.into()),
        };
        links += 1;
        if links > MAX_LINKS {
            return Err(StorageError::LinkRefused("more than 40 symlinks: a loop"));
        }
        follow(rules, &target, &mut held, &mut todo)?;
    }
    // The path ended on the directory a `.` or `..` left it in (a link to `.`, `..`).
    let cur = held.last().map_or(root, |(fd, _)| fd.as_fd());
    let fd = rustix::fs::openat(cur, ".", flags, mode)?;
    let path = match held.split_last() {
        Some(((_, name), up)) => joined(up, name),
        None => ".".to_owned(),
    };
    Ok(Walked { fd, path })
}

/// Put link `target`'s components ahead of what is left to resolve; an absolute one
/// (naming the root by its path) starts again from the root.
fn follow(
    rules: &LinkRules,
    target: &str,
    held: &mut Vec<(OwnedFd, String)>,
    todo: &mut VecDeque<String>,
) -> Result<(), StorageError> {
    if target.is_empty() {
        return Err(StorageError::NotFound);
    }
    let relative = if target.starts_with('/') {
        held.clear();
        rules.beneath(target).ok_or(StorageError::Escapes)?
    } else {
        target
    };
    let parts: Vec<&str> = relative.split('/').collect();
    if parts
        .iter()
        .any(|c| c.starts_with('.') && *c != "." && *c != "..")
    {
        return Err(StorageError::LinkRefused("its target names a hidden file"));
    }
    for part in parts.into_iter().rev() {
        todo.push_front(part.to_owned());
    }
    Ok(())
}

/// The target of `name` in `dir` if it is a symlink (`None`: it is not one).
fn read_link(dir: BorrowedFd<'_>, name: &str) -> Result<Option<String>, StorageError> {
    match rustix::fs::readlinkat(dir, name, Vec::new()) {
        Ok(target) => target
            .into_string()
            .map(Some)
            .map_err(|_| StorageError::LinkRefused("its target is not UTF-8")),
        Err(Errno::INVAL) => Ok(None),
        Err(err) => Err(err.into()),
    }
}

/// Whether `fd`, opened with `flags`, is a symlink itself: only `O_PATH` without
/// `O_DIRECTORY` can open one (one `fstat`, paid by such opens only).
fn opened_a_link(flags: OFlags, fd: &OwnedFd) -> bool {
    flags.contains(OFlags::PATH)
        && !flags.contains(OFlags::DIRECTORY)
        && rustix::fs::fstat(fd)
            .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Symlink)
}

/// `held`'s names and `name`, as a path beneath the root.
fn joined(held: &[(OwnedFd, String)], name: &str) -> String {
    let mut path = String::new();
    for (_, dir) in held {
        path.push_str(dir);
        path.push('/');
    }
    path.push_str(name);
    path
}
