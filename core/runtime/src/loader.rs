//! Plugin loading (in progress).
