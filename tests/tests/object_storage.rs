//! The object storage library (`core/object-storage`) against a real S3 store:
//! SeaweedFS 4.48 started by the harness ([`switchyard_e2e::seaweed`]). The same
//! guarantees are tested against the in-memory store in the crate itself; here they
//! meet a server's real multipart uploads, etags, conditions and metadata.

use std::time::Duration;

use bytes::Bytes;
use sha2::{Digest, Sha256};
use switchyard_e2e::seaweed::{BUCKET, Seaweed};
use switchyard_object_storage::{
    ConditionalCreate, ListEntry, MIN_PART, ObjectStorage, ObjectStorageError, S3Settings,
    UploadOptions,
};

fn storage(store: &Seaweed, prefix: &str) -> ObjectStorage {
    ObjectStorage::connect_s3(&S3Settings {
        endpoint: store.endpoint(),
        bucket: BUCKET.into(),
        prefix: prefix.into(),
        region: "us-east-1".into(),
        credentials: None,
        path_style: true,
    })
    .expect("connect")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

const OVERWRITE: UploadOptions = UploadOptions {
    sha256: None,
    overwrite: true,
};

async fn put(s: &ObjectStorage, name: &str, data: Vec<u8>, options: UploadOptions) {
    let mut up = s.begin_upload(name, options).await.expect("begin");
    up.put_part(Bytes::from(data)).await.expect("part");
    up.commit().await.expect("commit");
}

#[test]
fn a_multipart_upload_is_invisible_until_committed_and_reads_back_whole() {
    let Some(store) = Seaweed::start() else {
        return;
    };
    runtime().block_on(async {
        let s = storage(&store, "team/a");
        let data: Vec<u8> = (0..MIN_PART + 12345).map(|i| (i % 251) as u8).collect();
        let digest: [u8; 32] = Sha256::digest(&data).into();
        let options = UploadOptions {
            sha256: Some(digest),
            overwrite: false,
        };
        let mut up = s.begin_upload("dir/big.bin", options).await.unwrap();
        up.put_part(Bytes::copy_from_slice(&data[..MIN_PART]))
            .await
            .unwrap();
        up.put_part(Bytes::copy_from_slice(&data[MIN_PART..]))
            .await
            .unwrap();
        assert!(matches!(
            s.stat("dir/big.bin").await,
            Err(ObjectStorageError::NotFound(_))
        ));
        assert_eq!(s.list(None).await.unwrap(), vec![], "nothing listed yet");
        assert_eq!(s.uploads_in_progress().await.unwrap(), 1);
        let done = up.commit().await.unwrap();
        assert_eq!((done.size, done.sha256), (data.len() as u64, digest));
        let info = s.stat("dir/big.bin").await.unwrap();
        assert_eq!(info.size, data.len() as u64);
        assert_eq!(
            info.sha256,
            Some(digest),
            "the digest round-trips in metadata"
        );
        let read = s.open_read("dir/big.bin").await.unwrap();
        let mut back = Vec::new();
        for start in (0..data.len() as u64).step_by(1 << 20) {
            back.extend_from_slice(&read.read_range(start..start + (1 << 20)).await.unwrap());
        }
        assert!(back == data, "bytes differ");
        assert_eq!(s.uploads_in_progress().await.unwrap(), 0);
    });
}

#[test]
fn create_only_refuses_a_second_upload_of_a_name() {
    let Some(store) = Seaweed::start() else {
        return;
    };
    runtime().block_on(async {
        let s = storage(&store, "");
        put(&s, "f", b"first".to_vec(), UploadOptions::default()).await;
        let mut up = s.begin_upload("f", UploadOptions::default()).await.unwrap();
        up.put_part(Bytes::from_static(b"second")).await.unwrap();
        let refused = up.commit().await;
        assert!(
            matches!(refused, Err(ObjectStorageError::AlreadyExists(ref n)) if n == "f"),
            "{refused:?}"
        );
        let read = s.open_read("f").await.unwrap();
        assert_eq!(read.read_range(0..100).await.unwrap(), "first");
        assert_eq!(s.uploads_in_progress().await.unwrap(), 0);
    });
}

#[test]
fn a_pinned_read_fails_when_the_object_is_replaced_mid_read() {
    let Some(store) = Seaweed::start() else {
        return;
    };
    runtime().block_on(async {
        let s = storage(&store, "p");
        put(&s, "f", vec![b'a'; 4096], UploadOptions::default()).await;
        let read = s.open_read("f").await.unwrap();
        assert_eq!(read.read_range(0..1024).await.unwrap(), vec![b'a'; 1024]);
        put(&s, "f", vec![b'b'; 4096], OVERWRITE).await;
        let after = read.read_range(1024..2048).await;
        assert!(
            matches!(after, Err(ObjectStorageError::Replaced(ref n)) if n == "f"),
            "{after:?}"
        );
    });
}

#[test]
fn listing_shows_committed_objects_only_and_never_host_records() {
    let Some(store) = Seaweed::start() else {
        return;
    };
    runtime().block_on(async {
        let s = storage(&store, "team/a");
        let other = storage(&store, "team/b");
        put(&other, "theirs", b"x".to_vec(), UploadOptions::default()).await;
        put(&s, "d/done", b"y".to_vec(), UploadOptions::default()).await;
        let mut pending = s
            .begin_upload("d/pending", UploadOptions::default())
            .await
            .unwrap();
        pending.put_part(Bytes::from_static(b"z")).await.unwrap();
        let top = s.list(None).await.unwrap();
        assert_eq!(top.len(), 1, "{top:?}");
        assert!(
            matches!(&top[0], ListEntry::Dir(n) if n.as_str() == "d"),
            "{top:?}"
        );
        let inner = s.list(Some("d")).await.unwrap();
        assert_eq!(inner.len(), 1, "{inner:?}");
        assert!(
            matches!(&inner[0], ListEntry::File { name, size: 1, .. } if name.as_str() == "d/done"),
            "{inner:?}"
        );
        assert!(matches!(
            s.stat("../b/theirs").await,
            Err(ObjectStorageError::InvalidName(_))
        ));
        pending.abort().await.unwrap();
    });
}

#[test]
fn the_sweeper_aborts_an_upload_left_by_a_crashed_host() {
    let Some(store) = Seaweed::start() else {
        return;
    };
    runtime().block_on(async {
        let crashed = storage(&store, "p");
        let mut up = crashed
            .begin_upload("orphan", UploadOptions::default())
            .await
            .unwrap();
        up.put_part(Bytes::from_static(b"part")).await.unwrap();
        // Another host (another client on the same prefix) sweeps.
        let sweeper = storage(&store, "p");
        let young = sweeper
            .sweep_stale_uploads(Duration::from_secs(3600))
            .await
            .unwrap();
        assert_eq!((young.aborted.len(), young.kept), (0, 1));
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let swept = sweeper
            .sweep_stale_uploads(Duration::from_secs(1))
            .await
            .unwrap();
        assert_eq!(swept.aborted.len(), 1, "{swept:?}");
        assert_eq!(sweeper.uploads_in_progress().await.unwrap(), 0);
        let late = up.commit().await;
        assert!(late.is_err(), "the aborted upload completed: {late:?}");
        assert!(matches!(
            sweeper.stat("orphan").await,
            Err(ObjectStorageError::NotFound(_))
        ));
    });
}

/// Measured (docs/decisions/object-store-client.md): SeaweedFS 4.48 refuses a second
/// `PUT` with `If-None-Match: *`, so locks and create-only commits hold on it.
#[test]
fn seaweedfs_honours_conditional_creates_and_the_lock_has_one_holder() {
    let Some(store) = Seaweed::start() else {
        return;
    };
    runtime().block_on(async {
        let s = storage(&store, "");
        assert_eq!(
            s.probe_conditional_create().await.unwrap(),
            ConditionalCreate::Honoured
        );
        let held = s.lock("name", Duration::from_secs(60)).await.unwrap();
        let other = storage(&store, "");
        assert!(matches!(
            other.lock("name", Duration::from_secs(60)).await,
            Err(ObjectStorageError::Locked(_))
        ));
        held.release().await.unwrap();
        other.lock("name", Duration::from_secs(60)).await.unwrap();
    });
}
