//! CPU seconds of processes from `/proc/PID/stat` (utime + stime), sampled at the
//! start and the end of the measured window so that connection set-up and warm-up are
//! not charged to the requests. A pid counts with its children (nginx's master and its
//! workers); threads are in their process's figures already.

use std::collections::BTreeSet;

/// Clock ticks per second of `/proc/PID/stat`'s times.
fn clock_ticks() -> f64 {
    // SAFETY: sysconf reads a constant of the system; no memory is passed.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}

/// utime + stime of one process, in seconds.
fn process_secs(pid: u32) -> Result<f64, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|e| format!("process {pid}: {e}"))?;
    // The command name may hold spaces and parentheses: count after its last ')'.
    let rest = stat
        .rsplit_once(") ")
        .ok_or_else(|| format!("process {pid}: unreadable stat"))?
        .1;
    let fields: Vec<&str> = rest.split(' ').collect();
    // fields[0] is field 3 (state): utime and stime are fields 14 and 15.
    let tick = |i: usize| -> Result<f64, String> {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .map(|t| t as f64)
            .ok_or_else(|| format!("process {pid}: no field {}", i + 3))
    };
    Ok((tick(11)? + tick(12)?) / clock_ticks())
}

/// The pid and every descendant of it, from each thread's `children` file.
fn with_descendants(pid: u32, into: &mut BTreeSet<u32>) {
    if !into.insert(pid) {
        return;
    }
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return;
    };
    for task in tasks.flatten() {
        let Ok(children) = std::fs::read_to_string(task.path().join("children")) else {
            continue;
        };
        for child in children.split_whitespace().filter_map(|c| c.parse().ok()) {
            with_descendants(child, into);
        }
    }
}

/// CPU seconds used so far by `pids` and their descendants.
pub fn tree_secs(pids: &[u32]) -> Result<f64, String> {
    let mut all = BTreeSet::new();
    for &pid in pids {
        with_descendants(pid, &mut all);
    }
    all.into_iter().map(process_secs).sum()
}

/// CPU seconds used so far by this process (every thread).
pub fn own_secs() -> Result<f64, String> {
    process_secs(std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_cpu_grows_with_work() {
        let before = own_secs().unwrap();
        let start = std::time::Instant::now();
        let mut x = 0u64;
        while start.elapsed().as_millis() < 60 {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
        assert!(
            own_secs().unwrap() > before,
            "60 ms of spinning shows in /proc"
        );
        assert!(tree_secs(&[std::process::id()]).unwrap() >= own_secs().unwrap() - 0.02);
    }

    #[test]
    fn a_missing_process_is_an_error() {
        assert!(tree_secs(&[u32::MAX]).is_err());
    }
}
