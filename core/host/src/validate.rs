//! `switchyard validate FILE...`: what `serve` would refuse, without binding anything.
//!
//! Besides the topology itself, each storage root is checked as the user the host
//! will run as (the topology's `user` when run as root or as that user, else the
//! user running `validate`), so `ExecStartPre=switchyard validate` catches an
//! unwritable root before the service starts (as `nginx -t` does).

use std::path::PathBuf;
use std::process::ExitCode;

use switchyard_runtime::catalog::Catalog;
use switchyard_runtime::topology;

use crate::EXIT_CONFIG;
use crate::access::RunAs;
use crate::startup;

/// Validate every file; exit 0 if all are valid, 78 if not.
pub fn run(files: &[PathBuf], catalog: &Catalog) -> ExitCode {
    let mut failed = false;
    for file in files {
        let topo = match topology::load(file).and_then(|src| topology::compile(&src, catalog)) {
            Ok(t) => t,
            Err(errors) => {
                failed = true;
                eprintln!("{}", topology::render(&errors, false));
                continue;
            }
        };
        let who = match RunAs::resolve(topo.user.as_deref()) {
            Ok(w) if w.checkable() => Some(w),
            Ok(w) => {
                eprintln!(
                    "{}: note: storage roots not checked: run `validate` as root or as `{}` to check them as that user",
                    file.display(),
                    w.name
                );
                None
            }
            Err(e) => {
                failed = true;
                eprintln!("{}: error: {e}", file.display());
                continue;
            }
        };
        let problems = who
            .as_ref()
            .map(|w| startup::check(&topo, None, w))
            .unwrap_or_default();
        if problems.is_empty() {
            println!(
                "{}: ok ({} listeners, {} handlers)",
                file.display(),
                topo.listeners.len(),
                topo.handlers.len()
            );
        } else {
            failed = true;
            for p in problems {
                eprintln!("{}: error: {p}", file.display());
            }
        }
    }
    if failed {
        ExitCode::from(EXIT_CONFIG)
    } else {
        ExitCode::SUCCESS
    }
}
