//! The sweeper: aborts multipart uploads left behind by a crashed host.
//!
//! An upload abandoned by a live host is aborted by that host (`Upload::abort`); one
//! whose host died is found here, through its record (`records.rs`), once the record
//! is older than the limit given (long enough that no live upload is that old: a
//! kept, resumable upload must be refreshed by its owner before then).

use std::time::Duration;

use crate::error::Result;
use crate::names::ObjectName;
use crate::records::{UPLOADS, UploadRecord};
use crate::storage::ObjectStorage;
use crate::upload::{abort_upload, key_of};

/// What a sweep did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SweepReport {
    /// The names whose stale uploads were aborted.
    pub aborted: Vec<ObjectName>,
    /// Records young enough to be kept.
    pub kept: usize,
}

impl ObjectStorage {
    /// Abort every recorded upload under the prefix whose record is at least
    /// `older_than` old (by the store's clock), or that this storage began and no
    /// longer sends (a commit that failed while the store was away: aborted as soon as
    /// it is back), and remove its record.
    pub async fn sweep_stale_uploads(&self, older_than: Duration) -> Result<SweepReport> {
        let mut report = SweepReport::default();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        for meta in self.reserved_objects(UPLOADS).await? {
            let age = now - meta.last_modified.timestamp();
            let (record, _) = self.get_record::<UploadRecord>(&meta.location).await?;
            let orphan =
                record.owner == *self.owner && !self.live_uploads().contains(&record.upload_id);
            if age < older_than.as_secs() as i64 && !orphan {
                report.kept += 1;
                continue;
            }
            let key = key_of(self, &record.name)?;
            abort_upload(self, &key, &record.upload_id, &record.name).await?;
            self.remove_record(&meta.location).await?;
            report.aborted.push(ObjectName::parse(&record.name)?);
        }
        Ok(report)
    }

    /// How many uploads are recorded as in progress under the prefix.
    pub async fn uploads_in_progress(&self) -> Result<usize> {
        Ok(self.reserved_objects(UPLOADS).await?.len())
    }
}
