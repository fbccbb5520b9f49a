//! The guarantees against the in-memory store (the logic; `tests/tests/object_storage.rs`
//! runs them against SeaweedFS).

use std::time::Duration;

use bytes::Bytes;
use sha2::Digest;

use crate::{ListEntry, ObjectStorage, ObjectStorageError, UploadOptions};

fn sha(data: &[u8]) -> [u8; 32] {
    sha2::Sha256::digest(data).into()
}

async fn put(s: &ObjectStorage, name: &str, data: &'static [u8], options: UploadOptions) {
    let mut up = s.begin_upload(name, options).await.unwrap();
    up.put_part(Bytes::from_static(data)).await.unwrap();
    up.commit().await.unwrap();
}

#[tokio::test]
async fn an_upload_is_invisible_until_committed() {
    let s = ObjectStorage::in_memory("p").unwrap();
    let mut up = s
        .begin_upload("d/f", UploadOptions::default())
        .await
        .unwrap();
    up.put_part(Bytes::from_static(b"hello")).await.unwrap();
    assert!(matches!(
        s.stat("d/f").await,
        Err(ObjectStorageError::NotFound(_))
    ));
    assert_eq!(s.list(None).await.unwrap(), vec![]);
    assert_eq!(s.uploads_in_progress().await.unwrap(), 1);
    let done = up.commit().await.unwrap();
    assert_eq!((done.size, done.sha256), (5, sha(b"hello")));
    assert_eq!(s.stat("d/f").await.unwrap().size, 5);
    assert_eq!(s.uploads_in_progress().await.unwrap(), 0);
    let listed = s.list(Some("d")).await.unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert!(
        matches!(&listed[0], ListEntry::File { name, size: 5, modified_unix } if *modified_unix > 0 && name.as_str() == "d/f")
    );
}

#[tokio::test]
async fn create_only_refuses_a_second_commit_and_overwrite_replaces() {
    let s = ObjectStorage::in_memory("").unwrap();
    put(&s, "f", b"one", UploadOptions::default()).await;
    let mut up = s.begin_upload("f", UploadOptions::default()).await.unwrap();
    up.put_part(Bytes::from_static(b"two")).await.unwrap();
    assert!(matches!(up.commit().await, Err(ObjectStorageError::AlreadyExists(n)) if n == "f"));
    assert_eq!(
        s.open_read("f")
            .await
            .unwrap()
            .read_range(0..9)
            .await
            .unwrap(),
        "one"
    );
    assert_eq!(
        s.uploads_in_progress().await.unwrap(),
        0,
        "the refused upload was aborted"
    );
    let overwrite = UploadOptions {
        overwrite: true,
        ..UploadOptions::default()
    };
    put(&s, "f", b"three", overwrite).await;
    assert_eq!(s.stat("f").await.unwrap().size, 5);
}

#[tokio::test]
async fn a_read_pinned_to_one_version_fails_when_the_object_is_replaced() {
    let s = ObjectStorage::in_memory("").unwrap();
    put(&s, "f", b"0123456789", UploadOptions::default()).await;
    let read = s.open_read("f").await.unwrap();
    assert_eq!(read.read_range(0..4).await.unwrap(), "0123");
    assert_eq!(read.read_range(8..100).await.unwrap(), "89");
    let overwrite = UploadOptions {
        overwrite: true,
        ..UploadOptions::default()
    };
    put(&s, "f", b"abcdefghij", overwrite).await;
    assert!(
        matches!(read.read_range(4..8).await, Err(ObjectStorageError::Replaced(n)) if n == "f")
    );
    s.delete("f").await.unwrap();
    assert!(matches!(
        read.read_range(0..1).await,
        Err(ObjectStorageError::Replaced(_))
    ));
}

