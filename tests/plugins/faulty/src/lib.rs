//! Test-only plugin that panics and misbehaves on command (in progress: see the open issue).
