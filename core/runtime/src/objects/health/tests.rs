//! What counts as the store working or failing, what an error shows, and the probe.

use super::*;

fn corrupt(why: &str) -> ObjectStorageError {
    ObjectStorageError::CorruptRecord {
        path: "rec".into(),
        why: why.into(),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn an_answer_of_any_kind_is_ok_a_store_failure_is_failing_a_local_error_neither() {
    let health = StoreHealth::new(Vec::new());
    assert_eq!(health.view().last_ok_unix_ms, None);
    health.failed_with(&ObjectStorageError::NotFound("x".into()));
    let ok = health.view();
    assert!(ok.last_ok_unix_ms.is_some());
    assert_eq!(ok.failing_since_unix_ms, None);
    health.failed_with(&corrupt("gone"));
    let failing = health.view();
    let since = failing.failing_since_unix_ms.expect("failing");
    assert!(failing.last_error.as_ref().unwrap().1.contains("gone"));
    // A second failure keeps the first's time; a spool error changes nothing.
    health.failed_with(&corrupt("still gone"));
    health.failed_with(&ObjectStorageError::Config("spool: disk full".into()));
    let still = health.view();
    assert_eq!(still.failing_since_unix_ms, Some(since));
    assert!(still.last_error.as_ref().unwrap().1.contains("still gone"));
    // Back: ok again, the last error kept for the operator.
    health.failed_with(&ObjectStorageError::AlreadyExists("x".into()));
    let back = health.view();
    assert_eq!(back.failing_since_unix_ms, None);
    assert!(back.last_error.is_some());
}

#[test]
fn errors_never_show_the_credentials_or_signed_url_parameters() {
    let health = StoreHealth::new(vec![
        "AKIDEXAMPLE".into(),
        "s3cr3t/key+x".into(),
        String::new(),
    ]);
    health.failed(
        "GET http://s3/b/k?X-Amz-Credential=AKIDEXAMPLE%2F2026&X-Amz-Signature=abcdef0123 \
         failed: bad secret s3cr3t/key+x",
    );
    let (_, text) = health.view().last_error.unwrap();
    assert!(!text.contains("AKIDEXAMPLE"), "{text}");
    assert!(!text.contains("s3cr3t"), "{text}");
    assert!(!text.contains("abcdef0123"), "{text}");
    assert!(text.contains("X-Amz-Signature=[redacted]"), "{text}");
    assert!(text.starts_with("GET http://s3/b/k?"), "{text}");
    assert!(!format!("{health:?}").contains("s3cr3t"));
    // A whole error page is cut short.
    health.failed(&"x".repeat(5_000));
    let (_, long) = health.view().last_error.unwrap();
    assert_eq!(long.chars().count(), ERROR_CHARS + 1);
}

#[test]
fn operations_count_in_flight_until_they_end_even_when_cancelled() {
    let health = std::sync::Arc::new(StoreHealth::new(Vec::new()));
    let rt = runtime();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let waiting = {
        let health = std::sync::Arc::clone(&health);
        rt.spawn(async move {
            health
                .track(async {
                    let _ = rx.await;
                    Ok::<_, ObjectStorageError>(())
                })
                .await
        })
    };
    rt.block_on(async {
        while health.view().in_flight == 0 {
            tokio::task::yield_now().await;
        }
    });
    assert_eq!(health.view().in_flight, 1);
    tx.send(()).unwrap();
    rt.block_on(waiting).unwrap().unwrap();
    assert_eq!(health.view().in_flight, 0);
    // Cancelled half-way: not counted any more, and no outcome recorded.
    let before = health.view();
    let pending = health.track(std::future::pending::<Result<(), ObjectStorageError>>());
    let cut = rt.block_on(async { tokio::time::timeout(Duration::from_millis(10), pending).await });
    assert!(cut.is_err());
    assert_eq!(health.view(), before);
}

#[test]
fn an_idle_storage_is_probed_and_a_store_that_answers_is_ok() {
    let health = std::sync::Arc::new(StoreHealth::new(Vec::new()));
    let storage = ObjectStorage::in_memory("p").unwrap();
    let rt = runtime();
    let probing = probe(storage, std::sync::Arc::clone(&health));
    let _ = rt.block_on(async { tokio::time::timeout(Duration::from_millis(200), probing).await });
    let view = health.view();
    assert!(view.last_ok_unix_ms.is_some(), "{view:?}");
    assert_eq!(view.failing_since_unix_ms, None);
    assert_eq!(view.in_flight, 0);
}
