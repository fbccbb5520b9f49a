//! Dropping root after binding: the topology's `user` names the account to run as.
//!
//! Listeners (e.g. TFTP's port 69) and storage roots are opened first, as root; then
//! the process switches group list, group and user, and checks that root cannot be
//! regained. The alternative that needs no root at all is `CAP_NET_BIND_SERVICE`
//! (see `config/switchyard.service`).

use anyhow::{Context, bail};
use nix::unistd::{Gid, Uid, User, setgid, setgroups, setuid};

/// Switch to `name`'s uid and gid (and only its primary group). A no-op when already
/// running as that user.
pub fn drop_to(name: &str) -> anyhow::Result<(Uid, Gid)> {
    let user = User::from_name(name)
        .with_context(|| format!("cannot look up user `{name}`"))?
        .with_context(|| format!("no user named `{name}`"))?;
    if Uid::effective() == user.uid {
        return Ok((user.uid, user.gid));
    }
    if !Uid::effective().is_root() {
        bail!(
            "`user: \"{name}\"` needs the server to start as root (it runs as uid {})",
            Uid::effective()
        );
    }
    setgroups(&[user.gid]).context("setgroups")?;
    setgid(user.gid).context("setgid")?;
    setuid(user.uid).context("setuid")?;
    if !user.uid.is_root() && setuid(Uid::from_raw(0)).is_ok() {
        bail!("could regain root after switching to `{name}`: refusing to run");
    }
    Ok((user.uid, user.gid))
}