#[tokio::test]
async fn the_declared_digest_is_kept_in_metadata_and_checked() {
    let s = ObjectStorage::in_memory("").unwrap();
    let declared = UploadOptions {
        sha256: Some(sha(b"data")),
        ..UploadOptions::default()
    };
    put(&s, "f", b"data", declared).await;
    assert_eq!(s.stat("f").await.unwrap().sha256, Some(sha(b"data")));
    // Not declared: known at completion, kept in a digest record (metadata is fixed).
    put(&s, "g", b"data", UploadOptions::default()).await;
    assert_eq!(s.stat("g").await.unwrap().sha256, Some(sha(b"data")));
    let mut up = s.begin_upload("h", declared).await.unwrap();
    up.put_part(Bytes::from_static(b"other")).await.unwrap();
    assert!(matches!(
        up.commit().await,
        Err(ObjectStorageError::DigestMismatch(_))
    ));
    assert!(matches!(
        s.stat("h").await,
        Err(ObjectStorageError::NotFound(_))
    ));
}

#[tokio::test]
async fn names_are_confined_to_the_prefix_and_records_never_listed() {
    let s = ObjectStorage::in_memory("team/a").unwrap();
    let other = ObjectStorage::new(s.backend.clone(), "team/b").unwrap();
    put(&other, "secret", b"x", UploadOptions::default()).await;
    for bad in [
        "../b/secret",
        "/team/b/secret",
        ".sy-tmp.uploads/x",
        "a//b",
        "",
    ] {
        assert!(
            matches!(s.stat(bad).await, Err(ObjectStorageError::InvalidName(_))),
            "{bad}"
        );
    }
    let _open = s
        .begin_upload("pending", UploadOptions::default())
        .await
        .unwrap();
    put(&s, "mine", b"y", UploadOptions::default()).await;
    let names: Vec<String> = s
        .list(None)
        .await
        .unwrap()
        .iter()
        .map(|e| format!("{e:?}"))
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(names[0].contains("mine"), "{names:?}");
}

#[tokio::test]
async fn the_sweeper_aborts_stale_uploads_and_keeps_young_ones() {
    let s = ObjectStorage::in_memory("").unwrap();
    let mut up = s.begin_upload("f", UploadOptions::default()).await.unwrap();
    up.put_part(Bytes::from_static(b"part")).await.unwrap();
    let young = s
        .sweep_stale_uploads(Duration::from_secs(3600))
        .await
        .unwrap();
    assert_eq!((young.aborted.len(), young.kept), (0, 1));
    let swept = s.sweep_stale_uploads(Duration::ZERO).await.unwrap();
    assert_eq!(swept.aborted.len(), 1);
    assert_eq!(swept.aborted[0].as_str(), "f");
    assert_eq!(s.uploads_in_progress().await.unwrap(), 0);
    // The upload is gone from the store: completing it now fails.
    assert!(up.commit().await.is_err());
    assert!(matches!(
        s.stat("f").await,
        Err(ObjectStorageError::NotFound(_))
    ));
}

#[tokio::test]
async fn an_upload_its_owner_gave_up_is_swept_at_once_and_a_live_one_is_kept() {
    let s = ObjectStorage::in_memory("").unwrap();
    let other = ObjectStorage::new(std::sync::Arc::clone(&s.backend), "").unwrap();
    let live = s
        .begin_upload("live", UploadOptions::default())
        .await
        .unwrap();
    // A commit that failed while the store was away leaves its record behind: the
    // upload is dropped, its record stays.
    let given_up = s
        .begin_upload("lost", UploadOptions::default())
        .await
        .unwrap();
    drop(given_up);
    // Another host's young upload is not this owner's to sweep.
    let _theirs = other
        .begin_upload("theirs", UploadOptions::default())
        .await
        .unwrap();
    let report = s
        .sweep_stale_uploads(Duration::from_secs(3600))
        .await
        .unwrap();
    let aborted: Vec<&str> = report.aborted.iter().map(|n| n.as_str()).collect();
    assert_eq!(aborted, ["lost"]);
    assert_eq!(report.kept, 2);
    drop(live);
}

#[tokio::test]
async fn parts_sent_in_parallel_make_the_object_in_their_order() {
    let s = ObjectStorage::in_memory("p").unwrap();
    let chunks: Vec<&'static [u8]> = vec![b"first-", b"second-", b"third-", b"last"];
    let whole: Vec<u8> = chunks.concat();
    let options = UploadOptions {
        sha256: Some(sha(&whole)),
        overwrite: false,
    };
    let mut up = s.begin_upload("par.bin", options).await.unwrap();
    let parts = futures_util::stream::iter(chunks.into_iter().map(|c| Ok(Bytes::from_static(c))));
    up.put_parts(parts, 3).await.unwrap();
    assert_eq!(up.size(), whole.len() as u64);
    let done = up.commit().await.unwrap();
    assert_eq!(done.sha256, sha(&whole));
    let read = s.open_read("par.bin").await.unwrap();
    let got = read.read_range(0..whole.len() as u64).await.unwrap();
    assert_eq!(got.as_ref(), whole.as_slice());
}

