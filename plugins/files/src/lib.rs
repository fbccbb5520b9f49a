//! Command file server plugin (seed v1 + framed v2) (in progress: see the open issue).
