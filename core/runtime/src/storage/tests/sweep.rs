//! Crash recovery: `Root::open` deletes temps whose writer is dead, and only those.

use std::os::unix::fs::symlink;

use super::{Area, put, raw_names};
use crate::storage::{Root, TEMP_PREFIX};

#[test]
fn stale_temps_are_swept_and_live_ones_kept() {
    let area = Area::new(false);
    let me = std::process::id();
    let dead_pid = format!("{TEMP_PREFIX}2000000000.00000000000000ab.3"); // above any pid_max
    let old_me = format!("{TEMP_PREFIX}{me}.0000000000000001.0"); // our pid, earlier incarnation
    let garbage = format!("{TEMP_PREFIX}junk");
    let huge_pid = format!("{TEMP_PREFIX}99999999999.0.0"); // not an i32 pid at all
    let live_other = format!("{TEMP_PREFIX}1.00000000000000cd.0"); // pid 1 always runs
    put(&area.at(&dead_pid), b"x");
    put(&area.at(&format!("deep/er/{old_me}")), b"x");
    put(&area.at(&garbage), b"x");
    put(&area.at(&huge_pid), b"x");
    put(&area.at(&live_other), b"x");
    put(&area.at(".keep"), b"x");
    let live_mine = area.root.create_temp("deep/er/upload").expect("temp");

    // A stale-looking temp outside, reachable only through a symlink: must survive.
    put(&area.outside().join(&dead_pid), b"x");
    symlink(area.outside(), area.at("out")).expect("symlink");

    let reopened = Root::open(&area.at("")).expect("reopen");
    assert_eq!(reopened.swept(), 4);
    let mut root_names = raw_names(&area.at(""));
    root_names.retain(|n| n != "deep" && n != "out");
    assert_eq!(root_names, [".keep", live_other.as_str()]);
    let deep = raw_names(&area.at("deep/er"));
    assert_eq!(deep.len(), 1, "{deep:?}");
    assert!(
        deep[0].starts_with(TEMP_PREFIX) && deep[0] != old_me,
        "our live temp kept: {deep:?}"
    );
    assert!(
        area.outside().join(&dead_pid).exists(),
        "sweep followed a symlink"
    );
    drop(live_mine);
    assert!(raw_names(&area.at("deep/er")).is_empty());
}

#[test]
fn a_fresh_root_sweeps_nothing() {
    assert_eq!(Area::new(false).root.swept(), 0);
}
