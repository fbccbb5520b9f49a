//! The open-files limit, raised at start.
//!
//! Every connection, transfer socket and open file is a descriptor; distributions
//! start services with a soft `RLIMIT_NOFILE` of 1024 (or less: 256 under some
//! shells) and a hard limit far above it. Like nginx's `worker_rlimit_nofile` and
//! Go's runtime, the host raises its soft limit to the hard one at start, so the
//! operator sets one number (`LimitNOFILE=` in the unit) and gets it.

use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};

/// The soft limit before and after, and the hard limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Raised {
    pub before: Option<u64>,
    pub after: Option<u64>,
    pub hard: Option<u64>,
}

/// Raise the soft `RLIMIT_NOFILE` to the hard limit (`None` = unlimited).
pub fn raise() -> std::io::Result<Raised> {
    let old = getrlimit(Resource::Nofile);
    let new = Rlimit {
        current: old.maximum,
        maximum: old.maximum,
    };
    if old.current != old.maximum {
        setrlimit(Resource::Nofile, new)?;
    }
    let now = getrlimit(Resource::Nofile);
    Ok(Raised {
        before: old.current,
        after: now.current,
        hard: now.maximum,
    })
}
