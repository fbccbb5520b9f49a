//! The replay of a step that waited, on the mock in both of its storage modes.

use super::StorageWaits;
use crate::testing::MockHost;
use crate::{HostError, Storage};

/// A step as a machine writes it: stat `a`, list the root, then open `b`; the size of
/// `a` and of `b`, and how many entries, or the call's error.
fn step(st: &mut dyn Storage) -> Result<(u64, usize, u64), HostError> {
    let a = st.stat("a")?.size;
    let n = st.list_dir("")?.len();
    let (file, b) = st.open_read("b")?;
    st.close_file(file)?;
    Ok((a, n, b))
}

fn host() -> MockHost {
    let mut host = MockHost::new();
    host.files.insert("a".into(), vec![0; 3]);
    host.files.insert("b".into(), vec![0; 5]);
    host
}

#[test]
fn on_a_dir_a_step_runs_through_at_once() {
    let mut host = host();
    let mut waits = StorageWaits::new(100);
    let got = host.with_ctx(0, |cx| step(&mut waits.storage(cx)));
    assert_eq!(got, Ok((3, 2, 5)));
    assert!(!waits.is_waiting());
    assert_eq!(host.storage_in_flight(), 0);
}

#[test]
fn a_step_that_waits_is_run_again_with_each_answer_until_it_goes_through() {
    let mut host = host();
    host.storage_waits = true;
    let mut waits = StorageWaits::new(100);
    let mut runs = 0;
    let got = loop {
        runs += 1;
        let got = host.with_ctx(0, |cx| step(&mut waits.storage(cx)));
        if got != Err(HostError::Pending) {
            break got;
        }
        assert!(waits.is_waiting());
        let finished = host.finish_storage();
        assert_eq!(finished.len(), 1, "one operation in flight at a time");
        let (token, result) = finished.into_iter().next().unwrap();
        assert!(token >= 100);
        assert!(!waits.owns(token + 1));
        let ready = host.with_ctx(0, |cx| waits.complete(cx, token, result));
        assert!(ready);
    };
    assert_eq!(got, Ok((3, 2, 5)));
    // Three operations, each waited for once, then the run that went through.
    assert_eq!(runs, 4);
    // The next step starts afresh: its first call waits again.
    let next = host.with_ctx(0, |cx| step(&mut waits.storage(cx)));
    assert_eq!(next, Err(HostError::Pending));
}

#[test]
fn a_failure_that_waited_is_the_steps_answer_and_a_stranger_token_is_not_taken() {
    let mut host = MockHost::new();
    host.storage_waits = true;
    let mut waits = StorageWaits::new(0);
    let first = host.with_ctx(0, |cx| waits.storage(cx).stat("missing").map(|s| s.size));
    assert_eq!(first, Err(HostError::Pending));
    let (token, result) = host.finish_storage().remove(0);
    assert!(!host.with_ctx(0, |cx| waits.complete(cx, token + 7, result)));
    assert!(host.with_ctx(0, |cx| waits.complete(cx, token, result)));
    let again = host.with_ctx(0, |cx| waits.storage(cx).stat("missing").map(|s| s.size));
    assert_eq!(again, Err(HostError::NotFound));
}
