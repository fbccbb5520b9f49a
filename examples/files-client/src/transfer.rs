//! `get` and `put` as the command line and the menu run them: targets, `--force`,
//! `--checksum`, the summary line or its `--json` form.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Instant;

use switchyard_client_support::partial::{self, Partial};
use switchyard_client_support::progress::{self, Summary};
use switchyard_client_support::{Exit, Failure as Status};

use crate::client::{Client, ClientError};
use crate::{Failure, local};

/// How a transfer reports and what it may replace.
#[derive(Debug, Clone, Copy, Default)]
pub struct Style {
    /// No progress bar, no summary line.
    pub quiet: bool,
    /// One JSON summary line on stdout instead of the human one on stderr.
    pub json: bool,
    /// Replace an existing target (local for `get`, remote for `put`).
    pub force: bool,
    /// `get`: keep `.NAME.part` on failure. `put`: skip when the server has the same
    /// bytes under the name (`--checksum`).
    pub keep_partial: bool,
    pub checksum: bool,
}

/// Download `name`; returns where it went. The part is created once the server said
/// the file exists, so a missing file leaves nothing.
pub(crate) fn get(
    c: &mut Client,
    name: &str,
    local: Option<&Path>,
    style: Style,
) -> Result<PathBuf, Failure> {
    let target = local::target(name, local)?;
    partial::check_target(&target, style.force)?;
    let started = Instant::now();
    let header = c.get_start(name)?;
    let mut part = Partial::create(&target, style.keep_partial)?;
    let bar = progress::bar(Some(header.len), name, style.quiet);
    let (bytes, sha) = c.get_body(name, &header, part.file(), &bar)?;
    bar.finish_and_clear();
    part.persist(&target, style.force)?;
    report(
        style,
        &format!("{name} -> {}", target.display()),
        Summary {
            name: name.to_owned(),
            bytes,
            seconds: started.elapsed().as_secs_f64(),
            sha256: sha,
            skipped: false,
        },
    );
    Ok(target)
}

/// Upload `local` as `name` (default: its file name); returns the stored name.
pub(crate) fn put(
    c: &mut Client,
    local: &Path,
    name: Option<&str>,
    style: Style,
) -> Result<String, Failure> {
    let name = match name {
        Some(n) => n.to_owned(),
        None => local
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| {
                Status::new(
                    Exit::Usage,
                    format!("{}: no UTF-8 file name; give NAME", local.display()),
                )
            })?
            .to_owned(),
    };
    let file = File::open(local).map_err(|e| Status::read(local, &e))?;
    let meta = file.metadata().map_err(|e| Status::read(local, &e))?;
    if !meta.is_file() {
        let why = format!("{}: not a regular file", local.display());
        return Err(Status::new(Exit::LocalRead, why).into());
    }
    let started = Instant::now();
    if style.checksum
        && let Some(sha) = same_on_server(c, &name, &file, meta.len())?
    {
        report(
            style,
            &format!("{} = {name}: unchanged, skipped", local.display()),
            Summary {
                name: name.clone(),
                bytes: meta.len(),
                seconds: started.elapsed().as_secs_f64(),
                sha256: sha,
                skipped: true,
            },
        );
        return Ok(name);
    }
    let bar = progress::bar(Some(meta.len()), &name, style.quiet);
    let ok = c.put(&name, &file, meta.len(), style.force, &bar)?;
    bar.finish_and_clear();
    report(
        style,
        &format!("{} -> {}", local.display(), ok.name),
        Summary {
            name: ok.name.clone(),
            bytes: ok.size,
            seconds: started.elapsed().as_secs_f64(),
            sha256: ok.sha256.clone(),
            skipped: false,
        },
    );
    Ok(ok.name)
}

/// `--checksum`: the local digest when the server holds `name` with the same one
/// (its `HASH`, remembered or computed), else `None`.
fn same_on_server(
    c: &mut Client,
    name: &str,
    file: &File,
    size: u64,
) -> Result<Option<String>, Failure> {
    let theirs = match c.hash(name) {
        Ok(h) => h,
        Err(ClientError::Server { .. }) => return Ok(None), // not there (or not a file)
        Err(e) => return Err(e.into()),
    };
    let ours = crate::hasher::hash_file(file, size)?;
    Ok((ours == theirs).then_some(ours))
}

/// The summary: `what: N bytes in T, sha256 H verified` on stderr, or `--json`.
fn report(style: Style, what: &str, s: Summary) {
    if style.json {
        println!("{}", s.to_json());
    } else if !style.quiet {
        let verb = if s.skipped { "" } else { " verified" };
        eprintln!(
            "{what}: {} bytes in {:.2}s, sha256 {}{verb}",
            s.bytes, s.seconds, s.sha256
        );
    }
}
