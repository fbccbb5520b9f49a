//! Writes typed events as JSON lines (transcript/audit) (in progress: see the open issue).
