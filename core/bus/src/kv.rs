//! A JetStream key-value bucket whose entries expire: the primitive behind claims
//! ("exactly one agent takes this visitor") and presence ("this member is on host A").
//!
//! A claim is [`KvBucket::create`]: the server accepts it only when the key has no live
//! value, so of any number of concurrent claimers on any hosts exactly one gets `Ok`.
//! Keeping a claim is [`KvBucket::compare_and_set`] with the revision it got, which also
//! renews its age. Expiry is the bucket's `max_age`: nats-server 2.9 (Debian's) has no
//! per-key TTL (that needs 2.11), so a bucket is opened per expiry class
//! (docs/decisions/nats-client.md).

use std::time::Duration;

use async_nats::jetstream::{kv, stream};
use bytes::Bytes;
use futures_util::TryStreamExt;

use crate::connection::Bus;
use crate::error::BusError;
use switchyard_sdk::bus_subject::{bucket_problem, key_problem};

/// A key's current value and the revision to compare against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvEntry {
    /// The value.
    pub value: Bytes,
    /// Its revision (the stream sequence of the write).
    pub revision: u64,
}

/// A live key as [`KvBucket::records`] lists it: its value, and when it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvRecord {
    /// The key.
    pub key: String,
    /// Its value and revision.
    pub entry: KvEntry,
    /// When the server stored this value, milliseconds since the Unix epoch (the
    /// server's clock): how old a presence record is.
    pub written_unix_ms: u64,
}

/// A bucket named after the prefix and a name of the host's choosing.
#[derive(Debug, Clone)]
pub struct KvBucket {
    store: kv::Store,
}

impl KvBucket {
    /// Open bucket `name` (created when missing) whose entries expire `max_age` after
    /// their last write. Opening an existing bucket with another `max_age` updates it,
    /// so every host ends with the topology's value.
    pub async fn open(bus: &Bus, name: &str, max_age: Duration) -> Result<KvBucket, BusError> {
        let bucket = bucket_name(bus.prefix(), name)?;
        let js = bus.jetstream();
        // The bucket's stream made by hand, with the client's own KV conventions:
        // `create_key_value` first asks for the account's info, whose answer from
        // nats-server 2.9 the client no longer parses (decision record).
        let config = stream::Config {
            name: format!("KV_{bucket}"),
            subjects: vec![format!("$KV.{bucket}.>")],
            max_messages_per_subject: 1,
            max_age,
            allow_rollup: true,
            deny_delete: true,
            allow_direct: true,
            discard: stream::DiscardPolicy::New,
            storage: stream::StorageType::File,
            ..Default::default()
        };
        js.create_or_update_stream(config)
            .await
            .map_err(|e| BusError::nats("kv create", e))?;
        let store = js
            .get_key_value(bucket)
            .await
            .map_err(|e| BusError::nats("kv open", e))?;
        Ok(KvBucket { store })
    }

    /// The live value of `key`, `None` when absent, deleted or expired.
    pub async fn get(&self, key: &str) -> Result<Option<KvEntry>, BusError> {
        check_key(key)?;
        let entry = self
            .store
            .entry(key)
            .await
            .map_err(|e| BusError::nats("kv get", e))?;
        Ok(entry
            .filter(|e| e.operation == kv::Operation::Put)
            .map(|e| KvEntry {
                value: e.value,
                revision: e.revision,
            }))
    }

    /// Write `value` whatever was there; the new revision.
    pub async fn put(&self, key: &str, value: Bytes) -> Result<u64, BusError> {
        check_key(key)?;
        self.store
            .put(key, value)
            .await
            .map_err(|e| BusError::nats("kv put", e))
    }

    /// Write `value` only if `key` has no live value (a claim); [`BusError::Conflict`]
    /// when someone holds it.
    pub async fn create(&self, key: &str, value: Bytes) -> Result<u64, BusError> {
        check_key(key)?;
        self.store
            .create(key, value)
            .await
            .map_err(|e| match e.kind() {
                kv::CreateErrorKind::AlreadyExists => BusError::Conflict { key: key.into() },
                _ => BusError::nats("kv create", e),
            })
    }

    /// Write `value` only if `key` is still at `revision`; [`BusError::Conflict`]
    /// otherwise. The new revision.
    pub async fn compare_and_set(
        &self,
        key: &str,
        value: Bytes,
        revision: u64,
    ) -> Result<u64, BusError> {
        check_key(key)?;
        self.store
            .update(key, value, revision)
            .await
            .map_err(|e| match e.kind() {
                kv::UpdateErrorKind::WrongLastRevision => BusError::Conflict { key: key.into() },
                _ => BusError::nats("kv update", e),
            })
    }

    /// Every key with a live value (expired and deleted ones left out), in no
    /// particular order. One ephemeral consumer on the bucket's stream: meant for a
    /// small bucket read now and then (the hosts of a cluster), not a hot path.
    pub async fn keys(&self) -> Result<Vec<String>, BusError> {
        self.store
            .keys()
            .await
            .map_err(|e| BusError::nats("kv keys", e))?
            .try_collect()
            .await
            .map_err(|e| BusError::nats("kv keys", e))
    }

    /// Every live key with its value and write time ([`KvBucket::keys`], then each
    /// one read). A key that goes between the two is left out.
    pub async fn records(&self) -> Result<Vec<KvRecord>, BusError> {
        let mut out = Vec::new();
        for key in self.keys().await? {
            let entry = self
                .store
                .entry(&key)
                .await
                .map_err(|e| BusError::nats("kv get", e))?;
            let Some(e) = entry.filter(|e| e.operation == kv::Operation::Put) else {
                continue;
            };
            let written_unix_ms =
                u64::try_from(e.created.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
            out.push(KvRecord {
                key,
                entry: KvEntry {
                    value: e.value,
                    revision: e.revision,
                },
                written_unix_ms,
            });
        }
        Ok(out)
    }

    /// Remove `key` (a released claim); later creates succeed.
    pub async fn delete(&self, key: &str) -> Result<(), BusError> {
        check_key(key)?;
        self.store
            .delete(key)
            .await
            .map_err(|e| BusError::nats("kv delete", e))
    }
}

/// `prefix_name` with dots turned into `_` (bucket names are one token of
/// `A-Z a-z 0-9 _ -`).
fn bucket_name(prefix: &str, name: &str) -> Result<String, BusError> {
    let bucket = format!("{}_{name}", prefix.replace('.', "_"));
    match bucket_problem(&bucket) {
        Some(problem) => Err(BusError::Invalid {
            what: "bucket",
            value: bucket,
            problem,
        }),
        None => Ok(bucket),
    }
}

/// Keys may be dotted (`visitor.42`) but each part a plain token.
fn check_key(key: &str) -> Result<(), BusError> {
    match key_problem(key) {
        None => Ok(()),
        Some(problem) => Err(BusError::Invalid {
            what: "key",
            value: key.into(),
            problem,
        }),
    }
}
