//! Bulk transfer plugin (seed v1 + verified, resumable v2) (in progress: see the open issue).