#[tokio::test]
async fn a_lock_has_one_holder_until_released_or_expired() {
    let s = ObjectStorage::in_memory("").unwrap();
    let held = s.lock("name", Duration::from_secs(60)).await.unwrap();
    assert!(matches!(
        s.lock("name", Duration::from_secs(60)).await,
        Err(ObjectStorageError::Locked(_))
    ));
    held.release().await.unwrap();
    let short = s.lock("name", Duration::from_secs(1)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let taken = s.lock("name", Duration::from_secs(60)).await.unwrap();
    assert_ne!(short.owner(), taken.owner());
    assert!(matches!(
        s.lock("name", Duration::from_secs(60)).await,
        Err(ObjectStorageError::Locked(_))
    ));
}

#[tokio::test]
async fn a_renewed_lease_keeps_its_holder_and_a_lost_one_cannot_be_renewed() {
    let s = ObjectStorage::in_memory("").unwrap();
    let held = s.lock("name", Duration::from_secs(1)).await.unwrap();
    held.renew(Duration::from_secs(60)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    // Renewed past its first expiry: still held.
    assert!(matches!(
        s.lock("name", Duration::from_secs(60)).await,
        Err(ObjectStorageError::Locked(_))
    ));
    let short = s.lock("other", Duration::from_secs(1)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let _taker = s.lock("other", Duration::from_secs(60)).await.unwrap();
    assert!(matches!(
        short.renew(Duration::from_secs(60)).await,
        Err(ObjectStorageError::Locked(_))
    ));
    // Releasing a lock that was taken over leaves the new holder's in place.
    short.release().await.unwrap();
    assert!(matches!(
        s.lock("other", Duration::from_secs(60)).await,
        Err(ObjectStorageError::Locked(_))
    ));
}

#[tokio::test]
async fn the_memory_store_honours_conditional_creates() {
    let s = ObjectStorage::in_memory("").unwrap();
    assert_eq!(
        s.probe_conditional_create().await.unwrap(),
        crate::ConditionalCreate::Honoured
    );
}

#[tokio::test]
async fn a_digest_known_only_at_completion_is_recorded_for_its_version_only() {
    let s = ObjectStorage::in_memory("p").unwrap();
    let mut up = s
        .begin_upload("d/f", UploadOptions::default())
        .await
        .unwrap();
    // Decided at the end, as for an upload whose parts left while it arrived.
    up.set_overwrite(true);
    up.put_part(Bytes::from_static(b"late")).await.unwrap();
    up.commit().await.unwrap();
    assert_eq!(s.stat("d/f").await.unwrap().sha256, Some(sha(b"late")));
    let listed = s.list(None).await.unwrap();
    assert_eq!(
        listed,
        vec![ListEntry::Dir(crate::ObjectName::parse("d").unwrap())]
    );

    // Replaced behind the host's back: the record names another version.
    let key = s.key(&crate::ObjectName::parse("d/f").unwrap());
    use object_store::ObjectStoreExt;
    s.backend
        .put(&key, object_store::PutPayload::from_static(b"other"))
        .await
        .unwrap();
    assert_eq!(
        s.stat("d/f").await.unwrap().sha256,
        None,
        "never a stale digest"
    );

    // A create-only commit over nothing records too; a delete takes the record along.
    s.delete("d/f").await.unwrap();
    assert!(s.reserved_objects("digests").await.unwrap().is_empty());
    let mut up = s
        .begin_upload("d/f", UploadOptions::default())
        .await
        .unwrap();
    up.put_part(Bytes::from_static(b"again")).await.unwrap();
    up.commit().await.unwrap();
    assert_eq!(s.stat("d/f").await.unwrap().sha256, Some(sha(b"again")));
}
