//! At start, find out whether the store honours conditional creates
//! (`If-None-Match: *` on a put), which locks and create-only commits rely on.
//!
//! The probe creates one object twice under the reserved area: a store that honours
//! the condition refuses the second; one that ignores it overwrites silently, and the
//! host must refuse to start or state the weaker guarantee.

use object_store::{PutMode, PutOptions, PutPayload};

use crate::error::{ObjectStorageError, Result};
use crate::records::unique_leaf;
use crate::storage::ObjectStorage;

/// What the store did with a conditional create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConditionalCreate {
    /// The second create was refused: locks and create-only commits hold.
    Honoured,
    /// The second create overwrote the first: two hosts could both take a lock.
    Ignored,
}

impl ObjectStorage {
    /// Probe the store (two puts and a delete under the reserved area).
    pub async fn probe_conditional_create(&self) -> Result<ConditionalCreate> {
        let key = self.reserved_key("probe", &unique_leaf("probe"));
        let create = || PutOptions::from(PutMode::Create);
        let put = |body: &'static [u8]| {
            self.backend
                .put_opts(&key, PutPayload::from_static(body), create())
        };
        put(b"first")
            .await
            .map_err(|e| ObjectStorageError::store("probe", key.as_ref(), e))?;
        let outcome = match put(b"second").await {
            Err(object_store::Error::AlreadyExists { .. }) => Ok(ConditionalCreate::Honoured),
            Ok(_) => Ok(ConditionalCreate::Ignored),
            Err(e) => Err(ObjectStorageError::store("probe", key.as_ref(), e)),
        };
        self.remove_record(&key).await?;
        outcome
    }
}
